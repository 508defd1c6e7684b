"""Tests for the dialog format converters (ToolACE, OpenAI, ShareGPT, Hermes, xLAM, BFCL) and tool rendering."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localace.apis.spec import ApiSpec
from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn
from localace.errors import LocalaceError
from localace.evaluate.ast_checker import check
from localace.evaluate.bfcl_files import category_of
from localace.formats import bfcl, hermes, openai, sharegpt, toolace, xlam
from localace.formats.call_syntax import parse_calls
from localace.formats.common import renamed, FormatError, FormatNotApplicable
from localace.formats.registry import (
    FORMATS,
    IMPORT_FORMATS,
    UnknownFormatError,
    export_rows,
    get_format,
    import_rows,
)
from localace.formats.tool_render import DEFAULT_MIX, STYLES, ToolRenderError, pick_style, render_tools
from localace.formats.write import answers_path, write_export

DIALOG_FORMATS = ("toolace", "openai", "sharegpt", "hermes")

# ---------------------------------------------------------------- fixtures


def spec(name: str, properties: dict[str, Any], required: list[str], returns: dict | None = None) -> ApiSpec:
    return ApiSpec(
        name=name,
        description=f"{name}: does one useful thing.",
        parameters={"type": "object", "properties": properties, "required": required},
        returns=returns or {"type": "object", "description": f"Result of {name}."},
    )


WEATHER = spec(
    "Weather Now.v2",
    {
        "city": {"type": "string", "description": "City name."},
        "units": {"type": "string", "enum": ["c", "f"], "description": "Temperature units."},
        "days": {"type": "integer", "minimum": 1, "maximum": 7, "description": "Forecast days."},
    },
    ["city"],
    returns={"type": "object", "description": "Weather.", "properties": {
        "temp": {"type": "number", "description": "Temperature."}}},
)
QUOTE = spec("stock.quote", {"symbol": {"type": "string", "description": "Ticker symbol."},
                             "exchange": {"type": "string", "description": "Exchange code."}}, ["symbol"])
CONVERT = spec(
    "Currency Convert",
    {
        "amount": {"type": "number", "description": "Amount to convert."},
        "from": {"type": "string", "description": "Source currency."},
        "to": {"type": "string", "description": "Target currency."},
    },
    ["amount", "from", "to"],
)
HOTELS = spec(
    "search-hotels",
    {
        "filters": {"type": "object", "description": "Search filters.", "properties": {
            "min_stars": {"type": "integer", "description": "Minimum stars."},
            "city": {"type": "string", "description": "City."}}},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."},
        "rooms": {"type": "array", "description": "Rooms wanted.", "items": {"type": "object", "properties": {
            "beds": {"type": "integer", "description": "Beds."}}}},
    },
    ["filters"],
)


def user(text: str) -> Turn:
    return Turn(role="user", content=text)


def say(text: str, action: str = "summarize") -> Turn:
    return Turn(role="assistant", content=text, action=action, thought="thinking is not exported")


def calls(*pairs: tuple[ApiSpec, dict[str, Any]]) -> Turn:
    return Turn(role="assistant", tool_calls=[ToolCall(name=s.name, arguments=a) for s, a in pairs], action="call")


def results(*pairs: tuple[ApiSpec, Any]) -> Turn:
    return Turn(role="tool", tool_results=[ToolResult(name=s.name, results=r) for s, r in pairs])


def dialog(kind: str, tools: list[ApiSpec], turns: list[Turn], **extra: Any) -> Dialog:
    return Dialog(kind=kind, tools=tools, turns=turns, domains=["travel", "finance"], complexity=0.42, seed=7, **extra)


DIALOGS: dict[str, Dialog] = {
    "single": dialog("single", [WEATHER], [
        user("What's the weather in Paris?"),
        calls((WEATHER, {"city": "Paris"})),
        results((WEATHER, {"temp": 21.5})),
        say("It is 21.5 degrees in Paris."),
    ]),
    "parallel": dialog("parallel", [WEATHER], [
        user("Weather in Paris and London, in celsius?"),
        calls((WEATHER, {"city": "Paris", "units": "c"}), (WEATHER, {"city": "London", "units": "c"})),
        results((WEATHER, {"temp": 21.5}), (WEATHER, {"temp": 17.0})),
        say("Paris 21.5, London 17."),
    ]),
    "parallel_multiple": dialog("parallel", [WEATHER, QUOTE], [
        user("Weather in Oslo and the AAPL price?"),
        calls((WEATHER, {"city": "Oslo"}), (QUOTE, {"symbol": "AAPL"})),
        results((WEATHER, {"temp": 3}), (QUOTE, [189.5, "USD"])),
        say("3 degrees; AAPL 189.5 USD."),
    ]),
    "multiple": dialog("multiple", [WEATHER, QUOTE, CONVERT, HOTELS], [
        user("Find 4-star hotels in Rome with a pool, 2 rooms of 2 beds."),
        calls((HOTELS, {"filters": {"min_stars": 4, "city": "Rome"}, "tags": ["pool"],
                        "rooms": [{"beds": 2}, {"beds": 2}]})),
        results((HOTELS, {"hotels": [{"name": "Hotel \"Roma\" [centro]", "stars": 4}], "count": 1})),
        say("I found Hotel \"Roma\" [centro]."),
    ]),
    "dependent": dialog("dependent", [QUOTE, CONVERT], [
        user("What is one share of SAP worth in dollars?"),
        calls((QUOTE, {"symbol": "SAP", "exchange": "XETRA"})),
        results((QUOTE, {"price": 180.25, "currency": "EUR"})),
        calls((CONVERT, {"amount": 180.25, "from": "EUR", "to": "USD"})),
        results((CONVERT, "195.40 USD")),
        say("About 195.40 USD."),
    ]),
    "non_tool": dialog("non_tool", [WEATHER], [
        user("Tell me a joke about clouds."),
        say("Why did the cloud stay home? It was feeling under the weather.", action="answer"),
    ]),
    "irrelevance": dialog("irrelevance", [QUOTE], [
        user("Book me a table for two tonight."),
        say("I can't book tables with the tools I have.", action="refuse_no_tool"),
    ]),
    "ask_missing": dialog("ask_missing", [WEATHER], [
        user("What's the weather like?"),
        say("Which city?", action="ask_missing"),
        user("Zürich, please — 3 days."),
        calls((WEATHER, {"city": "Zürich", "days": 3})),
        results((WEATHER, {"temp": None, "note": "données indisponibles ✓"})),
        say("No data for Zürich right now."),
    ]),
    "multi_turn": dialog("multi_turn", [WEATHER, QUOTE], [
        user("Weather in Lima?"),
        calls((WEATHER, {"city": "Lima"})),
        results((WEATHER, {"temp": 19})),
        say("19 degrees."),
        user("And the price of ACME?"),
        calls((QUOTE, {"symbol": "ACME"})),
        results((QUOTE, {"error": "unknown symbol"})),
        say("ACME is not a known symbol."),
    ]),
    # A text reply that happens to be a valid call list must stay text.
    "text_like_calls": dialog("non_tool", [WEATHER], [
        user("Write the call syntax for me."),
        say('[Weather Now.v2(city="Paris")]', action="answer"),
    ]),
    # No tools offered at all: chit-chat.
    "no_tools": dialog("non_tool", [], [user("Hi!"), say("Hello! How can I help?", action="answer")]),
    # Turns without recorded actions must also come back unchanged.
    "no_actions": Dialog(kind="single", tools=[WEATHER], turns=[
        user("Weather in Rome?"),
        Turn(role="assistant", tool_calls=[ToolCall(name=WEATHER.name, arguments={"city": "Rome"})]),
        Turn(role="tool", tool_results=[ToolResult(name=WEATHER.name, results={"temp": 25})]),
        Turn(role="assistant", content="25 degrees."),
    ]),
}
# Kinds whose first assistant action is a call or a refusal, and their BFCL category.
BFCL_CATEGORIES = {
    "single": "simple", "parallel": "parallel", "parallel_multiple": "parallel_multiple", "multiple": "multiple",
    "dependent": "multiple", "non_tool": "irrelevance", "irrelevance": "irrelevance", "multi_turn": "multiple",
    "no_actions": "simple", "no_tools": "irrelevance",
}  # fmt: skip
XLAM_NOT_APPLICABLE = {"dependent": "dependent", "ask_missing": "multi_turn", "multi_turn": "multi_turn"}


def json_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


def turn_dumps(d: Dialog) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", exclude={"thought"}) for t in d.turns]


def assert_same(back: Dialog, original: Dialog) -> None:
    assert back.kind == original.kind
    assert [t.id for t in back.tools] == [t.id for t in original.tools]
    assert [t.name for t in back.tools] == [t.name for t in original.tools]
    assert turn_dumps(back) == turn_dumps(original)
    assert back.id == original.id
    assert back.meta["source_id"] == original.id
    assert back.domains == original.domains
    assert back.complexity == original.complexity


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("key", DIALOGS)
@pytest.mark.parametrize("fmt", DIALOG_FORMATS)
def test_round_trip(fmt: str, key: str) -> None:
    module = FORMATS[fmt]
    original = DIALOGS[key]
    row = module.export_row(original)
    assert json_trip(row) == row
    assert row["id"] == original.id and row["kind"] == original.kind
    assert row["domains"] == original.domains and row["complexity"] == original.complexity
    back = module.import_row(json_trip(row))
    assert_same(back, original)
    assert back.meta["source_format"] == fmt


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("fmt", ["toolace", "hermes"])
def test_round_trip_every_tool_style(fmt: str, style: str) -> None:
    original = DIALOGS["multiple"]
    row = FORMATS[fmt].export_row(original, rng=random.Random(3), tool_style=style)
    system = row["system"] if fmt == "toolace" else row["messages"][0]["content"]
    if fmt == "hermes" and style == "json":
        assert "<tools>\n{\"type\": \"function\"" in system  # Qwen's one OpenAI tool per line
    else:
        # Hermes names tools by identifiers (`Weather_Now.v2`, the original in name_map); ToolACE as written.
        shown = renamed(original, {v: k for k, v in row.get("name_map", {}).items()}) if fmt == "hermes" else original
        assert render_tools(shown.tools, style) in system
    assert ("tools_json" in row) == (style != "json")
    assert_same(FORMATS[fmt].import_row(json_trip(row)), original)


def test_rng_varies_instruction_but_not_content() -> None:
    original = DIALOGS["single"]
    systems = {toolace.export_row(original, rng=random.Random(seed))["system"] for seed in range(20)}
    assert len(systems) > 1
    for seed in range(3):
        assert_same(toolace.import_row(toolace.export_row(original, rng=random.Random(seed))), original)


# ---------------------------------------------------------------- ToolACE


def test_toolace_shape() -> None:
    row = toolace.export_row(DIALOGS["dependent"])
    assert set(row) >= {"system", "conversations", "id", "kind", "domains", "complexity"}
    assert "tools_json" not in row  # JSON style reads back from the system prompt itself
    assert [m["from"] for m in row["conversations"]] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    call = parse_calls(row["conversations"][3]["value"])[0]
    assert (call.name, call.arguments) == ("Currency Convert", {"amount": 180.25, "from": "EUR", "to": "USD"})
    assert json.loads(row["conversations"][2]["value"]) == [
        {"name": "stock.quote", "results": {"price": 180.25, "currency": "EUR"}}]
    listed = toolace.parse_tool_list(row["system"])
    assert [t.name for t in listed] == ["stock.quote", "Currency Convert"]
    assert '"type": "dict"' in row["system"]


def test_toolace_foreign_row_infers_kind_and_actions() -> None:
    system = (
        "You are an expert in composing functions. Here is a list of functions in JSON format:\n"
        + json.dumps([{"name": "Get Live Matches", "description": "Live football matches.",
                       "parameters": {"type": "dict", "properties": {
                           "league": {"type": "string", "description": "League name.", "default": ""}},
                           "required": []}}])
        + "\nPut calls in the format of [func1(params_name=params_value), func2(params)]"
    )
    row = {"system": system, "conversations": [
        {"from": "user", "value": "Any live matches in the Premier League?"},
        {"from": "assistant", "value": '[Get Live Matches(league="Premier League")]'},
        {"from": "tool", "value": '[{"name": "Get Live Matches", "results": {"matches": []}}]'},
        {"from": "assistant", "value": "No matches are live right now."},
    ]}
    back = toolace.import_row(row)
    assert back.kind == "single"
    assert [t.action for t in back.turns if t.role == "assistant"] == ["call", "summarize"]
    assert back.turns[1].tool_calls == [ToolCall(name="Get Live Matches", arguments={"league": "Premier League"})]
    assert back.turns[2].tool_results == [ToolResult(name="Get Live Matches", results={"matches": []})]
    assert back.tools[0].parameters["type"] == "object"


def test_toolace_keeps_tools_json_when_rendering_is_lossy() -> None:
    # An x-bfcl-type note is dropped by the ToolACE rendering, so the row must carry the exact list.
    odd = spec("odd.tool", {"pair": {"type": "array", "items": {"type": "integer"}, "x-bfcl-type": "tuple",
                                     "description": "A pair."}}, ["pair"])
    original = dialog("single", [odd], [user("go"), calls((odd, {"pair": [1, 2]})), results((odd, 3)), say("3")])
    row = toolace.export_row(original)
    assert "tools_json" in row
    assert_same(toolace.import_row(json_trip(row)), original)


def test_toolace_unrenderable_argument_name_is_not_applicable() -> None:
    bad = dialog("single", [WEATHER], [user("x"), Turn(role="assistant", tool_calls=[
        ToolCall(name=WEATHER.name, arguments={"first name": "x"})], action="call")])
    with pytest.raises(FormatNotApplicable) as info:
        toolace.export_row(bad)
    assert info.value.reason == "unrenderable_call"


# ---------------------------------------------------------------- OpenAI


NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_openai_names_sanitized_with_collisions_and_restored() -> None:
    clash = [spec(n, {"q": {"type": "string", "description": "Query."}}, ["q"])
             for n in ("get.price", "get price", "get_price", "b" * 63 + ".", "b" * 63 + "_")]
    turns = [user("price?"), calls((clash[1], {"q": "a"})), results((clash[1], 1)), say("1")]
    original = dialog("multiple", clash, turns)
    row = openai.export_row(original)
    names = [t["function"]["name"] for t in row["tools"]]
    assert all(NAME_RE.match(n) for n in names)
    assert len(set(names)) == len(names)
    assert names[2] == "get_price"  # already valid names keep themselves
    assert row["name_map"] == {"get_price_2": "get.price", "get_price_3": "get price", "b" * 62 + "_2": "b" * 63 + "."}
    called = row["messages"][2]["tool_calls"][0]["function"]["name"]
    assert NAME_RE.match(called) and row["name_map"][called] == "get price"
    assert_same(openai.import_row(json_trip(row)), original)


def test_openai_message_shape() -> None:
    row = openai.export_row(DIALOGS["parallel"])
    messages = row["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool", "assistant"]
    tool_calls = messages[2]["tool_calls"]
    assert messages[2]["content"] is None
    assert [c["id"] for c in tool_calls] == ["call_0", "call_1"]
    assert all(c["type"] == "function" and isinstance(c["function"]["arguments"], str) for c in tool_calls)
    assert json.loads(tool_calls[1]["function"]["arguments"]) == {"city": "London", "units": "c"}
    assert [m["tool_call_id"] for m in messages[3:5]] == ["call_0", "call_1"]
    assert json.loads(messages[4]["content"]) == {"temp": 17.0}
    assert row["tools"][0]["type"] == "function" and "name_map" in row
    ids = [c["id"] for m in openai.export_row(DIALOGS["dependent"])["messages"] for c in m.get("tool_calls", [])]
    assert ids == ["call_0", "call_1"]  # unique across the whole dialog


def test_openai_foreign_row_out_of_order_results() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Paris and Rome?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
                {"id": "b", "type": "function", "function": {"name": "weather", "arguments": {"city": "Rome"}}}]},
            {"role": "tool", "tool_call_id": "b", "content": "sunny"},
            {"role": "tool", "tool_call_id": "a", "content": '{"temp": 20}'},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather.",
                                                     "parameters": {"type": "object", "properties": {}}}}],
    }
    back = openai.import_row(row)
    assert back.kind == "parallel"
    assert back.turns[1].content is None
    assert back.turns[2].tool_results == [ToolResult(name="weather", results={"temp": 20}),
                                         ToolResult(name="weather", results="sunny")]
    row["messages"][3]["tool_call_id"] = "zzz"
    with pytest.raises(FormatError):
        openai.import_row(row)


# ---------------------------------------------------------------- ShareGPT


@pytest.mark.parametrize("key", DIALOGS)
def test_sharegpt_structure_accepted_by_llama_factory_rules(key: str) -> None:
    row = sharegpt.export_row(DIALOGS[key])
    conversations = row["conversations"]
    assert sharegpt.structure_problem(conversations) is None
    assert isinstance(row["tools"], str) and isinstance(row["system"], str)
    assert [t["name"] for t in json.loads(row["tools"])] == [t.name for t in DIALOGS[key].tools]
    for before, message in zip(conversations, conversations[1:]):
        if message["from"] == "observation":
            assert before["from"] == "function_call"


def test_sharegpt_parallel_values() -> None:
    conversations = sharegpt.export_row(DIALOGS["parallel"])["conversations"]
    assert json.loads(conversations[1]["value"]) == [
        {"name": "Weather Now.v2", "arguments": {"city": "Paris", "units": "c"}},
        {"name": "Weather Now.v2", "arguments": {"city": "London", "units": "c"}}]
    assert json.loads(conversations[2]["value"]) == [{"temp": 21.5}, {"temp": 17.0}]
    single = sharegpt.export_row(DIALOGS["single"])["conversations"]
    assert json.loads(single[1]["value"]) == {"name": "Weather Now.v2", "arguments": {"city": "Paris"}}


def test_sharegpt_rejects_dialogs_llama_factory_would_drop() -> None:
    ends_with_tool = dialog("single", [WEATHER], DIALOGS["single"].turns[:3])
    with pytest.raises(FormatNotApplicable) as info:
        sharegpt.export_row(ends_with_tool)
    assert info.value.reason == "turn_order"
    two_users = dialog("non_tool", [WEATHER], [user("a"), user("b"), say("c", "answer")])
    with pytest.raises(FormatNotApplicable):
        sharegpt.export_row(two_users)
    assert sharegpt.structure_problem([{"from": "human"}, {"from": "observation"}]) is not None
    assert sharegpt.structure_problem([{"from": "human"}, {"from": "gpt"}, {"from": "observation"},
                                       {"from": "gpt"}]) is not None


# ---------------------------------------------------------------- Hermes


def test_hermes_shape() -> None:
    row = hermes.export_row(DIALOGS["parallel_multiple"])
    system, _, assistant, tool, _ = row["messages"]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    block = system["content"].split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    # A name that is no identifier is written as one; the original comes back on import (name_map).
    assert row["name_map"] == {"Weather_Now.v2": "Weather Now.v2"}
    assert [json.loads(line)["function"]["name"] for line in block.splitlines()] == ["Weather_Now.v2", "stock.quote"]
    assert assistant["content"] == (
        '<tool_call>\n{"name": "Weather_Now.v2", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "stock.quote", "arguments": {"symbol": "AAPL"}}\n</tool_call>'
    )
    payloads, rest = hermes.tagged_blocks(tool["content"], "tool_response")
    assert payloads == [{"name": "Weather_Now.v2", "content": {"temp": 3}},
                        {"name": "stock.quote", "content": [189.5, "USD"]}]
    assert rest.strip() == ""


def test_hermes_foreign_qwen_style_row() -> None:
    tool_line = json.dumps({"type": "function", "function": {
        "name": "get_time", "description": "Current time.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string", "description": "Zone."}}}}})
    row = {"messages": [
        {"role": "system", "content": f"Tools in <tools></tools>:\n<tools>\n{tool_line}\n</tools>"},
        {"role": "user", "content": "Time in Tokyo?"},
        # Python-literal payload, as some Hermes datasets have it
        {"role": "assistant", "content": "Let me check.\n<tool_call>\n"
                                         "{'name': 'get_time', 'arguments': {'tz': 'Asia/Tokyo'}}\n</tool_call>"},
        {"role": "tool", "content": "09:30"},
        {"role": "assistant", "content": "It is 09:30 in Tokyo."},
    ]}
    back = hermes.import_row(row)
    assert [t.name for t in back.tools] == ["get_time"]
    assert back.turns[1].content == "Let me check."
    assert back.turns[1].tool_calls == [ToolCall(name="get_time", arguments={"tz": "Asia/Tokyo"})]
    assert back.turns[2].tool_results == [ToolResult(name="get_time", results="09:30")]
    assert back.kind == "single"


def test_hermes_arguments_containing_closing_tag() -> None:
    tricky = dialog("single", [WEATHER], [user("x"), calls((WEATHER, {"city": "</tool_call> <tools>"})),
                                         results((WEATHER, "</tool_response>")), say("ok")])
    assert_same(hermes.import_row(json_trip(hermes.export_row(tricky))), tricky)


# ---------------------------------------------------------------- xLAM


@pytest.mark.parametrize("key", ["single", "parallel", "parallel_multiple", "multiple", "non_tool", "irrelevance"])
def test_xlam_applicable(key: str) -> None:
    original = DIALOGS[key]
    row = xlam.export_row(original)
    assert json_trip(row) == row
    assert row["query"] == original.turns[0].content
    assert isinstance(row["tools"], str) and isinstance(row["answers"], str)
    expected = [{"name": c.name, "arguments": c.arguments} for c in original.turns[1].tool_calls or []]
    assert json.loads(row["answers"]) == expected
    back = xlam.import_row(json_trip(row))
    assert back.kind == original.kind and back.meta["source_id"] == original.id
    assert [t.id for t in back.tools] == [t.id for t in original.tools]
    assert turn_dumps(back)[0] == turn_dumps(original)[0]
    assert back.calls() == (original.turns[1].tool_calls or [])


@pytest.mark.parametrize("key", XLAM_NOT_APPLICABLE)
def test_xlam_not_applicable(key: str) -> None:
    with pytest.raises(FormatNotApplicable) as info:
        xlam.export_row(DIALOGS[key])
    assert info.value.reason == XLAM_NOT_APPLICABLE[key]
    assert isinstance(info.value, LocalaceError)


def test_xlam_foreign_60k_row() -> None:
    row = {
        "id": 7,
        "query": "Where can I buy a 2 kg bag near 10115?",
        "tools": json.dumps([{"name": "store_search", "description": "Find stores.", "parameters": {
            "postcode": {"description": "Post code.", "type": "str", "default": "10115"},
            "radius": {"description": "Radius in km.", "type": "int, optional", "default": ""},
            "items": {"description": "Items.", "type": "List[Dict[str, Any]]"}}}]),
        "answers": json.dumps([{"name": "store_search", "arguments": {"postcode": "10115"}}]),
    }
    back = xlam.import_row(row)
    parameters = back.tools[0].parameters
    assert parameters["required"] == ["postcode", "items"]
    assert parameters["properties"]["radius"]["type"] == "integer"
    assert parameters["properties"]["items"]["items"]["type"] == "object"
    assert back.calls() == [ToolCall(name="store_search", arguments={"postcode": "10115"})]
    assert xlam.import_row({**row, "answers": "[]"}).kind == "irrelevance"


# ---------------------------------------------------------------- BFCL


@pytest.mark.parametrize("key", BFCL_CATEGORIES)
def test_bfcl_entry_answer_and_check(key: str) -> None:
    original = DIALOGS[key]
    category = bfcl.bfcl_category(original)
    assert category == BFCL_CATEGORIES[key]
    entry, answer = bfcl.export_entry(original)
    assert json_trip(entry) == entry and json_trip(answer) == answer
    assert entry["id"] == answer["id"] and category_of(entry["id"]) == category
    assert entry["localace_id"] == original.id and entry["kind"] == original.kind
    assert entry["question"] == [[{"role": "user", "content": original.turns[0].content}]]
    assert all(f["parameters"]["type"] == "dict" for f in entry["function"])
    first = next(t for t in original.turns if t.role == "assistant")
    written = {v: k for k, v in entry.get("name_map", {}).items()}  # original -> the identifier BFCL reads
    decoded = [{written.get(c.name, c.name): c.arguments} for c in first.tool_calls or []]
    verdict = check(category, entry["function"], decoded, answer["ground_truth"])
    assert verdict.valid, verdict.message
    if category == "irrelevance":
        assert answer["ground_truth"] == []
        assert not check(category, entry["function"], [{"x": {}}], answer["ground_truth"]).valid


def test_bfcl_ground_truth_marks_absent_optionals() -> None:
    _, answer = bfcl.export_entry(DIALOGS["single"])
    assert answer["ground_truth"] == [{"Weather_Now.v2": {"city": ["Paris"], "units": [""], "days": [""]}}]
    _, answer = bfcl.export_entry(DIALOGS["multiple"])
    params = answer["ground_truth"][0]["search_hotels"]
    assert params["filters"] == [{"min_stars": [4], "city": ["Rome"]}]  # dicts in answer form
    assert params["rooms"] == [[{"beds": [2]}, {"beds": [2]}]]
    entry, answer = bfcl.export_entry(DIALOGS["single"])
    wrong = [{"Weather_Now.v2": {"city": "Berlin"}}]
    assert not check("simple", entry["function"], wrong, answer["ground_truth"]).valid


def test_bfcl_not_applicable() -> None:
    with pytest.raises(FormatNotApplicable) as info:
        bfcl.export_entry(DIALOGS["ask_missing"])
    assert info.value.reason == "no_first_call"
    assert "bfcl" not in IMPORT_FORMATS


# ---------------------------------------------------------------- tool rendering


@pytest.mark.parametrize("style", STYLES)
def test_render_contains_every_name(style: str) -> None:
    tools = [WEATHER, QUOTE, CONVERT, HOTELS]
    text = render_tools(tools, style)
    for tool in tools:
        assert tool.name in text
    for name in ("city", "units", "days", "symbol", "exchange", "amount", "from", "to", "filters", "min_stars",
                 "tags", "rooms", "beds"):
        assert name in text


def test_render_yaml_parses_back() -> None:
    yaml = pytest.importorskip("yaml")
    tools = [WEATHER, QUOTE, CONVERT, HOTELS]
    assert yaml.safe_load(render_tools(tools, "yaml")) == json.loads(render_tools(tools, "json"))


def test_render_xml_is_well_formed() -> None:
    root = ET.fromstring(render_tools([WEATHER, HOTELS], "xml"))
    assert [tool.get("name") for tool in root] == ["Weather Now.v2", "search-hotels"]
    city = root.find("./tool/parameters/property[@name='city']")
    assert city is not None and city.get("required") == "true" and city.get("type") == "string"
    nested = root.find("./tool/parameters/property[@name='filters']/property[@name='min_stars']")
    assert nested is not None and nested.get("type") == "integer"


def test_render_markdown_table() -> None:
    text = render_tools([HOTELS], "markdown")
    assert "| filters.min_stars | integer | no |" in text
    assert "| rooms[].beds | integer | no |" in text
    assert "| tags | array of string | no |" in text


def test_render_unknown_style() -> None:
    with pytest.raises(ToolRenderError):
        render_tools([WEATHER], "toml")


def test_pick_style_deterministic_and_weighted() -> None:
    first = [pick_style(random.Random(s), DEFAULT_MIX) for s in range(300)]
    assert first == [pick_style(random.Random(s), DEFAULT_MIX) for s in range(300)]
    counts = Counter(first)
    assert set(counts) == set(STYLES) and counts["json"] > counts["xml"]
    assert {pick_style(random.Random(s), {"yaml": 1.0, "xml": 0.0}) for s in range(50)} == {"yaml"}
    assert pick_style(random.Random(1)) in STYLES  # None means DEFAULT_MIX
    for bad in ({}, {"json": -1.0}, {"json": 0.0}, {"toml": 1.0}):
        with pytest.raises(ToolRenderError):
            pick_style(random.Random(0), bad)


# ---------------------------------------------------------------- registry


def test_export_rows_counts_not_applicable() -> None:
    run = export_rows(DIALOGS.values(), "xlam")
    rows = list(run)
    assert len(rows) == run.exported == len(DIALOGS) - 3
    assert run.not_applicable == Counter({"dependent": 1, "multi_turn": 2})
    assert run.skipped == 3
    pairs = list(export_rows(DIALOGS.values(), "bfcl"))
    assert all(isinstance(p, tuple) and len(p) == 2 for p in pairs)


def test_export_rows_style_mix_is_seeded_per_dialog() -> None:
    mix = {"json": 0.25, "yaml": 0.25, "xml": 0.25, "markdown": 0.25}
    dialogs = list(DIALOGS.values())
    first = [r["system"] for r in export_rows(dialogs, "toolace", seed=5, tool_mix=mix)]
    assert first == [r["system"] for r in export_rows(dialogs, "toolace", seed=5, tool_mix=mix)]
    # A row's rendering does not depend on the other dialogs in the stream.
    assert [r["system"] for r in export_rows(dialogs[3:], "toolace", seed=5, tool_mix=mix)] == first[3:]
    assert first != [r["system"] for r in export_rows(dialogs, "toolace", seed=6, tool_mix=mix)]
    plain = list(export_rows(dialogs, "toolace"))
    assert [r["id"] for r in plain if "tools_json" in r] == [DIALOGS["no_tools"].id]  # JSON only otherwise


def test_write_export_streams_and_commits_only_complete_files(tmp_path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("previous export\n")
    pulled = []

    def dialogs_then_failure():
        for d in DIALOGS.values():
            pulled.append(d.id)
            yield d
        raise OSError("disk went away")

    with pytest.raises(OSError):
        write_export(dialogs_then_failure(), "bfcl", out)
    # A failed export leaves the previous files untouched and no temporary files behind.
    assert out.read_text() == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl"]
    assert len(pulled) == len(DIALOGS)
    summary = write_export(iter(DIALOGS.values()), "bfcl", out)
    entries = out.read_text().splitlines()
    answers = answers_path(out).read_text().splitlines()
    assert summary.rows == len(entries) == len(answers) > 0
    assert summary.extra_files == [answers_path(out)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.answers.jsonl", "x.jsonl"]


@pytest.mark.parametrize("fmt", IMPORT_FORMATS)
def test_import_rows_collects_errors(fmt: str) -> None:
    good = json.dumps(FORMATS[fmt].export_row(DIALOGS["single"]))
    dialogs, errors = import_rows([good, "{not json", "", "[1, 2]", {"conversations": 3, "messages": 3}, good], fmt)
    assert len(dialogs) == 2 and all(d.id == DIALOGS["single"].id or fmt == "xlam" for d in dialogs)
    assert [line for line, _ in errors] == [2, 4, 5]
    assert all(isinstance(reason, str) and reason for _, reason in errors)


def test_unknown_formats() -> None:
    with pytest.raises(UnknownFormatError):
        export_rows([], "alpaca")
    with pytest.raises(UnknownFormatError):
        import_rows([], "bfcl")
    assert get_format("hermes") is hermes
    assert set(FORMATS) == {"toolace", "openai", "sharegpt", "hermes", "xlam", "bfcl", "dpo"}


def test_datasets_loads_exported_jsonl(tmp_path) -> None:
    datasets = pytest.importorskip("datasets")
    for fmt in ("toolace", "sharegpt", "hermes", "xlam"):
        path = tmp_path / f"{fmt}.jsonl"
        rows = list(export_rows(DIALOGS.values(), fmt))
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        loaded = datasets.load_dataset("json", data_files=str(path), split="train")
        assert len(loaded) == len(rows)
        assert loaded[0]["id"] == rows[0]["id"]


# ---------------------------------------------------------------- property tests

TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12) | st.sampled_from(
    ['"', "'", "[a(b=1)]", "}{", "\\", "\n", "é✓😀", "</tool_call>", ")]", "a=\"x\", b"])
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | FLOATS | TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
ARG_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
ARGUMENTS = st.dictionaries(ARG_KEYS, JSON_VALUES, max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["toolace", "openai"]), args=st.lists(ARGUMENTS, min_size=1, max_size=3),
       outputs=st.lists(JSON_VALUES, min_size=3, max_size=3), reply=TEXT)
def test_round_trip_random_values(fmt: str, args: list[dict[str, Any]], outputs: list[Any], reply: str) -> None:
    tools = [WEATHER, QUOTE]
    turn_calls = [ToolCall(name=tools[i % 2].name, arguments=a) for i, a in enumerate(args)]
    original = dialog("parallel", tools, [
        user(reply),
        Turn(role="assistant", tool_calls=turn_calls, action="call"),
        Turn(role="tool", tool_results=[ToolResult(name=c.name, results=o) for c, o in zip(turn_calls, outputs)]),
        say(reply or "done"),
    ])
    assert_same(FORMATS[fmt].import_row(json_trip(FORMATS[fmt].export_row(original))), original)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(TEXT, JSON_VALUES, max_size=3), max_size=3))
def test_yaml_emitter_round_trip(data: list[dict[str, Any]]) -> None:
    yaml = pytest.importorskip("yaml")
    from localace.formats.tool_render import _yaml

    assert yaml.safe_load(_yaml(data)) == (data or [])


ROW_KEYS = ["conversations", "messages", "from", "value", "role", "content", "tool_calls", "function", "name",
            "arguments", "tools", "system", "query", "answers", "tool_call_id", "id", "kind", "actions",
            "tools_json", "name_map", "type", "results"]
ROWS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(ROW_KEYS), inner, max_size=5), max_leaves=20)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        found += _paths(item, (*prefix, key))
    return found


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = json_trip(value)
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(IMPORT_FORMATS), key=st.sampled_from(sorted(DIALOGS)), data=st.data())
def test_import_of_damaged_rows_fails_only_with_typed_errors(fmt: str, key: str, data: st.DataObject) -> None:
    try:
        row = FORMATS[fmt].export_row(DIALOGS[key], tool_style=data.draw(st.sampled_from(STYLES)))
    except FormatNotApplicable:
        row = {}
    path = data.draw(st.sampled_from(_paths(row)))
    damaged = _replace(row, path, data.draw(ROWS))
    try:
        result = FORMATS[fmt].import_row(damaged)
    except (LocalaceError, ValueError):
        return
    assert isinstance(result, Dialog)
