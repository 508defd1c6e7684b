"""Constrained mode: a bounded JSON schema of the call list, built from the offered functions."""

from __future__ import annotations

from typing import Any

from localace.backends.validation import check_schema_supported
from localace.errors import SchemaError

# Bounds wide enough for every answer BFCL v4 ships (its longest string has 224 characters, its
# longest list 20 items, its most calls 8), tight enough that a small model cannot ramble forever.
MAX_STRING = 256
MAX_ITEMS = 24
MAX_CALLS = 8

_SCALARS = {"string": "string", "integer": "integer", "float": "number", "number": "number", "boolean": "boolean"}
_ARRAYS = frozenset({"array", "tuple"})
_OBJECTS = frozenset({"dict", "object"})
# Values of a dict parameter that declares no properties: any bounded scalar.
_FREE_VALUE = {"anyOf": [
    {"type": "string", "maxLength": MAX_STRING}, {"type": "number"}, {"type": "boolean"},
]}


_ENUM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
}


def _enum(schema: dict[str, Any], json_type: str) -> list | None:
    """The schema's enum when every value has the declared type (a mismatch would be unsatisfiable)."""
    values = schema.get("enum")
    allowed = _ENUM_TYPES[json_type]
    if isinstance(values, list) and values and all(type(v) in allowed for v in values):
        return values
    return None


def _object(schema: dict[str, Any], where: str) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        if where == "parameters":
            return {"type": "object", "properties": {}, "additionalProperties": False}
        # A free-form dict argument: bounded scalar values, so it cannot grow without end.
        return {"type": "object", "additionalProperties": _FREE_VALUE, "maxProperties": MAX_ITEMS}
    converted = {name: to_json_schema(sub, f"{where}.{name}") for name, sub in properties.items()}
    required = [name for name in schema.get("required") or [] if name in converted]
    out: dict[str, Any] = {"type": "object", "properties": converted, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def to_json_schema(schema: Any, where: str = "parameters") -> dict[str, Any]:
    """Convert a BFCL (gorilla-typed) parameter schema to bounded, closed JSON Schema.

    Only types, properties, required, items and enums carry over; descriptions and defaults do
    not constrain anything. Raises SchemaError for a type we cannot express."""
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: schema must be an object, got {type(schema).__name__}")
    kind = schema.get("type", "any")
    if not isinstance(kind, str):
        raise SchemaError(f"{where}: unsupported type {kind!r}")
    kind = kind.lower()
    if kind == "any":
        return {}
    if kind in _SCALARS:
        out: dict[str, Any] = {"type": _SCALARS[kind]}
        values = _enum(schema, _SCALARS[kind])
        if values is not None:
            out["enum"] = values
        elif kind == "string":
            out["maxLength"] = MAX_STRING
        return out
    if kind in _ARRAYS:
        out = {"type": "array", "maxItems": MAX_ITEMS}
        items = schema.get("items")
        if isinstance(items, dict):
            out["items"] = to_json_schema(items, f"{where}[]")
        return out
    if kind in _OBJECTS:
        return _object(schema, where)
    raise SchemaError(f"{where}: unsupported type {kind!r}")


def call_schema(function: dict[str, Any]) -> dict[str, Any]:
    """One call of this function: {"name": const, "arguments": its parameters}."""
    name = function["name"]
    return {
        "type": "object",
        "properties": {"name": {"const": name}, "arguments": to_json_schema(function.get("parameters") or {})},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def calls_schema(functions: list[dict[str, Any]]) -> dict[str, Any]:
    """{"calls": [...]} where each call is one of the functions; [] is the explicit "no call".

    Raises SchemaError (naming the function) when a function cannot be constrained."""
    options = []
    for function in functions:
        try:
            options.append(call_schema(function))
        except SchemaError as e:
            raise SchemaError(f"function {function.get('name')!r}: {e}") from None
    calls: dict[str, Any] = {"type": "array", "maxItems": MAX_CALLS if options else 0}
    if options:
        calls["items"] = options[0] if len(options) == 1 else {"anyOf": options}
    schema = {"type": "object", "properties": {"calls": calls}, "required": ["calls"], "additionalProperties": False}
    check_schema_supported(schema)
    return schema


def decode_value(value: Any) -> list[dict[str, dict]]:
    """The constrained JSON value as BFCL decoded calls: [{name: {param: value}}]."""
    return [{call["name"]: call["arguments"]} for call in value["calls"]]
