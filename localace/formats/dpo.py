"""Preference pairs in TRL's conversational preference format: {"prompt": [...], "chosen": [...], "rejected": [...]}.

`prompt` is the conversation up to the voted step, opened by a system turn that lists the tools; `chosen` is the
kept assistant turn and `rejected` one sample that lost the vote, each a one-message list. Tool calls, tool results
and the tool list are written as text in the Hermes syntax the system turn itself describes (<tools>, <tool_call>,
<tool_response>), not as structured `tool_calls` fields:
- DPO scores the tokens of chosen against those of rejected after the same prompt, so both must be the exact text
  the model is to emit; every chat template renders a plain `content` string the same way, while structured calls
  depend on the template (SmolLM2's ChatML template, our default model's, has no tool support at all);
- `datasets.load_dataset("json")` infers one Arrow struct per column: call arguments with different keys in
  different rows would be merged into one struct and padded with nulls, changing the calls. Strings cannot be.
No `tools` column is written: TRL would hand it to the chat template, which would list the tools a second time.
"""

from __future__ import annotations

import random
from typing import Any

from localace.dialogs.model import Dialog
from localace.dialogs.preferences import read_pairs
from localace.formats import hermes
from localace.formats.common import FormatNotApplicable

NAME = "dpo"
# write_export raises this (one line, exit 2) when not one pair could be exported.
NO_ROWS = ("no preference pairs in the {dialogs} dialogs selected: none has a voted assistant step with a sample "
           "that lost the vote (pairs are stored at generation time; `localace stats` counts them)")


def export_rows(dialog: Dialog, *, rng: random.Random | None = None,
                tool_style: str = "json") -> tuple[list[dict[str, Any]], list[str]]:
    """One row per usable pair, and the reasons stored pairs were dropped; no pair at all is not applicable."""
    pairs, dropped = read_pairs(dialog)
    if not pairs:
        raise FormatNotApplicable(NAME, "invalid_preference_pairs" if dropped else "no_voted_steps")
    system = {"role": "system", "content": hermes.system_prompt(dialog.tools, tool_style, rng)}
    messages = [hermes.message(turn) for turn in dialog.turns]
    rows = []
    for number, pair in enumerate(pairs):
        rows.append({
            "prompt": [system, *messages[: pair.turn]],
            "chosen": [messages[pair.turn]],
            "rejected": [hermes.message(pair.rejected)],
            "id": f"{dialog.id}-{number}",
            "dialog_id": dialog.id,
            "turn": pair.turn,
            "disagreement": pair.disagreement,
            "kind": dialog.kind,
            "domains": list(dialog.domains),
        })
    return rows, dropped


def row_label(row: dict[str, Any]) -> str:
    """What the dataset card tallies rows by."""
    return row["disagreement"]
