"""OpenAI chat rows: {"messages": [...], "tools": [{"type": "function", "function": {...}}]}."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

from localace.apis.tool_formats import from_openai, openai_safe_name, to_openai
from localace.dialogs.model import Dialog, ToolCall, Turn
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
NAME_MAP_KEY = "name_map"
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_MAX_NAME = 64


# Function names other formats read as identifiers: Hermes/Qwen parsers and BFCL's checker (which parses calls
# as Python, so `stock.quote` stays, `Weather Now.v2` and `news/get-categories` do not).
DOTTED_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


def _dotted(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.]", "_", name)[:_MAX_NAME] or "_"
    return text if re.match(r"[A-Za-z_]", text) else "_" + text[: _MAX_NAME - 1]


def safe_names(names: Iterable[str], pattern: re.Pattern[str] = NAME_RE,
               clean: Any = None) -> dict[str, str]:
    """original -> name matching `pattern` (OpenAI's by default), distinct for distinct originals (suffix _2,
    _3, ...); `clean` rewrites a name that does not match (default: OpenAI's rewrite)."""
    clean = clean or openai_safe_name
    unique = list(dict.fromkeys(names))
    # Names that are already valid keep themselves, so no rewritten name can take them.
    mapping = {name: name for name in unique if pattern.match(name)}
    used = set(mapping)
    for name in unique:
        if name in mapping:
            continue
        base = candidate = clean(name)
        number = 2
        while candidate in used:
            suffix = f"_{number}"
            candidate = base[: _MAX_NAME - len(suffix)] + suffix
            number += 1
        mapping[name] = candidate
        used.add(candidate)
    return mapping


def dotted_names(names: Iterable[str]) -> dict[str, str]:
    """original -> an identifier that may hold dots (Hermes, BFCL)."""
    return safe_names(names, DOTTED_NAME_RE, _dotted)


def _dialog_names(dialog: Dialog) -> list[str]:
    names = [tool.name for tool in dialog.tools]
    for turn in dialog.turns:
        names += [call.name for call in turn.tool_calls or []]
        names += [result.name for result in turn.tool_results or []]
    return names


def export_row(dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json") -> dict[str, Any]:
    """tool_style is ignored: the tool list is structured data here, not prompt text."""
    names = safe_names(_dialog_names(dialog))
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
