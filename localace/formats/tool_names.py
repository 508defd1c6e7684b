"""Function names as identifiers, for the formats that need one (OpenAI, Hermes, BFCL): a stable rewrite of
each name, distinct for distinct names, with the originals kept in the row's `name_map`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from localace.apis.tool_formats import openai_safe_name
from localace.dialogs.model import Dialog
from localace.formats.common import renamed

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
               clean: Callable[[str], str] | None = None) -> dict[str, str]:
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


def dialog_names(dialog: Dialog) -> list[str]:
    names = [tool.name for tool in dialog.tools]
    for turn in dialog.turns:
        names += [call.name for call in turn.tool_calls or []]
        names += [result.name for result in turn.tool_results or []]
    return names


def export_names(dialog: Dialog, namer: Callable[[Iterable[str]], dict[str, str]] = dotted_names) -> tuple[Dialog, dict[str, str]]:
    """The dialog with its names as identifiers, and the map back (identifier -> name as written; empty when
    every name already is one)."""
    names = namer(dialog_names(dialog))
    name_map = {safe: name for name, safe in names.items() if safe != name}
    return (renamed(dialog, names) if name_map else dialog), name_map
