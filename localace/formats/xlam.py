"""xLAM / APIGen rows: {"query", "tools": json string, "answers": json string} for one-shot requests."""

from __future__ import annotations

import random
import re
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.tool_formats import from_openai, from_toolace, to_openai
from localace.dialogs.model import Dialog, ToolCall, Turn
from localace.formats.common import (
    FormatNotApplicable,
    build_dialog,
    call_from,
    dumps,
    field,
    loads_field,
    need,
    side_fields,
)

NAME = "xlam"
FORMAT_KEYS = frozenset({"query", "tools", "answers"})
_NO_CALL_KINDS = frozenset({"irrelevance", "non_tool"})
_NO_CALL_ACTIONS = frozenset({"refuse_no_tool", "answer"})
# xLAM-60k writes parameter types as Python hints: "str", "int, optional", "List[Dict[str, Any]]".
_HINT_RE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(?:\[(.*)\])?")
_OPTIONAL_SUFFIX_RE = re.compile(r",\s*optional\s*$", re.IGNORECASE)
_HINT_TYPES = {
    "str": "string", "int": "integer", "float": "number", "bool": "boolean",
    "list": "array", "tuple": "array", "set": "array", "dict": "object",
}  # fmt: skip


def answers_of(dialog: Dialog) -> list[ToolCall]:
    """The calls answering the first request; FormatNotApplicable when the dialog is not one-shot."""
    turns = dialog.turns
    if len(turns) < 2 or turns[0].role != "user" or turns[1].role != "assistant":
        raise FormatNotApplicable(NAME, "shape", "needs a user request answered by the assistant")
    if any(turn.role == "user" for turn in turns[1:]):
        raise FormatNotApplicable(NAME, "multi_turn", f"kind {dialog.kind}")
    call_turns = [turn for turn in turns if turn.role == "assistant" and turn.tool_calls]
    first = turns[1]
    if first.tool_calls:
        if len(call_turns) > 1:
            raise FormatNotApplicable(NAME, "dependent", "calls spread over several assistant turns")
        return list(first.tool_calls)
    if not call_turns and (dialog.kind in _NO_CALL_KINDS or first.action in _NO_CALL_ACTIONS):
        return []
    raise FormatNotApplicable(NAME, "no_direct_answer", f"first assistant turn is {first.action or 'text'}")


def export_row(dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json") -> dict[str, Any]:
    """tool_style is ignored: tools are a JSON string by definition of the format."""
    calls = answers_of(dialog)
    row: dict[str, Any] = {
        "query": dialog.turns[0].content or "",
        "tools": dumps([to_openai(spec)["function"] for spec in dialog.tools]),
        "answers": dumps([{"name": call.name, "arguments": call.arguments} for call in calls]),
    }
    # The format keeps only the request and the calls, so recorded actions would not line up.
    row.update(side_fields(dialog, FORMAT_KEYS, actions=False))
    return row


def _hint_schema(hint: str) -> dict[str, Any]:
    match = _HINT_RE.match(hint)
    if match is None:
        return {"type": "string"}
    base, inner = match.group(1).rsplit(".", 1)[-1].lower(), match.group(2)
    if base == "optional" and inner:
        return _hint_schema(inner)
    schema: dict[str, Any] = {"type": _HINT_TYPES.get(base, "string")}
    if schema["type"] == "array":
        # List[int] -> integer items; a bare list gets string items (the spec needs an item type).
        schema["items"] = _hint_schema(inner) if inner else {"type": "string"}
    return schema


def _is_optional(hint: str) -> bool:
    text = hint.strip().lower()
    return text.endswith("optional") or text.startswith("optional[")


def _flat_parameters(properties: dict[str, Any]) -> dict[str, Any]:
    """xLAM-60k's {"param": {"type": "str, optional", ...}} map as a JSON Schema object."""
    converted: dict[str, Any] = {}
    for name, spec in properties.items():
        spec = dict(need(spec, dict, f"parameters.{name}"))
        hint = str(spec.pop("type", "str"))
        spec.setdefault("description", name)
        converted[name] = {**spec, **_hint_schema(_OPTIONAL_SUFFIX_RE.sub("", hint))}
    required = [name for name, spec in properties.items() if not _is_optional(str(spec.get("type", "str")))]
    return {"type": "object", "properties": converted, "required": required}


def _tool(entry: Any, where: str) -> ApiSpec:
    entry = need(entry, dict, where)
    parameters = entry.get("parameters")
    if isinstance(parameters, dict) and parameters and "type" not in parameters and "properties" not in parameters:
        return from_toolace({**entry, "parameters": _flat_parameters(parameters)}, source="import:xlam")
    return from_openai(entry, source="import:xlam")


def import_row(row: dict[str, Any]) -> Dialog:
    """The request and its calls; tool results and replies are not part of the format."""
    need(row, dict, "row")
    query = field(row, "query", str)
    entries = need(loads_field(row.get("tools", "[]"), "tools"), list, "tools")
    tools = [_tool(entry, f"tools[{i}]") for i, entry in enumerate(entries)]
    answers = need(loads_field(field(row, "answers", (str, list)), "answers"), list, "answers")
    turns = [Turn(role="user", content=query)]
    if answers:
        turns.append(Turn(role="assistant", tool_calls=[call_from(a, f"answers[{i}]") for i, a in enumerate(answers)]))
    dialog = build_dialog(row, NAME, tools, turns, FORMAT_KEYS, use_actions=False)
    if not answers and "kind" not in row:
        dialog = dialog.model_copy(update={"kind": "irrelevance"})
    return dialog
