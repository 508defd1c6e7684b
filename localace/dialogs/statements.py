"""What a user must say for a planned call: each value, labelled, and the literal text that states it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from localace.dialogs.plans import PlannedCall
from localace.verify.grounding import Sources, leaves

_FILLER = frozenset({"is", "has", "include", "includes", "with", "use", "enable", "enabled", "only", "show", "allow",
                     "flag", "should", "do", "want", "get"})


@dataclass(frozen=True)
class Statement:
    """`label`: how the prompt names the value; `display`: the value as the user should write it;
    `literals`: the texts that must appear for the value to count as stated (checked, or forced)."""

    label: str
    display: str
    literals: tuple[str, ...]
    path: str
    value: Any


def display(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def _label(path: str) -> str:
    words = re.sub(r"\[\d+\]", "", path).replace(".", " ").replace("_", " ")
    return " ".join(words.split())


def statements(call: PlannedCall, *, skip: tuple[str, ...] = ()) -> list[Statement]:
    """One statement per scalar the call's arguments hold (array items and object fields each on their own)."""
    out = []
    for name, value in call.arguments.items():
        if name in skip:
            continue
        for path, leaf in leaves(value, name):
            if leaf is None:
                continue
            if isinstance(leaf, bool):
                # A flag is stated by its words ("include air quality"), which is also how grounding reads it.
                words = " ".join(w for w in re.findall(r"[a-z]+", path.rsplit(".", 1)[-1].lower()) if w not in _FILLER)
                out.append(Statement(_label(path), display(leaf), (words,) if words else (), path, leaf))
            else:
                out.append(Statement(_label(path), display(leaf), (display(leaf),), path, leaf))
    return out


def unstated(text: str, state: list[Statement]) -> list[str]:
    """Labels of the statements `text` does not make (the same normalization as the grounding rule)."""
    sources = Sources([text])
    missing = []
    for s in state:
        if isinstance(s.value, bool):
            ok = all(f" {w} " in f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} " for w in
                     " ".join(s.literals).split())
        else:
            ok = sources.states(s.value)
        if not ok:
            missing.append(s.label)
    return missing
