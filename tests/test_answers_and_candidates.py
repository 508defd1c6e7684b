"""What the assistant may write in a call (candidates by kind) and how it reports results (answers by kind)."""

from __future__ import annotations


from localace.apis.spec import ApiSpec
from localace.dialogs import constraints as C
from localace.dialogs.answers import answer_options
from localace.dialogs.model import ToolResult
from localace.dialogs.values import ValueMaker
from localace.hashing import canonical_json
from localace.kinds import catalogue

CAT = catalogue()


def _api() -> ApiSpec:
    kinds = [CAT.kinds[n] for n in ("city", "date", "price", "max_price")]
    return ApiSpec(name="find_hotels", description="Find hotels in a city on a date.", domain=["Hotels"],
                   parameters={"type": "object", "properties": {k.param: k.schema() for k in kinds},
                               "required": [k.param for k in kinds]},
                   returns={"type": "object", "properties": {
                       "hotels": {"type": "array", "description": "Hotels found.", "items": {
                           "type": "object", "properties": {
                               "name": {**CAT.kinds["hotel_name"].schema()},
                               "check_in": {**CAT.kinds["datetime"].schema()},
                               "city": {**CAT.kinds["city"].schema()}}, "required": ["name", "check_in", "city"]}},
                       "currency": CAT.kinds["currency_code"].schema()}})


def test_a_parameter_may_take_only_values_stated_as_its_kind_of_thing():
    api = _api()
    stated = ["Lisbon", "2026-12-09", 120.0, 300.0, "Porto"]
    families = {canonical_json(v): {f} for v, f in (("Lisbon", "city"), ("2026-12-09", "date"), (120.0, "amount"),
                                                   (300.0, "amount"), ("Porto", "city"))}
    params = C.call_item(api, list(api.parameters["properties"]), stated, families)["properties"]["arguments"]
    props = params["properties"]
    assert props["city"]["enum"] == ["Lisbon", "Porto"]  # two places: which is which stays the model's choice
    assert props["date"]["enum"] == ["2026-12-09"]
    assert props["price"]["enum"] == [120.0, 300.0] and props["max_price"]["enum"] == [120.0, 300.0]


def test_an_enum_keeps_the_members_the_conversation_stated():
    schema = {"type": "string", "enum": ["run", "ride", "swim"]}
    assert C.narrowed(schema, ["ride", "Lisbon"])["enum"] == ["ride"]
    assert C.narrowed(schema, ["Lisbon"]) == schema  # nothing stated fits: the sample will disagree, as it should


def test_arrays_are_as_long_as_planned():
    schema = {"type": "object", "properties": {"cities": {"type": "array", "items": {"type": "string"}}}}
    assert C._lengths(schema, {"cities": ["Madrid"]})["properties"]["cities"]["maxItems"] == 1


def test_a_phrasing_that_names_its_unit_takes_the_bare_number():
    assert C._around("{v} minutes long", "39 minutes") == "39"
    assert C._around("on {v}", "December 9, 2026") == "December 9, 2026"


def test_results_report_the_arguments_kind_and_the_day_asked_for():
    api = _api()
    result = ValueMaker(5).result(api, {}, {"city": "Lisbon", "date": "2026-12-09", "price": 120.0,
                                            "max_price": 300.0})
    # The first item reports the arguments; the others are other things found, on the same day.
    assert result["hotels"] and result["hotels"][0]["city"] == "Lisbon"
    assert all(h["check_in"].startswith("2026-12-09T") for h in result["hotels"])


def test_answers_count_in_words_and_agree_in_number():
    api = _api()
    one = ToolResult(name=api.name, results={"hotels": [{"name": "Hotel Avenida", "check_in": "2026-12-09T15:00:00Z",
                                                         "city": "Lisbon"}], "currency": "EUR"})
    said, values = answer_options([one], {api.name: api})
    assert said[0].startswith("I found one hotel: Hotel Avenida (")
    assert "Hotel Avenida" in values
