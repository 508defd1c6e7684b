"""What a user must say for a planned call: each value, named as people name it, written in a surface form of
its kind ("December 9, 2026" for 2026-12-09, "five" for 5, "coach" for economy), and the phrasings that carry it."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from localace.dialogs.plans import PlannedCall
from localace.kinds import ANCHOR, Kind, kind_of
from localace.kinds.families import display
from localace.kinds.grounding import Sources, flag_words, leaves, schema_at

# Share of values written in a form other than the canonical one when the kind has one: enough that a model
# learns the conversions real requests need, not so much that the canonical spelling is never seen.
OTHER_FORM_SHARE = 0.7


@dataclass(frozen=True)
class Statement:
    """`label`: how the value is named; `display`: the value as the user writes it (a surface form of its
    kind); `phrasings`: ways to say it in a request ("{v}" stands for the display); `kind`: the kind's name."""

    label: str
    display: str
    literals: tuple[str, ...]
    path: str
    value: Any
    phrasings: tuple[str, ...] = ()
    kind: str | None = None
    call: int = 0  # which call of the step the value belongs to (a user groups each call's details)


def _flag_name(path: str) -> str:
    """The parameter name of a leaf's path, as the grounding rule takes it (`options.include_maps` → include_maps)."""
    return path.rsplit(".", 1)[-1].split("[")[0]


def _label(path: str) -> str:
    words = re.sub(r"\[\d+\]", "", path).replace(".", " ").replace("_", " ")
    return " ".join(words.split())


def _form(kind: Kind, value: Any, rng: random.Random) -> str:
    forms = kind.forms(value)
    others = forms[1:]
    # A member of a closed set is said by its name ("Google Pay"), never its code (`google_pay`).
    if others and (kind.family == "choice" or rng.random() < OTHER_FORM_SHARE):
        return rng.choice(others)
    return forms[0]


def statements(call: PlannedCall, *, skip: tuple[str, ...] = (), seed: Any = 0) -> list[Statement]:
    """One statement per scalar the call's arguments hold (array items and object fields each on their own)."""
    rng = random.Random(f"statements:{seed}:{call.api.name}")
    out = []
    for name, value in call.arguments.items():
        if name in skip:
            continue
        for path, leaf in leaves(value, name):
            if leaf is None:
                continue
            schema = schema_at(call.api.parameters, path)
            kind = kind_of(_flag_name(path), schema)
            if kind is not None:
                shown = _form(kind, leaf, rng)
                out.append(Statement(kind.label, shown, (shown,), path, leaf, kind.phrasings, kind.name))
            elif isinstance(leaf, bool):
                # A flag is stated by its words ("air quality"), the very words the grounding rule reads.
                words = " ".join(flag_words(_flag_name(path)))
                out.append(Statement(_label(path), display(leaf), (words or display(leaf),), path, leaf))
            else:
                out.append(Statement(_label(path), display(leaf), (display(leaf),), path, leaf))
    return out


def unstated(text: str, state: list[Statement]) -> list[str]:
    """Labels of the statements `text` does not make (the same reading as the grounding rule's)."""
    sources = Sources([text], anchor=ANCHOR)
    missing = []
    for s in state:
        kind = kind_of(_flag_name(s.path), {"x-kind": s.kind} if s.kind else {})
        if isinstance(s.value, bool):
            ok = (kind is not None and kind.family == "boolean" and kind.states(s.value, sources.said)) or \
                sources.mentions_flag(_flag_name(s.path), s.value)
        else:
            ok = sources.states_as(s.value, kind)
        if not ok:
            missing.append(s.label)
    return missing
