"""Errors and helpers shared by the dialog format converters: side fields, kinds, field access."""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from localace.apis.prompt_tools import PromptToolsError, entry_name, prompt_tool_entries
from localace.apis.spec import ApiSpec, InvalidApiSpecError
from localace.apis.tool_formats import ToolFormatError
from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn
from localace.errors import LocalaceError

SIDE_PREFIX = "localace_"
# Metadata every exported row carries next to the format's own keys.
SIDE_KEYS = ("id", "kind", "domains", "complexity")
ACTIONS_KEY = "actions"  # one entry per assistant turn: Turn.action is part of Dialog.id
TOOLS_JSON_KEY = "tools_json"  # lossless tool list when the prompt rendering cannot be read back

_INSTRUCTIONS = (
    "You are a helpful assistant with access to the functions listed below. Call one or more of them "
    "when they help with the user's request. If none of them fits, say so and do not call any. If a "
    "required parameter is missing from the request, ask the user for it.",
    "You can use the tools described below. Decide whether the request needs a tool: call the right "
    "ones with arguments taken from the conversation, ask for any required value the user has not "
    "given, and answer directly when no tool applies.",
    "Help the user, calling the available functions when they are useful. Never invent argument "
    "values: ask when something required is missing. When no function is suitable, explain that "
    "instead of calling one.",
)


class FormatError(LocalaceError, ValueError):
    """A row that cannot be read as a dialog in the named format."""


class FormatNotApplicable(LocalaceError, ValueError):
    """A dialog that the target format cannot express; `reason` is a short code for counting."""

    def __init__(self, fmt: str, reason: str, detail: str = "") -> None:
        self.fmt = fmt
        self.reason = reason
        super().__init__(f"{fmt}: {reason}" + (f" ({detail})" if detail else ""))


def instruction(rng: random.Random | None) -> str:
    """A short system instruction; rng varies the wording between rows, None gives the first."""
    return rng.choice(_INSTRUCTIONS) if rng is not None else _INSTRUCTIONS[0]


def dumps(value: Any) -> str:
    """JSON text as it appears inside rows (unicode kept readable)."""
    return json.dumps(value, ensure_ascii=False)


def loads_or_text(text: str) -> Any:
    """Parsed JSON when the text is JSON, otherwise the text itself (tool output written as prose)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def loads_field(value: Any, where: str) -> Any:
    """A field that formats store as a JSON string (some datasets store it already parsed)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise FormatError(f"{where}: invalid JSON ({error.msg})") from None


def need(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise FormatError(f"{where}: expected {names}, got {type(value).__name__}")
    return value


def field(row: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """row[key] checked against kind; a missing key is reported like a wrong type."""
    if key not in row:
        raise FormatError(f"{where or 'row'}: missing {key!r}")
    return need(row[key], kind, f"{where}.{key}" if where else key)


def side_key(key: str, format_keys: Collection[str]) -> str:
    return SIDE_PREFIX + key if key in format_keys else key


def side_fields(dialog: Dialog, format_keys: Collection[str] = (), *, actions: bool = True) -> dict[str, Any]:
    """id, kind, domains, complexity (and assistant actions) as top-level row keys."""
    values: dict[str, Any] = {
        "id": dialog.id, "kind": dialog.kind, "domains": list(dialog.domains), "complexity": dialog.complexity,
    }  # fmt: skip
    if actions:
        # Written even when all None, so import never has to guess them for our own rows.
        values[ACTIONS_KEY] = [turn.action for turn in dialog.turns if turn.role == "assistant"]
    return {side_key(key, format_keys): value for key, value in values.items()}


def tools_json(tools: Sequence[ApiSpec]) -> str:
    return dumps([tool.model_dump(mode="json", exclude_defaults=True) for tool in tools])


def tools_from_side(row: Mapping[str, Any], format_keys: Collection[str] = ()) -> list[ApiSpec] | None:
    """The lossless tool list of a row, or None when the row has none."""
    key = side_key(TOOLS_JSON_KEY, format_keys)
    if row.get(key) is None:
        return None
    entries = need(loads_field(row[key], key), list, key)
    return [ApiSpec.model_validate(need(entry, dict, f"{key}[{i}]")) for i, entry in enumerate(entries)]


def tools_in_prompt(system: str, where: str = "system") -> list[ApiSpec] | None:
    """The tools a system prompt lists (<tools> block or ToolACE-style JSON list); None if it lists none.

    Rows whose "tools" field is empty or absent (ShareGPT's "[]", ToolACE, many chat datasets) carry
    their tools here. A definition we cannot read fails the row, naming the tool and why."""
    try:
        entries = prompt_tool_entries(system)
    except PromptToolsError as error:
        raise FormatError(f"{where}: {error}") from None
    if entries is None:
        return None
    tools = []
    for index, (entry, read) in enumerate(entries):
        try:
            tools.append(read(entry))
        except (InvalidApiSpecError, ToolFormatError) as error:
            name = entry_name(entry) or f"#{index}"
            raise FormatError(f"{where}: tool {name!r} cannot be read: {'; '.join(error.reasons)}") from None
    return tools


def recorded_actions(
    row: Mapping[str, Any], format_keys: Collection[str], assistant_turns: int
) -> list[str | None] | None:
    """Assistant actions stored by export, or None when the row has none (foreign data)."""
    key = side_key(ACTIONS_KEY, format_keys)
    stored = row.get(key)
    if stored is None:
        return None
    need(stored, list, key)
    if len(stored) != assistant_turns:
        raise FormatError(f"{key}: {len(stored)} actions for {assistant_turns} assistant turns")
    return [need(action, (str, type(None)), f"{key}[{i}]") for i, action in enumerate(stored)]


def call_from(entry: Any, where: str, *, names: Mapping[str, str] | None = None) -> ToolCall:
    """A ToolCall from {"name", "arguments"}; arguments may be a JSON string (OpenAI style)."""
    need(entry, dict, where)
    name = field(entry, "name", str, where)
    arguments = loads_field(entry.get("arguments", {}), f"{where}.arguments")
    return ToolCall(name=(names or {}).get(name, name), arguments=need(arguments, dict, f"{where}.arguments"))


def results_for(calls: Sequence[ToolCall], values: Sequence[Any], where: str) -> list[ToolResult]:
    """Pair result values with the calls they answer (formats that name results by position)."""
    if len(values) != len(calls):
        raise FormatError(f"{where}: {len(values)} results for {len(calls)} calls")
    return [ToolResult(name=call.name, results=value) for call, value in zip(calls, values)]


def check_results_match(fmt: str, turn: Turn, calls: Sequence[ToolCall]) -> list[ToolResult]:
    """Results of a tool turn, when they answer `calls` one to one (needed by positional formats)."""
    results = turn.tool_results or []
    if [r.name for r in results] != [c.name for c in calls]:
        raise FormatNotApplicable(fmt, "unmatched_results", "tool results do not answer the preceding calls")
    return results


def infer_kind(tools: Sequence[ApiSpec], turns: Sequence[Turn]) -> str:
    """Best guess of the dialog kind for rows that do not record it."""
    call_turns = [i for i, turn in enumerate(turns) if turn.role == "assistant" and turn.tool_calls]
    if not call_turns:
        return "non_tool"
    if sum(turn.role == "user" for turn in turns) > 1:
        asked_first = any(turn.role == "assistant" and not turn.tool_calls for turn in turns[: call_turns[0]])
        return "ask_missing" if asked_first and len(call_turns) == 1 else "multi_turn"
    if len(call_turns) > 1:
        return "dependent"
    if len(turns[call_turns[0]].tool_calls or []) > 1:
        return "parallel"
    return "multiple" if len(tools) > 1 else "single"


def _infer_action(turns: Sequence[Turn], index: int) -> str | None:
    if turns[index].tool_calls is not None:
        return "call"
    if index > 0 and turns[index - 1].role == "tool":
        return "summarize"
    return None


def _mark_question(turns: list[Turn]) -> None:
    """In an inferred ask_missing dialog, the last assistant text before the first call is the question.

    Foreign rows do not record actions; without this the rule layer would find no ask_missing turn."""
    first_call = next((i for i, turn in enumerate(turns) if turn.role == "assistant" and turn.tool_calls), 0)
    for index in range(first_call - 1, -1, -1):
        turn = turns[index]
        if turn.role == "assistant" and turn.tool_calls is None and turn.action is None:
            turns[index] = turn.model_copy(update={"action": "ask_missing"})
            return


def build_dialog(
    row: Mapping[str, Any],
    fmt: str,
    tools: list[ApiSpec],
    turns: list[Turn],
    format_keys: Collection[str] = (),
    *,
    use_actions: bool = True,
) -> Dialog:
    """The Dialog of an imported row: side fields restored, or inferred when the row lacks them."""
    assistant = [i for i, turn in enumerate(turns) if turn.role == "assistant"]
    stored = recorded_actions(row, format_keys, len(assistant)) if use_actions else None
    for position, index in enumerate(assistant):
        action = stored[position] if stored is not None else _infer_action(turns, index)
        turns[index] = turns[index].model_copy(update={"action": action})

    def side(key: str) -> Any:
        return row.get(side_key(key, format_keys))

    kind = side("kind")
    if not (isinstance(kind, str) and kind):
        kind = infer_kind(tools, turns)
        if kind == "ask_missing" and stored is None:
            _mark_question(turns)
    domains = side("domains")
    complexity = side("complexity")
    meta: dict[str, Any] = {"source_format": fmt}
    if isinstance(side("id"), str):
        meta["source_id"] = side("id")
    return Dialog(
        kind=kind,
        tools=tools,
        turns=turns,
        domains=[d for d in domains if isinstance(d, str)] if isinstance(domains, list) else [],
        complexity=complexity if isinstance(complexity, (int, float)) and not isinstance(complexity, bool) else None,
        meta=meta,
    )


def renamed_parts(tools: list[ApiSpec], turns: list[Turn], mapping: Mapping[str, str]) -> tuple[list[ApiSpec], list[Turn]]:
    """Tools, calls and results named through `mapping` (names it lacks stay)."""
    def name(n: str) -> str:
        return mapping.get(n, n)

    out = []
    for turn in turns:
        update: dict[str, Any] = {}
        if turn.tool_calls is not None:
            update["tool_calls"] = [call.model_copy(update={"name": name(call.name)}) for call in turn.tool_calls]
        if turn.tool_results is not None:
            update["tool_results"] = [r.model_copy(update={"name": name(r.name)}) for r in turn.tool_results]
        out.append(turn.model_copy(update=update) if update else turn)
    return [tool.replace(name=name(tool.name)) for tool in tools], out


def renamed(dialog: Dialog, mapping: Mapping[str, str]) -> Dialog:
    """The dialog with its tools, calls and results named through `mapping`; its id stays (an export names
    the dialog it came from)."""
    tools, turns = renamed_parts(dialog.tools, dialog.turns, mapping)
    return dialog.model_copy(update={"tools": tools, "turns": turns})
