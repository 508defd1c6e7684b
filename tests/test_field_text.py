"""Field descriptions: a model's sentence is kept when it describes its field, else a plain one from the name."""

from hypothesis import given, strategies as st

from localace.apis.field_text import clean_descriptions, description_problem, written_description
from localace.apis.spec import ApiSpec

# Taken from a run of the embedded model (/work/runs m13: 12 APIs, 62 fields, 42 rewritten).
FLIGHT = ApiSpec(
    name="get_flight_status", description="Get live status of a flight by carrier code, number and date.",
    domain=["Flights"],
    parameters={"type": "object", "required": ["carrier_code"], "properties": {
        "carrier_code": {"type": "string", "description": "The IATA code of the operating airline, such as BA."},
        "language": {"type": "string", "description": "The animal will be tested for life-threatening diseases."},
        "max_results": {"type": "integer", "description": "The maximum results or details."},
        "include_details": {"type": "boolean", "description": "The maximum results or details."}}},
    returns={"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "description": "Flight Status (Flight_Code (IATA-II, IAA, IAA, IAA, IAA, IAA"},
        "total": {"type": "integer", "description": "The total results achieved for the goal is {result}."},
        "gate": {"type": "string", "description": "The departure gate. It may change up to an hour before boarding."},
        "delay_minutes": {"type": "integer", "description": "Delay minutes delay minutes delay minutes"}}})


def test_junk_descriptions_are_rewritten_and_good_ones_kept():
    spec, counts = clean_descriptions(FLIGHT)
    params = {n: s["description"] for n, s in spec.parameters["properties"].items()}
    returns = {n: s["description"] for n, s in spec.returns["properties"].items()}
    assert params == {
        "carrier_code": "The IATA code of the operating airline, such as BA.",  # a real description stays
        "language": "The language of the results.",  # about an animal: does not name the field
        "max_results": "The maximum number of results.",  # shared with include_details: neither keeps it
        "include_details": "Whether to include the full details.",
    }
    assert returns == {
        "status": "The status.",  # unbalanced parentheses
        "total": "The total.",  # a template placeholder
        "gate": "The departure gate.",  # the first sentence only
        "delay_minutes": "The delay minutes.",  # repeats itself
    }
    assert counts == {"does not name the field": 1, "shared with another field": 2, "unbalanced parentheses": 1,
                      "holds template, markup, a link or a version number": 1, "repeats itself": 1}
    assert spec.name == FLIGHT.name and spec.description == FLIGHT.description


def test_nested_fields_are_checked_too():
    spec = FLIGHT.replace(parameters={"type": "object", "required": ["route"], "properties": {
        "route": {"type": "object", "description": "The route of the flight.", "properties": {
            "origin": {"type": "string", "description": "IAA IAA IAA IAA"}}}}})
    cleaned, _ = clean_descriptions(spec)
    route = cleaned.parameters["properties"]["route"]
    assert route["description"] == "The route of the flight."
    assert route["properties"]["origin"]["description"] == "The origin."


def test_synonyms_name_the_field():
    assert description_problem("limit", "Maximum number of results to return.") is None
    assert description_problem("lat", "Latitude of the place.") is None
    assert description_problem("city", "Get live status of a flight by carrier code.") == "does not name the field"
    assert description_problem("date", "Get live status of a flight by carrier code, number and date.",
                               FLIGHT) == "repeats the API's description"
    assert description_problem("ratio", "The ratio is not supported.") == "says the field does not work"


# Field names as the drafts have them: one to four distinct words.
names = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, max_size=4,
                 unique=True).map("_".join)
types = st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"},
                         {"type": "array", "items": {"type": "string"}}, {"type": "string", "format": "date"}])


@given(names, types)
def test_a_written_description_always_passes_the_check(name, schema):
    text = written_description(name, schema)
    assert text[0].isupper() and text.endswith(".")
    assert description_problem(name, text) is None, text


def test_the_quality_figure_counts_descriptions_written_from_the_name():
    from localace.quality import plain_description_figures

    cleaned, counts = clean_descriptions(FLIGHT)
    figure = plain_description_figures([cleaned.model_dump()])
    assert figure == {"count": 6, "of": 8, "share": 0.75}  # all but carrier_code and gate ("The departure gate.")
    assert sum(counts.values()) == figure["count"]
