"""Parameter kinds: the catalogue, and one notion of "stated" shared by generation and the grounding rule."""

from __future__ import annotations

import datetime as dt

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.apis.spec import ApiSpec, strip_vendor_keys
from localace.kinds import ANCHOR, Ctx, Said, catalogue, kind_of
from localace.kinds.catalogue import domain_slug
from localace.string_formats import FORMAT_CHECKER
from localace.kinds.grounding import Sources, ungrounded_values

CAT = catalogue()
KINDS = sorted(CAT.kinds)
DOMAINS = ("agriculture automotive banking calendar-and-productivity cryptocurrency developer-tools e-commerce "
           "education email-and-messaging energy-and-utilities entertainment finance fitness flights "
           "food-and-recipes gaming government-and-public-data health hotels insurance jobs-and-recruiting legal "
           "maps-and-geolocation movies music news real-estate science-and-research security shopping-deals "
           "social-media sports translation-and-language transportation travel weather").split()


def test_the_catalogue_covers_the_domains_with_at_least_150_kinds():
    assert len(CAT.kinds) >= 150 and len(CAT.records) >= 45
    for domain in DOMAINS:
        assert len(CAT.in_domain(domain)) >= 4, domain
        assert CAT.records_in(domain), domain
    groups = {k.group for k in CAT.kinds.values()}
    assert {"places", "time", "money", "people", "identifiers", "quantities", "text", "knobs", "enums"} <= groups


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(KINDS), seed=st.integers(0, 10**6))
def test_every_kind_round_trips_make_say_read(name, seed):
    """generate → every surface form, said in a sentence → normalized back to the same value."""
    kind = CAT.kinds[name]
    value = kind.make(Ctx.seeded(seed))
    jsonschema.validate(value, strip_vendor_keys(kind.schema()), format_checker=FORMAT_CHECKER)
    for form in kind.forms(value):
        assert kind.states(value, Said(f"Please use {form} for this.", ANCHOR)), (value, form)


@pytest.mark.parametrize("name, value, said", [
    ("date", "2026-12-09", "Book it for December 9, 2026."),
    ("date", "2026-12-09", "on 9 Dec 2026 please"),
    ("max_results", 5, "just the top five"),
    ("language_code", "es", "translate it into Spanish"),
    ("duration_minutes", 90, "an hour and a half"),
])
def test_surface_forms_other_than_the_canonical_one_state_the_value(name, value, said):
    kind = CAT.kinds.get(name) or kind_of(name)
    assert kind is not None and kind.states(value, Said(said, ANCHOR))


@pytest.mark.parametrize("name, value, said", [
    ("date", "2026-12-09", "Book it for December 10, 2026."),  # a date, but another one
    ("max_results", 5, "just the top six"),
    ("language_code", "es", "translate it into French"),
    ("duration_minutes", 90, "an hour"),
])
def test_a_surface_form_of_another_value_is_not_grounded(name, value, said):
    kind = CAT.kinds.get(name) or kind_of(name)
    assert kind is not None and not kind.states(value, Said(said, ANCHOR))
    params = {"type": "object", "properties": {name: kind.schema()}}
    assert ungrounded_values({name: value}, params, Sources([said], anchor=ANCHOR)) == [(name, value)]


def test_grounding_reads_kinds_and_still_rejects_invented_values():
    params = {"type": "object", "properties": {"symbol": {"type": "string"}, "limit": {"type": "integer"},
                                               "city": {"type": "string"}}}
    said = Sources(["What are Tesla's last five trades in Lisbon?"])
    assert ungrounded_values({"symbol": "TSLA", "limit": 5, "city": "Lisbon"}, params, said) == []
    assert ungrounded_values({"symbol": "AAPL", "limit": 7, "city": "Porto"}, params, said) == \
        [("symbol", "AAPL"), ("limit", 7), ("city", "Porto")]


def test_a_kindless_imported_parameter_falls_back_cleanly():
    assert kind_of("frobnication_level", {"type": "string"}) is None
    api = ApiSpec(name="frob", description="Frobnicate a widget.",
                  parameters={"type": "object", "properties": {"frobnication_level": {"type": "string",
                                                                                      "description": "How much."}},
                              "required": ["frobnication_level"]},
                  returns={"type": "object", "properties": {"ok": {"type": "boolean", "description": "Done."}}})
    from localace.dialogs.values import ValueMaker

    value = ValueMaker(3).arguments(api)["frobnication_level"]
    assert isinstance(value, str) and value
    # Its value counts as stated only when it is said as it is.
    assert ungrounded_values({"frobnication_level": value}, api.parameters, Sources([f"level {value}"])) == []
    assert ungrounded_values({"frobnication_level": value}, api.parameters, Sources(["level high"])) != [] \
        or value.lower() == "high"


def test_kinds_are_found_by_name_alias_format_and_suffix():
    assert kind_of("city", {"type": "string"}).name == "city"
    assert kind_of("start", {"type": "string", "format": "date"}).family == "date"
    assert kind_of("contact_email", {"type": "string"}).family == "email"
    assert kind_of("city", {"type": "integer"}) is None  # the type must fit


def test_functionality_words_choose_kinds_within_their_domain():
    flights = [k.family for k in CAT.for_text("Search flights from an origin airport to a destination on a date",
                                              "Flights")]
    assert "airport_code" in flights and "date" in flights
    assert domain_slug("Energy and Utilities") == "energy-and-utilities"


def test_relative_dates_are_read_against_the_anchor():
    said = Said("Can we do next Friday instead?", dt.date(2026, 1, 1))
    assert dt.date(2026, 1, 2) in said.dates or dt.date(2026, 1, 9) in said.dates
    assert not Said("Can we do next Friday instead?").dates  # imported data states no anchor


def test_reader_inferences_are_grounded_and_invented_values_are_not():
    """Issue 22's real rows: lang="en" for an English request, the bounds of a named period, a value the
    parameter documents; the same parameters with values a reader could not infer stay ungrounded."""
    params = {"type": "object", "properties": {
        "lang": {"type": "string", "description": "Language code."},
        "from": {"type": "string", "description": "Start date."},
        "to": {"type": "string", "description": "End date."},
        "part": {"type": "string", "description": "Parts of the resource to return, e.g. snippet."}}}
    said = Sources(["How much snow fell in Minneapolis from December 2020 through February 2021? "
                    "Show me the details please."])
    assert ungrounded_values({"lang": "en", "from": "2020-12-01", "to": "2021-02-28", "part": "snippet"},
                             params, said) == []
    invented = {"lang": "fr", "from": "2020-12-02", "to": "2021-02-27", "part": "contentDetails"}
    assert ungrounded_values(invented, params, said) == list(invented.items())
    assert ungrounded_values({"lang": "en"}, params, Sources(["比特币的价格是多少"])) == [("lang", "en")]
    where = {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"},
                                              "case": {"type": "string"}}}
    assert ungrounded_values({"lat": 44.9778, "lon": -93.265, "case": "mixed"}, where,
                             Sources(["Snow days in Minneapolis? Use a mix of cases."])) == []
    assert ungrounded_values({"lat": 38.72, "lon": -9.14, "case": "upper"}, where,
                             Sources(["Snow days in Minneapolis? Use a mix of cases."])) == \
        [("lat", 38.72), ("lon", -9.14), ("case", "upper")]


def test_the_surface_form_figure_counts_a_number_with_its_unit_or_currency_as_another_form():
    from localace.quality import _literally

    assert not _literally(120, Sources(["It costs $120."])) and not _literally(12, Sources(["about 12 km away"]))
    assert _literally(120, Sources(["page 120 please"])) and _literally("Lisbon", Sources(["in Lisbon"]))
    assert not _literally("2026-12-09", Sources(["on December 9, 2026"]))
