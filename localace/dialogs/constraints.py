"""Output constraints of the dialog agents, built from the offered APIs' own schemas."""

from __future__ import annotations

import copy
from typing import Any

from localace.apis.spec import ApiSpec, strip_vendor_keys
from localace.backends.base import Output

MAX_ARG_CHARS = 80
MAX_RESULT_CHARS = 60
MAX_ITEMS = 4
# One paragraph, no chat-template markers, bounded: a small model must stop within max_tokens.
_TEXT_CHAR = r"[^\x00-\x1f\x7f<>|{}\ufffd]"  # no control characters, template markers or braces
# At least two words (a space after the first few characters), ending like a sentence.
USER_TEXT = Output.regex(rf"[A-Za-z0-9\"'(]{_TEXT_CHAR}{{1,60}} {_TEXT_CHAR}{{4,220}}[.?!]")
ASSISTANT_TEXT = Output.regex(rf"[A-Za-z0-9\"'(]{_TEXT_CHAR}{{1,60}} {_TEXT_CHAR}{{4,320}}[.?!]")
THOUGHT = {"type": "string", "pattern": "^[A-Z][^\\x00-\\x1f<>|]{5,200}$"}


def bounded(schema: Any, max_chars: int) -> Any:
    """Cap free strings and arrays so generation terminates; the result is still valid for `schema`."""
    if not isinstance(schema, dict):
        return schema
    out = copy.deepcopy(schema)
    t = out.get("type")
    if t == "string" and not ({"enum", "const", "pattern", "format"} & out.keys()):
        out["maxLength"] = min(out.get("maxLength", max_chars), max_chars)
        out.setdefault("minLength", 1)
    if t == "array":
        out["maxItems"] = min(out.get("maxItems", MAX_ITEMS), MAX_ITEMS)
        out["minItems"] = min(out.get("minItems", 0), out["maxItems"])
        if isinstance(out.get("items"), dict):
            out["items"] = bounded(out["items"], max_chars)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: bounded(v, max_chars) for k, v in out["properties"].items()}
        out["additionalProperties"] = False
    return out


def call_item(api: ApiSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"const": api.name},
                       "arguments": bounded(strip_vendor_keys(api.parameters), MAX_ARG_CHARS)},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def calls_output(apis: list[ApiSpec], low: int = 1, high: int = 1) -> Output:
    """Tool calls that are schema-valid by construction: name from the offered list, typed arguments."""
    items = call_item(apis[0]) if len(apis) == 1 else {"anyOf": [call_item(a) for a in apis]}
    return Output.json({
        "type": "object",
        "properties": {"calls": {"type": "array", "minItems": low, "maxItems": high, "items": items}},
        "required": ["calls"],
        "additionalProperties": False,
    })


def result_output(api: ApiSpec) -> Output:
    return Output.json(bounded(strip_vendor_keys(api.returns), MAX_RESULT_CHARS))


def decision_output(actions: tuple[str, ...]) -> Output:
    return Output.json({
        "type": "object",
        "properties": {"thought": THOUGHT, "action": {"type": "string", "enum": list(actions)}},
        "required": ["thought", "action"],
        "additionalProperties": False,
    })
