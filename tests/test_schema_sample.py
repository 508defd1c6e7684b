import json
import random
import re
from urllib.parse import urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from localace.backends.schema_sample import UnsatisfiableSchemaError, sample_instance
from localace.errors import SchemaError

SAFE_PATTERNS = [
    r"^[a-z]{3,8}$",
    r"^\d{4}-\d{2}$",
    r"^[A-Z][a-z]+$",
    r"^(foo|bar)_\d+$",
    r"[0-9a-f]{6}",
    r"^\w+@\w+\.com$",
    r"^[^\s,]{2,5}$",
    r"^(ab)+c?$",
    r"^x.y$",
    r"^(?:[A-Za-z_]\w*)\(\w+=\d+\)$",
    r"^(a|bc)\1-q$",
    r"^\S+\s\S+$",
]
FORMATS = ["date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]
NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)


def assert_valid(schema, value):
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [e.message for e in validator.iter_errors(value)]
    assert not errors, (schema, value, errors)


def sample(schema, seed=0):
    value = sample_instance(schema, random.Random(seed))
    assert_valid(schema, value)
    return value


# -- strategies: satisfiable schemas only ---------------------------------------------------------


@st.composite
def string_schemas(draw):
    kind = draw(st.sampled_from(["plain", "pattern", "format"]))
    if kind == "pattern":
        schema = {"type": "string", "pattern": draw(st.sampled_from(SAFE_PATTERNS))}
        if draw(st.booleans()):
            schema["maxLength"] = draw(st.integers(16, 30))
        return schema
    if kind == "format":
        return {"type": "string", "format": draw(st.sampled_from(FORMATS))}
    schema = {"type": "string"}
    lo = draw(st.none() | st.integers(0, 20))
    hi = draw(st.none() | st.integers(lo or 0, 25))
    if lo is not None:
        schema["minLength"] = lo
    if hi is not None:
        schema["maxLength"] = hi
    return schema


@st.composite
def integer_schemas(draw):
    lo = draw(st.integers(-1000, 1000))
    width = draw(st.integers(0, 500))
    schema = draw(
        st.sampled_from(
            [
                {"type": "integer", "minimum": lo, "maximum": lo + width},
                {"type": "integer", "exclusiveMinimum": lo - 1, "exclusiveMaximum": lo + width + 1},
                {"type": "integer", "minimum": lo},
                {"type": "integer", "maximum": lo},
                {"type": "integer"},
            ]
        )
    )
    step = draw(st.integers(1, 5))
    if draw(st.booleans()) and width >= 2 * step:
        schema = {**schema, "multipleOf": step}
    return schema


@st.composite
def number_schemas(draw):
    lo = draw(st.floats(-1e4, 1e4, allow_nan=False))
    width = draw(st.floats(0.01, 1e3))
    schema = draw(
        st.sampled_from(
            [
                {"type": "number", "minimum": lo, "maximum": lo + width},
                {"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + width},
                {"type": "number", "exclusiveMinimum": lo},
                {"type": "number"},
            ]
        )
    )
    if draw(st.booleans()) and width >= 2:
        schema = {**schema, "multipleOf": draw(st.sampled_from([0.5, 0.25, 1, 2.0]))}
    return schema


SCALAR_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-50, 50), st.text(max_size=5))
leaves = st.one_of(
    string_schemas(),
    integer_schemas(),
    number_schemas(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(SCALAR_VALUES, min_size=1, max_size=4, unique_by=json.dumps).map(lambda v: {"enum": v}),
    SCALAR_VALUES.map(lambda v: {"const": v}),
    st.just({"type": ["integer", "null"], "minimum": 0}),
    st.just({}),
)


@st.composite
def object_schemas(draw, children):
    props = draw(st.dictionaries(NAMES, children, max_size=4))
    schema = {"type": "object", "properties": props}
    names = sorted(props)
    required = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    if required:
        schema["required"] = required
    extra = draw(st.sampled_from([None, False, {"type": "integer"}]))
    if extra is not None:
        schema["additionalProperties"] = extra
    if draw(st.booleans()):
        schema["minProperties"] = draw(st.integers(0, len(props) if extra is False else len(props) + 2))
    return schema


@st.composite
def array_schemas(draw, children):
    lo = draw(st.integers(0, 3))
    schema = {"type": "array", "items": draw(children), "minItems": lo}
    if draw(st.booleans()):
        schema["maxItems"] = draw(st.integers(lo, 5))
    if lo <= 1 and draw(st.booleans()):
        schema["uniqueItems"] = True
    return schema


@st.composite
def merged_objects(draw, children):
    """allOf of two object schemas with distinct property names."""
    a, b = draw(st.lists(NAMES, min_size=2, max_size=2, unique=True))
    return {
        "allOf": [
            {"type": "object", "properties": {a: draw(children)}, "required": [a]},
            {"properties": {b: draw(children)}, "required": [b]},
        ]
    }


schemas = st.recursive(
    leaves,
    lambda children: st.one_of(
        object_schemas(children),
        array_schemas(children),
        st.lists(children, min_size=1, max_size=3).map(lambda bs: {"anyOf": bs}),
        merged_objects(children),
    ),
    max_leaves=8,
)


@st.composite
def rooted_schemas(draw):
    """A drawn schema, sometimes reached through $defs or definitions."""
    inner = draw(schemas)
    where = draw(st.sampled_from([None, "$defs", "definitions"]))
    if where is None:
        return inner
    return {
        where: {"Item": inner},
        "type": "object",
        "properties": {"item": {"$ref": f"#/{where}/Item"}, "many": {"type": "array", "items": {"$ref": f"#/{where}/Item"}}},
        "required": ["item"],
    }


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(schema=rooted_schemas(), seed=st.integers(0, 2**32))
def test_sampled_instance_validates(schema, seed):
    sample(schema, seed)


@settings(max_examples=40, deadline=None)
@given(schema=rooted_schemas(), seed=st.integers(0, 2**32))
def test_same_seed_same_instance(schema, seed):
    first = sample_instance(schema, random.Random(seed))
    second = sample_instance(schema, random.Random(seed))
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@pytest.mark.parametrize("schema", [{"type": "string"}, {"type": "string", "pattern": r"^[a-z]{3,8}$"}])
def test_different_seeds_mostly_give_different_strings(schema):
    values = [sample(schema, seed) for seed in range(50)]
    assert len(set(values)) >= 40


# -- contradictions raise the typed error ---------------------------------------------------------

CONTRADICTIONS = [
    {"type": "integer", "minimum": 5, "maximum": 1},
    {"type": "number", "minimum": 2.5, "maximum": 2.4},
    {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1},
    {"type": "integer", "minimum": 0.2, "maximum": 0.8},
    {"type": "integer", "multipleOf": 7, "minimum": 1, "maximum": 6},
    {"enum": []},
    {"type": "array", "minItems": 3, "maxItems": 1},
    {"type": "array", "prefixItems": [{"type": "integer"}], "items": False, "minItems": 2},
    {"type": "array", "items": {"enum": [1, 2]}, "minItems": 3, "uniqueItems": True},
    {"type": "string", "minLength": 5, "maxLength": 2},
    {"type": "string", "pattern": "^[a-z]{3}$", "maxLength": 2},
    {"type": "string", "pattern": "^a$", "minLength": 3},
    {"type": "string", "format": "date", "maxLength": 5},
    {"type": "object", "required": ["a"], "additionalProperties": False},
    {"type": "object", "minProperties": 2, "properties": {"a": {}}, "additionalProperties": False},
    {"type": "object", "minProperties": 3, "maxProperties": 1},
    {"allOf": [{"type": "string"}, {"type": "integer"}]},
    {"allOf": [{"const": 1}, {"const": 2}]},
    {"oneOf": [{"type": "integer"}, {"type": "integer"}]},
    {"$ref": "#/$defs/missing"},
    {"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}, "required": ["next"]}},
     "$ref": "#/$defs/n"},
    False,
]


@pytest.mark.parametrize("schema", CONTRADICTIONS, ids=lambda s: json.dumps(s)[:60])
def test_contradictory_schema_raises_typed_one_line_error(schema):
    with pytest.raises(UnsatisfiableSchemaError) as info:
        sample_instance(schema, random.Random(0))
    message = str(info.value)
    assert message and "\n" not in message


def test_error_names_the_problem():
    with pytest.raises(UnsatisfiableSchemaError, match="minimum=5, maximum=1"):
        sample_instance({"type": "integer", "minimum": 5, "maximum": 1}, random.Random(0))
    with pytest.raises(UnsatisfiableSchemaError, match="minItems 3 > maxItems 1"):
        sample_instance({"type": "array", "minItems": 3, "maxItems": 1}, random.Random(0))
    with pytest.raises(UnsatisfiableSchemaError, match="enum is empty"):
        sample_instance({"enum": []}, random.Random(0))
    with pytest.raises(UnsatisfiableSchemaError, match="pattern"):
        sample_instance({"type": "string", "pattern": "^a$", "minLength": 3}, random.Random(0))


def test_invalid_schema_raises_schema_error():
    with pytest.raises(SchemaError, match="not a valid JSON Schema"):
        sample_instance({"type": "dict"}, random.Random(0))


# -- explicit examples ----------------------------------------------------------------------------

ORDER = {
    "type": "object",
    "properties": {
        "customer": {
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 1}, "email": {"type": "string", "format": "email"}},
            "required": ["name"],
        },
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "pattern": r"^[A-Z]{3}-\d{4}$"},
                    "qty": {"type": "integer", "minimum": 1, "maximum": 9},
                },
                "required": ["sku", "qty"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["customer", "lines"],
}


def test_nested_object_with_array_of_objects():
    for seed in range(20):
        order = sample(ORDER, seed)
        assert order["customer"]["name"]
        assert 1 <= len(order["lines"]) <= 3
        for line in order["lines"]:
            assert set(line) == {"sku", "qty"}
            assert re.fullmatch(r"[A-Z]{3}-\d{4}", line["sku"])
            assert 1 <= line["qty"] <= 9


def test_optional_properties_appear_sometimes():
    seen = [("email" in sample(ORDER, seed)["customer"]) for seed in range(40)]
    assert any(seen) and not all(seen)


def test_enum_picks_every_value_over_seeds():
    schema = {"enum": ["red", 2, None, {"a": 1}]}
    values = [json.dumps(sample(schema, seed)) for seed in range(60)]
    assert set(values) == {'"red"', "2", "null", '{"a": 1}'}


def test_enum_respects_sibling_type():
    assert {sample({"type": "string", "enum": ["a", 1, "b"]}, seed) for seed in range(30)} == {"a", "b"}


def test_any_of_reaches_each_branch():
    schema = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "format": "email"}]}
    kinds = {type(sample(schema, seed)).__name__ for seed in range(40)}
    assert kinds == {"int", "str"}


def test_one_of_with_disjoint_branches():
    schema = {"oneOf": [{"type": "integer"}, {"type": "null"}, {"type": "string", "maxLength": 3}]}
    kinds = {type(sample(schema, seed)).__name__ for seed in range(40)}
    assert kinds == {"int", "NoneType", "str"}


def test_ref_to_defs_and_definitions():
    schema = {
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
        "definitions": {"color": {"enum": ["red", "green"]}},
        "type": "object",
        "properties": {"at": {"$ref": "#/$defs/point"}, "color": {"$ref": "#/definitions/color"}},
        "required": ["at", "color"],
    }
    value = sample(schema)
    assert isinstance(value["at"]["x"], (int, float))
    assert value["color"] in ("red", "green")


def test_recursive_ref_is_depth_limited():
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name", "children"],
            }
        },
        "$ref": "#/$defs/node",
    }

    def depth(node):
        return 1 + max((depth(c) for c in node["children"]), default=0)

    for seed in range(10):
        assert depth(sample(tree, seed)) <= 8


def test_recursive_any_of_bottoms_out():
    schema = {
        "$defs": {"expr": {"anyOf": [{"type": "integer"}, {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/expr"}}]}},
        "$ref": "#/$defs/expr",
    }
    for seed in range(10):
        sample(schema, seed)


def test_all_of_merges_object_schemas():
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}}, "required": ["a"]},
            {"properties": {"a": {"maximum": 4}, "b": {"type": "string"}}, "required": ["b"]},
        ]
    }
    for seed in range(10):
        value = sample(schema, seed)
        assert value["a"] in (3, 4) and isinstance(value["b"], str)


def test_additional_properties_schema_fills_min_properties():
    schema = {"type": "object", "minProperties": 3, "additionalProperties": {"type": "integer"}}
    value = sample(schema)
    assert len(value) >= 3 and all(isinstance(v, int) for v in value.values())


def test_additional_properties_false_limits_keys():
    schema = {"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}, "additionalProperties": False}
    for seed in range(10):
        assert set(sample(schema, seed)) <= {"a", "b"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats(fmt):
    for seed in range(5):
        value = sample({"type": "string", "format": fmt}, seed)
        if fmt == "uri":  # jsonschema checks uri only with an optional extra: check the shape here
            parsed = urlparse(value)
            assert parsed.scheme and parsed.netloc


@pytest.mark.parametrize(
    "pattern",
    SAFE_PATTERNS + [r"[^a-z\d]{3}", r"(?i)^ab[cd]+$", r"\bword\b", r"^(?P<n>x|y)(?P=n)$", r"^a*?b+?$", r"^.{2}$"],
)
def test_pattern_strings_match(pattern):
    for seed in range(10):
        assert re.search(pattern, sample({"type": "string", "pattern": pattern}, seed))


def test_pattern_with_length_bounds():
    schema = {"type": "string", "pattern": "^[a-z]+$", "minLength": 20, "maxLength": 20}
    assert len(sample(schema)) == 20
    padded = sample({"type": "string", "pattern": "[0-9]", "minLength": 6})
    assert len(padded) >= 6


def test_numbers_respect_bounds_and_multiples():
    for seed in range(20):
        assert sample({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001}, seed) > 0
        assert sample({"type": "integer", "multipleOf": 3, "minimum": 10, "maximum": 20}, seed) in (12, 15, 18)
        sample({"type": "number", "multipleOf": 0.1, "minimum": 0, "maximum": 1}, seed)


def test_prefix_items_and_unique_items():
    schema = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False, "minItems": 2}
    value = sample(schema)
    assert isinstance(value[0], int) and isinstance(value[1], str)
    unique = {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True}
    assert sorted(sample(unique)) == [False, True]


def test_type_list():
    kinds = {type(sample({"type": ["string", "null"]}, seed)).__name__ for seed in range(30)}
    assert kinds == {"str", "NoneType"}


@pytest.mark.parametrize("schema", [{}, True])
def test_empty_schema_gives_small_json(schema):
    for seed in range(20):
        assert len(json.dumps(sample(schema, seed))) < 200


def test_default_sizes_stay_small():
    for seed in range(30):
        assert len(sample({"type": "string"}, seed)) <= 12
        assert len(sample({"type": "array"}, seed)) <= 3


def test_min_length_above_default_cap():
    for seed in range(10):
        assert len(sample({"type": "string", "minLength": 13}, seed)) == 13


def test_negated_set_that_excludes_all_ascii():
    assert all(ord(c) > 0x7F for c in sample({"type": "string", "pattern": r"^[^\x00-\x7f]{2}$"}))
