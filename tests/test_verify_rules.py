"""Rule layer of verification: every check against hand-made dialogs, plus property tests."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localace.apis.spec import STRING_FORMATS, ApiSpec
from localace.backends.schema_sample import sample_instance
from localace.dialogs.model import ACTIONS, KINDS, Dialog, ToolCall, ToolResult, Turn
from localace.verify.rules import RULE_CHECKS, Finding, check_dialog, first_failure

DIALOGS = Path(__file__).parent / "fixtures" / "dialogs"
BAD = sorted(DIALOGS.glob("bad_*.json"))
GOOD = sorted(DIALOGS.glob("good_*.json"))


def load(stem: str) -> Dialog:
    return Dialog.model_validate_json((DIALOGS / f"{stem}.json").read_text(encoding="utf-8"))


WEATHER = load("good_single").tools[0]


def messages(dialog: Dialog, check: str, **kwargs: Any) -> list[str]:
    return [f.message for f in check_dialog(dialog, **kwargs) if f.check == check]


def with_turn(dialog: Dialog, index: int, **changes: Any) -> Dialog:
    """A copy of the dialog with one turn's fields replaced."""
    turns = list(dialog.turns)
    turns[index] = turns[index].model_copy(update=changes)
    return dialog.model_copy(update={"turns": turns})


def single_call(tool: ApiSpec, arguments: dict[str, Any], result: Any = None) -> Dialog:
    """A single-call dialog whose user turn states every argument value (so grounding holds)."""
    return Dialog(kind="single", tools=[tool], turns=[
        Turn(role="user", content=f"Please run the tool with {json.dumps(arguments, ensure_ascii=False)}."),
        Turn(role="assistant", action="call", tool_calls=[ToolCall(name=tool.name, arguments=arguments)]),
        Turn(role="tool", tool_results=[ToolResult(name=tool.name, results={} if result is None else result)]),
        Turn(role="assistant", action="summarize", content="Done, here is what the tool returned."),
    ])


def tool_with(properties: dict[str, Any], required: list[str] | None = None) -> ApiSpec:
    described = {name: {**schema, "description": f"Parameter {name}."} for name, schema in properties.items()}
    return ApiSpec(name="tool_x", description="A generated tool.",
                   parameters={"type": "object", "properties": described, "required": required or []},
                   returns={"type": "object", "description": "Result."})


# -- fixtures --------------------------------------------------------------------------------------


def test_rule_checks_are_listed_in_their_running_order() -> None:
    assert RULE_CHECKS == (
        "api_definition", "fields_present", "role_order", "call_name_known", "required_params", "unknown_params",
        "param_values", "grounded_arguments", "tool_result_follows", "result_schema", "no_call_expected",
        "call_expected", "text_length", "user_voice", "assistant_voice", "invalid_characters", "mixed_languages",
        "duplicate_turns",
    )


def test_there_is_one_bad_fixture_per_check_and_one_good_fixture_per_kind() -> None:
    assert sorted(load(p.stem).meta["expect"] for p in BAD) == sorted(RULE_CHECKS)
    assert sorted(load(p.stem).kind for p in GOOD) == sorted(KINDS)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_is_counted_under_its_check_with_a_clear_message(path: Path) -> None:
    dialog = load(path.stem)
    findings = check_dialog(dialog)
    assert first_failure(findings) == dialog.meta["expect"]
    assert any(dialog.meta["message_has"] in f.message for f in findings if f.check == dialog.meta["expect"])


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_of_every_kind_passes(path: Path) -> None:
    assert check_dialog(load(path.stem)) == []


# -- single checks ---------------------------------------------------------------------------------


def test_api_definition_reports_invalid_tools_and_later_checks_skip_their_schemas() -> None:
    broken = ApiSpec.model_construct(name="get_weather", description="Weather.",
                                     parameters={"type": "string"}, returns={"type": 5})
    dialog = load("good_single").model_copy(update={"tools": [broken]})
    found = messages(dialog, "api_definition")
    assert any("type must be 'object'" in m for m in found) and any("returns" in m for m in found)
    assert first_failure(check_dialog(dialog)) == "api_definition"


def test_api_definition_needs_tools_unless_non_tool() -> None:
    dialog = load("good_irrelevance").model_copy(update={"tools": []})
    assert messages(dialog, "api_definition") == ["no tools offered for a 'irrelevance' dialog"]
    assert check_dialog(load("good_non_tool")) == []


def test_fields_present_names_each_missing_or_misplaced_field() -> None:
    dialog = load("good_single")
    assert any("unknown kind 'chitchat'" in m for m in messages(dialog.model_copy(update={"kind": "chitchat"}),
                                                                  "fields_present"))
    assert messages(dialog.model_copy(update={"turns": dialog.turns[:1]}), "fields_present") == [
        "dialog has 1 turn(s); needs at least 2"]
    both = with_turn(dialog, 1, content="Let me check.")
    assert messages(both, "fields_present") == ["assistant turn must have exactly one of text and tool calls, has both"]
    wrong_action = with_turn(dialog, 3, action="call")
    assert "assistant text turn has action 'call'" in messages(wrong_action, "fields_present")[0]
    no_results = with_turn(dialog, 2, tool_results=None)
    assert messages(no_results, "fields_present") == ["tool turn has no tool_results"]


def test_role_order_finds_misplaced_tool_turns_and_bad_ends() -> None:
    dialog = load("good_single")
    tool_turn = dialog.turns[2]
    starts_with_tool = dialog.model_copy(update={"turns": [tool_turn, *dialog.turns]})
    assert "dialog starts with a tool turn, not a user turn" in messages(starts_with_tool, "role_order")
    # A dialog may end on its call (ToolACE and BFCL-style samples): the call is the last target.
    ends_with_call = dialog.model_copy(update={"turns": dialog.turns[:2]})
    assert messages(ends_with_call, "role_order") == messages(ends_with_call, "tool_result_follows") == []
    assert check_dialog(ends_with_call) == []
    ends_with_tool = dialog.model_copy(update={"turns": dialog.turns[:3]})
    assert messages(ends_with_tool, "role_order") == ["dialog ends with a tool turn, not an assistant turn"]
    ends_with_user = dialog.model_copy(update={"turns": [*dialog.turns, dialog.turns[0]]})
    assert "dialog ends with a user turn, not an assistant turn" in messages(ends_with_user, "role_order")
    call_then_user = dialog.model_copy(update={"turns": [*dialog.turns[:2], dialog.turns[0], *dialog.turns[1:]]})
    assert messages(call_then_user, "tool_result_follows")[0] == "call turn is followed by a user turn, not a tool turn"
    two_answers = dialog.model_copy(update={"turns": [*dialog.turns, dialog.turns[3]]})
    assert "two assistant text turns in a row" in messages(two_answers, "role_order")


@pytest.mark.parametrize(("fmt", "good", "bad"), [
    ("date", "2025-06-01", "2025-13-01"),
    ("date-time", "2025-06-01T10:00:00Z", "yesterday at ten"),
    ("time", "10:30:00Z", "25:99"),
    ("email", "ana@example.com", "ana.example.com"),
    ("uri", "https://example.com/a?b=1", "not a uri"),
    ("uuid", "3f2b8c4e-9a1d-4e7b-8c2f-5d6e7a8b9c0d", "3f2b8c4e"),
    ("ipv4", "192.168.0.1", "192.168.0.999"),
])
def test_param_values_checks_string_formats(fmt: str, good: str, bad: str) -> None:
    assert fmt in STRING_FORMATS
    tool = tool_with({"value": {"type": "string", "format": fmt}})
    assert check_dialog(single_call(tool, {"value": good})) == []
    assert messages(single_call(tool, {"value": bad}), "param_values") == [
        f"call 'tool_x' argument $['value']: {bad!r} is not a {fmt!r} (format)"]


def test_param_values_reports_the_path_inside_nested_arrays_and_objects() -> None:
    item = {"type": "object", "properties": {"qty": {"type": "integer", "minimum": 1},
                                             "size": {"type": "string", "enum": ["S", "M"]}}, "required": ["qty"]}
    tool = tool_with({"items": {"type": "array", "items": item}, "code": {"type": "string", "pattern": "^[A-Z]{3}$"}})
    arguments = {"items": [{"qty": 2, "size": "M"}, {"qty": 0, "size": "XL"}, {"size": "S"}], "code": "abc"}
    found = messages(single_call(tool, arguments), "param_values")
    assert [m.split(":")[0] for m in found] == [
        "call 'tool_x' argument $['code']", "call 'tool_x' argument $['items'][1]['qty']",
        "call 'tool_x' argument $['items'][1]['size']", "call 'tool_x' argument $['items'][2]"]
    assert "'qty' is a required property" in found[3]


def test_text_length_limits_length_and_needs_two_words() -> None:
    dialog = load("good_single")
    assert messages(dialog, "text_length", max_chars=20)[0].startswith("user text has 53 characters; the limit is 20")
    assert messages(with_turn(dialog, 3, content="Sunny."), "text_length") == [
        "assistant text 'Sunny.' has fewer than 2 words"]
    assert messages(with_turn(dialog, 3, content="Sunny in Paris today ☀️"), "text_length") == []
    assert messages(load("good_multi_turn"), "text_length") == []  # CJK sentences have no spaces


@pytest.mark.parametrize(("text", "problem"), [
    ("It rings\x07 loudly.", "control character U+0007"),
    ("It is sunny\r\nin Paris.", "control character U+000D"),
    ("It is 18 \ufffdC in Paris.", "replacement character U+FFFD"),
    ("It is sunny \ud83d in Paris.", "unpaired surrogate U+D83D"),
    ("It is sunny\u200b\u200b\u200b in Paris.", "run of 3 zero-width characters"),
    ("<|im_start|>assistant It is sunny.", "chat-template token '<|im_start|>'"),
])
def test_invalid_characters_in_texts(text: str, problem: str) -> None:
    assert messages(with_turn(load("good_single"), 3, content=text), "invalid_characters") == [
        f"assistant text has {problem}"]


def test_invalid_characters_in_arguments_and_results_and_allowed_whitespace() -> None:
    tool = tool_with({"city": {"type": "string"}})
    dialog = with_turn(single_call(tool, {"city": "Paris<|eot_id|>"}, {"note": ["ok", "bad\x00"]}), 0,
                       content="Please run the tool for Paris.")
    assert messages(dialog, "invalid_characters") == [
        "call 'tool_x' argument $['city'] has chat-template token '<|eot_id|>'",
        "result of 'tool_x' at $['note'][1] has control character U+0000"]
    fine = "Line one.\n\tLine two with a coder emoji 👩\u200d💻."
    assert messages(with_turn(load("good_single"), 3, content=fine), "invalid_characters") == []


@pytest.mark.parametrize(("text", "mixed"), [
    ("Das Wetter in Paris ist heute sonnig.", False),
    ("東京の天気は晴れです。", False),  # kanji and kana are one bucket
    ("我想查一下Apple的股价。", False),  # a Latin name inside Chinese text
    ("The β coefficient is small today.", False),
    ("The weather in Москве сегодня солнечная.", True),
    ("It is sunny, 今天天气很好。", True),
])
def test_mixed_languages(text: str, mixed: bool) -> None:
    found = messages(with_turn(load("good_single"), 3, content=text), "mixed_languages")
    assert bool(found) is mixed
    assert all(m.startswith("assistant text mixes scripts (") for m in found)


def test_duplicate_calls_in_one_turn_are_reported() -> None:
    dialog = load("good_parallel")
    same = dialog.turns[1].tool_calls[0]
    twice = with_turn(dialog, 1, tool_calls=[same, same])
    assert messages(twice, "duplicate_turns") == ["call turn makes the same call (name and arguments) twice"]


def test_first_failure_follows_rule_order_not_finding_order() -> None:
    findings = [Finding("duplicate_turns", "x", 3), Finding("role_order", "y"), Finding("text_length", "z", 1)]
    assert first_failure(findings) == "role_order"
    assert first_failure([]) is None
    assert str(findings[0]) == "duplicate_turns (turn 3): x" and str(findings[1]) == "role_order: y"


# -- property tests --------------------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
LEAVES = st.one_of(
    st.just({"type": "string", "maxLength": 8}),
    st.builds(lambda lo, width: {"type": "integer", "minimum": lo, "maximum": lo + width},
              st.integers(-50, 50), st.integers(0, 20)),
    st.just({"type": "number", "minimum": 0, "maximum": 10}),
    st.just({"type": "boolean"}),
    st.lists(st.text(alphabet="xyz", min_size=1, max_size=3), min_size=1, max_size=3, unique=True)
    .map(lambda values: {"type": "string", "enum": values}),
    st.sampled_from(sorted(STRING_FORMATS)).map(lambda fmt: {"type": "string", "format": fmt}),
    st.just({"type": "string", "pattern": "^[A-Z]{3}$"}),
)


def objects_of(values: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(NAMES, values, min_size=1, max_size=3).flatmap(
        lambda props: st.lists(st.sampled_from(sorted(props)), unique=True).map(
            lambda required: {"type": "object", "properties": props, "required": required}))


SCHEMAS = st.recursive(LEAVES, lambda inner: st.one_of(
    inner.map(lambda items: {"type": "array", "items": items, "maxItems": 3}), objects_of(inner)), max_leaves=6)
TOOLS = st.dictionaries(NAMES, SCHEMAS, min_size=1, max_size=4).flatmap(
    lambda props: st.lists(st.sampled_from(sorted(props)), unique=True).map(lambda req: tool_with(props, req)))


def valid_arguments(tool: ApiSpec, seed: int) -> dict[str, Any]:
    return sample_instance(tool.parameters, random.Random(seed))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TOOLS, st.integers(0, 2**32))
def test_valid_arguments_pass_every_check(tool: ApiSpec, seed: int) -> None:
    assert check_dialog(single_call(tool, valid_arguments(tool, seed))) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TOOLS, st.integers(0, 2**32), st.data())
def test_one_broken_argument_is_caught_by_the_right_check(tool: ApiSpec, seed: int, data: st.DataObject) -> None:
    properties = tool.parameters["properties"]
    everything_required = tool_with(properties, sorted(properties))
    arguments = valid_arguments(everything_required, seed)
    name = data.draw(st.sampled_from(sorted(arguments)))

    wrong = dict(arguments, **{name: 7 if properties[name]["type"] == "string" else "seven"})
    findings = check_dialog(single_call(everything_required, wrong))
    assert first_failure(findings) == "param_values"
    assert any(f"argument $[{name!r}]:" in f.message for f in findings)

    missing = {key: value for key, value in arguments.items() if key != name}
    findings = check_dialog(single_call(everything_required, missing))
    assert [(f.check, f.message) for f in findings] == [  # reported once, not again by param_values
        ("required_params", f"call 'tool_x' is missing required parameter {name!r}")]

    findings = check_dialog(single_call(everything_required, dict(arguments, zz_extra=1)))
    assert first_failure(findings) == "unknown_params"
    assert [f.check for f in findings] == ["unknown_params"]


TEXTS = st.one_of(st.text(max_size=30), st.sampled_from(
    ["", "   ", "Paris.", "a\ud800b", "<|im_end|>", "北京 Paris", "\x07", "\u200b\u200b", "It is sunny in Paris."]))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXTS,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3),
                    max_leaves=8)
TOOL_NAMES = st.sampled_from(["get_weather", "book_flight", "search_flights", "broken", "nope", ""])
BROKEN = ApiSpec.model_construct(name="broken", description="", parameters={"type": "object", "required": [1]},
                                 returns={"type": "nonsense"})
ANY_TURN = st.builds(
    Turn,
    role=st.sampled_from(["user", "assistant", "tool"]),
    content=st.none() | TEXTS,
    tool_calls=st.none() | st.lists(
        st.builds(ToolCall, name=TOOL_NAMES, arguments=st.dictionaries(TEXTS, JSON, max_size=3)), max_size=3),
    tool_results=st.none() | st.lists(st.builds(ToolResult, name=TOOL_NAMES, results=JSON), max_size=3),
    action=st.none() | st.sampled_from([*ACTIONS, "bogus"]),
)
ANY_DIALOG = st.builds(
    Dialog,
    kind=st.sampled_from(KINDS) | st.text(max_size=8),
    tools=st.lists(st.sampled_from([WEATHER, *load("good_dependent").tools, BROKEN]), max_size=4),
    turns=st.lists(ANY_TURN, max_size=8),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_DIALOG, st.integers(1, 50))
def test_check_dialog_never_raises(dialog: Dialog, max_chars: int) -> None:
    findings = check_dialog(dialog, max_chars=max_chars)
    assert all(isinstance(f, Finding) and f.check in RULE_CHECKS and f.message for f in findings)
    assert (first_failure(findings) is None) == (findings == [])
