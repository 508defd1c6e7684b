"""`localace run` killed with SIGKILL at several points resumes to exactly the uninterrupted result."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _cmd(db: Path, out: Path, *extra: str) -> list[str]:
    # --deterministic: the one-at-a-time path, whose promise is byte-identical resumes; batched runs promise
    # exact counts with nothing lost or repeated (test below).
    return [sys.executable, "-m", "localace", "run", "--db", str(db), "--model", "fake", "--apis", "10",
            "--dialogs", "14", "--seed", "7", "--out", str(out), *(extra or ("--deterministic",))]


def _q(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as c:
            return c.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


KILL_POINTS = [
    "SELECT COUNT(*) FROM tree_nodes WHERE depth=0",  # during the context tree
    "SELECT COUNT(*) >= 4 FROM apis",  # during API synthesis
    "SELECT COUNT(*) >= 3 FROM dialogs",  # during dialog generation
    "SELECT COUNT(*) >= 2 FROM dialogs WHERE status != 'generated'",  # during verification
]


def _run_and_kill_at(cmd: list[str], db: Path, point: str) -> int:
    """Start `cmd`, SIGKILL it once `point` (SQL) holds in `db`; 1 if it was killed, 0 if it ended first."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not _q(db, point):
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return int(killed)


def _snapshot(db: Path) -> dict:
    with sqlite3.connect(db) as c:
        return {
            "apis": c.execute("SELECT id, name, seq, data_json, operators FROM apis ORDER BY seq").fetchall(),
            "dialogs": c.execute("SELECT id, kind, seq, status, rejected_at, data_json FROM dialogs ORDER BY seq").fetchall(),
            "verdicts": c.execute("SELECT id, check_name, passed, reason FROM verdicts ORDER BY id").fetchall(),
            "keys": {r[0] for r in c.execute("SELECT key FROM generations")},
            "model_calls": c.execute("SELECT COUNT(*) FROM call_log WHERE hit=0").fetchone()[0],
        }


def test_sigkill_at_several_points_then_resume_matches_uninterrupted(tmp_path):
    ref_db, ref_out = tmp_path / "ref.db", tmp_path / "ref.jsonl"
    subprocess.run(_cmd(ref_db, ref_out), env=ENV, check=True, capture_output=True, timeout=300)
    ref = _snapshot(ref_db)
    # The fake model's judges enforce coin-flip verdicts, so some kinds are given up short of their quota.
    assert len(ref["apis"]) == 10 and 8 <= len(ref["dialogs"]) <= 14

    db, out = tmp_path / "k.db", tmp_path / "k.jsonl"
    kills = 0
    for point in KILL_POINTS:
        kills += _run_and_kill_at(_cmd(db, out), db, point)
        assert not out.exists() or out.read_bytes() == ref_out.read_bytes()  # never a partial file
    assert kills >= 3
    done = subprocess.run(_cmd(db, out), env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = _snapshot(db)
    for key in ("apis", "dialogs", "verdicts", "keys"):
        assert got[key] == ref[key], key
    # Calls committed before a kill are never repeated; at most the one in flight at each kill is.
    assert ref["model_calls"] <= got["model_calls"] <= ref["model_calls"] + kills
    assert out.read_bytes() == ref_out.read_bytes()  # byte-identical export
    # A finished run run again makes no model call at all.
    again = subprocess.run(_cmd(db, out), env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and _snapshot(db)["model_calls"] == got["model_calls"]


def test_changed_config_is_refused_with_the_difference(tmp_path):
    db, out = tmp_path / "c.db", tmp_path / "c.jsonl"
    subprocess.run(_cmd(db, out), env=ENV, check=True, capture_output=True, timeout=300)
    changed = [a if a != "14" else "15" for a in _cmd(db, out)]
    res = subprocess.run(changed, env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "dialogs: 14 → 15" in res.stderr and "--force-new-run" in res.stderr
    forced = subprocess.run(changed + ["--force-new-run"], env=ENV, capture_output=True, text=True, timeout=300)
    assert forced.returncode == 0, forced.stderr


@pytest.mark.parametrize("content", [b"not a database at all\n" * 10, None])
def test_corrupt_or_foreign_db_is_refused_and_untouched(tmp_path, content):
    db = tmp_path / "x.db"
    if content is None:
        with sqlite3.connect(db) as c:
            c.execute("CREATE TABLE invoices (n INTEGER)")
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    res = subprocess.run(_cmd(db, tmp_path / "o.jsonl"), env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == before


def test_small_judge_model_is_off(tmp_path):
    from pathlib import Path as P

    from localace.backends.llamacpp import LlamaCppBackend
    from localace.model_catalogue import resolve_model
    from localace.verify.judges import judge_mode

    embedded = LlamaCppBackend(resolve_model(None))
    assert judge_mode("auto", embedded) == "off"  # the 98 MB embedded model judges near chance: no calls spent
    assert judge_mode("advisory", embedded) == "advisory"
    assert judge_mode("enforce", embedded) == "enforce"
    from localace.backends.fake import FakeBackend

    assert judge_mode("auto", FakeBackend()) == "enforce"
    assert isinstance(P(embedded.model.path), P)


def test_advisory_judges_record_verdicts_but_keep_dialogs(tmp_path):
    from click.testing import CliRunner

    from localace.cli import cli

    db = tmp_path / "a.db"
    res = CliRunner().invoke(cli, ["run", "--db", str(db), "--model", "fake", "--apis", "4", "--dialogs", "6",
                                   "--max-docs", "4", "--judges", "advisory"])
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as c:
        judge_fails = c.execute("SELECT COUNT(*) FROM verdicts WHERE stage='judges' AND passed=0").fetchone()[0]
    assert judge_fails > 0 and "advisory" in res.stdout
    with sqlite3.connect(db) as c:
        rejected_by_judge = c.execute("SELECT COUNT(*) FROM dialogs WHERE rejected_at LIKE 'judge_%'").fetchone()[0]
    assert rejected_by_judge == 0


def test_bad_docs_folder_fails_before_recording_a_run(tmp_path):
    from click.testing import CliRunner

    from localace.cli import cli

    db = str(tmp_path / "d.db")
    bad = CliRunner().invoke(cli, ["run", "--db", db, "--model", "fake", "--docs", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "not found" in bad.stderr
    good = CliRunner().invoke(cli, ["run", "--db", db, "--model", "fake", "--apis", "2", "--dialogs", "2",
                                    "--max-docs", "2"])
    assert good.exit_code == 0, good.output  # the failed attempt left no run behind to conflict with


def test_batched_run_killed_at_several_points_resumes_with_exact_counts(tmp_path):
    db, out = tmp_path / "k.db", tmp_path / "k.jsonl"
    kills = 0
    batched = ("--parallel", "4", "--judges", "off")  # judges off: every kind reaches its quota, so counts are exact
    for point in KILL_POINTS[1:3]:
        kills += _run_and_kill_at(_cmd(db, out, *batched), db, point)
    assert kills >= 1
    done = subprocess.run(_cmd(db, out, *batched), env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _q(db, "SELECT COUNT(*) FROM apis WHERE run_id IS NOT NULL") == 10
    assert _q(db, "SELECT COUNT(*) FROM dialogs") == 14
    assert _q(db, "SELECT COUNT(*) FROM dialogs WHERE status = 'generated'") == 0
    for stage, table in (("apis", "apis"), ("dialogs", "dialogs")):  # one work item per row, none twice
        assert _q(db, f"SELECT COUNT(DISTINCT result_id) FROM work_items WHERE stage='{stage}' AND status='done'") == \
            _q(db, f"SELECT COUNT(*) FROM {table}" + (" WHERE run_id IS NOT NULL" if table == "apis" else ""))
    kept = _q(db, "SELECT COUNT(*) FROM dialogs WHERE status = 'kept'")
    assert sum(1 for _ in out.open()) == kept
