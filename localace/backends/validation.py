"""Never trust 'constrained' output: check every result against its constraint again."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from localace.backends.base import Output
from localace.errors import ConstraintViolation, SchemaError, TruncatedOutput
from localace.hashing import canonical_json

# Keywords we can both constrain (llguidance) and validate. Anything else is refused up front:
# a keyword the grammar ignores would silently produce data that the schema forbids.
SUPPORTED_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "prefixItems",
        "minItems", "maxItems", "enum", "const", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
        "format", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions", "description",
        "title", "default", "examples", "$schema", "$id", "minProperties", "maxProperties",
    }
)
SUPPORTED_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
SUPPORTED_FORMATS = frozenset({"date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"})
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def check_schema_supported(schema: Any, path: str = "$") -> None:
    """Raise SchemaError naming the first keyword/type we cannot constrain faithfully."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError as JsSchemaError

    if path == "$":
        if not isinstance(schema, dict):
            raise SchemaError("schema must be a JSON object")
        try:
            Draft202012Validator.check_schema(schema)
        except JsSchemaError as e:
            where = "/".join(str(p) for p in e.absolute_path) or "$"
            raise SchemaError(f"not a valid JSON Schema at {where}: {e.message}") from None
    if isinstance(schema, bool):
        return
    for key, sub in schema.items():
        if key not in SUPPORTED_KEYWORDS:
            raise SchemaError(f"unsupported schema keyword '{key}' at {path}")
        if key == "type":
            types = sub if isinstance(sub, list) else [sub]
            for t in types:
                if t not in SUPPORTED_TYPES:
                    raise SchemaError(f"unsupported type '{t}' at {path}")
        elif key == "format" and sub not in SUPPORTED_FORMATS:
            raise SchemaError(f"unsupported format '{sub}' at {path}")
        elif key == "$ref" and not str(sub).startswith("#"):
            raise SchemaError(f"only local $ref is supported, got '{sub}' at {path}")
        elif key in _SCHEMA_MAPS:
            for name, child in sub.items():
                check_schema_supported(child, f"{path}.{key}.{name}")
        elif key in _SCHEMA_LISTS:
            for i, child in enumerate(sub):
                check_schema_supported(child, f"{path}.{key}[{i}]")
        elif key in ("items", "additionalProperties") and isinstance(sub, dict):
            check_schema_supported(sub, f"{path}.{key}")


@lru_cache(maxsize=256)
def _validator(schema_json: str):
    from jsonschema import Draft202012Validator

    from localace.string_formats import FORMAT_CHECKER

    return Draft202012Validator(json.loads(schema_json), format_checker=FORMAT_CHECKER)


def schema_errors(schema: dict[str, Any], value: Any) -> list[tuple[str, str, str]]:
    """All violations as (json path, failing keyword, message), best first."""
    validator = _validator(canonical_json(schema))
    out = []
    for e in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in e.absolute_path)
        out.append((where, str(e.validator), e.message))
    return out


def check_output(output: Output | None, text: str, finish_reason: str) -> Any:
    """Return the parsed value of a completion, or raise the typed error that explains why not."""
    if output is None:
        if finish_reason == "length":
            raise TruncatedOutput("output hit max_tokens")
        return None
    if output.kind == "json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            if finish_reason == "length":
                raise TruncatedOutput(f"JSON output hit max_tokens after {len(text)} chars") from None
            raise ConstraintViolation(f"output is not JSON: {e.msg} at char {e.pos}") from None
        errors = schema_errors(output.json_schema or {}, value)
        if errors:
            where, keyword, msg = errors[0]
            raise ConstraintViolation(f"output violates schema at {where} ({keyword}): {msg[:200]}")
        return value
    if output.kind == "regex":
        if re.fullmatch(output.pattern or "", text) is None:
            if finish_reason == "length":
                raise TruncatedOutput("regex output hit max_tokens")
            raise ConstraintViolation(f"output does not match pattern {output.pattern!r}")
        return text
    if text not in (output.choices or ()):
        raise ConstraintViolation(f"output {text[:60]!r} is not one of the choices")
    return text
