"""`localace apis import --openapi`: every operation of a real public spec is imported or skipped with a reason,
and the edge cases (recursive schemas, allOf, path-level parameters, oneOf bodies, file uploads) hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from localace.apis.openapi_import import (METHODS, OpenApiError, import_document, import_openapi, load_document,
                                          tool_name)
from localace.apis.spec import ApiSpec, check_definition
from localace.cli import cli

SPECS = Path(__file__).parent / "fixtures" / "openapi"

# file: (format, operations in the document, imported, skipped) -- the count of operations read independently.
REAL = {
    "petstore-v2.json": ("swagger 2.0", 19, 19, 0),
    "petstore3.yaml": ("openapi 3.0.4", 19, 18, 1),
    "netlify.yml": ("swagger 2.0", 174, 171, 3),
    "adyen-capital-v1.json": ("openapi 3.1.0", 12, 12, 0),
    "adyen-transfers-v4.json": ("openapi 3.1.0", 12, 12, 0),
}


def count_operations(path: Path) -> int:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return sum(1 for item in doc["paths"].values() for method in item if method in METHODS)


@pytest.mark.parametrize("name", sorted(REAL))
def test_every_operation_of_a_real_spec_is_imported_or_skipped_with_a_reason(name: str) -> None:
    fmt, operations, imported, skipped = REAL[name]
    result = import_openapi(SPECS / name)
    assert count_operations(SPECS / name) == operations
    assert result.format == fmt
    assert len(result.apis) + len(result.skipped) + result.duplicates == operations
    assert (len(result.apis), len(result.skipped)) == (imported, skipped)
    assert all(s.reason.strip() for s in result.skipped)
    title = yaml.safe_load((SPECS / name).read_text(encoding="utf-8"))["info"]["title"]
    for spec in result.apis:
        assert check_definition(spec) == []
        assert spec.source == f"openapi:{title}"
        assert spec.meta["openapi"]["operation"].split()[0] in {m.upper() for m in METHODS}
        assert set(spec.meta["openapi"]["in"]) == set(spec.parameters["properties"])
        # A stored row reads back as the same tool.
        assert ApiSpec.model_validate_json(spec.model_dump_json()).id == spec.id
    assert any("security schemes left out" in note for note in result.notes)


def test_petstore_v2_swagger_details() -> None:
    apis = {spec.name: spec for spec in import_openapi(SPECS / "petstore-v2.json").apis}
    by_status = apis["findPetsByStatus"].parameters
    assert by_status["required"] == ["status"]
    assert by_status["properties"]["status"]["items"]["enum"] == ["available", "pending", "sold"]
    order = apis["getOrderById"].parameters["properties"]["orderId"]
    assert (order["type"], order["minimum"], order["maximum"], order["x-format"]) == ("integer", 1, 10, "int64")
    # The body (a Pet) is flattened, its required fields carried over; the 200 schema is the returns.
    add_pet = apis["addPet"]
    assert add_pet.parameters["required"] == ["name", "photoUrls"]
    assert add_pet.meta["openapi"]["in"]["name"] == "body"
    assert apis["getPetById"].returns["properties"]["status"]["enum"] == ["available", "pending", "sold"]
    # Form fields are parameters too; the api_key header is not.
    assert set(apis["updatePetWithForm"].parameters["properties"]) == {"petId", "name", "status"}
    assert "api_key" not in apis["deletePet"].parameters["properties"]
    assert apis["deletePet"].meta["openapi"]["headers_left_out"] == ["api_key (header)"]
    # A body that is an array is one parameter, named after the body.
    assert apis["createUsersWithArrayInput"].parameters["properties"]["body"]["type"] == "array"


def test_petstore3_file_upload_is_skipped_and_defaults_kept() -> None:
    result = import_openapi(SPECS / "petstore3.yaml")
    assert [s.name for s in result.skipped] == ["uploadFile (POST /pet/{petId}/uploadImage)"]
    assert "file upload" in result.skipped[0].reason
    apis = {spec.name: spec for spec in result.apis}
    status = apis["findPetsByStatus"].parameters["properties"]["status"]
    assert status["default"] == "available" and status["enum"] == ["available", "pending", "sold"]
    assert apis["placeOrder"].parameters["properties"]["shipDate"]["format"] == "date-time"
    assert {spec.domain[0] for spec in result.apis} == {"pet", "store", "user"}


def test_adyen_allof_and_oneof_real() -> None:
    capital = {spec.name: spec for spec in import_openapi(SPECS / "adyen-capital-v1.json").apis}
    # GrantOffer-style schemas are allOf compositions: their properties arrive merged.
    assert all("allOf" not in json.dumps(spec.definition()) for spec in capital.values())
    transfers = {spec.name: spec for spec in import_openapi(SPECS / "adyen-transfers-v4.json").apis}
    cut = transfers["post-transfers"].meta["openapi"]["cut"]
    assert any("oneOf of 16 alternatives; took the first object one" in line for line in cut)
    assert "oneOf" not in json.dumps(transfers["post-transfers"].definition())


# ---------------------------------------------------------------- edge cases on small documents


def document(paths: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3") -> dict:
    return {"openapi": version, "info": {"title": "Edge", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas or {}}}


def imported(doc: dict[str, Any], tmp_path: Path, name: str = "spec.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc), encoding="utf-8")
    return import_openapi(path)


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def test_recursive_schema_is_cut_with_a_reason(tmp_path: Path) -> None:
    node = {"type": "object", "description": "A folder.", "properties": {
        "name": {"type": "string", "description": "Its name."},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}
    doc = document({"/folders": {"post": {"operationId": "createFolder", "summary": "Create a folder tree.",
                                          "requestBody": json_body({"$ref": "#/components/schemas/Node"}),
                                          "responses": {"201": {"description": "ok", "content": {
                                              "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}},
                   {"Node": node})
    spec = imported(doc, tmp_path).apis[0]
    children = spec.parameters["properties"]["children"]
    assert children["items"]["properties"]["children"]["items"] == {"type": "object", "description": "A folder. (structure cut)"}
    assert any("recursive type 'Node' cut" in line for line in spec.meta["openapi"]["cut"])
    assert check_definition(spec) == []


def test_all_of_is_merged(tmp_path: Path) -> None:
    schemas = {"Base": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
               "Dog": {"allOf": [{"$ref": "#/components/schemas/Base"},
                                 {"type": "object", "required": ["breed"],
                                  "properties": {"breed": {"type": "string", "enum": ["lab", "pug"]},
                                                 "age": {"type": "integer", "minimum": 0, "default": 1}}}]}}
    doc = document({"/dogs": {"post": {"operationId": "addDog", "requestBody": json_body(
        {"$ref": "#/components/schemas/Dog"}), "responses": {"200": {"description": "ok"}}}}}, schemas)
    spec = imported(doc, tmp_path).apis[0]
    assert spec.parameters["required"] == ["name", "breed"]
    assert spec.parameters["properties"]["age"] == {"type": "integer", "minimum": 0, "default": 1,
                                                    "description": "Age (Dog field)."}
    assert spec.description == "POST /dogs"  # no summary or description: the operation itself


def test_path_level_parameters_apply_and_the_operation_overrides(tmp_path: Path) -> None:
    doc = document({"/items/{itemId}": {
        "parameters": [{"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "lang", "in": "query", "schema": {"type": "string"}, "description": "path level"}],
        "get": {"summary": "Get an item.", "parameters": [
            {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["en", "de"]}, "description": "Language."},
            {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}}},
        "delete": {"responses": {"204": {"description": "gone"}}}}})
    result = imported(doc, tmp_path, "spec.yaml")
    get, delete = result.apis
    assert get.name == "get_items_itemId" and get.meta["openapi"].get("operationId") is None
    assert get.parameters["required"] == ["itemId"]
    assert get.parameters["properties"]["lang"] == {"type": "string", "description": "Language.", "enum": ["en", "de"]}
    assert get.parameters["properties"]["itemId"]["description"] == "Item id (path parameter)."
    assert set(delete.parameters["properties"]) == {"itemId", "lang"}
    assert any("X-Trace (header)" in note for note in result.notes)


def test_one_of_body_takes_the_first_object_alternative(tmp_path: Path) -> None:
    schemas = {"Card": {"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}},
               "Bank": {"type": "object", "properties": {"iban": {"type": "string"}}}}
    body = {"oneOf": [{"$ref": "#/components/schemas/Card"}, {"$ref": "#/components/schemas/Bank"}]}
    scalar = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    doc = document({"/pay": {"post": {"operationId": "pay", "requestBody": json_body(body),
                                      "responses": {"200": {"description": "ok"}}}},
                    "/raw": {"post": {"operationId": "raw", "requestBody": json_body(scalar),
                                      "responses": {"200": {"description": "ok"}}}}}, schemas)
    result = imported(doc, tmp_path)
    (pay,) = result.apis
    assert pay.parameters["required"] == ["number"]
    assert pay.meta["openapi"]["cut"] == ["request body: oneOf of 2 alternatives; took the first object one (Card)"]
    assert result.skipped[0].name == "raw (POST /raw)"
    assert "oneOf of 2 alternatives of different types" in result.skipped[0].reason


def test_openapi_31_types_and_exclusive_bounds(tmp_path: Path) -> None:
    params = [{"name": "q", "in": "query", "required": True, "schema": {"type": ["string", "null"]}},
              {"name": "n", "in": "query", "schema": {"type": "number", "exclusiveMinimum": 0}}]
    doc = document({"/s": {"get": {"operationId": "search", "parameters": params,
                                   "responses": {"200": {"description": "ok"}}}}}, version="3.1.0")
    spec = imported(doc, tmp_path).apis[0]
    assert spec.parameters["properties"]["q"]["type"] == "string"
    assert spec.parameters["properties"]["n"]["exclusiveMinimum"] == 0
    doc30 = document({"/s": {"get": {"operationId": "search", "parameters": [
        {"name": "n", "in": "query", "schema": {"type": "number", "minimum": 0, "exclusiveMinimum": True}}],
        "responses": {"200": {"description": "ok"}}}}})
    assert imported(doc30, tmp_path).apis[0].parameters["properties"]["n"] == {
        "type": "number", "exclusiveMinimum": 0, "description": "N (query parameter)."}


def test_unrepresentable_optional_parts_are_left_out_required_ones_skip(tmp_path: Path) -> None:
    doc = document({"/a": {"get": {"operationId": "withAny", "parameters": [
        {"name": "free", "in": "query", "schema": {}}, {"name": "ok", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok"}}}},
        "/b": {"get": {"operationId": "needsAny", "parameters": [
            {"name": "free", "in": "query", "required": True, "schema": {}}],
            "responses": {"200": {"description": "ok"}}}},
        "/c": {"get": {"operationId": "brokenRef", "parameters": [
            {"name": "x", "in": "query", "required": True, "schema": {"$ref": "#/components/schemas/Missing"}}],
            "responses": {"200": {"description": "ok"}}}}})
    result = imported(doc, tmp_path)
    assert [spec.name for spec in result.apis] == ["withAny"]
    assert result.apis[0].meta["openapi"]["left_out"] == ["query parameter 'free': no type (any value)"]
    reasons = {s.name.split()[0]: s.reason for s in result.skipped}
    assert reasons["needsAny"] == "query parameter 'free': no type (any value)"
    assert "unresolvable $ref '#/components/schemas/Missing'" in reasons["brokenRef"]


def test_names_are_sanitized_and_the_original_kept() -> None:
    assert tool_name("get", "/users/{id}/posts", {}) == "get_users_id_posts"
    assert tool_name("post", "/x", {"operationId": "repos/create-fork"}) == "repos_create-fork"
    long = tool_name("get", "/x", {"operationId": "a" * 100})
    assert len(long) == 64 and re.match(r"^a{55}_[0-9a-f]{8}$", long)


@pytest.mark.parametrize("text, message", [
    ("foo: [", "not JSON or YAML"),
    ("[1, 2]", "the top level is not an object"),
    ("title: x", "no 'openapi' or 'swagger' version field"),
    ('{"openapi": "4.0.0", "paths": {}}', "version '4.0.0' is not supported"),
    ('{"swagger": "2.0"}', "no 'paths' object"),
])
def test_bad_specs_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OpenApiError, match=re.escape(message)):
        load_document(path)


def test_external_refs_are_not_followed(tmp_path: Path) -> None:
    doc = document({"/a": {"get": {"operationId": "ext", "parameters": [
        {"name": "x", "in": "query", "required": True, "schema": {"$ref": "other.yaml#/X"}}],
        "responses": {"200": {"description": "ok"}}}}})
    result = imported(doc, tmp_path)
    assert "only references within the file" in result.skipped[0].reason


# ---------------------------------------------------------------- the command


def test_cli_imports_a_spec_and_lists_what_it_left_out(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run = CliRunner().invoke(cli, ["apis", "import", "--db", str(db), "--openapi", str(SPECS / "petstore3.yaml")])
    assert run.exit_code == 0, run.output
    assert "18 APIs imported, 1 skipped" in run.output
    assert "skipped uploadFile (POST /pet/{petId}/uploadImage): request body: a file upload" in run.output
    assert "security schemes left out: petstore_auth, api_key" in run.output
    again = CliRunner().invoke(cli, ["apis", "import", "--db", str(db), "--openapi", str(SPECS / "petstore3.yaml")])
    assert "0 APIs imported" in again.output  # idempotent


def test_cli_bad_or_empty_spec_exits_2_and_leaves_no_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("foo: [", encoding="utf-8")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(document({"/f": {"post": {"operationId": "upload", "requestBody": {
        "required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": {"description": "ok"}}}}})), encoding="utf-8")
    for spec, expected in ((bad, "not JSON or YAML"), (empty, "none of its 1 API definitions could be imported")):
        db = tmp_path / f"{spec.stem}.db"
        run = CliRunner().invoke(cli, ["apis", "import", "--db", str(db), "--openapi", str(spec)])
        assert run.exit_code == 2 and expected in run.output
        assert not db.exists()
    both = CliRunner().invoke(cli, ["apis", "import", "x.json", "--openapi", str(bad)])
    assert both.exit_code == 2 and "give one of" in both.output


def test_import_document_accepts_a_parsed_mapping() -> None:
    doc = load_document(SPECS / "petstore-v2.json")
    assert len(import_document(doc, "Pets").apis) == 19


# ---------------------------------------------------------------- the specialist's held-out test set


def test_petstore_held_out_set_loads_and_its_answers_pass_the_checker() -> None:
    from localace.evaluate.ast_checker import check
    from localace.evaluate.runner import load_eval_set

    data = Path(__file__).parents[1] / "benchmarks" / "specialist" / "petstore" / "tests.json"
    items = load_eval_set(data)  # finds tests.answers.json beside it, as `localace eval --data` does
    relevant = [item for item in items if item.category == "multiple"]
    assert len(relevant) >= 40 and len(items) - len(relevant) >= 10
    offered = {spec.name for spec in import_openapi(SPECS / "petstore3.yaml").apis}
    for item in relevant:
        assert {f["name"] for f in item.entry["function"]} == offered
        ((name, args),) = item.ground_truth[0].items()
        call = {name: {key: values[0] for key, values in args.items() if values[0] != ""}}
        assert check(item.category, item.entry["function"], [call], item.ground_truth).valid, item.entry["id"]
