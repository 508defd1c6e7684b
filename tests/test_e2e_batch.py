"""The batched path on the real embedded model: constrained outputs valid, failures stay with their request,
and `localace eval --parallel 4` end to end (resume: nothing lost or repeated; --deterministic: byte-identical)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from localace.backends.base import Completion, Output, Sampling
from localace.backends.validation import schema_errors
from localace.errors import ConstraintViolation, GenerationError, SchemaError, TruncatedOutput
from localace.tasks import Request

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parent.parent
CALL = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["get_weather", "book_table"]},
        "arguments": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                                       "people": {"type": "integer", "minimum": 1, "maximum": 9}},
                      "required": ["city", "people"], "additionalProperties": False},
    },
    "required": ["name", "arguments"],
    "additionalProperties": False,
}
SYSTEM = {"role": "system", "content": "Answer with one tool call as JSON: get_weather or book_table."}


def call(question: str, seed: int, max_tokens: int = 80) -> Request:
    return Request([SYSTEM, {"role": "user", "content": question}], output=Output.json(CALL),
                   sampling=Sampling(temperature=0.8, seed=seed, max_tokens=max_tokens))


QUESTIONS = ["Weather in Oslo for 2 people?", "Book a table in Rome for 4.", "A table for 3 in Lima, please.",
             "Is it sunny in Kyiv? We are 5."]


@pytest.fixture(scope="module")
def batched():
    from localace.backends.llamacpp import LlamaCppBackend
    from localace.model_catalogue import resolve_model

    return LlamaCppBackend(resolve_model(None), n_ctx=1024, parallel=4)


def test_batched_constrained_outputs_are_valid_and_a_truncated_one_fails_alone(batched):
    fine = [call(q, seed) for q in QUESTIONS for seed in (1, 2)]
    cut = call("Book a table in Paris for 2 and tell me everything about Paris.", 3, max_tokens=4)
    results = batched.generate_many([*fine[:3], cut, *fine[3:]])
    truncated = results.pop(3)
    assert isinstance(truncated, TruncatedOutput) and truncated.usage["completion_tokens"] == 4
    assert all(isinstance(r, Completion) for r in results)
    for r in results:
        assert schema_errors(CALL, r.value) == [] and json.loads(r.text) == r.value and r.finish_reason == "stop"
    # The k samples of a question share their prompt: the second gets it from the first by seq_cp.
    assert any(r.cached_tokens > 0 for r in results)


def test_requests_that_cannot_start_fail_alone(batched):
    too_long = Request([{"role": "user", "content": "word " * 1200}], sampling=Sampling(max_tokens=8))
    unbuildable = Request([SYSTEM, {"role": "user", "content": "x"}],
                          output=Output.json({"type": "object", "properties": {"a": {"type": "string", "contentEncoding": "x"}}}))
    ok = call(QUESTIONS[0], 1)
    results = batched.generate_many([too_long, ok, unbuildable])
    assert isinstance(results[0], ConstraintViolation) and "does not fit" in str(results[0])
    assert isinstance(results[2], SchemaError)
    assert isinstance(results[1], Completion) and schema_errors(CALL, results[1].value) == []


def test_a_sequence_llama_cpp_refuses_fails_alone(batched, monkeypatch):
    """If llama_decode rejects a batch (e.g. no KV slot), each sequence is decoded on its own and only the
    one that still fails ends, with a GenerationError; the others finish as if nothing happened."""
    from localace.backends.llamacpp import _ENGINES

    requests = [call(q, 1) for q in QUESTIONS]
    batched.generate_many(requests[:1])  # the engine exists
    engine = _ENGINES[(id(batched.llama), 4)]
    real = engine._llama_decode
    poisoned: dict = {}
    start = engine.steps

    def refuse_one() -> int:
        seqs = {engine.batch.seq_id[i][0] for i in range(engine.batch.n_tokens)}
        if not poisoned and len(seqs) > 1 and engine.steps >= start + 3:  # mid-generation
            poisoned["slot"] = engine.slots[max(seqs)]
            poisoned["job"] = poisoned["slot"].job
        hit = poisoned and poisoned["slot"].seq in seqs and poisoned["slot"].job is poisoned["job"]
        return 1 if hit else real()

    monkeypatch.setattr(engine, "_llama_decode", refuse_one)
    results = batched.generate_many([*requests, call("Weather in Bern for 1?", 9)])
    failed = [i for i, r in enumerate(results) if isinstance(r, GenerationError)]
    assert len(failed) == 1 and "llama_decode returned 1" in str(results[failed[0]])
    assert results[failed[0]].usage["completion_tokens"] >= 1
    for r in (r for i, r in enumerate(results) if i not in failed):
        assert isinstance(r, Completion) and schema_errors(CALL, r.value) == []


def _eval(db: Path, *flags: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "localace", "eval", "--db", str(db), "--data", str(ROOT / "tests/fixtures/eval/mini.jsonl"),
           "--max-tokens", "32", "--ctx", "1024", "--mode", "constrained", "--json", *flags]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_eval_parallel_4_resumes_without_losing_or_repeating_anything(tmp_path):
    # A run stopped after its first 3 entries, then run again: those 3 come from the cache, the other
    # 3 reach the model once, decoded together. (Batched outputs may differ from an uninterrupted
    # run's in the last bits, hence in text: the byte-identical promise is --deterministic's, below.)
    partial = _eval(tmp_path / "e.db", "--parallel", "4", "--limit", "3")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["calls"]["model_calls"] == 3
    again = json.loads(_eval(tmp_path / "e.db", "--parallel", "4").stdout)
    assert again["calls"] == {"model_calls": 3, "cache_hits": 3}
    ids = [json.loads(line)["id"] for line in (ROOT / "tests/fixtures/eval/mini.jsonl").read_text().splitlines()]
    assert [e["id"] for e in again["entries"]] == ids and again["overall"]["total"] == 6
    with sqlite3.connect(tmp_path / "e.db") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT entry_id) FROM eval_results").fetchone() == (6, 6)
        assert db.execute("SELECT COUNT(*) FROM generations").fetchone() == (6,)


def test_cli_eval_deterministic_resumes_to_the_uninterrupted_result_byte_for_byte(tmp_path):
    whole = json.loads(_eval(tmp_path / "whole.db", "--deterministic", "--limit", "4").stdout)
    assert _eval(tmp_path / "resumed.db", "--deterministic", "--limit", "2").returncode == 0
    again = json.loads(_eval(tmp_path / "resumed.db", "--deterministic", "--limit", "4").stdout)
    assert again["calls"] == {"model_calls": 2, "cache_hits": 2}
    assert again["entries"] == whole["entries"]


def test_batch_benchmark_runs_and_ends_with_its_json_line():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/batch.py"), "--sizes", "1,2", "--rounds", "1",
                           "--max-tokens", "12", "--tool-list-tokens", "80", "--ctx", "512", "--pp-tokens", "64",
                           "--json"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result["sizes"]) == {"1", "2"} and result["sizes"]["2"]["tokens"] > 0
    assert result["sizes"]["2"]["mean_batch"] > 1 and result["single_generate"]["tokens"] > 0
    assert result["pp_tok_s"] > 0 and result["ratio_8_vs_1"] is None
