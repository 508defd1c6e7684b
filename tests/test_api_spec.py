"""ApiSpec model, definition checks and parameter-type statistics."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.apis.spec import ApiSpec, InvalidApiSpecError, canonical_json, check_definition, param_types


def weather_definition() -> dict[str, Any]:
    return {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name."},
                "units": {"type": "string", "description": "Unit system.", "enum": ["metric", "imperial"]},
            },
            "required": ["city"],
        },
        "returns": {"type": "object", "properties": {"temperature": {"type": "number"}}},
    }


def with_param(schema: dict[str, Any], *, name: str = "date", required: bool = False) -> dict[str, Any]:
    definition = weather_definition()
    definition["parameters"]["properties"][name] = schema
    if required:
        definition["parameters"]["required"].append(name)
    return definition


def test_valid_spec_has_stable_content_id() -> None:
    spec = ApiSpec(**weather_definition(), domain=["weather", "forecast"])
    assert spec.source == "synth"
    assert len(spec.id) == 16 and int(spec.id, 16) >= 0
    assert spec.id == ApiSpec(**weather_definition()).id


def test_id_ignores_domain_and_lineage_but_not_definition() -> None:
    base = ApiSpec(**weather_definition())
    relabelled = ApiSpec(**weather_definition(), domain=["x"], parent_id="abc", operator="add_parameter",
                         source="import:openai")
    assert relabelled.id == base.id
    changed = weather_definition()
    changed["description"] = "Weather now."
    assert ApiSpec(**changed).id != base.id


def test_canonical_json_is_sorted_compact_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": ["é", {"d": 2, "c": 3}]}) == '{"a":["é",{"c":3,"d":2}],"b":1}'
    spec = ApiSpec(**weather_definition())
    assert json.loads(spec.canonical_json()) == weather_definition()


def test_spec_owns_its_schemas() -> None:
    definition = weather_definition()
    spec = ApiSpec(**definition)
    before = spec.id
    definition["parameters"]["properties"]["city"]["description"] = "changed"
    assert spec.id == before
    assert spec.parameters["properties"]["city"]["description"] == "City name."


@pytest.mark.parametrize("name", [
    "Get Team Roster", "stats.player.v2", "weather-now_2", "a",
    # names as real APIs write them (the published ToolACE data, tests/fixtures/toolace_real)
    "Get Agent's Active Listings", "Detrended Price Oscillator (DPO)", "Q&A Notifications", "news/get-categories",
    "/v1/cocktail", "Get Games by Platform, Category, and Sorted", "M4.5+ Earthquakes, Past 7 Days",
])
def test_names_with_spaces_dots_and_dashes_are_allowed(name: str) -> None:
    assert ApiSpec(**{**weather_definition(), "name": name}).name == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "name: missing"),
        ("x" * 65, "name: longer than 64"),
        ("bad\tname", "name: invalid characters '\\t'"),
        ("line\nbreak", "name: invalid characters '\\n'"),
        (" padded", "name: leading or trailing whitespace"),
    ],
)
def test_bad_names_are_rejected(name: str, expected: str) -> None:
    reasons = check_definition({**weather_definition(), "name": name})
    assert any(reason.startswith(expected) for reason in reasons), reasons


def test_model_raises_typed_error_with_first_reasons() -> None:
    definition = with_param({"type": "datetime", "description": "When."})
    with pytest.raises(InvalidApiSpecError) as info:
        ApiSpec(**definition)
    assert isinstance(info.value, ValueError)
    assert info.value.reasons == ["parameters.properties.date: unknown type 'datetime'"]
    assert str(info.value) == "parameters.properties.date: unknown type 'datetime'"
    with pytest.raises(InvalidApiSpecError):
        ApiSpec.model_validate(definition)
    with pytest.raises(InvalidApiSpecError):
        ApiSpec.model_validate_json(json.dumps(definition))


def test_non_definition_fields_also_raise_typed_error() -> None:
    with pytest.raises(InvalidApiSpecError, match="source"):
        ApiSpec(**weather_definition(), source="scraped")
    with pytest.raises(InvalidApiSpecError, match="domain"):
        ApiSpec(**weather_definition(), domain="weather")


def test_replace_revalidates() -> None:
    spec = ApiSpec(**weather_definition())
    child = spec.replace(parent_id=spec.id, operator="add_constraint")
    assert child.parent_id == spec.id and child.id == spec.id
    with pytest.raises(InvalidApiSpecError, match="description: missing or blank"):
        spec.replace(description="  ")


# One case per rule: (definition, reason that must be reported, with its JSON path).
INVALID_CASES = {
    "blank description": ({**weather_definition(), "description": "   "}, "description: missing or blank"),
    "missing description": (
        {k: v for k, v in weather_definition().items() if k != "description"},
        "description: missing or blank",
    ),
    "long description": ({**weather_definition(), "description": "x" * 1025}, "description: longer than 1024"),
    "top-level parameter without description": (
        with_param({"type": "string"}),
        "parameters.properties.date: missing description",
    ),
    "required name not a property": (
        {**weather_definition(), "parameters": {**weather_definition()["parameters"], "required": ["city", "zip"]}},
        "parameters.required: 'zip' is not a property",
    ),
    "empty enum": (with_param({"type": "string", "description": "d", "enum": []}), "parameters.properties.date.enum: empty enum"),
    "enum value of wrong type": (
        with_param({"type": "integer", "description": "d", "enum": [1, "two"]}),
        "parameters.properties.date.enum: value 'two' is not of type 'integer'",
    ),
    "unknown type": (with_param({"type": "datetime", "description": "d"}), "parameters.properties.date: unknown type 'datetime'"),
    "missing type": (with_param({"description": "d"}), "parameters.properties.date: missing type"),
    "unknown keyword": (
        with_param({"type": "string", "description": "d", "nullable": True}),
        "parameters.properties.date: unknown keyword 'nullable'",
    ),
    "keyword of another type": (
        with_param({"type": "string", "description": "d", "minimum": 1}),
        "parameters.properties.date: keyword 'minimum' not allowed for type 'string'",
    ),
    "nested unknown keyword": (
        with_param({"type": "object", "description": "d", "properties": {"inner": {"type": "string", "$ref": "#/x"}}}),
        "parameters.properties.date.properties.inner: unknown keyword '$ref'",
    ),
    "array without items": (with_param({"type": "array", "description": "d"}), "parameters.properties.date: array without items"),
    "invalid regex": (
        with_param({"type": "string", "description": "d", "pattern": "[a-"}),
        "parameters.properties.date.pattern: invalid regex '[a-'",
    ),
    "format not a string": (
        with_param({"type": "string", "description": "d", "format": 3}),
        "parameters.properties.date.format: must be a string",
    ),
    "minimum above maximum": (
        with_param({"type": "number", "description": "d", "minimum": 10, "maximum": 5}),
        "parameters.properties.date: minimum 10 > maximum 5",
    ),
    "minLength above maxLength": (
        with_param({"type": "string", "description": "d", "minLength": 4, "maxLength": 2}),
        "parameters.properties.date: minLength 4 > maxLength 2",
    ),
    "default of wrong type": (
        with_param({"type": "integer", "description": "d", "default": "three"}),
        "parameters.properties.date.default: 'three' is not valid for its schema",
    ),
    "default outside enum": (
        with_param({"type": "string", "description": "d", "enum": ["a", "b"], "default": "c"}),
        "parameters.properties.date.default: 'c' is not valid for its schema",
    ),
    "default breaking format": (
        with_param({"type": "string", "description": "d", "format": "date", "default": "31/12/2024"}),
        "parameters.properties.date.default: '31/12/2024' is not valid for its schema",
    ),
    "parameters not an object": (
        {**weather_definition(), "parameters": {"type": "array", "items": {"type": "string"}}},
        "parameters: type must be 'object', got 'array'",
    ),
    "bad returns schema": (
        {**weather_definition(), "returns": {"type": "object", "properties": {"t": {"type": "float"}}}},
        "returns.properties.t: unknown type 'float'",
    ),
    "deep array of objects": (
        with_param({"type": "array", "description": "d",
                    "items": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 1}}}}),
        "parameters.properties.date.items.properties.n: minimum 3 > maximum 1",
    ),
}


@pytest.mark.parametrize("case", list(INVALID_CASES), ids=list(INVALID_CASES))
def test_each_invalid_rule_reports_its_path(case: str) -> None:
    definition, expected = INVALID_CASES[case]
    reasons = check_definition(copy.deepcopy(definition))
    assert any(reason.startswith(expected) for reason in reasons), reasons
    with pytest.raises(InvalidApiSpecError) as info:
        ApiSpec(**copy.deepcopy(definition))
    assert any(reason.startswith(expected) for reason in info.value.reasons)


def test_supported_subset_is_accepted() -> None:
    definition = with_param(
        {
            "type": "object",
            "description": "Filters.",
            "title": "Filters",
            "examples": [{"from": "2024-01-01"}],
            "properties": {
                "from": {"type": "string", "format": "date", "default": "2024-01-01"},
                "ids": {"type": "array", "items": {"type": "string", "format": "uuid"}, "minItems": 0, "maxItems": 5},
                "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "flag": {"type": "boolean", "default": True},
                "code": {"type": "string", "pattern": "^[A-Z]+$", "minLength": 1, "maxLength": 8, "default": "AB"},
                "extra": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
            "required": ["from"],
            "additionalProperties": False,
            "x-origin": "vendor keys are allowed",
        }
    )
    assert check_definition(definition) == []
    assert check_definition(ApiSpec(**definition)) == []


def test_check_definition_rejects_non_objects() -> None:
    assert check_definition(["not", "a", "dict"]) == ["definition: must be an object"]  # type: ignore[arg-type]
    assert "returns: missing" in check_definition({k: v for k, v in weather_definition().items() if k != "returns"})


def test_param_types_counts_categories() -> None:
    definition = with_param(
        {
            "type": "object",
            "description": "d",
            "properties": {
                "inner": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}},
                "rows": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "people": {"type": "array", "items": {"type": "object", "properties": {"email": {
                    "type": "string", "format": "email"}}}},
            },
        }
    )
    definition["parameters"]["properties"]["code"] = {"type": "string", "description": "c", "pattern": "^[0-9]+$"}
    definition["parameters"]["properties"]["ok"] = {"type": "boolean", "description": "b"}
    counts = param_types(ApiSpec(**definition))
    assert counts == Counter(
        {
            "string": 4,  # city, units, code, email
            "object": 3,  # date, inner, the people item
            "array": 3,  # rows, its inner array, people
            "integer": 1,
            "number": 1,
            "boolean": 1,
            "enum": 1,
            "pattern": 1,
            "format": 1,
            "range": 1,
            "nested_object": 2,  # inner and the people item sit inside the date object
            "array_of_arrays": 1,
            "array_of_objects": 1,
        }
    )
    assert param_types(weather_definition()) == Counter({"string": 2, "enum": 1})


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["type", "properties", "items", "enum", "required", "default", "minimum", "maximum",
                         "pattern", "format", "description", "object", "string", "x"]),
        children,
        max_size=4,
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(parameters=JSON_VALUES, returns=JSON_VALUES)
def test_check_definition_never_crashes_and_agrees_with_model(parameters: Any, returns: Any) -> None:
    definition = {"name": "probe", "description": "Probe.", "parameters": parameters, "returns": returns}
    reasons = check_definition(definition)
    assert all(isinstance(reason, str) and reason for reason in reasons)
    if reasons:
        with pytest.raises(InvalidApiSpecError):
            ApiSpec(**definition)
    else:
        assert ApiSpec(**definition).definition() == definition


def test_validation_checks_a_definition_once_and_stored_rows_skip_it(monkeypatch) -> None:
    import localace.apis.spec as spec_module
    from localace.apis.spec import STORED
    from localace.dialogs.model import Dialog, Turn

    spec = ApiSpec(**weather_definition())
    dialog = Dialog(kind="non_tool", tools=[spec], turns=[Turn(role="user", content="Hi."),
                                                           Turn(role="assistant", content="Hello!", action="answer")])
    calls = []
    real = spec_module.check_definition
    monkeypatch.setattr(spec_module, "check_definition", lambda d: calls.append(1) or real(d))
    assert ApiSpec.model_validate_json(spec.model_dump_json()) == spec
    assert len(calls) == 1  # pydantic used to call our __init__ again after validating: twice the work
    Dialog.model_validate_json(dialog.model_dump_json())
    assert len(calls) == 2
    # Rows our store wrote were checked when inserted; loading them again does not re-check.
    assert ApiSpec.model_validate_json(spec.model_dump_json(), context=STORED).id == spec.id
    assert Dialog.model_validate_json(dialog.model_dump_json(), context=STORED).id == dialog.id
    assert len(calls) == 2
    with pytest.raises(InvalidApiSpecError, match="must be a string"):
        ApiSpec(**{**weather_definition(), "name": 3})
