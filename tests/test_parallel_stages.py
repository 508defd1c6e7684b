"""verify and eval through the scheduler: --parallel N gives the one-at-a-time results, batched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from localace.backends.fake import FakeBackend
from localace.cli import cli
from localace.dialogs.generate import insert_dialog
from localace.dialogs.model import Dialog
from localace.store import open_store
from localace.store.cache import CachedBackend
from localace.verify.judges import Judges
from localace.verify.stage import verify_run

FIXTURES = Path(__file__).parent / "fixtures"
RUN = "verify-run"


def _dialogs() -> list[Dialog]:
    """The good fixtures, twice (the second time with a politer first turn, so with other ids)."""
    good = [Dialog.model_validate_json(p.read_text(encoding="utf-8")) for p in sorted((FIXTURES / "dialogs").glob("good_*.json"))]
    polite = [d.model_copy(update={"turns": [d.turns[0].model_copy(update={"content": d.turns[0].content + " Thanks."}),
                                             *d.turns[1:]]}) for d in good]
    return good + polite


def _store(path: Path):
    store = open_store(path)
    with store.transaction():
        for seq, dialog in enumerate(_dialogs()):
            insert_dialog(store, dialog, RUN, seq)
    return store


def _verdicts(store) -> list[tuple]:
    return store.conn.execute(
        "SELECT d.id, d.status, d.rejected_at, v.stage, v.check_name, v.passed, v.reason FROM dialogs d "
        "JOIN verdicts v ON v.dialog_id = d.id ORDER BY d.seq, v.stage, v.check_name").fetchall()


@pytest.mark.parametrize("enforce", [True, False])
def test_verify_in_parallel_writes_what_one_at_a_time_writes(tmp_path, enforce):
    results, fakes = [], []
    for parallel in (1, 4):
        store = _store(tmp_path / f"{parallel}.db")
        fake = FakeBackend(consistency=0.5)
        judges = Judges(CachedBackend(fake, store), samples=3, seed=7, enforce=enforce)
        events = list(verify_run(store, RUN, judges, parallel=parallel))
        assert [e.dialog_id for e in events] == [d.id for d in _dialogs()]  # committed in the run's order
        results.append(_verdicts(store))
        fakes.append(fake)
        store.close()
    assert results[0] == results[1]
    assert any(r[5] == 0 for r in results[0])  # some judge said fail: the comparison covers rejections too
    assert len(fakes[0].calls) == len(fakes[1].calls)
    assert max(fakes[1].batch_sizes) > 3  # several dialogs' judges decoded together


def test_verify_stopped_mid_way_resumes_to_the_uninterrupted_result(tmp_path):
    whole = _store(tmp_path / "whole.db")
    list(verify_run(whole, RUN, Judges(CachedBackend(FakeBackend(), whole), samples=3), parallel=4))
    store = _store(tmp_path / "killed.db")
    events = verify_run(store, RUN, Judges(CachedBackend(FakeBackend(), store), samples=3), parallel=4)
    for _ in range(3):
        next(events)
    events.close()
    assert store.count("dialogs", "status!='generated'") == 3
    fake = FakeBackend()
    rest = list(verify_run(store, RUN, Judges(CachedBackend(fake, store), samples=3), parallel=4))
    assert len(rest) == len(_dialogs()) - 3
    assert _verdicts(store) == _verdicts(whole)


def test_verify_without_judges_needs_no_backend(tmp_path):
    store = _store(tmp_path / "r.db")
    assert all(e.kept for e in verify_run(store, RUN, None, parallel=8))


def test_eval_in_parallel_scores_like_one_at_a_time(tmp_path):
    from localace.evaluate.runner import load_eval_set, run_eval

    items = load_eval_set(FIXTURES / "eval" / "mini.jsonl")
    reports, fakes = [], []
    for parallel in (1, 4):
        store = open_store(tmp_path / f"e{parallel}.db")
        for mode in ("prompt", "constrained"):
            fake = FakeBackend()
            reports.append(run_eval(CachedBackend(fake, store), store, items, mode=mode, parallel=parallel).as_json())
            fakes.append(fake)
        store.close()
    assert reports[:2] == reports[2:]
    assert max(fakes[2].batch_sizes) == 4 and max(fakes[0].batch_sizes, default=0) == 0


def test_deterministic_and_parallel_together_is_a_user_error(tmp_path):
    res = CliRunner().invoke(cli, ["eval", "--db", str(tmp_path / "e.db"), "--model", "fake", "--data",
                                   str(FIXTURES / "eval" / "mini.jsonl"), "--parallel", "4", "--deterministic"])
    assert res.exit_code == 2 and "--deterministic" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("command", [["run"], ["generate"], ["apis", "synth"], ["dialogs", "generate"], ["verify"], ["eval"]])
def test_every_command_that_loads_a_model_takes_n_gpu_layers(command):
    res = CliRunner().invoke(cli, [*command, "--help"])
    assert res.exit_code == 0 and "--n-gpu-layers" in res.output and "LOCALACE_N_GPU_LAYERS" in res.output


def test_eval_cli_parallel_and_deterministic_agree(tmp_path):
    data = str(FIXTURES / "eval" / "mini.jsonl")
    outputs = []
    for flags in (["--parallel", "4"], ["--deterministic"]):
        res = CliRunner().invoke(cli, ["eval", "--db", str(tmp_path / f"{flags[0]}.db"), "--model", "fake",
                                       "--data", data, "--json", *flags])
        assert res.exit_code == 0, res.output
        outputs.append(res.stdout)
    assert outputs[0] == outputs[1]


def test_a_batched_rerun_in_a_fresh_database_forms_the_same_batches(tmp_path, monkeypatch):
    """What makes `localace run` (batched by default) write a byte-identical file when rerun on a fresh database:
    which requests share a batch, and in what order they come, depends on the work alone, never on timing. The
    texts of a batched request depend on its batch (llama.cpp's kernels by shape), so equal batches give equal
    texts on the same machine; tests/test_e2e_pipeline.py checks the bytes on the real model."""
    import hashlib
    import json

    batches: list[list[str]] = []
    generate_many = FakeBackend.generate_many

    def recording(self, requests):
        batches.append([hashlib.sha256(json.dumps(r.messages).encode()).hexdigest()[:12] for r in requests])
        return generate_many(self, requests)

    monkeypatch.setattr(FakeBackend, "generate_many", recording)
    runs = []
    for name in ("a", "b"):
        batches.clear()
        out = tmp_path / f"{name}.jsonl"
        res = CliRunner().invoke(cli, ["run", "--db", str(tmp_path / f"{name}.db"), "--model", "fake", "--out", str(out),
                                       "--apis", "2", "--dialogs", "3", "--max-docs", "2", "--seed", "5",
                                       "--parallel", "8"])
        assert res.exit_code == 0, res.output
        runs.append((list(batches), out.read_bytes()))
    assert runs[0] == runs[1]
    assert max(len(batch) for batch in runs[0][0]) > 1  # the batched path, with several requests in one batch
