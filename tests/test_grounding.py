"""Grounding: is a value stated in the conversation? User voice: does a user turn speak as a user?"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.kinds.grounding import Sources, ungrounded_values
from localace.voice import voice_problem


@pytest.mark.parametrize(("text", "value"), [
    ("What's the weather in LISBON?", "Lisbon"),
    ("Flight BA 2490, please.", "BA2490"),
    ("Call me on +1 555 010 0199.", "+1-555-010-0199"),
    ("Send 1,250.50 dollars.", 1250.5),
    ("Send $1,250.50.", "1250.50"),
    ("Book three rooms.", 3),
    ("I want 20% off.", 20),
    ("I fly on December 3, 2026.", "2026-12-03"),
    ("I fly on 3rd December 2026.", "2026-12-03"),
    ("I fly on Dec. 3 2026.", "2026-12-03"),
    ("I fly on 12/03/2026.", "2026-12-03"),
    ("I fly on 03/12/2026.", "2026-12-03"),
    ("The meeting is at 2:30 pm.", "14:30"),
    ("The meeting is at 14:30 on 2026-12-03.", "2026-12-03T14:30:00"),
    ("Write to José at jose@example.com.", "jose@example.com"),
    ("Café Müller is where we meet.", "Cafe Muller"),
    ("How much is one bitcoin in euros?", "BTC"),
    ("How much is one bitcoin in euros?", "EUR"),
])
def test_stated_values(text, value):
    assert Sources([text]).states(value)


@pytest.mark.parametrize(("text", "value"), [
    ("What's the weather in Lisbon?", "Porto"),
    ("Flight BA 2490, please.", "BA2491"),
    ("I fly on December 3, 2026.", "2026-12-04"),
    ("The meeting is on 2026-12-03.", "2026-12-03T14:30:00"),  # the time is not stated
    ("Book three rooms.", 4),
    ("Send it to Lisbonne.", "Lisbon"),  # a word inside another word is not the word
    ("How much is one bitcoin in euros?", "USD"),
    ("What's Tesla trading at?", "TSLA"),  # a ticker inferred from a company name is not stated
    ("", "x"),
])
def test_unstated_values(text, value):
    assert not Sources([text]).states(value)


@settings(max_examples=60, deadline=None)
@given(day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31)),
       style=st.sampled_from(["%Y-%m-%d", "%B %d, %Y", "%d %B %Y", "%b %d %Y", "%m/%d/%Y"]))
def test_any_common_date_spelling_states_the_iso_date(day, style):
    assert Sources([f"On {day.strftime(style)} please."]).states(day.isoformat())


@settings(max_examples=80, deadline=None)
@given(n=st.one_of(st.integers(-10**7, 10**7), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 2))))
def test_numbers_in_any_grouping_are_stated(n):
    plain = f"{n}"
    grouped = f"{n:,}"
    assert Sources([f"Use {plain} now."]).states(n) and Sources([f"Use {grouped} now."]).states(n)


def test_enum_members_defaults_and_booleans():
    params = {"type": "object", "properties": {
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "limit": {"type": "integer", "default": 10},
        "include_air_quality": {"type": "boolean"},
        "city": {"type": "string"}}}
    sources = Sources(["Weather in Rome with the air quality please."])
    assert ungrounded_values({"units": "metric", "limit": 10, "include_air_quality": True, "city": "Rome"},
                             params, sources) == []
    assert ungrounded_values({"city": "Milan", "limit": 11}, params, sources) == [("city", "Milan"), ("limit", 11)]
    assert ungrounded_values({"include_air_quality": True}, params, Sources(["Weather in Rome."])) == [
        ("include_air_quality", True)]
    assert Sources(["Top headlines with short summaries."]).mentions_flag("include_summary", True)  # plural


def test_nested_values_are_checked_leaf_by_leaf():
    params = {"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}}}}}}
    sources = Sources(["Order two of SKU-1 and one SKU-9."])
    args = {"items": [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-7", "quantity": 1}]}
    assert ungrounded_values(args, params, sources) == [("items[1].sku", "SKU-7")]


@pytest.mark.parametrize("text", [
    "The user wants a tool that can provide top headlines.",
    "I'm going to be a chatty and friendly AI assistant.",
    "I am now ready to help you with your request.",
    "How can I help you today?",
    "Here is the weather for Lisbon.",
    "Write the user's message about flights.",
    "The assistant should call the tool named get_weather.",
])
def test_narrating_or_assistant_voiced_user_turns(text):
    assert voice_problem(text) is not None


@pytest.mark.parametrize("text", [
    "What's the weather in Lisbon tomorrow?",
    "Hi! Can you book a table for two at 19:30?",
    "I need the status of flight BA2490 on 2026-12-03.",
    "My order ORD-48213 hasn't arrived, can you check it?",
    "Could you help me find a cheap hotel in Porto?",
])
def test_user_turns_in_the_users_voice(text):
    assert voice_problem(text) is None


@given(st.lists(st.sampled_from(["is", "include", "air", "quality", "enabled", "show", "maps", "only", "x", "summaries",
                                 "use", "metric"]), min_size=1, max_size=4).map("_".join), st.booleans())
@settings(deadline=None)  # the first example imports the dialog modules
def test_the_user_agent_and_the_grounding_rule_read_a_flag_the_same_way(name, value):
    # Once they did not: the agent dropped filler words and matched unstemmed, the rule kept a filler-only name
    # whole and matched stems, so a turn the agent accepted could fail `grounded_arguments` (or the reverse).
    from localace.apis.spec import ApiSpec
    from localace.dialogs.plans import PlannedCall
    from localace.dialogs.statements import statements, unstated

    api = ApiSpec(name="get_map", description="Get a map.", domain=["Maps"],
                  parameters={"type": "object", "required": [name],
                              "properties": {name: {"type": "boolean", "description": "A flag."}}},
                  returns={"type": "object", "required": ["url"],
                           "properties": {"url": {"type": "string", "description": "The map URL."}}})
    state = statements(PlannedCall(api, {name: value}))
    text = "Please get the map, " + " and ".join(lit for s in state for lit in s.literals) + "."
    assert unstated(text, state) == []
    assert Sources([text]).mentions_flag(name, value)
    plain = "Please get the map."  # the agent and the rule agree on a turn without the words too
    assert (unstated(plain, state) == []) == Sources([plain]).mentions_flag(name, value)
