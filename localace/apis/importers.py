"""Import tool definitions from OpenAI, BFCL, ToolACE, ShareGPT/Hermes rows and plain JSON Schema files."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localace.apis.prompt_tools import PromptToolsError, entry_name, find_tool_list, read_listed, tools_block_entries
from localace.apis.spec import ApiSpec, InvalidApiSpecError, unknown_formats
from localace.apis.tool_formats import ToolFormatError, from_bfcl, from_openai
from localace.bfcl_package import YARDSTICK_REASON, is_benchmark_function
from localace.errors import UserError, reason_kind

if TYPE_CHECKING:
    from localace.store.db import Store

Candidate = tuple[str, Any]  # (format name, raw tool entry)

_GORILLA_ONLY_TYPES = frozenset({"dict", "float", "tuple", "any"})


class ImportFormatError(UserError, ValueError):
    """The input is not JSON/JSONL/ToolACE text, or holds no recognizable tools."""


@dataclass(frozen=True)
class Skipped:
    """A tool entry that was not imported, with the reason."""

    index: int
    name: str
    reason: str


@dataclass
class ImportResult:
    """Imported APIs in file order, skipped entries, detected format, exact duplicates dropped and the unknown
    formats kept as annotations (format -> how many schema nodes carry it)."""

    format: str
    apis: list[ApiSpec] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: int = 0
    annotations: Counter[str] = field(default_factory=Counter)
    # What the import left out as a whole and says so (OpenAPI: header parameters, security schemes).
    notes: list[str] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set, repr=False)

    def add(self, index: int, spec: ApiSpec) -> None:
        """Keep spec, unless it is one of BFCL's own functions (the yardstick never becomes material) or the same
        definition was kept (a duplicate). Another definition under a kept name is kept too: real datasets reuse
        names ("Search Users" in two rows, with other parameters), and each dialog keeps the one it was written with."""
        if is_benchmark_function(spec.name, spec.description):
            self.skipped.append(Skipped(index, spec.name, YARDSTICK_REASON))
        elif spec.id in self._ids:
            self.duplicates += 1
        else:
            self._ids.add(spec.id)
            self.annotations.update(fmt for _, fmt in unknown_formats(spec.parameters))
            self.apis.append(spec)


def skip_counts(reasons: Iterable[str]) -> Counter[str]:
    """How many skips per kind of reason (paths, names and values left out of the reason)."""
    return Counter(reason_kind(reason) for reason in reasons)


def _convert_openai(raw: Any) -> ApiSpec:
    return from_openai(raw)


def _convert_jsonschema(raw: Any) -> ApiSpec:
    return from_openai(raw, source="import:jsonschema")


def _unreadable(reason: Any) -> ApiSpec:
    raise ToolFormatError([str(reason)])


_CONVERTERS: dict[str, Callable[[Any], ApiSpec]] = {
    "openai": _convert_openai,
    "jsonschema": _convert_jsonschema,
    "bfcl": from_bfcl,
    "toolace": read_listed,
    "hermes": from_openai,
    "unreadable": _unreadable,  # a row whose tool list cannot be parsed: skipped with the reason
}


def _types_in(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("type"), str):
        yield schema["type"]
    properties = schema.get("properties")
    for child in properties.values() if isinstance(properties, dict) else ():
        yield from _types_in(child)
    for key in ("items", "additionalProperties"):
        yield from _types_in(schema.get(key))


def _function_format(function: dict[str, Any]) -> str:
    """Tell a ToolACE entry, a BFCL function and a plain JSON-Schema function apart."""
    if "required" in function:
        return "toolace"  # ToolACE entries carry a (usually null) top-level "required"
    if any(name in _GORILLA_ONLY_TYPES for name in _types_in(function.get("parameters"))):
        return "bfcl"
    return "jsonschema"


def _tools_value(value: Any) -> Any:
    if isinstance(value, str):  # ShareGPT and xLAM store the tool list as a JSON string
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _system_texts(row: dict[str, Any]) -> Iterator[str]:
    """System prompts of a dataset row: a "system" field, or system messages (OpenAI/Hermes/ShareGPT)."""
    if isinstance(row.get("system"), str):
        yield row["system"]
    for key, role_key, text_key in (("messages", "role", "content"), ("conversations", "from", "value")):
        messages = row.get(key)
        for message in messages if isinstance(messages, list) else ():
            if isinstance(message, dict) and message.get(role_key) == "system" and isinstance(message.get(text_key), str):
                yield message[text_key]


def _prompt_candidates(text: str) -> Iterator[Candidate]:
    """Tools a system prompt lists: a <tools> block, else a ToolACE-style JSON list."""
    try:
        block = tools_block_entries(text)
    except PromptToolsError as error:
        yield "unreadable", f"system prompt: {error}"
        return
    if block is not None:
        yield from (("hermes", entry) for entry in block)
    else:
        yield from (("toolace", entry) for entry in find_tool_list(text) or [])


def _is_row(value: dict[str, Any]) -> bool:
    return any(key in value for key in ("tools", "system", "messages", "conversations"))


def _candidates(value: Any) -> Iterator[Candidate]:
    """Tool entries found in one JSON value (a row, a tool, or a list of either)."""
    if isinstance(value, list):
        for item in value:
            yield from _candidates(item)
        return
    if not isinstance(value, dict):
        return
    if value.get("type") == "function" and isinstance(value.get("function"), dict):
        yield "openai", value
    elif isinstance(value.get("function"), list):
        yield from (("bfcl", function) for function in value["function"])
    elif _is_row(value):
        tools = _tools_value(value.get("tools"))
        if isinstance(tools, list) and tools:
            yield from _candidates(tools)
            return
        # An empty or absent "tools" (ShareGPT's "[]"): the tools are in the system prompt, if anywhere.
        for text in _system_texts(value):
            yield from _prompt_candidates(text)
    elif isinstance(value.get("name"), str) and ("parameters" in value or "description" in value):
        yield _function_format(value), value


def _parse_json_values(text: str, label: str) -> list[Any]:
    """The whole text as one JSON value, else one value per JSON Lines line, else ToolACE prose."""
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        pass
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as err:
            # Prose from the first line on may be a bare ToolACE system prompt; a bad line later is an error.
            if not values and find_tool_list(text) is not None:
                return [{"system": text}]
            raise ImportFormatError(f"{label}: not JSON or JSON Lines (line {number}: {err.msg})") from None
    return values


def import_tools(text: str, *, filename: str = "") -> ImportResult:
    """Read tool definitions from text; skip invalid ones with reasons, dedupe by id."""
    label = filename or "input"
    if not text.strip():
        raise ImportFormatError(f"{label}: empty file")
    candidates = [candidate for value in _parse_json_values(text, label) for candidate in _candidates(value)]
    if not candidates:
        raise ImportFormatError(f"{label}: no recognizable tool definitions found")
    formats = list(dict.fromkeys(fmt for fmt, _ in candidates))
    result = ImportResult(format="+".join(formats))
    for index, (fmt, raw) in enumerate(candidates):
        try:
            spec = _CONVERTERS[fmt](raw)
        except (InvalidApiSpecError, ToolFormatError) as err:
            result.skipped.append(Skipped(index, entry_name(raw), "; ".join(err.reasons)))
            continue
        result.add(index, spec)
    return result


def read_text(path: Path) -> str:
    """A UTF-8 file's text (a BOM dropped); one ImportFormatError line when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ImportFormatError(f"{path}: not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise ImportFormatError(f"{path}: cannot read ({err.strerror or err})") from None


def import_file(path: Path) -> ImportResult:
    """import_tools on a UTF-8 file."""
    return import_tools(read_text(path), filename=str(path))


def save_imported(store: Store, apis: list[ApiSpec]) -> int:
    """Insert imported APIs; one already stored is a no-op (so importing twice is idempotent). A different
    definition under a stored name is stored too (its id differs): both are real. Returns how many were added."""
    # Imported here: the format readers use this module's parsing and need none of the synthesis machinery.
    from localace.apis.synth import insert_api

    added = 0
    with store.transaction():
        for spec in apis:
            if store.conn.execute("SELECT 1 FROM apis WHERE id=?", (spec.id,)).fetchone():
                continue
            insert_api(store, spec)
            added += 1
    return added
