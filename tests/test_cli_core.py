"""CLI behaviour on the fake backend: caching, stats, and one-line errors with exit code 2."""

import json

import pytest
from click.testing import CliRunner

from localace.cli import cli

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": False}


@pytest.fixture
def runner():
    return CliRunner()


def _stats(runner, db):
    res = runner.invoke(cli, ["stats", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_generate_twice_second_is_cache_hit(runner, tmp_path):
    db, schema = tmp_path / "x.db", tmp_path / "s.json"
    schema.write_text(json.dumps(SCHEMA))
    args = ["generate", "--db", str(db), "--model", "fake", "--schema", str(schema), "is it ok?"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert isinstance(json.loads(first.stdout)["ok"], bool)
    first_stats = _stats(runner, db)
    assert first_stats["last_session"]["model_calls"] == 1 and "distributions" in first_stats
    second = runner.invoke(cli, args)
    assert second.stdout == first.stdout
    last = _stats(runner, db)["last_session"]
    assert last["cache_hits"] == 1 and last["model_calls"] == 0


def test_env_vars_set_defaults(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALACE_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("LOCALACE_MODEL", "fake")
    assert runner.invoke(cli, ["generate", "hello"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_models_lists_default(runner):
    res = runner.invoke(cli, ["models", "--json"])
    rows = json.loads(res.stdout)
    assert any(r["default"] and r["available"] for r in rows)


def _one_line_error(res, needle):
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.stderr
    assert needle in lines[0], lines[0]


def test_bad_inputs_give_one_line_and_exit_2(runner, tmp_path):
    db = str(tmp_path / "x.db")
    _one_line_error(runner.invoke(cli, ["generate", "--db", db, "--model", str(tmp_path / "nope.gguf"), "hi"]),
                    "not found")
    renamed = tmp_path / "readme.gguf"
    renamed.write_text("hello, I am a text file")
    _one_line_error(runner.invoke(cli, ["generate", "--db", db, "--model", str(renamed), "hi"]), "not a GGUF")
    _one_line_error(runner.invoke(cli, ["generate", "--db", db, "--model", "gpt-17", "hi"]), "unknown model")
    notjson = tmp_path / "s.json"
    notjson.write_text("{type: object")
    _one_line_error(runner.invoke(cli, ["generate", "--db", db, "--model", "fake", "--schema", str(notjson), "hi"]),
                    "is not JSON")
    unsupported = tmp_path / "u.json"
    unsupported.write_text(json.dumps({"type": "object", "patternProperties": {"^x": {"type": "string"}}}))
    _one_line_error(runner.invoke(cli, ["generate", "--db", db, "--model", "fake", "--schema", str(unsupported), "hi"]),
                    "unsupported schema keyword 'patternProperties'")
    _one_line_error(runner.invoke(cli, ["generate", "--db", str(tmp_path / "no" / "x.db"), "--model", "fake", "hi"]),
                    "does not exist")
    _one_line_error(runner.invoke(cli, ["generate", "--db", db, "--model", "fake", "--schema",
                                        str(tmp_path / "missing.json"), "hi"]), "schema file not found")
    _one_line_error(runner.invoke(cli, ["stats", "--db", str(tmp_path / "none.db")]), "database not found")


def test_unwritable_db_path(runner, tmp_path):
    import os

    if os.geteuid() == 0:
        # root ignores permission bits; a path under a regular file is unwritable for everyone
        blocker = tmp_path / "file"
        blocker.write_text("x")
        path = blocker / "x.db"
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        path = ro / "x.db"
    _one_line_error(runner.invoke(cli, ["generate", "--db", str(path), "--model", "fake", "hi"]), "x.db")


def test_any_typed_error_is_one_line_not_a_traceback(capsys):
    from localace.cli.common import handle_errors
    from localace.dialogs.generate import DialogsStalled

    @handle_errors
    def stalls():
        raise DialogsStalled("30 dialog slots in a row failed (last: plan: no APIs)")

    with pytest.raises(SystemExit) as exit_info:
        stalls()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "30 dialog slots in a row failed" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["run", "--apis", "1", "--dialogs", "1", "--model"],
                                     ["run", "--model", "fake", "--judge-model"],
                                     ["apis", "synth", "--n", "1", "--model"],
                                     ["generate", "hi", "--model"]], ids=" ".join)
def test_a_missing_model_leaves_no_database(runner, tmp_path, command):
    args = [*command, str(tmp_path / "nosuch.gguf"), "--db", str(tmp_path / "x.db")]
    _one_line_error(runner.invoke(cli, args), "not found")
    assert list(tmp_path.iterdir()) == []  # no database, no lease file, nothing
