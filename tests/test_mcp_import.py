"""`localace apis import --mcp`: tools listed by MCP servers over stdio become APIs; failures are one line.

Pure conversion tests always run; the server tests need the `mcp` extra (and `mcp-server-time` for the real
PyPI server) and are skipped with a reason without them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.apis.mcp_import import (
    INSTALL_HINT,
    McpListing,
    McpServerError,
    import_listing,
    list_server_tools,
    normalize_schema,
    parse_command,
    server_label,
    tool_spec,
)
from localace.apis.spec import ApiSpec, check_schema
from localace.apis.tool_formats import ToolFormatError
from localace.cli import cli
from localace.errors import UserError

SERVERS = Path(__file__).parent / "fixtures" / "mcp"
HAVE_MCP = importlib.util.find_spec("mcp") is not None
needs_mcp = pytest.mark.skipif(not HAVE_MCP, reason="the mcp extra is not installed (pip install 'localace[mcp]')")
needs_time_server = pytest.mark.skipif(importlib.util.find_spec("mcp_server_time") is None,
                                       reason="mcp-server-time (the real PyPI server) is not installed")
SLOW_START = "120"  # seconds: a Python server importing the SDK takes several on a busy 2-core machine


def server(script: str, *args: str) -> str:
    return shlex.join([sys.executable, str(SERVERS / script), *args])


def tool(name: str = "echo", **fields: Any) -> dict[str, Any]:
    return {"name": name, "description": "Echo the text back.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string", "description": "Text."}},
                            "required": ["text"]}, **fields}


# ---------------------------------------------------------------- schemas


def test_optional_parameters_collapse_to_their_type() -> None:
    schema = {"type": "object", "title": "fArguments", "properties": {
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Note"},
        "count": {"type": ["integer", "null"], "description": "How many."},
        "tags": {"oneOf": [{"type": "array", "items": {"type": "string", "title": "Tag"}}, {"type": "null"}],
                 "description": "Tags."}}}
    assert normalize_schema(schema, "parameters") == {"type": "object", "properties": {
        "note": {"type": "string", "description": "Note"},
        "count": {"type": "integer", "description": "How many."},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."}}}


def test_refs_are_inlined_and_the_outer_description_wins() -> None:
    schema = {"type": "object", "properties": {
        "place": {"$ref": "#/$defs/Place", "description": "Where."},
        "when": {"allOf": [{"$ref": "#/definitions/Day"}], "description": "Which day."}},
        "$defs": {"Place": {"type": "object", "title": "Place", "description": "A place.",
                            "properties": {"city": {"type": "string", "title": "City"}}, "required": ["city"]}},
        "definitions": {"Day": {"type": "string", "format": "date"}}}
    assert normalize_schema(schema, "parameters") == {"type": "object", "properties": {
        "place": {"type": "object", "description": "Where.", "properties": {
            "city": {"type": "string", "description": "City"}}, "required": ["city"]},
        "when": {"type": "string", "format": "date", "description": "Which day."}}}


@pytest.mark.parametrize(("schema", "reason"), [
    ({"type": "object", "properties": {"key": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}},
     "parameters.properties.key: a union of types (integer|string) is not supported"),
    ({"type": "object", "properties": {"node": {"$ref": "#/$defs/Node"}},
      "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}},
     "parameters: recursive type 'Node' ($ref) is not supported"),
    ({"type": "object", "properties": {"x": {"$ref": "https://example.com/schema.json"}}},
     "parameters: unresolvable $ref 'https://example.com/schema.json'"),
])
def test_schemas_outside_our_subset_are_refused_with_a_reason(schema: dict[str, Any], reason: str) -> None:
    with pytest.raises(ToolFormatError) as error:
        normalize_schema(schema, "parameters")
    assert error.value.reasons == [reason]


LEAF = st.sampled_from([{"type": "string", "maxLength": 20}, {"type": "integer", "minimum": 0},
                        {"type": "number"}, {"type": "boolean"}, {"type": "string", "enum": ["a", "b"]}])
SUBSET = st.recursive(
    LEAF.map(lambda node: {**node, "description": "A value."}),
    lambda inner: st.one_of(
        st.builds(lambda items: {"type": "array", "items": items, "description": "A list."}, inner),
        st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, min_size=1, max_size=3).map(
            lambda props: {"type": "object", "properties": props, "required": sorted(props)[:1],
                           "description": "An object."})),
    max_leaves=6)


@settings(max_examples=60, deadline=None)
@given(SUBSET)
def test_schemas_already_in_our_subset_pass_unchanged(schema: dict[str, Any]) -> None:
    assert check_schema(schema, "returns") == []
    assert normalize_schema(schema, "returns") == schema


# ---------------------------------------------------------------- tools


def test_tool_keeps_title_annotations_and_output_schema() -> None:
    output = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    annotations = {"title": "Echo tool", "readOnlyHint": True, "openWorldHint": False}
    spec = tool_spec(tool(title="Echo", annotations=annotations, outputSchema=output), "echo-server")
    assert spec.source == "mcp:echo-server" and spec.domain == ["echo-server"]
    assert spec.meta == {"title": "Echo", "annotations": annotations}
    assert spec.returns == output
    assert spec.parameters["required"] == ["text"]
    plain = tool_spec(tool(), "echo-server")
    assert plain.meta is None and plain.returns == {"type": "object", "description": "Result of echo."}
    assert plain.id == spec.id.__class__(plain.id)  # meta and source are not part of the definition's id
    assert tool_spec(tool(title="Echo", annotations=annotations), "other").id == plain.id


def test_description_falls_back_to_the_title() -> None:
    assert tool_spec(tool(description=None, title="Echo the text"), "s").description == "Echo the text"
    assert tool_spec(tool(description="  ", annotations={"title": "Echo"}), "s").description == "Echo"


def test_listing_skips_what_we_cannot_use_and_counts_duplicates() -> None:
    listing = McpListing("Test   Server\n", "1.0", [
        tool(),
        tool(),  # listed twice
        tool("echo", description="Another echo."),  # same name, another definition
        tool("bad name!"),
        tool("no_schema", inputSchema={"type": "string"}),
        {"description": "no name at all", "inputSchema": {"type": "object"}},
    ])
    result = import_listing(listing)
    # Names as the server writes them; one name with two definitions keeps both (issue 22).
    assert [s.name for s in result.apis] == ["echo", "echo", "bad name!"] and result.duplicates == 1
    assert result.apis[0].source == "mcp:Test Server"
    reasons = {s.name: s.reason for s in result.skipped}
    assert "parameters: type must be 'object'" in reasons["no_schema"]
    assert reasons[""] == "name: missing"


def test_server_names_become_valid_sources() -> None:
    assert server_label("  My\tServer  ") == "My Server"
    assert server_label("") == "unnamed"
    assert len(server_label("x" * 200)) == 64
    ApiSpec(name="a", description="b", parameters={"type": "object"}, returns={"type": "object"},
            source=f"mcp:{server_label('Ünïcode sërver: v2 (beta)')}")


def test_command_line_is_split_like_a_shell_without_one() -> None:
    assert parse_command("uvx mcp-server-time --local-timezone 'Europe/Paris'") == [
        "uvx", "mcp-server-time", "--local-timezone", "Europe/Paris"]
    for bad in ("", "   ", "python 'unclosed"):
        with pytest.raises(McpServerError):
            parse_command(bad)


def test_missing_sdk_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # what `import mcp` sees when the extra is not installed
    with pytest.raises(UserError) as error:
        list_server_tools(["mcp-server-time"])
    assert str(error.value) == INSTALL_HINT
    res = CliRunner().invoke(cli, ["apis", "import", "--db", "unused.db", "--mcp", "mcp-server-time"])
    assert res.exit_code == 2 and res.stderr.strip() == f"Error: {INSTALL_HINT}"


def test_file_or_mcp_but_not_both(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in ([], ["x.json", "--mcp", "mcp-server-time"]):
        res = runner.invoke(cli, ["apis", "import", "--db", str(tmp_path / "a.db"), *args])
        assert res.exit_code == 2 and "give one of a FILE" in res.stderr


# ---------------------------------------------------------------- real servers over stdio


def _import(db: Path, command: str, *extra: str):
    return CliRunner().invoke(cli, ["apis", "import", "--db", str(db), "--mcp", command, "--timeout", SLOW_START,
                                    *extra])


def _show(db: Path, name: str) -> dict[str, Any]:
    res = CliRunner().invoke(cli, ["apis", "show", "--db", str(db), name])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@needs_mcp
def test_sdk_server_tools_are_imported_once(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    res = _import(db, server("tools_server.py"))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        "MCP server localace-test-tools: format mcp; 2 APIs imported, 2 skipped",
        "  skipped 1: parameters.…: a union of types (integer|string) is not supported",
        "  skipped 1: description: missing or blank",
        "  skipped lookup: parameters.properties.key: a union of types (integer|string) is not supported",
        "  skipped undocumented: description: missing or blank",
    ]
    assert "listening on stdio" not in res.output  # the server's stderr is not ours to print
    forecast = _show(db, "forecast")
    assert forecast["source"] == "mcp:localace-test-tools" and forecast["domain"] == ["localace-test-tools"]
    assert forecast["meta"] == {"title": "Weather forecast",
                                "annotations": {"readOnlyHint": True, "openWorldHint": True}}
    params = forecast["parameters"]
    assert params["required"] == ["place"]
    assert params["properties"]["place"]["properties"]["country"] == {"type": "string",
                                                                      "description": "ISO country code."}
    assert params["properties"]["days"] == {"type": "integer", "minimum": 1, "maximum": 14, "default": 3,
                                            "description": "Number of days."}
    assert forecast["returns"]["properties"]["days"]["items"]["properties"]["high_c"]["type"] == "number"
    assert _show(db, "add")["returns"] == {"type": "object", "properties": {
        "result": {"type": "integer", "description": "Result"}}, "required": ["result"]}

    again = _import(db, server("tools_server.py"))
    assert again.exit_code == 0 and "0 APIs imported" in again.stdout
    listed = CliRunner().invoke(cli, ["apis", "list", "--db", str(db), "--json"]).stdout.splitlines()
    assert sorted(json.loads(line)["name"] for line in listed) == ["add", "forecast"]


@needs_mcp
def test_every_page_of_a_paginated_listing_is_read(tmp_path: Path) -> None:
    res = _import(tmp_path / "p.db", server("paged_server.py"))
    assert res.exit_code == 0, res.output
    assert "5 APIs imported, 0 skipped" in res.stdout


@needs_mcp
@needs_time_server
def test_real_pypi_server_mcp_server_time(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    res = _import(db, shlex.join([sys.executable, "-m", "mcp_server_time"]))
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "MCP server mcp-time: format mcp; 2 APIs imported, 0 skipped"
    current = _show(db, "get_current_time")
    assert current["source"] == "mcp:mcp-time"
    assert current["parameters"]["required"] == ["timezone"]
    assert set(current["returns"]["properties"]) == {"timezone", "datetime", "day_of_week", "is_dst"}
    assert current["meta"]["annotations"]["readOnlyHint"] is True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


@needs_mcp
def test_a_server_that_hangs_times_out_and_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    res = CliRunner().invoke(cli, ["apis", "import", "--db", str(tmp_path / "h.db"), "--mcp",
                                   server("hang_server.py", str(pid_file)), "--timeout", "3"])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "did not answer within 3s" in res.stderr and "--timeout" in res.stderr
    assert not _alive(int(pid_file.read_text()))


@needs_mcp
def test_a_server_that_exits_at_once_is_one_line_with_its_reason(tmp_path: Path) -> None:
    res = _import(tmp_path / "e.db", server("exit_server.py"))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.count("\n") == 1
    assert "exited before listing its tools (server stderr: RuntimeError: API_KEY is not set)" in res.stderr


@needs_mcp
def test_a_command_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    res = _import(tmp_path / "n.db", "no-such-mcp-server --flag")
    assert res.exit_code == 2
    assert res.stderr == "Error: cannot start MCP server: command 'no-such-mcp-server' not found\n"
    assert not (tmp_path / "n.db").exists()  # nothing was created for a server that never started


@needs_mcp
def test_something_that_is_not_an_mcp_server(tmp_path: Path) -> None:
    res = _import(tmp_path / "x.db", shlex.join([sys.executable, "-c", "print('hello, I am not MCP')"]))
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "exited before listing its tools" in res.stderr
