"""`localace apis ...` on the fake backend, plus a SIGKILL + resume test in a subprocess."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from click.testing import CliRunner

from localace.cli import cli
from tests.conftest import FIXTURES

APIS = FIXTURES / "apis"


def test_import_list_show_and_collision(tmp_path):
    db = str(tmp_path / "x.db")
    runner = CliRunner()
    res = runner.invoke(cli, ["apis", "import", "--db", db, str(APIS / "openai_tools.json")])
    assert res.exit_code == 0, res.output
    assert "APIs imported" in res.stdout
    again = runner.invoke(cli, ["apis", "import", "--db", db, str(APIS / "openai_tools.json")])
    assert "0 APIs imported" in again.stdout  # importing twice adds nothing
    listed = [json.loads(line) for line in runner.invoke(cli, ["apis", "list", "--db", db, "--json"]).stdout.splitlines()]
    assert listed and all(r["source"] == "import:openai" for r in listed)
    shown = json.loads(runner.invoke(cli, ["apis", "show", "--db", db, listed[0]["name"]]).stdout)
    assert shown["parameters"] == listed[0]["parameters"]
    # same name, different definition → both kept: real datasets reuse names, and a dialog keeps the definition
    # it was written with
    first = json.loads((APIS / "openai_tools.json").read_text())
    tools = first["tools"] if isinstance(first, dict) else first
    clash = [{**tools[0], "function": {**tools[0]["function"], "description": "Something else entirely."}}]
    clash_file = tmp_path / "clash.json"
    clash_file.write_text(json.dumps(clash))
    res = runner.invoke(cli, ["apis", "import", "--db", db, str(clash_file)])
    assert res.exit_code == 0 and "1 APIs imported" in res.stdout
    same = [r for r in (json.loads(line) for line in runner.invoke(cli, ["apis", "list", "--db", db, "--json"])
                        .stdout.splitlines()) if r["name"] == tools[0]["function"]["name"]]
    assert len(same) == 2 and same[0]["description"] != same[1]["description"]


def test_import_errors_are_one_line(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "x.db")
    for args, needle in [
        (["apis", "import", "--db", db, str(APIS / "not_json.txt")], "JSON"),
        (["apis", "import", "--db", db, str(tmp_path / "missing.json")], "not found"),
        (["apis", "show", "--db", db, "nope"], "database not found"),
    ]:
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, res.output
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and needle in lines[0], res.stderr


def test_unknown_type_is_reported_as_skipped(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"type": "function", "function": {"name": "f", "description": "Does f.",
                               "parameters": {"type": "object", "properties": {"x": {"type": "datetime",
                                                                                    "description": "When."}}}}}]))
    res = CliRunner().invoke(cli, ["apis", "import", "--db", str(tmp_path / "x.db"), str(bad)])
    assert "skipped" in res.stdout and "datetime" in res.stdout
    assert res.exit_code == 2 and "none of its 1 API definitions" in res.stderr  # nothing usable: not a success
    assert not (tmp_path / "x.db").exists()  # and no empty database left behind


def _count(db):
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*) FROM apis").fetchone()[0]
    except sqlite3.Error:
        return 0


def _synth(db, n, *extra):
    return [sys.executable, "-m", "localace", "apis", "synth", "--db", str(db), "--model", "fake", "--n", str(n),
            "--depth", "1", *extra]


def _kill_at(db, n, env, *extra):
    proc = subprocess.Popen(_synth(db, n, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while _count(db) < 15 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return _count(db)


def test_kill_during_batched_synth_then_rerun_gives_exactly_n(tmp_path):
    """Batched (--parallel 4): a killed and resumed run loses and repeats nothing, and has exactly n APIs."""
    n = 60
    db = tmp_path / "k.db"
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent.parent)}
    assert 0 < _kill_at(db, n, env, "--parallel", "4") < n
    done = subprocess.run(_synth(db, n, "--parallel", "4"), capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT id, name, seq FROM apis").fetchall()
        done_items = c.execute("SELECT COUNT(*), COUNT(DISTINCT result_id) FROM work_items "
                               "WHERE stage='apis' AND status='done'").fetchone()
    assert len(rows) == n and len({r[1] for r in rows}) == n and len({r[2] for r in rows}) == n
    assert done_items == (n, n)


def test_kill_during_synth_then_rerun_gives_exactly_n(tmp_path):
    """--deterministic: a killed and resumed run writes exactly what an uninterrupted one writes."""
    n = 60
    db = tmp_path / "k.db"
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent.parent)}
    killed_at = _kill_at(db, n, env, "--deterministic")
    assert 0 < killed_at < n
    done = subprocess.run(_synth(db, n, "--deterministic"), capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    ref = tmp_path / "ref.db"
    subprocess.run(_synth(ref, n, "--deterministic"), capture_output=True, env=env, timeout=300, check=True)
    with sqlite3.connect(db) as c, sqlite3.connect(ref) as r:
        got = c.execute("SELECT id, name, seq FROM apis ORDER BY seq").fetchall()
        want = r.execute("SELECT id, name, seq FROM apis ORDER BY seq").fetchall()
    assert len(got) == n and len({g[1] for g in got}) == n
    assert got == want
