"""The flat 'draft' form a model writes an API in, and its conversion to an ApiSpec.

A flat list of fields is far easier for a small model to fill under a constraint than a
recursive JSON Schema; nesting and constraints are added afterwards by the evolution operators."""

from __future__ import annotations

from typing import Any

from localace.apis.field_types import field_type
from localace.apis.spec import ApiSpec

SCALAR_TYPES = ["string", "integer", "number", "boolean"]
DRAFT_TYPES = SCALAR_TYPES + ["array"]
IDENT = "^[a-z][a-z0-9]*(_[a-z0-9]+){0,3}$"
API_NAME = "^[a-z][a-z0-9]*(_[a-z0-9]+){1,4}$"
# One line of prose: no quotes/backslashes (no escapes to get wrong), bounded length.
SENTENCE = "^[A-Z][^\\n\"\\\\]{8,150}$"


def field_schema(types: list[str] = DRAFT_TYPES, *, with_required: bool = False,
                 name_pattern: str = IDENT) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": {"type": "string", "pattern": name_pattern, "maxLength": 32},
        "type": {"type": "string", "enum": types},
        "description": {"type": "string", "pattern": SENTENCE},
    }
    if with_required:
        props["required"] = {"type": "boolean"}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def fields_schema(key: str, low: int, high: int, types: list[str] = DRAFT_TYPES,
                  name_pattern: str = IDENT) -> dict[str, Any]:
    return {"type": "object", "properties": {key: {"type": "array", "minItems": low, "maxItems": high,
                                                   "items": field_schema(types, name_pattern=name_pattern)}},
            "required": [key], "additionalProperties": False}


def _fixed_field(name: str, *, with_required: bool) -> dict[str, Any]:
    """A field whose name the plan fixed: the model gives its type (only the one its name settles, if any) and
    a description."""
    known = field_type(name)
    props: dict[str, Any] = {"type": {"type": "string", "enum": [known["type"]] if known else DRAFT_TYPES},
                             "description": {"type": "string", "pattern": SENTENCE}}
    if with_required:
        props["required"] = {"type": "boolean"}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _fields_block(core: list[str], extra_pattern: str, *, with_required: bool) -> dict[str, Any]:
    props: dict[str, Any] = {n: _fixed_field(n, with_required=with_required) for n in core}
    props["more"] = {"type": "array", "minItems": 0 if core else 1, "maxItems": 2,
                     "items": field_schema(with_required=with_required, name_pattern=extra_pattern)}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def draft_schema(name_pattern: str = API_NAME, core_params: list[str] = (), core_returns: list[str] = (),  # type: ignore[assignment]
                 param_pattern: str = IDENT, return_pattern: str = IDENT) -> dict[str, Any]:
    """The draft an API is written in. The fields its functionality names are fixed (the model types and
    describes them); the model may add up to two more from a narrow list. No description: it is the
    functionality's own phrase, given in the prompt (see synth)."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": name_pattern, "maxLength": 48},
            "parameters": _fields_block(list(core_params), param_pattern, with_required=True),
            "returns": _fields_block(list(core_returns), return_pattern, with_required=False),
        },
        "required": ["name", "parameters", "returns"],
        "additionalProperties": False,
    }


def draft_fields(block: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    """A draft's fields as a flat list, from the list form or the fixed-names form ({name: field, "more": [...]})."""
    if isinstance(block, list):
        return block
    return [{"name": n, **f} for n, f in block.items() if n != "more"] + list(block.get("more", []))


class DraftError(ValueError):
    """A draft that cannot become a valid API (duplicate field names and the like)."""


def field_to_schema(field: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": field["type"], "description": field["description"]}
    if field.get("format"):
        schema["format"] = field["format"]
    if field["type"] == "array":
        schema["items"] = {"type": "string"}
    return schema


def unique_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the first field of each name: small models repeat a field rather than invent a new one."""
    seen: dict[str, dict[str, Any]] = {}
    for f in fields:
        seen.setdefault(f["name"], f)
    return list(seen.values())


def object_from_fields(fields: list[dict[str, Any]], description: str | None = None,
                       required: list[str] | None = None) -> dict[str, Any]:
    fields = typed_by_name(unique_fields(fields))
    names = [f["name"] for f in fields]
    if required is not None:
        required = [r for r in dict.fromkeys(required) if r in names]
    schema: dict[str, Any] = {"type": "object", "properties": {f["name"]: field_to_schema(f) for f in fields}}
    if description:
        schema["description"] = description
    schema["required"] = names if required is None else required
    return schema


def typed_by_name(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fields whose name settles their type get that type (`start_date` a date string, `max_results` an
    integer), whatever a small model picked."""
    out = []
    for f in fields:
        known = field_type(f["name"])
        out.append({**f, **known} if known else f)
    return out


def draft_to_spec(draft: dict[str, Any], domain: list[str]) -> ApiSpec:
    """Raises DraftError or InvalidApiSpecError with the reason."""
    params = draft_fields(draft["parameters"])
    if not params:
        raise DraftError("the API has no parameters")
    required = [p["name"] for p in params if p.get("required")] or [params[0]["name"]]
    parameters = object_from_fields(params, required=required)
    returns = object_from_fields(draft_fields(draft["returns"]))
    return ApiSpec(name=draft["name"], description=draft["description"], domain=domain,
                   parameters=parameters, returns=returns)


def describe_api(spec: ApiSpec) -> str:
    """A prose rendering used for examples, so the model imitates the shape without copying JSON."""
    required = set(spec.parameters.get("required", []))
    lines = [f"{spec.name}: {spec.description}", "Parameters:"]
    for n, s in spec.parameters.get("properties", {}).items():
        lines.append(f"- {n} ({s.get('type', 'string')}{', required' if n in required else ''}): {s.get('description', '')}")
    lines.append("Returns:")
    for n, s in spec.returns.get("properties", {}).items():
        lines.append(f"- {n} ({s.get('type', 'string')}): {s.get('description', '')}")
    return "\n".join(lines)


def spec_to_draft(spec: ApiSpec) -> dict[str, Any]:
    """The flat view shown to the model as an example (nested types appear by their top type)."""
    required = set(spec.parameters.get("required", []))
    return {
        "name": spec.name,
        "description": spec.description,
        "parameters": [{"name": n, "type": s.get("type", "string"), "description": s.get("description", ""),
                        "required": n in required} for n, s in spec.parameters.get("properties", {}).items()],
        "returns": [{"name": n, "type": s.get("type", "string"), "description": s.get("description", "")}
                    for n, s in spec.returns.get("properties", {}).items()],
    }
