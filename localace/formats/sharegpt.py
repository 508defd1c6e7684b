"""ShareGPT rows as LLaMA-Factory reads them: human/gpt/function_call/observation plus a tools string.

Published conversions of other datasets fill these fields their own way, and import reads them:
ToolACE's ShareGPT-func rows have `"tools": "[]"` with the tool list in the `system` prompt,
function_call values in ToolACE's call syntax (`[Name One(a="x"), other.api(b=2)]`) and observations
in its named form (`[{"name": ..., "results": {...}}]`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import json

from localace.apis.tool_formats import from_openai, to_openai
from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn
from localace.formats.call_syntax import CallSyntaxError, parse_calls
from localace.formats.common import (
    FormatError,
    FormatNotApplicable,
    build_dialog,
    call_from,
    check_results_match,
    dumps,
    field,
    instruction,
    loads_field,
    loads_or_text,
    need,
    results_for,
    side_fields,
    tools_in_prompt,
)

NAME = "sharegpt"
FORMAT_KEYS = frozenset({"conversations", "system", "tools"})
# LLaMA-Factory: even positions come from the user side, odd positions from the model side.
USER_SIDE = ("human", "observation")
MODEL_SIDE = ("gpt", "function_call")


def structure_problem(conversations: Sequence[dict[str, Any]]) -> str | None:
    """Why LLaMA-Factory would drop these conversations as broken, or None when it accepts them."""
    if not conversations:
        return "no messages"
    for index, message in enumerate(conversations):
        expected = USER_SIDE if index % 2 == 0 else MODEL_SIDE
        if message.get("from") not in expected:
            return f"message {index} is {message.get('from')!r}, expected one of {expected}"
        if message["from"] == "observation" and conversations[index - 1]["from"] != "function_call":
            return f"observation at {index} does not follow a function_call"
    if len(conversations) % 2:
        return "conversation does not end with a model message"
    return None


def _call_json(calls: list[ToolCall]) -> str:
    objects = [{"name": call.name, "arguments": call.arguments} for call in calls]
    return dumps(objects[0] if len(objects) == 1 else objects)


def export_row(dialog: Dialog, *, rng: random.Random | None = None, tool_style: str = "json") -> dict[str, Any]:
    """tool_style is ignored: LLaMA-Factory renders the tools string with the model's own template."""
    conversations = []
    calls: list[ToolCall] = []
    for turn in dialog.turns:
        if turn.role == "user":
            conversations.append({"from": "human", "value": turn.content or ""})
        elif turn.role == "assistant" and turn.tool_calls:
            calls = list(turn.tool_calls)
            conversations.append({"from": "function_call", "value": _call_json(calls)})
        elif turn.role == "assistant":
            conversations.append({"from": "gpt", "value": turn.content or ""})
        else:
            values = [result.results for result in check_results_match(NAME, turn, calls)]
            calls = []
            conversations.append({"from": "observation", "value": dumps(values[0] if len(values) == 1 else values)})
    problem = structure_problem(conversations)
    if problem is not None:
        raise FormatNotApplicable(NAME, "turn_order", problem)
    row: dict[str, Any] = {
        "conversations": conversations,
        "system": instruction(rng),
        "tools": dumps([to_openai(spec)["function"] for spec in dialog.tools]),
    }
    row.update(side_fields(dialog, FORMAT_KEYS))
    return row


def _calls(value: str, where: str, names: list[str] = ()) -> list[ToolCall]:
    """A function_call value: JSON ({"name", "arguments"} or a list of them), else a call list."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        try:
            return [ToolCall(name=call.name, arguments=call.arguments) for call in parse_calls(value, names)]
        except CallSyntaxError as error:
            raise FormatError(f"{where}: function_call is neither JSON nor a call list ({error})") from None
    entries = parsed if isinstance(parsed, list) else [parsed]
    return [call_from(entry, f"{where}[{i}]") for i, entry in enumerate(entries)]


def _named_results(parsed: Any) -> list[ToolResult] | None:
    """ToolACE's named results, [{"name": ..., "results": ...}], or None for any other observation."""
    entries = [parsed] if isinstance(parsed, dict) else parsed
    if not isinstance(entries, list) or not entries:
        return None
    if all(isinstance(e, dict) and set(e) == {"name", "results"} and isinstance(e["name"], str) for e in entries):
        return [ToolResult(name=e["name"], results=e["results"]) for e in entries]
    return None


def _observation(value: str, calls: list[ToolCall], where: str) -> Turn:
    if not calls:
        raise FormatError(f"{where}: observation without a preceding function_call")
    parsed = loads_or_text(value)
    named = _named_results(parsed)
    if named is not None:  # names kept as written: the rule layer checks they answer the calls
        return Turn(role="tool", tool_results=named)
    if len(calls) == 1:
        values = [parsed]
    else:
        values = need(parsed, list, where)
    return Turn(role="tool", tool_results=results_for(calls, values, where))


def _row_tools(row: dict[str, Any], system: str | None) -> list:
    entries = need(loads_field(row.get("tools") or "[]", "tools"), list, "tools")
    if entries:
        return [from_openai(need(entry, dict, f"tools[{i}]")) for i, entry in enumerate(entries)]
    # "tools" empty or absent: a tool list in the system prompt is the row's tool list.
    return (tools_in_prompt(system) or []) if system else []


def import_row(row: dict[str, Any]) -> Dialog:
    need(row, dict, "row")
    conversations = field(row, "conversations", list)
    system = row.get("system")
    if system is not None:
        need(system, str, "system")
    turns: list[Turn] = []
    calls: list[ToolCall] = []
    for message in conversations:  # some datasets open the conversation with it instead of a system field
        if isinstance(message, dict) and message.get("from") == "system" and isinstance(message.get("value"), str):
            system = message["value"] if system is None else f"{system}\n{message['value']}"
    tools = _row_tools(row, system)
    names = [tool.name for tool in tools]  # call lists are read with them: names as real APIs write them
    for index, message in enumerate(conversations):
        where = f"conversations[{index}]"
        value = field(need(message, dict, where), "value", str, where)
        role = message.get("from")
        if role == "system":  # read above
            continue
        if role == "human":
            turns.append(Turn(role="user", content=value))
        elif role == "gpt":
            turns.append(Turn(role="assistant", content=value))
        elif role == "function_call":
            calls = _calls(value, where, names)
            turns.append(Turn(role="assistant", tool_calls=calls))
        elif role == "observation":
            turns.append(_observation(value, calls, where))
            calls = []
        else:
            raise FormatError(f"{where}.from: unknown role {role!r}")
    return build_dialog(row, NAME, tools, turns, FORMAT_KEYS)
