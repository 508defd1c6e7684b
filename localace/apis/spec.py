"""The API specification record, its definition checks and type statistics."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any, NoReturn

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from localace.errors import LocalaceError
from localace.hashing import canonical_json, content_hash
from localace.string_formats import FORMAT_CHECKER

MAX_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 1024

# A name is kept as its data writes it: real APIs are called "Get Agent's Active Listings", "Q&A Notifications",
# "news/get-categories", "/v1/cocktail" or "Get Games by Platform, Category, and Sorted". Only what no name can
# hold is refused: control characters and other whitespace than the plain space. Formats that need an identifier
# (OpenAI, Hermes, BFCL) write a sanitized one and keep the name in their row (see formats/common.identifiers).
_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f\u0085\u2028\u2029]+$")

COMMON_KEYWORDS = frozenset({"type", "description", "default", "title", "examples"})
_NUMERIC_KEYWORDS = frozenset({"enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    "string": frozenset({"enum", "pattern", "format", "minLength", "maxLength"}),
    "integer": _NUMERIC_KEYWORDS,
    "number": _NUMERIC_KEYWORDS,
    "boolean": frozenset(),
    "array": frozenset({"items", "minItems", "maxItems"}),
    "object": frozenset({"properties", "required", "additionalProperties"}),
}
_TYPED_KEYWORDS = frozenset().union(*TYPE_KEYWORDS.values())
STRING_FORMATS = frozenset({"date", "date-time", "time", "email", "uri", "uuid", "ipv4"})
NULL_TYPE = "null"
RANGE_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_COUNT_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems")
_BOUND_PAIRS = (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"))
VENDOR_PREFIX = "x-"
# Validation context for rows our own store wrote: they passed check_definition when inserted, and a 26k-API
# pool (or 100k dialogs that embed their tools) loads in half the time without checking them again.
STORED = {"stored_row": True}

SchemaFn = Callable[[dict[str, Any], str], dict[str, Any]]


class InvalidApiSpecError(LocalaceError, ValueError):
    """An API definition breaks one or more rules; `reasons` lists them all."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons) or ["invalid API definition"]
        shown = "; ".join(self.reasons[:3])
        more = len(self.reasons) - 3
        super().__init__(shown + (f" (+{more} more)" if more > 0 else ""))


def default_returns(name: str) -> dict[str, Any]:
    """Return schema given to tools whose source format declares none."""
    return {"type": "object", "description": f"Result of {name}."}


def is_json_type(value: Any, type_name: str) -> bool:
    """Whether a JSON value has the given JSON Schema type (booleans are not numbers)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if type_name == "number":
        return isinstance(value, (int, float))
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "object":
        return isinstance(value, dict)
    return False


def schema_children(node: Mapping[str, Any], path: str) -> Iterator[tuple[str, str, Any]]:
    """Yield (relation, path, sub-schema) for properties, items and additionalProperties."""
    properties = node.get("properties")
    if isinstance(properties, dict):
        for key, child in properties.items():
            yield "property", f"{path}.properties.{key}", child
    if isinstance(node.get("items"), dict):
        yield "items", f"{path}.items", node["items"]
    if isinstance(node.get("additionalProperties"), dict):
        yield "additional", f"{path}.additionalProperties", node["additionalProperties"]


def map_schema(schema: Any, fn: SchemaFn, path: str = "parameters") -> Any:
    """Rebuild a schema bottom-up, applying fn(node, path) to every sub-schema."""
    if not isinstance(schema, dict):
        return schema
    node = dict(schema)
    if isinstance(node.get("properties"), dict):
        node["properties"] = {
            key: map_schema(child, fn, f"{path}.properties.{key}") for key, child in node["properties"].items()
        }
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            node[key] = map_schema(node[key], fn, f"{path}.{key}")
    return fn(node, path)


def _constrainable(node: dict[str, Any], _path: str) -> dict[str, Any]:
    return {
        key: value for key, value in node.items()
        if not key.startswith(VENDOR_PREFIX) and not (key == "format" and value not in STRING_FORMATS)
    }


def strip_vendor_keys(schema: Any) -> Any:
    """A copy without "x-..." keys and without formats we do not know (annotations, see unknown_formats), for
    consumers that refuse unknown keywords (e.g. constraints, value generation)."""
    return map_schema(copy.deepcopy(schema), _constrainable)


def schema_type(node: Mapping[str, Any]) -> Any:
    """The type a node constrains its non-null values to: "string" for "string" and for ["string", "null"]."""
    type_name = node.get("type")
    if isinstance(type_name, list) and len(type_name) == 2 and NULL_TYPE in type_name:
        return next(t for t in type_name if t != NULL_TYPE)
    return type_name


def is_nullable(node: Mapping[str, Any]) -> bool:
    type_name = node.get("type")
    return isinstance(type_name, list) and NULL_TYPE in type_name


def unknown_formats(schema: Any, path: str = "parameters") -> list[tuple[str, str]]:
    """(path, format) of every "format" we cannot check: JSON Schema treats it as an annotation, and so do we."""
    found: list[tuple[str, str]] = []

    def visit(node: dict[str, Any], at: str) -> dict[str, Any]:
        if "format" in node and isinstance(node["format"], str) and node["format"] not in STRING_FORMATS:
            found.append((at, node["format"]))
        return node

    map_schema(schema, visit, path)
    return found


def _check_keywords(node: Mapping[str, Any], type_name: str, path: str) -> list[str]:
    allowed = COMMON_KEYWORDS | TYPE_KEYWORDS[type_name]
    reasons = []
    for key in node:
        if key in allowed or (isinstance(key, str) and key.startswith(VENDOR_PREFIX)):
            continue
        if key in _TYPED_KEYWORDS:
            reasons.append(f"{path}: keyword {key!r} not allowed for type {type_name!r}")
        else:
            reasons.append(f"{path}: unknown keyword {key!r}")
    return reasons


def _check_annotations(node: Mapping[str, Any], path: str) -> list[str]:
    reasons = []
    for key in ("description", "title"):
        if key in node and not isinstance(node[key], str):
            reasons.append(f"{path}.{key}: must be a string")
    if "examples" in node and not isinstance(node["examples"], list):
        reasons.append(f"{path}.examples: must be a list")
    return reasons


def _check_enum(node: Mapping[str, Any], type_name: str, path: str) -> list[str]:
    enum = node["enum"]
    if not isinstance(enum, list) or not enum:
        return [f"{path}.enum: empty enum" if enum == [] else f"{path}.enum: must be a non-empty list"]
    nullable = is_nullable(node)
    return [
        f"{path}.enum: value {value!r} is not of type {type_name!r}"
        for value in enum
        if not is_json_type(value, type_name) and not (nullable and value is None)
    ]


def _check_bounds(node: Mapping[str, Any], path: str) -> list[str]:
    reasons = []
    for key in RANGE_KEYWORDS:
        if key in node and not is_json_type(node[key], "number"):
            reasons.append(f"{path}.{key}: must be a number")
    for key in _COUNT_KEYWORDS:
        value = node.get(key)
        if key in node and not (is_json_type(value, "integer") and value >= 0):
            reasons.append(f"{path}.{key}: must be a non-negative integer")
    if reasons:
        return reasons
    for low, high in _BOUND_PAIRS:
        if low in node and high in node and node[low] > node[high]:
            reasons.append(f"{path}: {low} {node[low]} > {high} {node[high]}")
    low, high = "exclusiveMinimum", "exclusiveMaximum"
    if low in node and high in node and node[low] >= node[high]:
        reasons.append(f"{path}: {low} {node[low]} >= {high} {node[high]}")
    return reasons


def _check_string(node: Mapping[str, Any], path: str) -> list[str]:
    reasons = []
    if "pattern" in node:
        pattern = node["pattern"]
        if not isinstance(pattern, str):
            reasons.append(f"{path}.pattern: must be a string")
        else:
            try:
                re.compile(pattern)
            except re.error as err:
                reasons.append(f"{path}.pattern: invalid regex {pattern!r} ({err})")
    if "format" in node and not isinstance(node["format"], str):
        reasons.append(f"{path}.format: must be a string")
    # Any other format ("string", "comma-separated") is an annotation, as in JSON Schema: kept, never checked.
    return reasons


def _check_array(node: Mapping[str, Any], path: str) -> list[str]:
    if "items" not in node:
        return [f"{path}: array without items"]
    if not isinstance(node["items"], dict):
        return [f"{path}.items: must be a single schema object"]
    return []


def _check_object(node: Mapping[str, Any], path: str) -> list[str]:
    reasons = []
    properties = node.get("properties", {})
    if not isinstance(properties, dict):
        reasons.append(f"{path}.properties: must be an object")
        properties = {}
    for key in properties:
        if not key.strip():
            reasons.append(f"{path}.properties: blank property name")
    required = node.get("required", [])
    if not isinstance(required, list) or not all(isinstance(item, str) for item in required):
        reasons.append(f"{path}.required: must be a list of property names")
    else:
        reasons.extend(
            f"{path}.required: {item!r} is not a property" for item in required if item not in properties
        )
    extra = node.get("additionalProperties", True)
    if not isinstance(extra, (bool, dict)):
        reasons.append(f"{path}.additionalProperties: must be a boolean or a schema")
    return reasons


def _check_default(node: Mapping[str, Any], path: str) -> list[str]:
    try:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(node, format_checker=FORMAT_CHECKER).iter_errors(node["default"])
        )
    except (jsonschema.exceptions.SchemaError, re.error, TypeError, ValueError):
        return []  # a broken sub-schema is reported at its own path
    if error is None:
        return []
    return [f"{path}.default: {node['default']!r} is not valid for its schema ({error.message})"]


def check_schema(node: Any, path: str) -> list[str]:
    """Reasons why a (sub)schema falls outside the supported JSON Schema subset."""
    if not isinstance(node, dict):
        return [f"{path}: schema must be a JSON object"]
    if node.get("type") is None:
        return [f"{path}: missing type"]
    type_name = schema_type(node)  # a nullable union ["T", "null"] is checked as T
    if not isinstance(type_name, str):
        return [f"{path}: type must be a type name or [name, \"null\"], got {node.get('type')!r}"]
    if type_name not in TYPE_KEYWORDS:
        return [f"{path}: unknown type {type_name!r}"]
    reasons = _check_keywords(node, type_name, path) + _check_annotations(node, path)
    if "enum" in node and type_name in ("string", "integer", "number"):
        reasons += _check_enum(node, type_name, path)
    reasons += _check_bounds(node, path)
    if type_name == "string":
        reasons += _check_string(node, path)
    elif type_name == "array":
        reasons += _check_array(node, path)
    elif type_name == "object":
        reasons += _check_object(node, path)
    if "default" in node and not reasons:
        reasons += _check_default(node, path)
    for _, child_path, child in schema_children(node, path):
        reasons += check_schema(child, child_path)
    return reasons


def _check_name(name: Any) -> list[str]:
    if name is None or name == "":
        return ["name: missing"]
    if not isinstance(name, str):
        return [f"name: must be a string, got {type(name).__name__}"]
    if len(name) > MAX_NAME_LENGTH:
        return [f"name: longer than {MAX_NAME_LENGTH} characters"]
    if name != name.strip():
        return [f"name: leading or trailing whitespace in {name!r}"]
    if not _NAME_RE.match(name):
        bad = sorted({char for char in name if not _NAME_RE.match(char)})
        return [f"name: invalid characters {''.join(bad)!r} in {name!r}"]
    return []


def _check_description(description: Any) -> list[str]:
    if not isinstance(description, str) or not description.strip():
        return ["description: missing or blank"]
    if len(description) > MAX_DESCRIPTION_LENGTH:
        return [f"description: longer than {MAX_DESCRIPTION_LENGTH} characters"]
    return []


def _check_parameters(parameters: Any, *, described: bool = True) -> list[str]:
    if parameters is None:
        return ["parameters: missing"]
    if not isinstance(parameters, dict):
        return ["parameters: must be a JSON Schema object"]
    reasons = []
    if parameters.get("type") != "object":
        reasons.append(f"parameters: type must be 'object', got {parameters.get('type')!r}")
    reasons += check_schema(parameters, "parameters")
    properties = parameters.get("properties")
    # Our own APIs describe every parameter; an imported tool is kept as written (a ToolACE "time_period" with no
    # description is still a usable parameter).
    for key, child in (properties.items() if isinstance(properties, dict) and described else ()):
        description = child.get("description") if isinstance(child, dict) else None
        if not isinstance(description, str) or not description.strip():
            reasons.append(f"parameters.properties.{key}: missing description")
    return reasons


def _definition_fields(spec_or_dict: ApiSpec | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(spec_or_dict, ApiSpec):
        return spec_or_dict.definition()
    return spec_or_dict


def check_definition(spec_or_dict: ApiSpec | Mapping[str, Any]) -> list[str]:
    """Every reason why an API definition is invalid; empty when it is valid."""
    if not isinstance(spec_or_dict, (ApiSpec, Mapping)):
        return ["definition: must be an object"]
    fields = _definition_fields(spec_or_dict)
    source = spec_or_dict.source if isinstance(spec_or_dict, ApiSpec) else spec_or_dict.get("source", "synth")
    reasons = _check_name(fields.get("name")) + _check_description(fields.get("description"))
    reasons += _check_parameters(fields.get("parameters"), described=source == "synth")
    if fields.get("returns") is None:
        reasons.append("returns: missing")
    else:
        reasons += check_schema(fields["returns"], "returns")
    return reasons


def _raise_typed(exc: ValidationError) -> NoReturn:
    """Turn pydantic's wrapper back into our own error type."""
    for error in exc.errors():
        inner = (error.get("ctx") or {}).get("error")
        if isinstance(inner, InvalidApiSpecError):
            raise inner from None
    reasons = [f"{'.'.join(str(part) for part in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()]
    raise InvalidApiSpecError(reasons) from exc


class ApiSpec(BaseModel):
    """One API (tool) definition with its domain path and lineage; treat as immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    domain: list[str] = Field(default_factory=list)
    parameters: dict[str, Any]
    returns: dict[str, Any]
    parent_id: str | None = None
    operator: str | None = None
    # mcp:<server name as the server reports it> for tools listed by an MCP server; openapi:<info title> for the
    # operations of an OpenAPI document.
    source: str = Field(default="synth",
                        pattern=r"^(synth|import:[a-z0-9_+-]+|(mcp|openapi):[^\x00-\x1f\x7f]{1,64})$")
    # What the source says about the tool beyond the definition (MCP: title, annotations), kept as given; not hashed.
    meta: dict[str, Any] | None = None

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            _raise_typed(exc)

    # Without this marker pydantic calls a custom __init__ after validating (model_validate*, nested fields of
    # Dialog), which validated every spec twice and dropped the validation context.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> ApiSpec:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            _raise_typed(exc)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes, *args: Any, **kwargs: Any) -> ApiSpec:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            _raise_typed(exc)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or (info.context or {}).get("stored_row"):
            return data
        reasons = check_definition(data)
        if reasons:
            raise InvalidApiSpecError(reasons)
        # Own copies of the schemas, so later edits to the caller's dicts cannot change the id.
        copied = {**data, "parameters": copy.deepcopy(data["parameters"]), "returns": copy.deepcopy(data["returns"])}
        if data.get("meta") is not None:
            copied["meta"] = copy.deepcopy(data["meta"])
        return copied

    def definition(self) -> dict[str, Any]:
        """The hashed part: name, description, parameters and returns (copies)."""
        return copy.deepcopy(
            {"name": self.name, "description": self.description, "parameters": self.parameters, "returns": self.returns}
        )

    def _hashed(self) -> dict[str, Any]:
        # No copies: hashing only reads, and deep-copying every schema dominated loading a 26k-API pool.
        return {"name": self.name, "description": self.description, "parameters": self.parameters,
                "returns": self.returns}

    def canonical_json(self) -> str:
        return canonical_json(self._hashed())

    @cached_property
    def id(self) -> str:
        """Content hash of the definition, so equal definitions dedupe whatever their lineage."""
        return content_hash(self._hashed(), length=16)

    @classmethod
    def from_stored(cls, api_id: str, data_json: str) -> ApiSpec:
        """A spec from a row our store wrote: checked when inserted, its id is the row's, so nothing is redone."""
        spec = cls.model_construct(**json.loads(data_json))
        spec.__dict__["id"] = api_id  # what the cached_property would compute, stored the same way
        return spec

    def replace(self, **changes: Any) -> ApiSpec:
        """A validated copy with some fields changed (pydantic's model_copy skips validation)."""
        return ApiSpec(**{**self.model_dump(), **changes})

    def __hash__(self) -> int:
        return hash(self.id)


def _count_node(node: Mapping[str, Any], counts: Counter[str], inside_object: bool) -> None:
    type_name = schema_type(node)
    if not isinstance(type_name, str):
        type_name = None
    if type_name in TYPE_KEYWORDS:
        counts[type_name] += 1
    for key in ("enum", "pattern", "format"):
        if key in node:
            counts[key] += 1
    if any(key in node for key in RANGE_KEYWORDS):
        counts["range"] += 1
    if type_name == "object" and inside_object:
        counts["nested_object"] += 1
    if type_name == "array" and isinstance(node.get("items"), dict):
        item_type = schema_type(node["items"])
        if item_type in ("object", "array"):
            counts[f"array_of_{item_type}s"] += 1
    for relation, _, child in schema_children(node, ""):
        if isinstance(child, dict):
            # items keep their container's depth; properties sit inside this object
            _count_node(child, counts, inside_object or relation != "items")


def param_types(spec: ApiSpec | Mapping[str, Any]) -> Counter[str]:
    """Count parameter-type categories (types, array_of_objects, nested_object, enum, range...)."""
    parameters = spec.parameters if isinstance(spec, ApiSpec) else spec.get("parameters", {})
    counts: Counter[str] = Counter()
    for _, _, child in schema_children(parameters, "parameters"):
        if isinstance(child, dict):
            _count_node(child, counts, inside_object=False)
    return counts
