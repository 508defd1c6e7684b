"""ToolACE rows: {"system", "conversations": [{"from": user|assistant|tool, "value"}]}."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.tool_formats import from_toolace, to_toolace
from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn
from localace.formats.call_syntax import Call, CallRenderError, CallSyntaxError, parse_calls, render_calls
from localace.formats.common import (
    TOOLS_JSON_KEY,
    FormatError,
    FormatNotApplicable,
    build_dialog,
    dumps,
    field,
    instruction,
    loads_field,
    need,
    recorded_actions,
    side_fields,
    tools_from_side,
    tools_in_prompt,
    tools_json,
)
from localace.formats.tool_render import STYLE_LABELS, render_tools

NAME = "toolace"
FORMAT_KEYS = frozenset({"system", "conversations"})
_CALL_FORMAT = (
    "To call functions, reply with nothing but a list of calls in the form "
    "[func_name1(param_name=value, param_name2=value2), func_name2(param=value)]."
)


def system_prompt(tools: list[ApiSpec], style: str = "json", rng: random.Random | None = None) -> str:
    label = STYLE_LABELS.get(style, style)
    return (
        f"{instruction(rng)}\nHere is a list of functions in {label} format that you can invoke:\n"
        f"{render_tools(tools, style)}\n{_CALL_FORMAT}"
    )


def _json_lossless(tools: list[ApiSpec]) -> bool:
    """Whether reading the ToolACE JSON rendering back gives the same definitions."""
    return all(_tool_lossless(tool) for tool in tools)


@lru_cache(maxsize=1 << 15)
def _tool_lossless(tool: ApiSpec) -> bool:
    # Cached per (immutable) spec: the round trip dominated exporting 100k dialogs over a 26k-API pool.
    return from_toolace(to_toolace(tool)).id == tool.id


def _assistant_value(turn: Turn) -> str:
    if turn.tool_calls is None:
        return turn.content or ""
    try:
        return render_calls([Call(call.name, call.arguments) for call in turn.tool_calls])
    except CallRenderError as error:
        raise FormatNotApplicable(NAME, "unrenderable_call", str(error)) from None


def export_row(dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json") -> dict[str, Any]:
    conversations = []
    for turn in dialog.turns:
        if turn.role == "user":
            value = turn.content or ""
        elif turn.role == "assistant":
            value = _assistant_value(turn)
        else:
            value = dumps([{"name": r.name, "results": r.results} for r in turn.tool_results or []])
        conversations.append({"from": turn.role, "value": value})
    row: dict[str, Any] = {"system": system_prompt(dialog.tools, tool_style, rng), "conversations": conversations}
    # An empty list is not told apart from other brackets in the prompt, so it rides along too.
    if tool_style != "json" or not dialog.tools or not _json_lossless(dialog.tools):
        row[TOOLS_JSON_KEY] = tools_json(dialog.tools)
    row.update(side_fields(dialog, FORMAT_KEYS))
    return row


def parse_tool_list(system: str) -> list[ApiSpec]:
    """The tools a system prompt lists: ToolACE's JSON list (ours or ToolACE's own wording), or a <tools> block."""
    tools = tools_in_prompt(system)
    if tools is None:
        raise FormatError("system: no tool list found (neither a JSON list of tools nor a <tools> block)")
    return tools


def _looks_like_calls(value: str) -> bool:
    text = value.strip()
    return text.startswith("[") and text.endswith("]")


def _assistant_turn(value: str, action: str | None, names: list[str] = ()) -> Turn:
    # A recorded action settles text versus calls for our own rows (a text reply may look like a
    # call list); foreign rows are calls when the text parses as a non-empty call list.
    if action in (None, "call") and _looks_like_calls(value):
        try:
            calls = parse_calls(value, names)
        except CallSyntaxError:
            calls = None
        if calls or (calls is not None and action == "call"):
            return Turn(role="assistant", tool_calls=[ToolCall(name=c.name, arguments=c.arguments) for c in calls])
    return Turn(role="assistant", content=value)


def _tool_turn(value: str, where: str) -> Turn:
    entries = loads_field(value, where)
    entries = [entries] if isinstance(entries, dict) else need(entries, list, where)
    results = []
    for index, entry in enumerate(entries):
        entry = need(entry, dict, f"{where}[{index}]")
        results.append(ToolResult(name=field(entry, "name", str, f"{where}[{index}]"), results=entry.get("results")))
    return Turn(role="tool", tool_results=results)


def import_row(row: dict[str, Any]) -> Dialog:
    need(row, dict, "row")
    conversations = field(row, "conversations", list)
    messages = [need(m, dict, f"conversations[{i}]") for i, m in enumerate(conversations)]
    tools = tools_from_side(row, FORMAT_KEYS)
    if tools is None:
        tools = parse_tool_list(field(row, "system", str))
    roles = [m.get("from") for m in messages]
    actions = recorded_actions(row, FORMAT_KEYS, roles.count("assistant")) or [None] * roles.count("assistant")
    assistant_seen = 0
    turns = []
    for index, message in enumerate(messages):
        where = f"conversations[{index}]"
        value = field(message, "value", str, where)
        role = message.get("from")
        if role == "user":
            turns.append(Turn(role="user", content=value))
        elif role == "assistant":
            turns.append(_assistant_turn(value, actions[assistant_seen], [tool.name for tool in tools]))
            assistant_seen += 1
        elif role == "tool":
            turns.append(_tool_turn(value, where))
        else:
            raise FormatError(f"{where}.from: unknown role {role!r}")
    return build_dialog(row, NAME, tools, turns, FORMAT_KEYS)
