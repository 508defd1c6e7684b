"""What a user must say for a planned call: each value, labelled, and the literal text that states it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from localace.dialogs.plans import PlannedCall
from localace.verify.grounding import Sources, flag_words, leaves

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


def _flag_name(path: str) -> str:
    """The parameter name of a leaf's path, as the grounding rule takes it (`options.include_maps` → include_maps)."""
    return path.rsplit(".", 1)[-1].split("[")[0]


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
                # A flag is stated by its words ("air quality"), the very words the grounding rule reads.
                words = " ".join(flag_words(_flag_name(path)))
                out.append(Statement(_label(path), display(leaf), (words or display(leaf),), path, leaf))
            else:
                out.append(Statement(_label(path), display(leaf), (display(leaf),), path, leaf))
    return out


def unstated(text: str, state: list[Statement]) -> list[str]:
    """Labels of the statements `text` does not make (the same normalization as the grounding rule)."""
    sources = Sources([text])
    missing = []
    for s in state:
        ok = sources.mentions_flag(_flag_name(s.path), s.value) if isinstance(s.value, bool) else sources.states(s.value)
        if not ok:
            missing.append(s.label)
    return missing
