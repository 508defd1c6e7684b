"""Java and JavaScript argument values, written as source text, read as Python values by declared type.

BFCL's Java and JavaScript entries show every parameter to the model as a string and expect the value
in that language's syntax (`"new int[]{1, 2}"`, `"true"`, `"{name: 'x'}"`); its checker converts the
string by the parameter's declared type and then applies the Python rules. We follow its conversion
rules, including where they are loose, because a verdict must agree with BFCL's on the same output:
- a text that does not look like its declared type stays a string (the type check then fails, unless
  the answer itself is a string: a variable name);
- collections are read by regular expressions, not by a parser, and only one level deep;
- `char` values stay as written (BFCL's char pattern cannot match, so it keeps the text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from localace.errors import LocalaceError

JAVA = "java"
JAVASCRIPT = "javascript"

# Python type each declared type must have after conversion (BFCL's type tables).
JAVA_TYPES: dict[str, type] = {
    "byte": int, "short": int, "integer": int, "long": int, "float": float, "double": float,
    "boolean": bool, "char": str, "String": str, "any": str,
    "Array": list, "ArrayList": list, "Queue": list, "Stack": list, "Set": set,
    "HashMap": dict, "Hashtable": dict,
}  # fmt: skip
JAVASCRIPT_TYPES: dict[str, type] = {
    "String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool,
    "dict": dict, "array": list, "any": str,
}  # fmt: skip
# Declared types whose items are converted by the items' declared type.
SEQUENCE_TYPES = frozenset({"Array", "ArrayList", "array"})

# Note: `$` also matches before one final newline, as in BFCL's patterns; int() and float() then
# accept the surrounding whitespace.
_INTEGER = re.compile(r"^-?\d+$")
_LONG = re.compile(r"^-?\d+[lL]$")
_JAVA_FLOAT = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$")
_JAVA_DOUBLE = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_JS_FLOAT = re.compile(r"^-?\d+(\.\d+)?$")
_BIGINT = re.compile(r"^-?\d+n$")

_JAVA_ARRAY = re.compile(r"new\s+\w+\[\]\s*\{(.*?)\}")
_ARRAYLIST_AS_LIST = re.compile(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)")
_ARRAYLIST_ADDS = re.compile(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", re.DOTALL)
_ARRAYLIST_ADD = re.compile(r"add\((.+?)\)")
_ARRAYLIST_EMPTY = re.compile(r"new\s+ArrayList<\w*>\(\)")
_HASHMAP = re.compile(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", re.DOTALL)
_HASHMAP_PUT = re.compile(r"put\(\"(.*?)\",\s*(.*?)\)")
_HASHMAP_EMPTY = re.compile(r"new\s+HashMap<.*?>\s*\(\)")

_JS_ARRAY_2D = re.compile(
    r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)"
)
_JS_ARRAY = re.compile(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)")
_JS_BRACKETED = re.compile(r"\[(.*?)\]")
_JS_OBJECT = re.compile(r"\{(.*?)\}")
_JS_PAIR = re.compile(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)")


class UnconvertibleTypeError(LocalaceError, ValueError):
    """A declared type whose values BFCL cannot convert (unknown, or Set/Queue/... that it never reads)."""


def language_of(category: str) -> str | None:
    """The language a BFCL category's values are written in; None for Python (BFCL's own test)."""
    if "javascript" in category:
        return JAVASCRIPT
    if "java" in category:
        return JAVA
    return None


def python_type(language: str, declared: str) -> type:
    """The Python type a converted value of this declared type must have."""
    table = JAVA_TYPES if language == JAVA else JAVASCRIPT_TYPES
    if declared not in table:
        raise UnconvertibleTypeError(f"unknown {language} parameter type {declared!r}")
    return table[declared]


def convert(language: str, text: str, declared: str, item_type: str | None = None) -> Any:
    """The Python value of `text`, a value of the declared type written in `language`."""
    python_type(language, declared)  # unknown type: raise before reading anything
    if language == JAVA:
        return _java(text, declared, item_type)
    return _javascript(text, declared, item_type)


# ---------------------------------------------------------------- Java


def _strip_suffix(text: str) -> str:
    return re.sub(r"[lLfF]$", "", text)


def _java_scalar(pattern: re.Pattern[str], read: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: read(text) if pattern.match(text) else text


_JAVA_SCALARS: dict[str, Callable[[str], Any]] = {
    "byte": _java_scalar(_INTEGER, int),
    "short": _java_scalar(_INTEGER, int),
    "integer": _java_scalar(_INTEGER, int),
    "long": _java_scalar(_LONG, lambda t: int(_strip_suffix(t))),
    "float": _java_scalar(_JAVA_FLOAT, lambda t: float(_strip_suffix(t))),
    "double": _java_scalar(_JAVA_DOUBLE, float),
    "boolean": lambda text: text == "true" if text in ("true", "false") else text,
    "char": lambda text: text,
    "String": lambda text: text,
    "any": lambda text: text,
}


def _java(text: str, declared: str, item_type: str | None) -> Any:
    scalar = _JAVA_SCALARS.get(declared)
    if scalar is not None:
        return scalar(text)
    if declared == "Array":
        return _java_array(text, item_type)
    if declared == "ArrayList":
        return _java_array_list(text, item_type)
    if declared == "HashMap":
        return _java_hash_map(text)
    raise UnconvertibleTypeError(f"BFCL does not convert Java {declared} values")


def _number_or_text(text: str) -> Any:
    """An int, else a float (Python's own readings, so "1_000" and " 2 " count), else the text."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def _java_untyped(text: str) -> Any:
    """A Java literal whose type is not declared: boolean, string, long, float, then any number."""
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if _LONG.match(text) or _JAVA_FLOAT.match(text):
        return _java(text, "long" if _LONG.match(text) else "float", None)
    return _number_or_text(text)


def _java_item(text: str, item_type: str | None, *, quoted: bool) -> Any:
    if quoted and item_type in ("char", "String"):
        return text[1:-1]  # ArrayList items of these types lose their quotes
    return _java(text, item_type, None) if item_type else _java_untyped(text)


def _java_array(text: str, item_type: str | None) -> Any:
    match = _JAVA_ARRAY.search(text)
    if match is None:
        return text
    items = [part.strip() for part in match.group(1).split(",") if part.strip()]
    return [_java_item(item, item_type, quoted=False) for item in items]


def _java_array_list(text: str, item_type: str | None) -> Any:
    match = _ARRAYLIST_AS_LIST.search(text)
    if match is not None:
        items = [part.strip() for part in match.group(1).split(",")]
    elif (match := _ARRAYLIST_ADDS.search(text)) is not None:
        items = [part.strip() for part in _ARRAYLIST_ADD.findall(match.group(1))]
    elif _ARRAYLIST_EMPTY.search(text):
        return []
    else:
        return text
    return [_java_item(item, item_type, quoted=True) for item in items]


def _java_hash_map(text: str) -> Any:
    match = _HASHMAP.search(text)
    if match is not None:
        body = match.group(1)
        if not body.strip():
            return {}
        return {key: _java_untyped(value.strip()) for key, value in _HASHMAP_PUT.findall(body)}
    return {} if _HASHMAP_EMPTY.search(text) else text


# ---------------------------------------------------------------- JavaScript


def _quoted(text: str) -> bool:
    return (text.startswith('"') and text.endswith('"')) or (text.startswith("'") and text.endswith("'"))


def _js_bigint(text: str) -> Any:
    try:
        return int(text[:-1])
    except ValueError:  # a final newline passed the pattern; keep the text
        return text


_JS_SCALARS: dict[str, Callable[[str], Any]] = {
    "String": lambda text: text[1:-1] if _quoted(text) else text,
    "integer": lambda text: int(text) if _INTEGER.match(text) else text,
    "float": lambda text: float(text) if _JS_FLOAT.match(text) else text,
    "Bigint": lambda text: _js_bigint(text) if _BIGINT.match(text) else text,
    "Boolean": lambda text: text == "true" if text in ("true", "false") else text,
    "any": lambda text: text,
}


def _javascript(text: str, declared: str, item_type: str | None) -> Any:
    scalar = _JS_SCALARS.get(declared)
    if scalar is not None:
        return scalar(text)
    return _js_collection(text, declared, item_type)


def _js_untyped(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if _quoted(text):
        return text[1:-1]
    return _number_or_text(text)


def _js_collection(text: str, kind: str, item_type: str | None) -> Any:
    code = text.strip()
    try:
        return _js_array(code, item_type) if kind == "array" else _js_object(code)
    except (ValueError, IndexError, RecursionError):
        return code  # BFCL keeps the text when reading a collection fails


def _js_array(code: str, item_type: str | None) -> Any:
    grid = _JS_ARRAY_2D.match(code)
    if grid is not None:
        rows = []
        for index, row in enumerate(_JS_BRACKETED.findall(grid.group(0))):
            row = row.strip()
            if index == 0 and row.startswith("["):
                row = row[1:]
            rows.append([_js_untyped(item) for item in row.split(",")])
        return rows
    match = _JS_ARRAY.match(code)
    if match is None:
        return code
    body = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
    items = [item.strip() for item in body.split(",")] if body else []
    if not item_type:
        return [_js_untyped(item) for item in items]
    # A quoted item of a collection type is read with "String" as its own item type.
    return [
        convert(JAVASCRIPT, item, item_type, "String" if item.startswith(("'", '"')) else None) for item in items
    ]


def _js_object(code: str) -> Any:
    if code == "{}":
        return {}
    match = _JS_OBJECT.match(code)
    if match is None:
        return code
    result: dict[str, Any] = {}
    for key, value in _JS_PAIR.findall(match.group(1)):
        key, value = key.strip().strip("'\""), value.strip()
        if value.startswith("[") and value.endswith("]"):
            result[key] = _js_collection(value, "array", None)
        elif value.startswith("{") and value.endswith("}"):
            result[key] = _js_collection(value, "dict", None)
        else:
            result[key] = _js_untyped(value.strip("'\""))
    return result
