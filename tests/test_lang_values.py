"""Java and JavaScript values written as source text, read by their declared type (BFCL's rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localace.evaluate.ast_checker import AstCheckerError, TYPE_ERROR, VALUE_ERROR, check
from localace.evaluate.lang_values import (
    JAVA,
    JAVASCRIPT,
    UnconvertibleTypeError,
    convert,
    language_of,
)


@pytest.mark.parametrize(("category", "language"), [
    ("simple_java", JAVA), ("java", JAVA), ("simple_javascript", JAVASCRIPT), ("javascript", JAVASCRIPT),
    ("simple_python", None), ("live_simple", None), ("simple", None),
])
def test_language_of_category(category: str, language: str | None) -> None:
    assert language_of(category) == language


@pytest.mark.parametrize(("text", "declared", "item", "value"), [
    ("42", "integer", None, 42),
    ("-7", "short", None, -7),
    ("42L", "long", None, 42),
    ("42", "long", None, "42"),  # a long needs its L
    ("1.5f", "float", None, 1.5),
    ("1.5", "float", None, "1.5"),  # a Java float needs its f
    ("2.5e3", "double", None, 2500.0),
    ("true", "boolean", None, True),
    ("True", "boolean", None, "True"),
    ("'a'", "char", None, "'a'"),  # BFCL keeps char text as written
    ("mapController", "any", None, "mapController"),
    ("new int[]{1, 2, 3}", "Array", "integer", [1, 2, 3]),
    ("new int[] { }", "Array", "integer", []),
    ('new String[]{"a", "b"}', "Array", "String", ['"a"', '"b"']),  # Array items keep their quotes
    ("new long[]{1L, 2}", "Array", "long", [1, "2"]),
    ('new ArrayList<>(Arrays.asList("a", "b"))', "ArrayList", "String", ["a", "b"]),
    ("new ArrayList<Integer>() {{ add(1); add(2); }}", "ArrayList", "integer", [1, 2]),
    ("new ArrayList<>()", "ArrayList", "integer", []),
    ("Arrays.asList(1, 2)", "ArrayList", "integer", "Arrays.asList(1, 2)"),
    ('new HashMap<String, Object>() {{ put("limit", 50); put("name", "x"); }}', "HashMap", None,
     {"limit": 50, "name": "x"}),
    ("new HashMap<>()", "HashMap", None, {}),
    ("{limit: 50}", "HashMap", None, "{limit: 50}"),
])
def test_java_values(text: str, declared: str, item: str | None, value: object) -> None:
    assert convert(JAVA, text, declared, item) == value
    assert type(convert(JAVA, text, declared, item)) is type(value)


@pytest.mark.parametrize(("text", "declared", "item", "value"), [
    ('"userInputField"', "String", None, "userInputField"),
    ("'x'", "String", None, "x"),
    ("plain", "String", None, "plain"),
    ("12", "integer", None, 12),
    ("1.5", "float", None, 1.5),
    ("1e3", "float", None, "1e3"),
    ("12n", "Bigint", None, 12),
    ("false", "Boolean", None, False),
    ("[1, 2, 3]", "array", "integer", [1, 2, 3]),
    ('["completed", "failed"]', "array", "String", ["completed", "failed"]),
    ("new Array(4, 5)", "array", "integer", [4, 5]),
    ("[[1, 2], [3, 4]]", "array", None, [[1, 2], [3, 4]]),
    ("[]", "array", "integer", []),
    ("{}", "dict", None, {}),
    ("{'key': 'value', 'n': 3}", "dict", None, {"key": "value", "n": 3}),
    ('{"tags": ["a", "b"], "on": true}', "dict", None, {"tags": ["a", "b"], "on": True}),
    ("not a dict", "dict", None, "not a dict"),
    ("[1, 2]", "array", "Set", "[1, 2]"),  # items of a type BFCL cannot read: the text stays
])
def test_javascript_values(text: str, declared: str, item: str | None, value: object) -> None:
    assert convert(JAVASCRIPT, text, declared, item) == value


@pytest.mark.parametrize(("language", "declared"), [(JAVA, "Set"), (JAVA, "Queue"), (JAVA, "int"), (JAVASCRIPT, "Number")])
def test_types_bfcl_cannot_convert_raise(language: str, declared: str) -> None:
    with pytest.raises(UnconvertibleTypeError):
        convert(language, "x", declared)


@given(st.integers(-10**12, 10**12))
def test_integers_read_back(number: int) -> None:
    assert convert(JAVA, str(number), "integer") == number
    assert convert(JAVA, f"{number}L", "long") == number
    assert convert(JAVASCRIPT, f"{number}n", "Bigint") == number


@given(st.lists(st.integers(-999, 999), max_size=6))
def test_int_arrays_read_back(numbers: list[int]) -> None:
    body = ", ".join(map(str, numbers))
    assert convert(JAVA, f"new int[]{{{body}}}", "Array", "integer") == numbers
    assert convert(JAVASCRIPT, f"[{body}]", "array", "integer") == numbers


@given(st.text(max_size=12))
def test_conversion_never_raises_on_any_text(text: str) -> None:
    for declared in ("integer", "long", "float", "double", "boolean", "Array", "ArrayList", "HashMap", "String"):
        convert(JAVA, text, declared, "integer")
    for declared in ("String", "integer", "float", "Bigint", "Boolean", "array", "dict", "any"):
        convert(JAVASCRIPT, text, declared, "integer")


# ---------------------------------------------------------------- in the checker

_FUNCTION = {"name": "Geo.scale", "parameters": {"type": "dict", "properties": {
    "factors": {"type": "Array", "items": {"type": "integer"}}, "target": {"type": "any"},
    "exact": {"type": "boolean"}}, "required": ["factors"]}}
_ANSWER = [{"Geo.scale": {"factors": [[2, 3]], "target": ["shapeList"], "exact": [True, ""]}}]


@pytest.mark.parametrize(("args", "error"), [
    ({"factors": "new int[]{2, 3}", "target": "shapeList"}, None),
    ({"factors": "new int[] {2,3}", "target": "shapeList", "exact": "true"}, None),
    ({"factors": "new int[]{2, 3}", "target": "SHAPE_LIST"}, None),  # strings compare normalized
    ({"factors": [2, 3], "target": "shapeList"}, TYPE_ERROR),  # a Java value must be text
    ({"factors": "{2, 3}", "target": "shapeList"}, TYPE_ERROR),  # not an array: stays a string
    ({"factors": "new int[]{3, 2}", "target": "shapeList"}, VALUE_ERROR),
    ({"factors": "new int[]{2, 3}", "target": "shapeList", "exact": "false"}, VALUE_ERROR),
])
def test_java_values_in_the_checker(args: dict, error: str | None) -> None:
    verdict = check("simple_java", [_FUNCTION], [{"Geo.scale": args}], _ANSWER)
    assert verdict.error_type == error, verdict.message


def test_unconvertible_declared_type_is_bad_benchmark_data() -> None:
    function = {"name": "f", "parameters": {"type": "dict", "properties": {"s": {"type": "Set"}}, "required": []}}
    with pytest.raises(AstCheckerError, match="Set"):
        check("simple_java", [function], [{"f": {"s": "new HashSet<>()"}}], [{"f": {"s": [[1]]}}])
