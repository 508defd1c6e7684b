"""The main job end to end on the real embedded model, at a tiny size."""

import json
import sqlite3
import subprocess
import sys

import pytest

from localace.dialogs.model import Dialog
from localace.verify.rules import check_dialog

pytestmark = pytest.mark.model


def test_tiny_run_on_embedded_model_then_rerun_is_free_and_identical(tmp_path):
    db, out = tmp_path / "e2e.db", tmp_path / "e2e.jsonl"
    cmd = [sys.executable, "-m", "localace", "run", "--db", str(db), "--out", str(out), "--apis", "2",
           "--dialogs", "2", "--max-docs", "2", "--k", "2", "--mix", "single=1,non_tool=1"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "requested" in first.stdout and out.exists()
    with sqlite3.connect(db) as c:
        dialogs = [Dialog.model_validate_json(r[0]) for r in c.execute("SELECT data_json FROM dialogs")]
        kept = c.execute("SELECT COUNT(*) FROM dialogs WHERE status='kept'").fetchone()[0]
    assert len(dialogs) == 2
    for d in dialogs:  # schema-valid, grounded and in the user's voice by construction
        assert not [f for f in check_dialog(d) if f.check in
                    ("call_name_known", "required_params", "unknown_params", "param_values", "result_schema",
                     "tool_result_follows", "grounded_arguments", "user_voice", "assistant_voice")]
    assert len(out.read_text().splitlines()) == kept
    before = out.read_bytes()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0
    stats = json.loads(subprocess.run([sys.executable, "-m", "localace", "stats", "--db", str(db), "--json"],
                                      capture_output=True, text=True, timeout=60).stdout)
    assert stats["last_session"]["model_calls"] == 0  # finished work items are not even looked up
    assert out.read_bytes() == before
    assert any(r["command"] == "run" and r["report"] for r in stats["runs"])


def test_same_seed_and_config_give_byte_identical_exports_in_fresh_databases(tmp_path):
    from localace.backends import default_parallel

    assert default_parallel() == 1  # on a CPU the default is one at a time (batching measured slower there)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        cmd = [sys.executable, "-m", "localace", "run", "--db", str(tmp_path / f"{name}.db"), "--out", str(out),
               "--apis", "2", "--dialogs", "2", "--max-docs", "2", "--k", "2", "--mix", "single=1,irrelevance=1",
               "--seed", "3"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        assert res.returncode == 0, res.stderr[-2000:]
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
