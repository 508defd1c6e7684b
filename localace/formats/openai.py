"""OpenAI chat rows: {"messages": [...], "tools": [{"type": "function", "function": {...}}]}."""

from __future__ import annotations

import random
from typing import Any

from localace.apis.tool_formats import from_openai, to_openai
from localace.dialogs.model import Dialog, ToolCall, Turn
from localace.formats.tool_names import NAME_MAP_KEY, dialog_names, safe_names
from localace.formats.common import (
    FormatError,
    build_dialog,
    call_from,
    check_results_match,
    dumps,
    field,
    instruction,
    loads_or_text,
    need,
    results_for,
    side_fields,
    side_key,
    tools_in_prompt,
)

NAME = "openai"
FORMAT_KEYS = frozenset({"messages", "tools"})
def export_row(dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json") -> dict[str, Any]:
    """tool_style is ignored: the tool list is structured data here, not prompt text."""
    names = safe_names(dialog_names(dialog))
    tools = []
    for spec in dialog.tools:
        tool = to_openai(spec)
        tool["function"]["name"] = names[spec.name]
        tools.append(tool)
    messages: list[dict[str, Any]] = [{"role": "system", "content": instruction(rng)}]
    pending: list[tuple[str, ToolCall]] = []
    next_id = 0
    for turn in dialog.turns:
        if turn.role == "tool":
            results = check_results_match(NAME, turn, [call for _, call in pending])
            for (call_id, _), result in zip(pending, results):
                messages.append({"role": "tool", "tool_call_id": call_id, "content": dumps(result.results)})
            pending = []
            continue
        message: dict[str, Any] = {"role": turn.role, "content": turn.content}
        if turn.role == "assistant" and turn.tool_calls is not None:
            pending = [(f"call_{next_id + i}", call) for i, call in enumerate(turn.tool_calls)]
            next_id += len(pending)
            message["tool_calls"] = [
                {"id": call_id, "type": "function",
                 "function": {"name": names[call.name], "arguments": dumps(call.arguments)}}
                for call_id, call in pending
            ]  # fmt: skip
        messages.append(message)
    row: dict[str, Any] = {"messages": messages, "tools": tools}
    name_map = {safe: name for name, safe in names.items() if safe != name}
    if name_map:  # left out when empty: Arrow-based loaders cannot type an empty object
        row[side_key(NAME_MAP_KEY, FORMAT_KEYS)] = name_map
    row.update(side_fields(dialog, FORMAT_KEYS))
    return row


def _tool_turn(messages: list[dict[str, Any]], calls: dict[str, ToolCall], where: str) -> Turn:
    """One tool turn from consecutive tool messages, ordered like the calls they answer."""
    order = list(calls)
    by_id: dict[str, Any] = {}
    for position, message in enumerate(messages):
        call_id = message.get("tool_call_id")
        if call_id is None and len(messages) == len(order):
            call_id = order[position]  # no ids: answers follow the calls' order
        if not isinstance(call_id, str) or call_id not in calls or call_id in by_id:
            raise FormatError(f"{where}: tool message answers unknown or repeated call id {call_id!r}")
        content = message.get("content")
        by_id[call_id] = loads_or_text(content) if isinstance(content, str) else content
    answered = [call_id for call_id in order if call_id in by_id]
    results = results_for([calls[i] for i in answered], [by_id[i] for i in answered], where)
    return Turn(role="tool", tool_results=results)


def import_row(row: dict[str, Any]) -> Dialog:
    need(row, dict, "row")
    messages = [need(m, dict, f"messages[{i}]") for i, m in enumerate(field(row, "messages", list))]
    name_map = need(row.get(side_key(NAME_MAP_KEY, FORMAT_KEYS)) or {}, dict, NAME_MAP_KEY)
    tools = []
    for index, tool in enumerate(field(row, "tools", list) if "tools" in row else []):
        function = dict(need(need(tool, dict, f"tools[{index}]").get("function", tool), dict, f"tools[{index}]"))
        name = field(function, "name", str, f"tools[{index}]")
        function["name"] = name_map.get(name, name)
        tools.append(from_openai(function))
    if not tools:
        # No "tools" (or an empty one): chat datasets often list the tools in the system message.
        system = next((m for m in messages if m.get("role") == "system" and isinstance(m.get("content"), str)), None)
        tools = (tools_in_prompt(system["content"], "system message") or []) if system else []
    turns: list[Turn] = []
    calls: dict[str, ToolCall] = {}
    index = 0
    while index < len(messages):
        message, where = messages[index], f"messages[{index}]"
        role = message.get("role")
        if role == "tool":
            end = index
            while end < len(messages) and messages[end].get("role") == "tool":
                end += 1
            turns.append(_tool_turn(messages[index:end], calls, where))
            index = end
            continue
        index += 1
        content = message.get("content")
        if content is not None:
            need(content, str, f"{where}.content")
        if role == "user":
            turns.append(Turn(role="user", content=content or ""))
        elif role == "assistant":
            raw_calls = message.get("tool_calls")
            if raw_calls is None:
                turns.append(Turn(role="assistant", content=content))
                continue
            calls = {}
            for position, raw in enumerate(need(raw_calls, list, f"{where}.tool_calls")):
                raw = need(raw, dict, f"{where}.tool_calls[{position}]")
                call_id = need(raw.get("id", f"call_{position}"), str, f"{where}.tool_calls[{position}].id")
                if call_id in calls:
                    raise FormatError(f"{where}.tool_calls[{position}]: repeated call id {call_id!r}")
                calls[call_id] = call_from(raw.get("function"), f"{where}.tool_calls[{position}].function",
                                           names=name_map)
            # Chat datasets often write "" next to tool calls where we mean "no text".
            turns.append(Turn(role="assistant", content=content or None, tool_calls=list(calls.values())))
        elif role not in ("system", "developer"):
            raise FormatError(f"{where}.role: unknown role {role!r}")
    return build_dialog(row, NAME, tools, turns, FORMAT_KEYS)
