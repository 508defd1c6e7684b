"""Hermes / Qwen rows: tools in <tools>, calls in <tool_call>, results in <tool_response> blocks."""

from __future__ import annotations

import ast
import json
import random
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.tool_formats import to_openai
from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn
from localace.formats.common import (
    TOOLS_JSON_KEY,
    FormatError,
    build_dialog,
    call_from,
    dumps,
    field,
    instruction,
    need,
    recorded_actions,
    renamed_parts,
    results_for,
    side_fields,
    side_key,
    tools_from_side,
    tools_in_prompt,
    tools_json,
)
from localace.formats.tool_names import NAME_MAP_KEY, export_names
from localace.formats.tool_render import STYLE_LABELS, render_tools

NAME = "hermes"
FORMAT_KEYS = frozenset({"messages"})
_DECODER = json.JSONDecoder()
_CALL_HELP = (
    "For every function call, write a JSON object with the function name and its arguments inside "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)


def _tools_block(tools: list[ApiSpec], style: str) -> str:
    if style == "json":
        body = "\n".join(dumps(to_openai(spec)) for spec in tools)
    else:
        body = render_tools(tools, style)
    return f"<tools>\n{body}\n</tools>"


def system_prompt(tools: list[ApiSpec], style: str = "json", rng: random.Random | None = None) -> str:
    label = STYLE_LABELS.get(style, style)
    return (
        f"{instruction(rng)}\n\n# Tools\n\nThe functions you may call are described in {label} "
        f"inside <tools></tools> XML tags:\n{_tools_block(tools, style)}\n\n{_CALL_HELP}"
    )


def _block(tag: str, payload: Any) -> str:
    return f"<{tag}>\n{dumps(payload)}\n</{tag}>"


def message(turn: Turn) -> dict[str, str]:
    """One turn as a chat message: calls in <tool_call> blocks, results in <tool_response> blocks."""
    if turn.role == "tool":
        blocks = [_block("tool_response", {"name": r.name, "content": r.results}) for r in turn.tool_results or []]
        return {"role": "tool", "content": "\n".join(blocks)}
    if turn.role == "assistant" and turn.tool_calls is not None:
        blocks = [_block("tool_call", {"name": c.name, "arguments": c.arguments}) for c in turn.tool_calls]
        return {"role": "assistant", "content": "\n".join([turn.content or "", *blocks]).lstrip("\n")}
    return {"role": turn.role, "content": turn.content or ""}


def export_row(dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json") -> dict[str, Any]:
    # Function names as identifiers (chat templates and parsers expect them); the originals in name_map.
    original = dialog  # its id and fields are the row's: the names are only how this format writes them
    dialog, name_map = export_names(dialog)
    messages = [{"role": "system", "content": system_prompt(dialog.tools, tool_style, rng)}]
    messages += [message(turn) for turn in dialog.turns]
    row: dict[str, Any] = {"messages": messages}
    if tool_style != "json":
        row[TOOLS_JSON_KEY] = tools_json(dialog.tools)
    if name_map:  # left out when empty: Arrow-based loaders cannot type an empty object
        row[side_key(NAME_MAP_KEY, FORMAT_KEYS)] = name_map
    row.update(side_fields(original, FORMAT_KEYS))
    return row


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _payload(text: str, start: int, close_tag: str, where: str) -> tuple[Any, int]:
    """The value between an opening tag and close_tag, and the index after close_tag."""
    try:
        value, end = _DECODER.raw_decode(text, _skip_ws(text, start))
    except json.JSONDecodeError:
        pass
    else:
        end = _skip_ws(text, end)
        if text.startswith(close_tag, end):
            return value, end + len(close_tag)
    close = text.find(close_tag, start)
    if close == -1:
        raise FormatError(f"{where}: missing {close_tag}")
    try:
        # Some Hermes datasets write Python dict literals (single quotes) instead of JSON.
        return ast.literal_eval(text[start:close].strip()), close + len(close_tag)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise FormatError(f"{where}: {close_tag[2:-1]} block is neither JSON nor a literal") from None


def tagged_blocks(text: str, tag: str, where: str = "content") -> tuple[list[Any], str]:
    """Parsed payloads of every <tag>...</tag> block and the text outside them."""
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    payloads: list[Any] = []
    outside: list[str] = []
    pos = 0
    while (start := text.find(open_tag, pos)) != -1:
        outside.append(text[pos:start])
        value, pos = _payload(text, start + len(open_tag), close_tag, where)
        payloads.append(value)
    outside.append(text[pos:])
    return payloads, "".join(outside)


def _assistant_turn(content: str, action: str | None, where: str) -> Turn:
    if action not in (None, "call"):
        return Turn(role="assistant", content=content)
    payloads, rest = tagged_blocks(content, "tool_call", where)
    if not payloads and action is None:
        return Turn(role="assistant", content=content)
    calls = [call_from(payload, f"{where}.tool_call[{i}]") for i, payload in enumerate(payloads)]
    return Turn(role="assistant", content=rest.strip() or None, tool_calls=calls)


def _tool_turn(contents: list[str], calls: list[ToolCall], where: str) -> Turn:
    """Results from consecutive tool messages: named <tool_response> blocks or bare outputs."""
    payloads: list[Any] = []
    for content in contents:
        blocks, rest = tagged_blocks(content, "tool_response", where)
        payloads.extend(blocks if blocks else [rest.strip()])
    if all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in payloads):
        return Turn(role="tool", tool_results=[ToolResult(name=p["name"], results=p.get("content")) for p in payloads])
    return Turn(role="tool", tool_results=results_for(calls, payloads, where))


def import_row(row: dict[str, Any]) -> Dialog:
    need(row, dict, "row")
    messages = [need(m, dict, f"messages[{i}]") for i, m in enumerate(field(row, "messages", list))]
    tools = tools_from_side(row, FORMAT_KEYS)
    if tools is None:
        system = next((m for m in messages if m.get("role") == "system"), None)
        tools = []
        if system is not None:
            tools = tools_in_prompt(field(system, "content", str, "system message"), "system message")
            if tools is None:
                raise FormatError("system message: no <tools> block (nor a JSON list of tools)")
    roles = [m.get("role") for m in messages]
    actions = recorded_actions(row, FORMAT_KEYS, roles.count("assistant")) or [None] * roles.count("assistant")
    turns: list[Turn] = []
    calls: list[ToolCall] = []
    assistant_seen = 0
    index = 0
    while index < len(messages):
        where, role = f"messages[{index}]", roles[index]
        if role == "tool":
            end = index
            while end < len(messages) and roles[end] == "tool":
                end += 1
            contents = [field(m, "content", str, f"messages[{i}]") for i, m in enumerate(messages[index:end], index)]
            turns.append(_tool_turn(contents, calls, where))
            index = end
            continue
        content = field(messages[index], "content", str, where)
        index += 1
        if role == "user":
            turns.append(Turn(role="user", content=content))
        elif role == "assistant":
            turn = _assistant_turn(content, actions[assistant_seen], where)
            assistant_seen += 1
            calls = list(turn.tool_calls or [])
            turns.append(turn)
        elif role != "system":
            raise FormatError(f"{where}.role: unknown role {role!r}")
    name_map = need(row.get(side_key(NAME_MAP_KEY, FORMAT_KEYS)) or {}, dict, NAME_MAP_KEY)
    if name_map:
        tools, turns = renamed_parts(tools, turns, name_map)
    return build_dialog(row, NAME, tools, turns, FORMAT_KEYS)
