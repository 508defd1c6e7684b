"""Blueprints: readable API names from the functionality's words, realistic schema-valid values, linked calls."""

from __future__ import annotations

import random
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from localace.apis.naming import api_name_choices, is_odd_name, odd_name_reason
from localace.apis.spec import ApiSpec
from localace.apis.synth import builtin_examples
from localace.backends.schema_sample import sample_instance
from localace.dialogs.plans import PlanSampler, find_link
from localace.dialogs.values import ValueMaker
from localace.string_formats import FORMAT_CHECKER
from tests.test_dialogs import ORDER_STATUS, POOL
from tests.test_verify_rules import SCHEMAS

WEATHER = builtin_examples()[0]


@pytest.mark.parametrize(("name", "odd"), [
    ("get_flight_status", False), ("https_api_1_2_3", True), ("fareservice_code_2163319921356840308893217019350", True),
    ("get_a_b_c_d_e_f", True), ("Get Flight Status", False), ("get_http_status", True),
])
def test_odd_names(name, odd):
    assert is_odd_name(name) is odd


def test_odd_name_reason_also_refuses_repeated_words():
    assert "repeats" in odd_name_reason("get_flight_flight")
    assert odd_name_reason("get_flight_status") is None


def _api(name, params, returns, description="An API."):
    return ApiSpec(name=name, description=description, domain=["News"],
                   parameters={"type": "object", "properties": {p: {"type": "string", "description": "A value."}
                                                                for p in params}, "required": params[:1]},
                   returns={"type": "object", "properties": {r: {"type": "number", "description": "A value."}
                                                             for r in returns}})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS)
def test_generated_values_always_validate_against_the_parameter_schema(schema):
    value = ValueMaker(1).value("value", schema)
    jsonschema.validate(value, schema, format_checker=FORMAT_CHECKER)


@pytest.mark.parametrize(("name", "schema", "check"), [
    ("customer_email", {"type": "string"}, lambda v: "@" in v),
    ("departure_date", {"type": "string"}, lambda v: re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)),
    ("flight_number", {"type": "string"}, lambda v: re.fullmatch(r"[A-Z]{2}\d{3,4}", v)),
    ("currency", {"type": "string"}, lambda v: re.fullmatch(r"[A-Z]{3}", v)),
    ("order_id", {"type": "string"}, lambda v: re.fullmatch(r"[A-Z]+-\d{5,}", v)),
    ("year", {"type": "integer"}, lambda v: 1950 <= v <= 2026),
    ("price", {"type": "number"}, lambda v: 10 <= v <= 2500),
    ("passengers", {"type": "integer", "minimum": 1, "maximum": 9}, lambda v: 1 <= v <= 9),
    ("units", {"type": "string", "enum": ["metric", "imperial"]}, lambda v: v in ("metric", "imperial")),
])
def test_values_are_realistic_for_their_name(name, schema, check):
    assert check(ValueMaker(7).value(name, schema))


def test_values_are_seeded():
    api = builtin_examples()[1]
    assert ValueMaker(3).arguments(api) == ValueMaker(3).arguments(api)
    assert len({str(ValueMaker(s).arguments(api)) for s in range(6)}) > 1


def test_dependent_link_feeds_an_id_from_a_result_to_the_next_call():
    order = builtin_examples()[2]  # create_order returns order_id
    link = find_link(order, ORDER_STATUS, ValueMaker(0))
    assert link is not None and (link.field, link.param) == ("order_id", "order_id")
    assert find_link(WEATHER, ORDER_STATUS, ValueMaker(0)) is None


def test_plans_carry_complete_schema_valid_blueprints():
    sampler = PlanSampler(POOL)
    rng = random.Random(4)
    for kind in ("single", "multiple", "parallel", "dependent", "ask_missing", "multi_turn"):
        plan = sampler.sample(kind, rng)
        assert plan.steps, kind
        for step in plan.steps:
            for call in step:
                assert call.api.name in {a.name for a in plan.offered}
                jsonschema.validate(call.arguments, call.api.parameters, format_checker=FORMAT_CHECKER)
        if kind == "parallel":
            assert len(plan.steps[0]) == 2
        if kind == "dependent":
            assert plan.steps[1][0].arguments[plan.link.param] == plan.link.value
        if kind == "ask_missing":
            assert plan.missing in plan.steps[0][0].arguments
    irrelevant = sampler.sample("irrelevance", rng)
    assert irrelevant.off_topic.api.name not in {a.name for a in irrelevant.offered}


def test_schema_sampler_fallback_keeps_patterns_exact():
    schema = {"type": "string", "pattern": "^[A-Z]{3}$"}
    assert re.fullmatch("[A-Z]{3}", ValueMaker(2).value("origin_airport", schema))
    assert sample_instance(schema, random.Random(0))


def test_a_result_status_fits_what_the_api_is_about():
    def statuses(description: str) -> set[str]:
        api = ApiSpec(name="get_it", description=description, domain=["X"],
                      parameters={"type": "object", "required": ["x"],
                                  "properties": {"x": {"type": "string", "description": "The x."}}},
                      returns={"type": "object", "required": ["status"],
                               "properties": {"status": {"type": "string", "description": "The status."}}})
        return {ValueMaker(seed).result(api, {}, {"x": "a"})["status"] for seed in range(40)}

    flight = statuses("Get live status of a flight by carrier code, number and date.")
    assert "on time" in flight and not flight & {"completed", "recorded", "shipped"}
    body = statuses("Track body measurements like weight and body-fat percentage over time.")
    assert body <= {"active", "pending", "completed", "recorded", "available"}  # never "on time" or "boarding"
    assert statuses("Track a parcel by its tracking number.") <= {"processing", "shipped", "in transit",
                                                                  "out for delivery", "delivered"}


@pytest.mark.parametrize("functionality,names", [
    ("Create a training plan toward a goal such as a 10 km race", ["create_training_plan"]),
    ("Build an itinerary from a destination, travel dates and interests", ["build_itinerary"]),
    ("Track body measurements like weight and body-fat percentage over time", ["track_body_measurements"]),
    ("Estimate the total cost of a trip including transport and lodging", ["estimate_trip_total_cost",
                                                                          "estimate_total_cost"]),
    ("Get live status of a flight by carrier code, number and date", ["get_flight_status"]),
    ("Retrieve the latest version of a package", ["get_package_version", "get_version"]),
    ("Add, update or remove items in a cart", ["add_items"]),
    ("Look up the meaning of a word", ["lookup_word_meaning", "lookup_meaning"]),
    ("Get order status by its id", ["get_order_status"]),  # `order` is a noun here, not a second verb
    ("Get price history for a stock", ["get_price_history"]),
    ("Weather forecast for a city", []),  # no action named: the vocabulary pattern decides
    ("Get", []),
])
def test_the_functionality_settles_the_api_name(functionality, names):
    # Names the embedded model wrote for these under the vocabulary alone: create_training_price,
    # translate_travel_availability_info, track_fat_percentage_body.
    assert api_name_choices(functionality) == names


def test_tool_results_report_arguments_and_fill_people_places_and_times_sensibly():
    # From a README run: {"updated_at": "prices product", "product_variants": "stock levels"} for a call with
    # product_variants 8, and {"people": "article", "places": "extract"} for an article's entities.
    from localace.dialogs.values import echo_value

    assert echo_value(8, {"type": "string"}) == "8" and echo_value(8, {"type": "integer"}) == 8
    assert echo_value("x", {"type": "integer"}) is None and echo_value(True, {"type": "string"}) is None
    api = ApiSpec(name="analyze_article", description="Extract people, places and organizations mentioned in an article.",
                  domain=["News"],
                  parameters={"type": "object", "required": ["article_id"],
                              "properties": {"article_id": {"type": "string", "description": "The article ID."}}},
                  returns={"type": "object", "required": ["people", "places", "organizations", "updated_at"],
                           "properties": {n: {"type": "string", "description": f"The {n}."}
                                          for n in ("people", "places", "organizations", "updated_at")}})
    result = ValueMaker(5).result(api, {}, {"article_id": "A-71535"})
    assert all(len(result[n].split(", ")) >= 2 for n in ("people", "places", "organizations"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z?", result["updated_at"])


def test_an_array_of_people_holds_one_name_per_item():
    people = ValueMaker(4).value("people", {"type": "array", "items": {"type": "string"}, "minItems": 2})
    assert len(people) >= 2 and all(", " not in p and len(p.split()) >= 2 for p in people)


@pytest.mark.parametrize("name,one", [("people", "person"), ("organizations_mentioned", "organization_mentioned"),
                                      ("addresses", "address"), ("ids", "id"), ("cities", "city"), ("status", "status"),
                                      ("news", "news"), ("matches", "match")])
def test_an_array_item_is_named_in_the_singular(name, one):
    from localace.kinds.language import singular as _singular

    assert _singular(name) == one


def test_each_item_of_an_organizations_array_is_one_company():
    orgs = ValueMaker(3).value("organizations_mentioned", {"type": "array", "items": {"type": "string"}, "minItems": 2})
    assert len(orgs) >= 2 and all(", " not in o for o in orgs)
