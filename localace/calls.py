"""A tool call and its canonical text `[name(a="x", b=2), ...]`: the one record and rendering the stages, the
formats and the evaluation share. Reading the text back is formats/call_syntax.py's."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from localace.errors import LocalaceError

# Wider than Python identifiers on purpose: the regex (not the Python tokenizer) reads keys, so
# keywords such as `from=` work and ToolACE keys with dots or dashes survive.
_KEY_RE = re.compile(r"[^\W\d][\w.-]*")


class CallRenderError(LocalaceError, ValueError):
    """A Call that has no faithful text form (bad name or key, unsupported value)."""


@dataclass(frozen=True)
class Call:
    """One tool call: the tool's name and its keyword arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- rendering


def render_calls(calls: list[Call]) -> str:
    """The canonical text `[name(a="x", b=2), ...]`; parse_calls reads it back unchanged."""
    return "[" + ", ".join(_render_call(call, sort_keys=False) for call in calls) + "]"


def canonical_call_key(calls: list[Call]) -> str:
    """Order-insensitive key of a call list: calls and dict keys sorted, tuples read as lists."""
    rendered = sorted(_render_call(call, sort_keys=True) for call in calls)
    return "[" + ", ".join(rendered) + "]"


def _render_call(call: Call, sort_keys: bool) -> str:
    name = call.name
    # Any name a tool may have (see apis/spec.py) is written as is; parse_calls reads it back given the tool names.
    if not name or name != name.strip() or any(not char.isprintable() and char != " " for char in name):
        raise CallRenderError(f"call name {name!r} cannot be written in call syntax")
    parts = []
    for key, value in call.arguments.items():
        if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
            raise CallRenderError(f"argument name {key!r} of {name!r} cannot be written in call syntax")
        parts.append((key, _render_value(value, sort_keys)))
    if sort_keys:
        parts.sort()
    return f"{name}(" + ", ".join(f"{key}={value}" for key, value in parts) + ")"


def _render_value(value: Any, sort_keys: bool) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return _render_string(value)
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:
            # Python refuses to print (and to read back) ints beyond sys.get_int_max_str_digits().
            raise CallRenderError("integer too large for call syntax") from None
    if isinstance(value, float):
        if math.isnan(value):
            raise CallRenderError("NaN has no literal form in call syntax")
        if math.isinf(value):
            # 1e999 overflows to infinity when read back, unlike repr's bare `inf`.
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if isinstance(value, list) or (sort_keys and isinstance(value, tuple)):
        return "[" + ", ".join(_render_value(item, sort_keys) for item in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_render_value(item, sort_keys) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        items = [(_render_value(key, sort_keys), _render_value(item, sort_keys)) for key, item in value.items()]
        if sort_keys:
            items.sort()
        return "{" + ", ".join(f"{key}: {item}" for key, item in items) + "}"
    raise CallRenderError(f"value of type {type(value).__name__} cannot be written in call syntax")


_SIMPLE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _render_string(text: str) -> str:
    """Double-quoted Python literal; anything not printable is escaped so the text stays one line."""
    out = ['"']
    for char in text:
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)
