import pytest

from localace.backends.base import Output
from localace.backends.validation import check_output, check_schema_supported, schema_errors
from localace.errors import ConstraintViolation, SchemaError, TruncatedOutput

NESTED = {
    "type": "object",
    "properties": {
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
        "inner": {"type": "object", "properties": {"n": {"type": "number", "maximum": 3}}, "required": ["n"]},
    },
    "required": ["tags", "inner"],
    "additionalProperties": False,
}


def test_supported_schema_passes():
    check_schema_supported(NESTED)


@pytest.mark.parametrize(
    "schema, needle",
    [
        ({"type": "object", "patternProperties": {"x": {}}}, "patternProperties"),
        ({"type": "tuple"}, "not a valid JSON Schema"),
        ({"type": "string", "format": "credit-card"}, "unsupported format"),
        ({"$ref": "http://example.com/s.json"}, "local $ref"),
        ({"type": "object", "properties": {"a": {"if": {}, "then": {}}}}, "'if'"),
        ([1, 2], "JSON object"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems"),  # llguidance lacks it
    ],
)
def test_unsupported_schemas_are_named(schema, needle):
    with pytest.raises(SchemaError) as e:
        check_schema_supported(schema)
    assert needle in str(e.value)


def test_json_output_checked_against_schema():
    out = Output.json(NESTED)
    assert check_output(out, '{"tags": ["a"], "inner": {"n": 1}}', "stop") == {"tags": ["a"], "inner": {"n": 1}}
    with pytest.raises(ConstraintViolation, match="maximum"):
        check_output(out, '{"tags": [], "inner": {"n": 9}}', "stop")
    with pytest.raises(ConstraintViolation, match="not JSON"):
        check_output(out, "{tags", "stop")
    with pytest.raises(TruncatedOutput):
        check_output(out, '{"tags": ["a", ', "length")


def test_regex_and_choice_outputs():
    assert check_output(Output.regex(r"[0-9]{2}"), "42", "stop") == "42"
    with pytest.raises(ConstraintViolation):
        check_output(Output.regex(r"[0-9]{2}"), "4a", "stop")
    assert check_output(Output.choice(["yes", "no"]), "no", "stop") == "no"
    with pytest.raises(ConstraintViolation):
        check_output(Output.choice(["yes", "no"]), "maybe", "stop")


def test_unconstrained_truncation_is_reported():
    assert check_output(None, "fine", "stop") is None
    with pytest.raises(TruncatedOutput):
        check_output(None, "cut off mid", "length")


def test_schema_errors_report_path_and_keyword():
    errors = schema_errors(NESTED, {"tags": ["c"], "inner": {}})
    keywords = {(path, kw) for path, kw, _ in errors}
    assert ("$['tags'][0]", "enum") in keywords
    assert ("$['inner']", "required") in keywords


def test_grammar_schema_closes_silent_objects_only_in_schema_positions():
    from localace.backends.constraints import grammar_schema

    schema = {"type": "object", "properties": {
        "properties": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "open": {"type": "object", "properties": {}, "additionalProperties": True},
        "list": {"type": "array", "items": {"type": "object", "properties": {"y": {"type": "string"}}}},
    }, "default": {"properties": {"kept": 1}}}
    g = grammar_schema(schema)
    assert g["additionalProperties"] is False
    assert g["properties"]["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in g["properties"]["properties"]["properties"]
    assert g["properties"]["open"]["additionalProperties"] is True
    assert g["properties"]["list"]["items"]["additionalProperties"] is False
    assert g["default"] == {"properties": {"kept": 1}}
    assert g["x-guidance"]["whitespace_flexible"] is False
