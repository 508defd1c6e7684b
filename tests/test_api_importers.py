"""Tool-format converters, tool-file importers and the seed document loaders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.apis.importers import ImportFormatError, import_file, import_tools
from localace.apis.seed_corpus import DocumentFolderError, load_documents, load_seed_documents
from localace.apis.spec import STRING_FORMATS, ApiSpec, default_returns, strip_vendor_keys
from localace.apis.tool_formats import (
    BFCL_TYPE_KEY,
    ToolFormatError,
    from_bfcl,
    from_openai,
    from_toolace,
    openai_safe_name,
    to_bfcl,
    to_openai,
    to_toolace,
)

FIXTURES = Path(__file__).parent / "fixtures" / "apis"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- converters and file round trips -------------------------------------------------------------


def test_openai_tools_file_round_trips_without_loss() -> None:
    original = json.loads(fixture_text("openai_tools.json"))["tools"]
    result = import_tools(fixture_text("openai_tools.json"), filename="openai_tools.json")
    assert result.format == "openai"
    assert result.skipped == [] and result.duplicates == 0
    assert [api.name for api in result.apis] == ["get_forecast", "create_order", "ping"]
    assert all(api.source == "import:openai" and api.domain == [] for api in result.apis)
    assert result.apis[0].returns == {"type": "object", "description": "Result of get_forecast."}
    assert [to_openai(api) for api in result.apis] == original


def test_bfcl_function_file_round_trips_without_loss() -> None:
    entries = [json.loads(line) for line in fixture_text("bfcl_functions.jsonl").splitlines()]
    original = [function for entry in entries for function in entry["function"]]
    result = import_tools(fixture_text("bfcl_functions.jsonl"))
    assert result.format == "bfcl" and result.skipped == []
    assert [to_bfcl(api) for api in result.apis] == original
    booking = result.apis[1].parameters["properties"]
    assert booking["party"]["type"] == "object"
    assert booking["time_slot"] == {
        "type": "array", "items": {"type": "integer"}, "description": "Hour and minute.", BFCL_TYPE_KEY: "tuple"}
    assert result.apis[0].parameters["properties"]["base"]["type"] == "number"
    assert BFCL_TYPE_KEY not in json.dumps(strip_vendor_keys(result.apis[1].parameters))
    assert BFCL_TYPE_KEY in json.dumps(result.apis[1].parameters)  # the spec itself is untouched


def test_bfcl_list_of_functions_is_recognized() -> None:
    entries = [json.loads(line) for line in fixture_text("bfcl_functions.jsonl").splitlines()]
    functions = [function for entry in entries for function in entry["function"]]
    result = import_tools(json.dumps(functions))
    assert result.format == "bfcl"
    assert [to_bfcl(api) for api in result.apis] == functions


def test_stale_bfcl_type_name_is_not_restored() -> None:
    spec = from_bfcl({"name": "f", "description": "F.", "parameters": {
        "type": "dict", "properties": {"pair": {"type": "tuple", "items": {"type": "float"}, "description": "P."}}}})
    evolved_params = json.loads(json.dumps(spec.parameters))
    evolved_params["properties"]["pair"] = {**evolved_params["properties"]["pair"], "type": "object"}
    del evolved_params["properties"]["pair"]["items"]
    evolved = spec.replace(parameters=evolved_params)
    assert to_bfcl(evolved)["parameters"]["properties"]["pair"] == {"type": "dict", "description": "P."}


def test_bfcl_any_type_is_unsupported_with_path() -> None:
    function = {"name": "f", "description": "F.", "parameters": {
        "type": "dict", "properties": {"x": {"type": "any", "description": "X."}}}}
    with pytest.raises(ToolFormatError, match=r"parameters\.properties\.x: type 'any' is not supported"):
        from_bfcl(function)
    result = import_tools(json.dumps({"id": "1", "function": [function]}))
    assert result.apis == [] and "type 'any' is not supported" in result.skipped[0].reason


def test_non_default_returns_survive_every_format() -> None:
    spec = ApiSpec(
        name="lookup", description="Look up.", parameters={"type": "object", "properties": {}},
        returns={"type": "object", "properties": {"score": {"type": "number"}}},
    )
    exported = to_openai(spec)
    assert exported["function"]["returns"] == spec.returns
    assert to_bfcl(spec)["returns"] == {"type": "dict", "properties": {"score": {"type": "float"}}}
    for back in (from_openai(exported), from_bfcl(to_bfcl(spec)), from_toolace(to_toolace(spec))):
        assert back.definition() == spec.definition()


def test_openai_safe_name_only_when_asked() -> None:
    spec = ApiSpec(name="Get Team Roster.v2", description="Roster.", parameters={"type": "object"},
                   returns=default_returns("Get Team Roster.v2"))
    assert to_openai(spec)["function"]["name"] == "Get Team Roster.v2"
    assert to_openai(spec, safe_name=True)["function"]["name"] == "Get_Team_Roster_v2"
    assert openai_safe_name("already_fine-1") == "already_fine-1"


def test_openai_function_without_parameters_gets_empty_object() -> None:
    spec = from_openai({"name": "now", "description": "Current time."})
    assert spec.parameters == {"type": "object", "properties": {}}


def test_converters_reject_non_objects() -> None:
    with pytest.raises(ToolFormatError, match="must be a JSON object"):
        from_openai(["not", "a", "tool"])


# --- ToolACE -------------------------------------------------------------------------------------


def check_toolace_apis(apis: list[ApiSpec]) -> None:
    assert [api.name for api in apis] == ["Get Team Roster", "stats.player.v2"]
    roster, stats = (api.parameters for api in apis)
    assert roster["type"] == "object" and roster["required"] == ["team_id"]
    assert roster["properties"]["team_id"] == {"description": "Identifier of the team.", "type": "integer"}
    assert roster["properties"]["season"]["default"] == "2023"
    assert stats["required"] == ["player"]  # merged from the entry's top-level "required"
    assert stats["properties"]["per_game"]["default"] is True
    assert stats["properties"]["min_minutes"] == {
        "description": "Minimum minutes played.", "type": "number", "default": 10.0}
    assert all(api.source == "import:toolace" for api in apis)


def test_toolace_row_with_spaced_and_dotted_names_imports() -> None:
    result = import_tools(fixture_text("toolace_row.json"), filename="toolace_row.json")
    assert result.format == "toolace" and result.skipped == []
    check_toolace_apis(result.apis)


def test_toolace_rows_as_json_lines_dedupe() -> None:
    row = json.loads(fixture_text("toolace_row.json"))[0]
    result = import_tools("\n".join([json.dumps(row), "", json.dumps(row)]))
    check_toolace_apis(result.apis)
    assert result.duplicates == 2


def test_bare_toolace_system_prompt_imports() -> None:
    result = import_tools(fixture_text("toolace_system.txt"))
    assert result.format == "toolace"
    check_toolace_apis(result.apis)


def test_toolace_bare_property_map_and_draft3_required() -> None:
    spec = from_toolace({"name": "GetNews", "description": "Azure news.", "parameters": {
        "page": {"description": "Page number.", "type": "int", "default": "2", "required": True}}})
    assert spec.parameters == {"type": "object", "properties": {
        "page": {"description": "Page number.", "type": "integer", "default": 2}}, "required": ["page"]}


# --- importer errors and skips -------------------------------------------------------------------


def test_not_json_file_raises_one_line_error() -> None:
    with pytest.raises(ImportFormatError) as info:
        import_tools(fixture_text("not_json.txt"), filename="notes.txt")
    message = str(info.value)
    assert message.startswith("notes.txt: not JSON or JSON Lines (line 1:") and "\n" not in message


@pytest.mark.parametrize("text", ['{"rows": [1, 2]}', "[]", "   ", '{"id": 1}\n{"id": 2}'])
def test_files_without_tools_raise(text: str) -> None:
    with pytest.raises(ImportFormatError):
        import_tools(text)


def test_bad_json_line_after_good_lines_is_an_error() -> None:
    first = fixture_text("bfcl_functions.jsonl").splitlines()[0]
    with pytest.raises(ImportFormatError, match="line 2"):
        import_tools(first + "\n{broken\n")


def test_invalid_definitions_are_skipped_with_reasons() -> None:
    result = import_tools(fixture_text("mixed_invalid.json"))
    assert result.format == "jsonschema"
    # The second convert_currency is another definition under the same name: both are real, both are kept.
    assert [api.name for api in result.apis] == ["convert_currency", "convert_currency"]
    assert result.apis[0].id != result.apis[1].id
    assert result.apis[0].source == "import:jsonschema"
    reasons = {item.index: (item.name, item.reason) for item in result.skipped}
    assert reasons[1] == ("schedule_meeting", "parameters.properties.when: unknown type 'datetime'")
    assert reasons[2] == ("no_description_tool", "description: missing or blank")
    assert reasons[3][1].startswith("parameters: type must be 'object', got 'array'")
    assert 4 not in reasons and 5 not in reasons and result.duplicates == 1


def test_sharegpt_style_tools_string_is_accepted() -> None:
    tools = json.loads(fixture_text("openai_tools.json"))["tools"]
    row = {"conversations": [], "tools": json.dumps([tool["function"] for tool in tools])}
    result = import_tools(json.dumps(row))
    assert result.format == "jsonschema" and len(result.apis) == 3


def test_import_file_reads_and_reports(tmp_path: Path) -> None:
    assert len(import_file(FIXTURES / "openai_tools.json").apis) == 3
    with pytest.raises(ImportFormatError, match="cannot read"):
        import_file(tmp_path / "missing.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'[{"name": "caf\xe9"}]')
    with pytest.raises(ImportFormatError, match="not UTF-8"):
        import_file(latin)


# --- property: any small ApiSpec round-trips through OpenAI, BFCL and ToolACE ---------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(str.strip)
PROPERTY_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
API_NAMES = st.from_regex(r"[A-Za-z]([A-Za-z0-9_. -]{0,20}[A-Za-z0-9])?", fullmatch=True)

SCALARS = st.one_of(
    st.fixed_dictionaries({"type": st.just("string")}, optional={
        "enum": st.lists(st.text(max_size=5), min_size=1, max_size=3, unique=True),
        "format": st.sampled_from(sorted(STRING_FORMATS)),
        "maxLength": st.integers(0, 50),
        "pattern": st.sampled_from(["^[a-z]+$", "[0-9]{2}"]),
    }),
    st.fixed_dictionaries({"type": st.sampled_from(["integer", "number"])}, optional={
        "minimum": st.integers(-5, 0), "maximum": st.integers(1, 9), "enum": st.just([1, 2, 3])}),
    st.fixed_dictionaries({"type": st.just("boolean")}, optional={"default": st.booleans()}),
)
SCHEMAS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.builds(lambda items: {"type": "array", "items": items}, inner),
        st.dictionaries(PROPERTY_NAMES, inner, max_size=3).map(lambda props: {"type": "object", "properties": props}),
    ),
    max_leaves=6,
)


@st.composite
def api_specs(draw: st.DrawFn) -> ApiSpec:
    name = draw(API_NAMES)
    properties = draw(st.dictionaries(
        PROPERTY_NAMES, st.builds(lambda schema, text: {**schema, "description": text}, SCHEMAS, TEXT), max_size=4))
    required = [key for key in properties if draw(st.booleans())]
    returns = draw(st.one_of(st.just(default_returns(name)), SCHEMAS))
    return ApiSpec(
        name=name,
        description=draw(TEXT),
        parameters={"type": "object", "properties": properties, "required": required},
        returns=returns,
    )


@settings(max_examples=80, deadline=None)
@given(spec=api_specs())
def test_any_spec_round_trips_through_tool_formats(spec: ApiSpec) -> None:
    assert from_openai(to_openai(spec)).definition() == spec.definition()
    assert from_bfcl(to_bfcl(spec)).definition() == spec.definition()
    assert from_toolace(to_toolace(spec)).definition() == spec.definition()
    assert from_openai(to_openai(spec)).id == spec.id
    assert json.loads(json.dumps(to_bfcl(spec))) == to_bfcl(spec)


def bfcl_schemas() -> st.SearchStrategy[dict[str, Any]]:
    scalars = st.sampled_from(["string", "integer", "float", "boolean"]).map(lambda t: {"type": t})
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.builds(lambda kind, items: {"type": kind, "items": items}, st.sampled_from(["array", "tuple"]), inner),
            st.dictionaries(PROPERTY_NAMES, inner, max_size=3).map(lambda props: {"type": "dict", "properties": props}),
        ),
        max_leaves=6,
    )


@settings(max_examples=60, deadline=None)
@given(props=st.dictionaries(PROPERTY_NAMES, bfcl_schemas(), max_size=4), name=API_NAMES, text=TEXT)
def test_any_bfcl_function_round_trips(props: dict[str, Any], name: str, text: str) -> None:
    function = {
        "name": name,
        "description": text,
        "parameters": {"type": "dict", "properties": {k: {**v, "description": text} for k, v in props.items()},
                       "required": sorted(props)[:1]},
    }
    assert to_bfcl(from_bfcl(function)) == function


# --- seed corpus and document folders ------------------------------------------------------------


def test_seed_corpus_has_thirty_distinct_domains() -> None:
    documents = load_seed_documents()
    assert len(documents) >= 30
    assert len({doc.title for doc in documents}) == len(documents)
    assert len({doc.name for doc in documents}) == len(documents)
    for doc in documents:
        lines = doc.text.splitlines()
        assert lines[0] == f"# {doc.title}"
        bullets = [line for line in lines if line.startswith("- ")]
        assert 5 <= len(bullets) <= 8, doc.name
        assert 60 <= len(doc.text.split()) <= 170, doc.name


def test_load_documents_reads_md_and_txt_and_skips_bad_files(tmp_path: Path) -> None:
    (tmp_path / "banking.md").write_text("# Core Banking\n\nAccounts and transfers.\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("Plain notes about a parking API.\n", encoding="utf-8")
    (tmp_path / "image.md").write_bytes(b"\x89PNG\x00\x00binary")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 menu")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "data.json").write_text("{}", encoding="utf-8")
    loaded = load_documents(tmp_path)
    assert [(doc.name, doc.title) for doc in loaded.documents] == [
        ("banking", "Core Banking"), ("sub/notes", "sub/notes")]
    assert {item.path.name: item.reason for item in loaded.skipped} == {
        "image.md": "binary file", "latin.txt": "not UTF-8 text", "empty.md": "empty file"}


def test_load_documents_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(DocumentFolderError, match="not found"):
        load_documents(tmp_path / "absent")
    (tmp_path / "data.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DocumentFolderError, match="no .md or .txt files"):
        load_documents(tmp_path)
    (tmp_path / "blob.md").write_bytes(b"\x00\x01")
    with pytest.raises(DocumentFolderError, match="blob.md: binary file"):
        load_documents(tmp_path)
