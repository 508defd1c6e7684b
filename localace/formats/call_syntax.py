"""The bracketed function-call list `[Name One(a="x", b=2), other.api(c=[1])]` of ToolACE and BFCL."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from localace.errors import LocalaceError

__all__ = [
    "Call",
    "CallRenderError",
    "CallSyntaxError",
    "canonical_call_key",
    "extract_call_list",
    "parse_calls",
    "render_calls",
]

_NAME_PUNCTUATION = frozenset("_.- ")
_QUOTES = "'\""
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())
# Wider than Python identifiers on purpose: the regex (not the Python tokenizer) reads keys, so
# keywords such as `from=` work and ToolACE keys with dots or dashes survive.
_KEY_RE = re.compile(r"[^\W\d][\w.-]*")
_KEY_ASSIGN_RE = re.compile(r"([^\W\d][\w.-]*)\s*=(?!=)")
_JSON_NAMES = {"true": True, "false": False, "null": None}
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
_FENCE_RE = re.compile(r"```(?:[ \t]*[\w+.-]*[ \t]*\r?\n)?(.*)```", re.DOTALL)


class CallSyntaxError(LocalaceError, ValueError):
    """Text that is not a valid call list; `offset` is the character index of the problem."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.reason = reason
        self.offset = offset


class CallRenderError(LocalaceError, ValueError):
    """A Call that has no faithful text form (bad name or key, unsupported value)."""


@dataclass(frozen=True)
class Call:
    """One tool call: the tool's name and its keyword arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- parsing


def extract_call_list(text: str) -> str | None:
    """Strip surrounding whitespace and one enclosing ``` fence; None when nothing is left."""
    body = text.strip()
    if body.startswith("```"):
        match = _FENCE_RE.fullmatch(body)
        if match is None:
            return None
        body = match.group(1).strip()
    return body or None


def parse_calls(text: str, names: Iterable[str] = ()) -> list[Call]:
    """Parse `[f(a=1), g(b="x")]` (or one bare call `f(a=1)`) into Calls.

    `names`: the offered tools' names. A call that starts with one of them (the longest that fits) takes it whole,
    so names as real APIs write them read back: `[Detrended Price Oscillator (DPO)(symbol="AAPL")]`,
    `[Get Games by Platform, Category, and Sorted(platform="pc")]`, `[/v1/cocktail(name="mojito")]`."""
    known = sorted({name for name in names if name and not all(_is_name_char(c) for c in name)}, key=len, reverse=True)
    pos = _skip_ws(text, 0)
    if pos == len(text):
        raise CallSyntaxError("empty input", pos)
    if text[pos] != "[":
        call, pos = _parse_call(text, pos, known)
        _expect_end(text, pos)
        return [call]
    list_open = pos
    pos = _skip_ws(text, pos + 1)
    calls: list[Call] = []
    while True:
        if pos == len(text):
            raise CallSyntaxError("unclosed '['", list_open)
        if text[pos] == "]":
            break
        call, pos = _parse_call(text, pos, known)
        calls.append(call)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] != "]":
            raise CallSyntaxError(f"expected ',' or ']' but found {text[pos]!r}", pos)
    _expect_end(text, pos + 1)
    return calls


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _expect_end(text: str, pos: int) -> None:
    pos = _skip_ws(text, pos)
    if pos < len(text):
        raise CallSyntaxError(f"trailing text {text[pos:pos + 20]!r}", pos)


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in _NAME_PUNCTUATION


def _known_name(text: str, start: int, known: Sequence[str]) -> tuple[str, int] | None:
    """(name, index of its '(') when an offered name starts at `start` and a '(' follows it."""
    for name in known:
        if text.startswith(name, start):
            pos = _skip_ws(text, start + len(name))
            if pos < len(text) and text[pos] == "(":
                return name, pos
    return None


def _parse_call(text: str, start: int, known: Sequence[str] = ()) -> tuple[Call, int]:
    """Read `name(args)` starting at `start`; return the Call and the index after `)`."""
    found = _known_name(text, start, known) if known else None
    if found is not None:
        name, pos = found
        pieces, close = _split_arguments(text, pos)
        return Call(name, _parse_arguments(text, pieces)), close + 1
    pos = start
    while pos < len(text) and text[pos] != "(" and (_is_name_char(text[pos]) or text[pos].isspace()):
        pos += 1
    if pos == len(text):
        raise CallSyntaxError("expected '(' after call name", pos)
    if text[pos] != "(":
        raise CallSyntaxError(f"unexpected {text[pos]!r} in call name", pos)
    raw = text[start:pos]
    name = raw.strip()
    if not name:
        raise CallSyntaxError("empty call name", start)
    name_start = start + len(raw) - len(raw.lstrip())
    for index, char in enumerate(name):
        if char.isspace() and char != " ":
            raise CallSyntaxError(f"whitespace {char!r} inside call name", name_start + index)
    pieces, close = _split_arguments(text, pos)
    return Call(name, _parse_arguments(text, pieces)), close + 1


def _skip_string(text: str, start: int) -> int:
    """Return the index just past the string literal whose opening quote is at `start`."""
    quote = text[start]
    triple = text.startswith(quote * 3, start)
    closing = quote * 3 if triple else quote
    pos = start + len(closing)
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if text.startswith(closing, pos):
            return pos + len(closing)
        if not triple and char in "\r\n":
            break
        pos += 1
    raise CallSyntaxError("unterminated string", start)


def _split_arguments(text: str, open_pos: int) -> tuple[list[tuple[int, int]], int]:
    """Split the source between `(` at `open_pos` and its match at top-level commas."""
    pieces: list[tuple[int, int]] = []
    stack: list[int] = []
    piece_start = pos = open_pos + 1
    while pos < len(text):
        char = text[pos]
        if char in _QUOTES:
            pos = _skip_string(text, pos)
            continue
        if char in _OPENERS:
            stack.append(pos)
        elif char in _CLOSERS:
            if not stack:
                if char != ")":
                    raise CallSyntaxError(f"unbalanced {char!r}", pos)
                pieces.append((piece_start, pos))
                return pieces, pos
            opener = stack.pop()
            if _OPENERS[text[opener]] != char:
                raise CallSyntaxError(f"{char!r} does not close {text[opener]!r}", pos)
        elif char == "," and not stack:
            pieces.append((piece_start, pos))
            piece_start = pos + 1
        pos += 1
    unclosed = stack[-1] if stack else open_pos
    raise CallSyntaxError(f"unclosed {text[unclosed]!r}", unclosed)


def _parse_arguments(text: str, pieces: list[tuple[int, int]]) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for index, (start, end) in enumerate(pieces):
        first = _skip_ws(text, start)
        if first >= end:
            # Python allows one trailing comma, and `f()` has a single empty piece.
            if index == len(pieces) - 1:
                continue
            raise CallSyntaxError("empty argument", first)
        match = _KEY_ASSIGN_RE.match(text, first, end)
        if match is None:
            if text[first] == "*":
                raise CallSyntaxError("unpacked arguments are not supported", first)
            raise CallSyntaxError("positional argument (only key=value is allowed)", first)
        key = match.group(1)
        if key in arguments:
            raise CallSyntaxError(f"duplicate keyword {key!r}", first)
        arguments[key] = _parse_value(text, match.end(), end)
    return arguments


def _parse_value(text: str, start: int, end: int) -> Any:
    first = _skip_ws(text, start)
    source = text[first:end].rstrip()
    if not source:
        raise CallSyntaxError("missing value after '='", first)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        line, column = error.lineno or 1, error.offset or 1
        offset = first + _line_start(source, line) + max(column - 1, 0)
        raise CallSyntaxError(f"invalid value ({error.msg})", min(offset, end)) from None
    except (ValueError, MemoryError, RecursionError) as error:
        raise CallSyntaxError(f"invalid value ({type(error).__name__})", first) from None
    try:
        return _literal(tree.body, source, first)
    except RecursionError:
        raise CallSyntaxError("value nested too deeply", first) from None


def _line_start(source: str, lineno: int) -> int:
    """Character index where 1-based line `lineno` begins (Python's line endings only)."""
    index = 0
    for number, match in enumerate(_LINE_RE.finditer(source), start=1):
        if number == lineno or not match.group():
            return index
        index = match.end()
    return index


def _node_offset(node: ast.AST, source: str, base: int) -> int:
    """Convert the node's (line, UTF-8 byte column) into a character offset in the whole text."""
    line_start = _line_start(source, node.lineno)
    line_bytes = source[line_start:].encode("utf-8", "surrogatepass")
    column = len(line_bytes[: node.col_offset].decode("utf-8", "ignore"))
    return base + line_start + column


def _literal(node: ast.AST, source: str, base: int) -> Any:
    """Evaluate a literal node; JSON's true/false/null are accepted as names."""
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, (str, int, float)):
            return node.value
        kind = type(node.value).__name__
        raise CallSyntaxError(f"unsupported literal of type {kind}", _node_offset(node, source, base))
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        if isinstance(operand, ast.Constant) and type(operand.value) in (int, float):
            return -operand.value if isinstance(node.op, ast.USub) else operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, source, base) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        result: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values):
            if key_node is None:
                raise CallSyntaxError("'**' in a dict is not a literal", _node_offset(value_node, source, base))
            key = _literal(key_node, source, base)
            try:
                result[key] = _literal(value_node, source, base)
            except TypeError:
                raise CallSyntaxError("unhashable dict key", _node_offset(key_node, source, base)) from None
        return result
    snippet = ast.get_source_segment(source, node) or type(node).__name__
    reason = f"non-literal value {snippet.splitlines()[0][:40]!r}" if snippet else "non-literal value"
    raise CallSyntaxError(reason, _node_offset(node, source, base))


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
