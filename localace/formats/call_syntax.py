"""The bracketed function-call list `[Name One(a="x", b=2), other.api(c=[1])]` of ToolACE and BFCL."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from typing import Any

# Calls and their text form live below every stage (localace/calls.py); parsing them back is this module's.
from localace.calls import Call, CallRenderError, canonical_call_key, render_calls
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

_QUOTES = "'\""
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())
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


_NAME_PUNCTUATION = frozenset("_.- ")


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
