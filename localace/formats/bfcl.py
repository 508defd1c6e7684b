"""BFCL question entries and possible-answer records from dialogs (export only)."""

from __future__ import annotations

import random
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.tool_formats import to_bfcl
from localace.dialogs.model import Dialog, ToolCall, Turn
from localace.formats.common import FormatNotApplicable, side_fields
from localace.formats.tool_names import NAME_MAP_KEY, export_names

NAME = "bfcl"
FORMAT_KEYS = frozenset({"id", "question", "function"})
_NO_CALL_KINDS = frozenset({"irrelevance", "non_tool"})


def _first_action(dialog: Dialog) -> tuple[list[Turn], Turn]:
    """The user turns before the first assistant turn, and that assistant turn."""
    for index, turn in enumerate(dialog.turns):
        if turn.role == "assistant":
            asked = dialog.turns[:index]
            if not asked or any(t.role != "user" for t in asked):
                raise FormatNotApplicable(NAME, "shape", "the first assistant turn must follow user turns only")
            return asked, turn
    raise FormatNotApplicable(NAME, "shape", "no assistant turn")


def _first_calls(dialog: Dialog) -> list[ToolCall]:
    """The first assistant turn's calls; [] for a refusal; FormatNotApplicable otherwise."""
    _, first = _first_action(dialog)
    if first.tool_calls:
        return list(first.tool_calls)
    if dialog.kind in _NO_CALL_KINDS and not dialog.calls():
        return []
    raise FormatNotApplicable(NAME, "no_first_call", f"kind {dialog.kind} starts with {first.action or 'text'}")


def bfcl_category(dialog: Dialog) -> str:
    """BFCL category of the dialog's first assistant action (simple, multiple, parallel, ...)."""
    calls = _first_calls(dialog)
    if not calls:
        return "irrelevance"
    if len(calls) > 1:
        return "parallel" if len({call.name for call in calls}) == 1 else "parallel_multiple"
    if dialog.kind in ("single", "multiple"):
        return "simple" if dialog.kind == "single" else "multiple"
    return "multiple" if len(dialog.tools) > 1 else "simple"


def _answer_form(value: Any) -> Any:
    """A value as BFCL writes acceptable answers: dicts map each key to a list of options."""
    if isinstance(value, dict):
        return {key: [item] for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_answer_form(item) for item in value]
    return value


def _ground_truth(call: ToolCall, tools: list[ApiSpec]) -> dict[str, dict[str, list]]:
    params = {name: [_answer_form(value)] for name, value in call.arguments.items()}
    spec = next((tool for tool in tools if tool.name == call.name), None)
    if spec is not None:
        required = set(spec.parameters.get("required", []))
        for name in spec.parameters.get("properties", {}):
            if name not in required and name not in params:
                params[name] = [""]  # BFCL: may be omitted
    return {call.name: params}


def entry_id(dialog: Dialog, category: str) -> str:
    """'<category>_<index>' as BFCL ids are; the index is the dialog id read as a hex number."""
    return f"{category}_{int(dialog.id, 16)}"


def export_entry(dialog: Dialog) -> tuple[dict[str, Any], dict[str, Any]]:
    """(question entry, possible answer) for the dialog's first assistant action. Tool names are identifiers
    (BFCL's checker parses calls as Python); a rewritten one keeps its original in `name_map`."""
    original = dialog
    dialog, name_map = export_names(dialog)
    asked, _ = _first_action(dialog)
    calls = _first_calls(dialog)
    ident = entry_id(original, bfcl_category(dialog))
    entry: dict[str, Any] = {
        "id": ident,
        "question": [[{"role": "user", "content": turn.content or ""} for turn in asked]],
        "function": [to_bfcl(spec) for spec in dialog.tools],
    }
    entry.update(side_fields(original, FORMAT_KEYS, actions=False))
    if name_map:
        entry[NAME_MAP_KEY] = name_map
    answer = {"id": ident, "ground_truth": [_ground_truth(call, dialog.tools) for call in calls]}
    return entry, answer


def export_row(
    dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Same as export_entry; rng and tool_style are ignored (BFCL renders its own prompts)."""
    return export_entry(dialog)
