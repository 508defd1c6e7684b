"""Export a run to every format and import it back through the CLI: the same dialogs return."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from localace.cli import cli
from localace.formats.registry import IMPORT_FORMATS

ROUND_TRIP = [f for f in IMPORT_FORMATS if f != "xlam"]  # xlam keeps only the first request and its calls


@pytest.fixture(scope="module")
def run_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("run") / "r.db"
    res = CliRunner().invoke(cli, ["run", "--db", str(db), "--model", "fake", "--apis", "6", "--dialogs", "10",
                                   "--no-judges", "--max-docs", "6"])
    assert res.exit_code == 0, res.output
    return db


def _ids(db, status=None):
    with sqlite3.connect(db) as c:
        sql = "SELECT id FROM dialogs" + (" WHERE status=?" if status else "")
        return sorted(r[0] for r in c.execute(sql, (status,) if status else ()))


@pytest.mark.parametrize("fmt", ROUND_TRIP)
def test_export_then_import_gives_the_same_dialogs(run_db, tmp_path, fmt):
    runner = CliRunner()
    out = tmp_path / f"x.{fmt}.jsonl"
    res = runner.invoke(cli, ["export", "--db", str(run_db), "--format", fmt, "--out", str(out), "--all"])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)
    fresh = tmp_path / "fresh.db"
    res = runner.invoke(cli, ["import", "--db", str(fresh), "--format", fmt, str(out)])
    assert res.exit_code == 0 and "0 malformed" in res.stdout, res.output
    assert _ids(fresh) == _ids(run_db)
    again = runner.invoke(cli, ["import", "--db", str(fresh), "--format", fmt, str(out)])
    assert "0 dialogs imported" in again.stdout  # importing twice duplicates nothing


def test_imported_dataset_can_be_verified(run_db, tmp_path):
    runner = CliRunner()
    out = tmp_path / "t.jsonl"
    runner.invoke(cli, ["export", "--db", str(run_db), "--format", "toolace", "--out", str(out), "--all"])
    fresh = tmp_path / "v.db"
    runner.invoke(cli, ["import", "--db", str(fresh), "--format", "toolace", str(out)])
    res = runner.invoke(cli, ["verify", "--db", str(fresh), "--no-judges"])
    assert res.exit_code == 0, res.output
    assert "rules:" in res.stdout
    assert len(_ids(fresh, "kept")) + len(_ids(fresh, "rejected")) == len(_ids(run_db))


def test_toolace_file_with_spaced_and_dotted_names_imports(tmp_path):
    tools = [{"name": "Get Team Roster", "description": "Roster of a team.",
              "parameters": {"type": "dict", "properties": {"team": {"type": "string", "description": "Team name."}},
                             "required": ["team"]}},
             {"name": "stats.player.v2", "description": "Player statistics.",
              "parameters": {"type": "dict", "properties": {"player": {"type": "string", "description": "Name."}},
                             "required": ["player"]}}]
    row = {"system": "You can call these functions:\n" + json.dumps(tools),
           "conversations": [
               {"from": "user", "value": "Who plays for the Lakers, and how is LeBron doing?"},
               {"from": "assistant", "value": '[Get Team Roster(team="Lakers"), stats.player.v2(player="LeBron James")]'},
               {"from": "tool", "value": json.dumps([{"name": "Get Team Roster", "results": {"players": ["A", "B"]}},
                                                     {"name": "stats.player.v2", "results": {"points": 27.1}}])},
               {"from": "assistant", "value": "The Lakers roster has A and B; LeBron averages 27.1 points."}]}
    path = tmp_path / "toolace.jsonl"
    path.write_text(json.dumps(row) + "\n" + "{broken json\n")
    db = tmp_path / "i.db"
    res = CliRunner().invoke(cli, ["import", "--db", str(db), "--format", "toolace", str(path)])
    assert res.exit_code == 0, res.output
    assert "1 dialogs imported" in res.stdout and "1 malformed" in res.stdout and "line 2" in res.stdout
    shown = CliRunner().invoke(cli, ["dialogs", "show", "--db", str(db), _ids(db)[0], "--json"])
    calls = [c for t in json.loads(shown.stdout)["turns"] for c in (t.get("tool_calls") or [])]
    assert [c["name"] for c in calls] == ["Get Team Roster", "stats.player.v2"]


def test_import_errors(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    for args, needle in [(["import", "--db", str(tmp_path / "a.db"), "--format", "openai", str(bad)], "no row"),
                         (["import", "--db", str(tmp_path / "a.db"), "--format", "openai", str(tmp_path / "none")],
                          "not found")]:
        res = runner.invoke(cli, args)
        assert res.exit_code == 2 and needle in res.stderr, res.output
