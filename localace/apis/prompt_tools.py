"""Tool lists written into a system prompt, as datasets publish them.

Two shapes are read: a Hermes/Qwen `<tools>...</tools>` block (one JSON object per line, or a JSON
list), and a bare JSON list of tool objects inside prose, as in ToolACE's prompt ("...Here is a list
of functions in JSON format that you can invoke:\\n[...]. \\nShould you decide to return the function
call(s)..."). Entries come back raw with the reader that fits them, so callers can skip a bad one
with its reason instead of losing the whole list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.tool_formats import from_openai, from_toolace

_DECODER = json.JSONDecoder()
OPEN_TAG, CLOSE_TAG = "<tools>", "</tools>"


class PromptToolsError(ValueError):
    """A <tools> block whose content is not JSON."""


def _is_tool(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    wrapped = item.get("function")
    return "name" in item or (isinstance(wrapped, dict) and "name" in wrapped)


def find_tool_list(text: str) -> list[dict[str, Any]] | None:
    """The first JSON list of tool objects (with a "name", or OpenAI's {"function": {"name"}}) in prose."""
    start = text.find("[")
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and value and all(_is_tool(item) for item in value):
            return value
        start = text.find("[", start + 1)
    return None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def tools_block_entries(text: str) -> list[Any] | None:
    """Entries of the first non-empty <tools> block; None when the text has none.

    Raises PromptToolsError when the block holds something other than JSON values."""
    start = text.find(OPEN_TAG)
    while start != -1 and text.startswith(CLOSE_TAG, start + len(OPEN_TAG)):
        start = text.find(OPEN_TAG, start + 1)  # "<tools></tools>" as instructions mention the tags
    if start == -1:
        return None
    pos = start + len(OPEN_TAG)
    entries: list[Any] = []
    while not text.startswith(CLOSE_TAG, pos := _skip_ws(text, pos)):
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            raise PromptToolsError(f"invalid JSON in <tools> ({error.msg})") from None
        entries.extend(value if isinstance(value, list) else [value])
    return entries


def read_listed(entry: Any) -> ApiSpec:
    """A tool listed in a prompt's JSON list: OpenAI-wrapped, or bare in ToolACE's lenient dialect."""
    if isinstance(entry, dict) and isinstance(entry.get("function"), dict):
        return from_openai(entry)
    return from_toolace(entry)


def prompt_tool_entries(text: str) -> list[tuple[Any, Callable[[Any], ApiSpec]]] | None:
    """(raw entry, reader) for every tool the prompt lists; None when it lists none.

    A <tools> block wins over a JSON list; ToolACE's lenient reader takes bare list entries
    ("dict"/"float" types, a top-level "required": null, "" defaults)."""
    block = tools_block_entries(text)
    if block is not None:
        return [(entry, from_openai) for entry in block]
    listed = find_tool_list(text)
    if listed is None:
        return None
    return [(entry, read_listed) for entry in listed]


def entry_name(raw: Any) -> str:
    """The name a raw tool entry gives itself ("" when it has none), for skip reasons."""
    if isinstance(raw, dict):
        function = raw.get("function") if isinstance(raw.get("function"), dict) else raw
        name = function.get("name")
        return name if isinstance(name, str) else ""
    return ""
