"""Diversity operators of API evolution: the model writes content, the operator fixes the shape."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localace.apis.draft import (
    SCALAR_TYPES, DraftError, field_schema, field_to_schema, fields_schema, object_from_fields, spec_to_draft,
)
from localace.apis.draft import IDENT, typed_by_name
from localace.apis.field_types import field_type
from localace.apis.spec import ApiSpec
from localace.backends.base import Output
from localace.tasks import Task

# Ask = (prompt name, output, salt, template variables) -> a task whose value is the parsed output
# (`value = yield from ask(...)`). Supplied by the synthesizer; operators are tasks themselves.
Ask = Callable[..., Any]

FORMATS = ["date", "date-time", "time", "email", "uri", "uuid"]
PATTERNS = {
    "two-letter country code": "^[A-Z]{2}$",
    "three-letter currency code": "^[A-Z]{3}$",
    "five-digit postal code": "^[0-9]{5}$",
    "hex color like #1a2b3c": "^#[0-9a-fA-F]{6}$",
    "international phone number": "^\\+[0-9]{7,15}$",
    "stock ticker symbol": "^[A-Z]{1,5}$",
    "language tag like en or en-US": "^[a-z]{2}(-[A-Z]{2})?$",
    "IATA airport code": "^[A-Z]{3}$",
    "lowercase slug with dashes": "^[a-z0-9]+(-[a-z0-9]+)*$",
}
ENUM_VALUE = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 _.-]{0,23}$"}


class OperatorFailed(Exception):
    """The operator could not apply (bad model output, nothing to mutate); the API stays as it was."""


@dataclass(frozen=True)
class Step:
    operator: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"operator": self.operator, "detail": self.detail}


def _api_json(spec: ApiSpec) -> str:
    return json.dumps(spec_to_draft(spec), ensure_ascii=False)


def _with_params(spec: ApiSpec, properties: dict[str, Any], required: list[str] | None = None) -> ApiSpec:
    params = copy.deepcopy(spec.parameters)
    params["properties"] = properties
    if required is not None:
        params["required"] = required
    return spec.replace(parameters=params)


def _pick(rng: random.Random, spec: ApiSpec, types: tuple[str, ...], *, retype: bool = False) -> str:
    """A parameter of one of `types`; when the operator changes its type (`retype`), only one whose name does not
    settle its type (`start_date` stays a date, `sort_by` a string)."""
    names = [n for n, s in spec.parameters["properties"].items() if s.get("type") in types
             and not (retype and field_type(n) is not None)]
    if not names:
        raise OperatorFailed(f"no parameter of type {'/'.join(types)} to mutate")
    return rng.choice(sorted(names))


def add_parameter(ask: Ask, spec: ApiSpec, rng: random.Random, param_type: str | None = None,
                  name_pattern: str = IDENT) -> Task[tuple[ApiSpec, Step]]:
    types = [param_type] if param_type else SCALAR_TYPES + ["array"]
    value = yield from ask("op_add_parameter", Output.json(field_schema(types, with_required=True, name_pattern=name_pattern)),
                           "add_parameter", api=_api_json(spec), param_type=param_type or "any")
    props = copy.deepcopy(spec.parameters["properties"])
    if value["name"] in props:
        raise OperatorFailed(f"parameter '{value['name']}' already exists")
    value = typed_by_name([value])[0]  # a new `page` is an integer whatever the model said
    props[value["name"]] = field_to_schema(value)
    if value["type"] == "array":
        props[value["name"]]["items"] = {"type": rng.choice(["string", "integer", "number"])}
    required = list(spec.parameters.get("required", [])) + ([value["name"]] if value["required"] else [])
    return _with_params(spec, props, required), Step("add_parameter", f"{value['name']}: {value['type']}")


def add_constraint(ask: Ask, spec: ApiSpec, rng: random.Random, kind: str) -> Task[tuple[ApiSpec, Step]]:
    """kind: enum | format | pattern | range | length | items."""
    props = copy.deepcopy(spec.parameters["properties"])
    if kind == "range":
        name = _pick(rng, spec, ("integer", "number"))
        num = {"type": props[name]["type"]}
        value = yield from ask("op_range", Output.json({"type": "object", "properties": {"minimum": num, "maximum": num},
                                             "required": ["minimum", "maximum"]}), "range",
                    api=_api_json(spec), param=name, description=props[name]["description"])
        if not value["minimum"] < value["maximum"]:
            raise OperatorFailed(f"range for '{name}' is empty: {value['minimum']} .. {value['maximum']}")
        props[name].update(minimum=value["minimum"], maximum=value["maximum"])
        return _with_params(spec, props), Step("add_constraint", f"{name}: range {value['minimum']}..{value['maximum']}")
    if kind == "items":
        name = _pick(rng, spec, ("array",))
        props[name].update(minItems=1, maxItems=rng.choice([3, 5, 10, 20]))
        return _with_params(spec, props), Step("add_constraint", f"{name}: item count")
    name = _pick(rng, spec, ("string",))
    props[name] = {k: v for k, v in props[name].items() if k not in ("enum", "format", "pattern")}
    if kind == "enum":
        value = yield from ask("op_enum", Output.json({"type": "object", "properties": {"values": {
            "type": "array", "minItems": 2, "maxItems": 5, "items": ENUM_VALUE}}, "required": ["values"]}),
            "enum", api=_api_json(spec), param=name, description=props[name]["description"])
        values = list(dict.fromkeys(v.strip() for v in value["values"] if v.strip()))
        if len(values) < 2:
            raise OperatorFailed(f"enum for '{name}' has fewer than 2 distinct values")
        props[name]["enum"] = values
        detail = f"{name}: enum {values}"
    elif kind == "format":
        fmt = yield from ask("op_format", Output.choice(FORMATS), "format", param=name, description=props[name]["description"])
        props[name]["format"] = fmt
        detail = f"{name}: format {fmt}"
    elif kind == "pattern":
        label = yield from ask("op_pattern", Output.choice(list(PATTERNS)), "pattern", param=name,
                    description=props[name]["description"])
        props[name]["pattern"] = PATTERNS[label]
        detail = f"{name}: pattern {label}"
    else:
        props[name].update(minLength=1, maxLength=rng.choice([16, 32, 64, 128, 256]))
        detail = f"{name}: length"
    return _with_params(spec, props), Step("add_constraint", detail)


def _fields(ask: Ask, spec: ApiSpec, name: str, description: str, salt: str,
            name_pattern: str = IDENT) -> Task[dict[str, Any]]:
    value = yield from ask("op_fields", Output.json(fields_schema("fields", 2, 4, SCALAR_TYPES, name_pattern)), salt,
                           api=_api_json(spec), param=name, description=description)
    try:
        return object_from_fields(value["fields"], description, required=[value["fields"][0]["name"]])
    except DraftError as e:
        raise OperatorFailed(str(e)) from None


def change_type(ask: Ask, spec: ApiSpec, rng: random.Random, target: str,
                name_pattern: str = IDENT) -> Task[tuple[ApiSpec, Step]]:
    """target: object | nested_object | array_of_objects | array_of_arrays | typed_array."""
    props = copy.deepcopy(spec.parameters["properties"])
    name = _pick(rng, spec, ("string", "array", "integer", "number"), retype=True)
    description = props[name]["description"]
    if target in ("object", "nested_object"):
        new = yield from _fields(ask, spec, name, description, "object", name_pattern)
        if target == "nested_object":
            inner = sorted(new["properties"])[-1]
            new["properties"][inner] = yield from _fields(ask, spec, inner, new["properties"][inner]["description"],
                                                          "nested", name_pattern)
    elif target == "array_of_objects":
        new = {"type": "array", "description": description, "minItems": 1,
               "items": (yield from _fields(ask, spec, name, "One entry of " + name.replace("_", " "),
                                            "array_of_objects", name_pattern))}
        new["items"].pop("description", None)
    elif target == "array_of_arrays":
        new = {"type": "array", "description": description,
               "items": {"type": "array", "items": {"type": rng.choice(["number", "integer", "string"])}}}
    else:
        new = {"type": "array", "description": description, "items": {"type": rng.choice(["integer", "number"])}}
    props[name] = new
    return _with_params(spec, props), Step("change_type", f"{name}: {target}")


def change_returns(ask: Ask, spec: ApiSpec, rng: random.Random, name_pattern: str = IDENT) -> Task[tuple[ApiSpec, Step]]:
    value = yield from ask("op_returns", Output.json(fields_schema("fields", 2, 5, SCALAR_TYPES, name_pattern)), "returns",
                           api=_api_json(spec))
    try:
        record = object_from_fields(value["fields"])
    except DraftError as e:
        raise OperatorFailed(str(e)) from None
    if rng.random() < 0.5:
        returns = {"type": "object", "properties": {
            "results": {"type": "array", "description": "Matching records.", "items": record},
            "total": {"type": "integer", "description": "Number of matching records."}},
            "required": ["results", "total"]}
        detail = "list of records"
    else:
        returns = record
        detail = "single record"
    return spec.replace(returns=returns), Step("change_returns", detail)
