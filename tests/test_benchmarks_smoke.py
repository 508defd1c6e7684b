"""The benchmark scripts run end to end at tiny sizes and end with their JSON line (no timing asserts)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SCALE_OPS = {"open_store", "resume_apis", "continue_apis", "resume_dialogs", "continue_dialogs", "resume_verify",
             "stats", "export", "report_collect", "report_render"}


def _start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(BENCH / script), *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[dict, str]:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr
    lines = stdout.strip().splitlines()
    return json.loads(lines[-1]), stdout


@pytest.fixture(scope="module")
def runs():
    # Started together: they are independent, and the file must stay fast.
    procs = {"scale": _start("scale.py", "--quick", "--scales", "0.005,0.01", "--json"),
             "pipeline": _start("pipeline.py", "--model", "fake", "--apis", "2", "--dialogs", "3", "--max-docs", "2"),
             # The one-process side only: the Ray side starts a cluster, covered by tests/test_scale_ray.py.
             "scale_out": _start("scale_out.py", "--model", "fake", "--apis", "2", "--dialogs", "2", "--max-docs", "2",
                                 "--sides", "1t", "--merge-dialogs", "20", "--calls-per-dialog", "2", "--json")}
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_scale_prints_only_its_json_line_with_every_operation(runs):
    result, text = _finish(runs["scale"])
    assert len(text.strip().splitlines()) == 1  # --json: no table
    assert [s["dialogs"] for s in result["scales"]] == [50, 100]
    for s in result["scales"]:
        assert set(s["ops"]) == SCALE_OPS
        assert s["counts"]["dialogs"] == s["dialogs"] and s["counts"]["apis"] == s["apis"]
        assert s["ops"]["resume_verify"]["result"] == 0  # every synthetic dialog is already verified
        assert s["ops"]["export"]["result"] > 0  # kept dialogs were written
        assert s["ops"]["continue_apis"]["result"] == s["apis"]  # the lazily loaded state holds every API
    assert set(result["growth_exponents"]) == SCALE_OPS
    assert all(len(v) == 1 for v in result["growth_exponents"].values())
    assert {"resume_apis", "resume_dialogs", "stats"} <= set(result["goals"])
    assert result["full_size"] is False


def test_pipeline_on_the_fake_backend_reports_stages_and_replays_from_cache(runs):
    result, text = _finish(runs["pipeline"])
    assert "seconds per stage" in text  # the tables come before the JSON line
    for key in ("wall_s", "model_s", "other_s", "kv_reuse_ratio", "verified_per_hour", "kept_per_hour",
                "rerun_wall_s", "rerun_cache_hit_rate", "replay_wall_s", "replay_cache_hit_rate"):
        assert key in result
    assert result["config"] == {"apis": 2, "dialogs": 3, "max_docs": 2, "seed": 0}
    assert set(result["first"]["stages"]) == {"setup", "tree", "apis", "dialogs", "verify"}
    assert result["first"]["model_calls"] > 0 and result["first"]["cache_hits"] == 0
    assert result["rerun"]["model_calls"] == 0  # a finished run resumes to nothing
    # Replaying on a db that holds only the generation cache: every call hits, same dialogs and verdicts.
    assert result["replay_cache_hit_rate"] == 1.0
    assert result["replay_same_result"] is True


def test_scale_out_reports_each_side_and_the_merge_cost(runs):
    result, text = _finish(runs["scale_out"])
    assert len(text.strip().splitlines()) == 1
    (side,) = result["sides"]
    assert side["side"] == "1t" and side["dialogs"] == 2 and side["dialogs_per_hour"] > 0
    merge = result["merge"]
    assert merge["dialogs"] == 20 and merge["counts"]["dialogs"] == 20 and merge["rows"] > 20
    assert merge["new_s_per_1000_dialogs"] > 0 and merge["again_s"] >= 0


def test_loop_synthesizes_trains_and_evaluates_base_against_tuned(tmp_path):
    """loop.py end to end at toy size: fake-backend data, a tiny random GGUF, one BFCL-format category."""
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    pytest.importorskip("gguf", reason="the train extra (gguf) is not installed")
    import sqlite3

    from tiny_gguf import write_tiny_model

    model = write_tiny_model(tmp_path / "tiny.gguf", n_layer=1, n_embd=32, n_head=2, n_head_kv=1, n_ff=64)
    bfcl = tmp_path / "bfcl"
    (bfcl / "possible_answer").mkdir(parents=True)
    fixtures = ROOT / "tests" / "fixtures" / "eval"
    simple = [line for line in (fixtures / "mini.jsonl").read_text().splitlines() if '"id": "simple_' in line]
    answers = [line for line in (fixtures / "mini.answers.jsonl").read_text().splitlines() if '"id": "simple_' in line]
    (bfcl / "BFCL_v4_simple.json").write_text("\n".join(simple) + "\n")
    (bfcl / "possible_answer" / "BFCL_v4_simple.json").write_text("\n".join(answers) + "\n")
    proc = _start("loop.py", "--synth-model", "fake", "--no-judges", "--model", str(model), "--work", str(tmp_path / "w"),
                  "--dialogs", "3", "--apis", "2", "--max-docs", "2", "--epochs", "1", "--limit", "1",
                  "--train-max-tokens", "16384",  # the tiny model tokenizes byte by byte
                  "--bfcl-dir", str(bfcl), "--categories", "simple", "--modes", "prompt")
    result, text = _finish(proc, timeout=300)  # five localace processes, each importing llama.cpp or torch
    assert "base vs tuned" in text and "tokens/s" in text
    assert set(result["scores"]) == {"simple/prompt/base", "simple/prompt/tuned"}
    assert all(score["total"] == 1 for score in result["scores"].values())
    assert result["train"]["examples"] > 0 and result["train_tokens_per_s"] > 0
    # BFCL is the yardstick only: the training database never saw an eval entry or its functions.
    synth = sqlite3.connect(tmp_path / "w" / "synth.db")
    assert synth.execute("SELECT COUNT(*) FROM eval_results").fetchone()[0] == 0
    assert not synth.execute("SELECT COUNT(*) FROM dialogs WHERE data_json LIKE '%math.hypot%'").fetchone()[0]


def test_loop_picks_the_exact_bfcl_category_file_of_the_highest_version(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from loop import category_file
    finally:
        sys.path.remove(str(BENCH))
    for name in ("BFCL_v3_irrelevance.json", "BFCL_v4_irrelevance.json", "BFCL_v4_live_irrelevance.json",
                 "BFCL_v4_simple_python.json"):
        (tmp_path / name).write_text("")
    assert category_file(tmp_path, "irrelevance").name == "BFCL_v4_irrelevance.json"
    assert category_file(tmp_path, "live_irrelevance").name == "BFCL_v4_live_irrelevance.json"
    assert category_file(tmp_path, "simple") is None
