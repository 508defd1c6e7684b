"""Preference pairs stored with a dialog: the kept assistant turn (chosen) and a sample that lost the vote.

The contract between the dialog generator (writer) and `export --format dpo` / `localace stats` (readers):
`Dialog.meta["preference_pairs"]` is a list of
`{"turn": index in dialog.turns of the kept assistant turn, "rejected": a Turn dump, "disagreement": kind}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from localace.dialogs.model import Dialog, Turn

META_KEY = "preference_pairs"
Disagreement = Literal[
    "wrong_tool", "different_arguments", "ungrounded_arguments", "called_when_should_not", "did_not_call", "other"
]
DISAGREEMENTS: tuple[str, ...] = get_args(Disagreement)


class PreferencePair(BaseModel):
    """One kept assistant turn (by index) and one rejected alternative for the same step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn: StrictInt  # "3" or true is a writer's bug, not an index
    rejected: Turn
    disagreement: Disagreement


def pair_record(turn: int, rejected: Turn, disagreement: str) -> dict[str, Any]:
    """The JSON form the generator appends to meta["preference_pairs"] (validated here, at write time)."""
    pair = PreferencePair(turn=turn, rejected=rejected, disagreement=disagreement)
    return pair.model_dump(mode="json", exclude={"rejected": {"thought", "tool_results"}})


def _problem(dialog: Dialog, pair: PreferencePair) -> str | None:
    """Why a well-typed pair still cannot be trained on, or None."""
    if not 0 <= pair.turn < len(dialog.turns):
        return "turn_out_of_range"
    chosen = dialog.turns[pair.turn]
    if chosen.role != "assistant":
        return "chosen_not_assistant"
    rejected = pair.rejected
    if rejected.role != "assistant":
        return "rejected_not_assistant"
    if not rejected.tool_calls and not (rejected.content or "").strip():
        return "rejected_empty"
    same = (chosen.content or None, chosen.tool_calls or None) == (rejected.content or None, rejected.tool_calls or None)
    return "rejected_equals_chosen" if same else None


def read_pairs(dialog: Dialog) -> tuple[list[PreferencePair], list[str]]:
    """The usable pairs of a dialog in stored order, and a short reason for each entry that is not usable."""
    stored = dialog.meta.get(META_KEY) or []
    if not isinstance(stored, list):
        return [], ["malformed_pair_list"]
    pairs: list[PreferencePair] = []
    dropped: list[str] = []
    for entry in stored:
        if not isinstance(entry, Mapping):
            dropped.append("malformed_pair")
            continue
        try:
            pair = PreferencePair.model_validate(entry)
        except ValidationError as error:
            field = ".".join(str(part) for part in error.errors()[0]["loc"]) or "pair"
            dropped.append(f"malformed_pair ({field})")
            continue
        problem = _problem(dialog, pair)
        if problem:
            dropped.append(problem)
        else:
            pairs.append(pair)
    return pairs, dropped
