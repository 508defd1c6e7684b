"""Tests for the bracketed call-list syntax (ToolACE assistant turns, BFCL prompt mode)."""

from __future__ import annotations

import ast
import math
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.errors import LocalaceError
from localace.formats.call_syntax import (
    Call,
    CallRenderError,
    CallSyntaxError,
    canonical_call_key,
    extract_call_list,
    parse_calls,
    render_calls,
)


def same(left: Any, right: Any) -> bool:
    """Equality that also checks types, so True != 1 != 1.0 and tuple != list."""
    if type(left) is not type(right):
        return False
    if isinstance(left, Call):
        return left.name == right.name and same(left.arguments, right.arguments)
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return left == right


# ---------------------------------------------------------------- parsing: accepted input


def test_design_example() -> None:
    calls = parse_calls('[Name One(a="x", b=2), other.api(c=[1, 2]), get-x(d={"k": None})]')
    assert calls == [
        Call("Name One", {"a": "x", "b": 2}),
        Call("other.api", {"c": [1, 2]}),
        Call("get-x", {"d": {"k": None}}),
    ]


def test_empty_list() -> None:
    assert parse_calls("[]") == []
    assert parse_calls("  [ \n ]  ") == []


def test_call_without_arguments() -> None:
    assert parse_calls("[ping()]") == [Call("ping", {})]


def test_single_call_without_brackets() -> None:
    assert parse_calls("  get_weather(city='Paris')\n") == [Call("get_weather", {"city": "Paris"})]


def test_names_with_spaces_dots_dashes_digits_are_stripped() -> None:
    calls = parse_calls("[  Search Hotels v2 (q=1),\n\tapi.v1.get-item_3(q=2)]")
    assert [call.name for call in calls] == ["Search Hotels v2", "api.v1.get-item_3"]


def test_strings_may_contain_syntax_characters() -> None:
    text = r"""[f(a=")]\",=", b='(([{', c='''it's "x", y=1)''', d="ü→😀", e="a\nb\\")]"""
    assert parse_calls(text) == [
        Call("f", {"a": ')]",=', "b": "(([{", "c": "it's \"x\", y=1)", "d": "ü→😀", "e": "a\nb\\"})
    ]


def test_python_literals_of_every_kind() -> None:
    (call,) = parse_calls("f(i=-3, j=+4, x=1.5e3, y=-0.25, t=True, n=None, tup=(1, 'a'), one=(2,), l=[[], {}])")
    assert same(
        call.arguments,
        {"i": -3, "j": 4, "x": 1500.0, "y": -0.25, "t": True, "n": None, "tup": (1, "a"), "one": (2,), "l": [[], {}]},
    )


def test_json_literals() -> None:
    (call,) = parse_calls('f(a=true, b=false, c=null, d=[true, {"k": null}])')
    assert same(call.arguments, {"a": True, "b": False, "c": None, "d": [True, {"k": None}]})


def test_whitespace_and_newlines_between_calls_and_arguments() -> None:
    text = "\n[\n  f(\n    a = 1 ,\n    b=[1,\n       2],\n  ),\n\n  g( c = 'x' )\n,\n]\n"
    assert parse_calls(text) == [Call("f", {"a": 1, "b": [1, 2]}), Call("g", {"c": "x"})]


def test_python_keywords_and_keyword_order() -> None:
    (call,) = parse_calls('convert(to="EUR", from="USD", class=1)')
    assert list(call.arguments) == ["to", "from", "class"]


def test_adjacent_string_literals_concatenate() -> None:
    assert parse_calls('f(a="x" \'y\')')[0].arguments == {"a": "xy"}


# ---------------------------------------------------------------- parsing: errors


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("f(1)", "positional", 2),
        ('[f(a=1, "x")]', "positional", 8),
        ("f(*args)", "unpacked", 2),
        ("f(**kw)", "unpacked", 2),
        ("f(a=1, a=2)", "duplicate keyword 'a'", 7),
        ("f(a=x+1)", "non-literal", 4),
        ("f(a=foo)", "non-literal", 4),
        ("f(a=[1, len(x)])", "non-literal", 8),
        ("f(a={1, 2})", "non-literal", 4),
        ("f(a=b'x')", "unsupported literal", 4),
        ("f(a=f'{x}')", "non-literal", 4),
        ("f(a={**d})", "'**'", 7),
        ("f(a={[1]: 2})", "unhashable", 5),
        ("f(a=)", "missing value", 4),
        ("f(a=1,,b=2)", "empty argument", 6),
        ("f(,)", "empty argument", 2),
        ("f(a=1 2)", "invalid value", 6),
        ("[f(a=1)", "unclosed '['", 0),
        ("f(a=1", "unclosed '('", 1),
        ("f(a=[1, 2)", "does not close", 9),
        ("f(a=1]", "unbalanced ']'", 5),
        ('f(a="x)', "unterminated string", 4),
        ("f(a='x\n')", "unterminated string", 4),
        ("f(a='''x)", "unterminated string", 4),
        ("[f(a=1)] and more", "trailing text", 9),
        ("f(a=1) g(b=2)", "trailing text", 7),
        ("[f(a=1) g(b=2)]", "expected ',' or ']'", 8),
        ("[(a=1)]", "empty call name", 1),
        ("[   (a=1)]", "empty call name", 4),
        ("", "empty input", 0),
        ("  \n ", "empty input", 4),
        ("Sure: [f()]", "unexpected ':'", 4),
        ("[f\tg()]", "whitespace", 2),
        ("[f", "expected '('", 2),
    ],
)
def test_errors_are_typed_one_line_with_offset(text: str, reason: str, offset: int) -> None:
    with pytest.raises(CallSyntaxError) as caught:
        parse_calls(text)
    error = caught.value
    assert reason in error.reason
    assert error.offset == offset
    assert "\n" not in str(error)
    assert str(error).endswith(f"at offset {offset}")
    assert isinstance(error, ValueError) and isinstance(error, LocalaceError)


def test_error_offset_counts_characters_after_unicode() -> None:
    text = '[f(a="ü😀", b=zz)]'
    with pytest.raises(CallSyntaxError) as caught:
        parse_calls(text)
    assert caught.value.offset == text.index("zz")


def test_error_offset_on_a_later_line_of_a_value() -> None:
    text = 'f(a=[\n  "é",\n  oops])'
    with pytest.raises(CallSyntaxError) as caught:
        parse_calls(text)
    assert caught.value.offset == text.index("oops")


# ---------------------------------------------------------------- extract_call_list


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  [f(a=1)]\n", "[f(a=1)]"),
        ("```\n[f(a=1)]\n```", "[f(a=1)]"),
        ("```python\n[f(a=1)]\n```\n", "[f(a=1)]"),
        ("```tool_code\nf(a='```')\n```", "f(a='```')"),
        ("```[f(a=1)]```", "[f(a=1)]"),
        ("```f(a=1)```", "f(a=1)"),
        ("```\n[f(a=1)]", None),
        ("", None),
        ("```\n\n```", None),
        ("Here: [f(a=1)]", "Here: [f(a=1)]"),
    ],
)
def test_extract_call_list(text: str, expected: str | None) -> None:
    assert extract_call_list(text) == expected


# ---------------------------------------------------------------- rendering


def test_render_canonical_text() -> None:
    calls = [
        Call("Name One", {"b": 2, "a": "x", "f": -0.5, "t": False, "n": None}),
        Call("other.api", {"c": [1, (2,), ()], "d": {"k": {"z": 1}, 3: "v"}}),
    ]
    assert render_calls(calls) == (
        '[Name One(b=2, a="x", f=-0.5, t=False, n=None), '
        'other.api(c=[1, (2,), ()], d={"k": {"z": 1}, 3: "v"})]'
    )
    assert render_calls([]) == "[]"


def test_render_escapes_unprintable_characters_and_stays_python() -> None:
    value = 'q"\\\n\r\t\x00\x7f\u2028\ud800\U000e0001 ü😀'
    text = render_calls([Call("f", {"s": value})])
    assert "\n" not in text and "\u2028" not in text
    assert "ü😀" in text
    assert ast.literal_eval(text.removeprefix("[f(s=").removesuffix(")]")) == value
    assert parse_calls(text)[0].arguments["s"] == value


def test_render_infinity_reads_back() -> None:
    calls = [Call("f", {"a": math.inf, "b": -math.inf})]
    assert render_calls(calls) == "[f(a=1e999, b=-1e999)]"
    assert parse_calls(render_calls(calls)) == calls


@pytest.mark.parametrize(
    "call",
    [
        Call("", {}),
        Call(" f", {}),
        Call("a\tb", {}),
        Call("f", {"bad key": 1}),
        Call("f", {"1x": 1}),
        Call("f", {"a": math.nan}),
        Call("f", {"a": {1, 2}}),
        Call("f", {"a": b"x"}),
        Call("f", {"a": 10**5000}),
    ],
)
def test_render_rejects_what_cannot_round_trip(call: Call) -> None:
    with pytest.raises(CallRenderError):
        render_calls([call])


# ---------------------------------------------------------------- canonical_call_key


def test_canonical_key_ignores_call_and_key_order() -> None:
    one = [Call("f", {"a": 1, "b": {"y": 1, "x": 2}}), Call("g", {"c": "x"})]
    two = [Call("g", {"c": "x"}), Call("f", {"b": {"x": 2, "y": 1}, "a": 1})]
    assert canonical_call_key(one) == canonical_call_key(two)


def test_canonical_key_keeps_what_matters() -> None:
    base = canonical_call_key([Call("f", {"a": [1, 2]})])
    assert canonical_call_key([Call("f", {"a": [2, 1]})]) != base
    assert canonical_call_key([Call("f", {"a": [1, 2.0]})]) != base
    assert canonical_call_key([Call("f", {"a": [1, 2]})] * 2) != base
    assert canonical_call_key([Call("f", {"a": (1, 2)})]) == base
    assert canonical_call_key([Call("F", {"a": [1, 2]})]) != base


# ---------------------------------------------------------------- round trip property

_NAME_ALPHABET = string.ascii_letters + string.digits + "_.- " + "éßД"
names = st.text(_NAME_ALPHABET, min_size=1, max_size=12).filter(lambda n: n.strip() == n and n != "")
keys = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_letters + "_é"),
    st.text(string.ascii_letters + string.digits + "_.-", max_size=6),
)
any_text = st.text(st.characters(exclude_categories=()), max_size=20) | st.text(
    st.sampled_from('()[]{},="\'\\\n\r\t#: =xü'), max_size=20
)
scalars = (
    any_text
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
calls_strategy = st.lists(
    st.builds(Call, names, st.dictionaries(keys, values, max_size=4)), max_size=4
)


@settings(max_examples=150, deadline=None)
@given(calls_strategy)
def test_render_then_parse_round_trips(calls: list[Call]) -> None:
    parsed = parse_calls(render_calls(calls))
    assert len(parsed) == len(calls)
    assert all(same(got, want) for got, want in zip(parsed, calls))


@settings(max_examples=40, deadline=None)
@given(calls_strategy)
def test_canonical_key_is_order_insensitive(calls: list[Call]) -> None:
    shuffled = [Call(c.name, dict(reversed(list(c.arguments.items())))) for c in reversed(calls)]
    assert canonical_call_key(shuffled) == canonical_call_key(calls)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("f(a=1)[],'\"\\ \n=xé"), max_size=24))
def test_parser_raises_only_call_syntax_error(text: str) -> None:
    try:
        result = parse_calls(text)
    except CallSyntaxError as error:
        assert 0 <= error.offset <= len(text)
    else:
        assert all(isinstance(call, Call) for call in result)


REAL_NAMES = ["Get Agent's Active Listings", "Detrended Price Oscillator (DPO)", "Q&A Notifications",
              "news/get-categories", "/v1/cocktail", "Get Games by Platform, Category, and Sorted"]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_names_as_real_apis_write_them_render_and_read_back_given_the_offered_names(name: str) -> None:
    calls = [Call(name, {"q": "x, (y)"}), Call("plain.api", {"n": 2})]
    text = render_calls(calls)
    assert text.startswith(f"[{name}(")
    assert parse_calls(text, [name, "plain.api", "unrelated"]) == calls


def test_the_longest_offered_name_wins() -> None:
    names = ["Search", "Search (v2)"]
    assert [c.name for c in parse_calls('[Search (v2)(q="a"), Search(q="b")]', names)] == ["Search (v2)", "Search"]
