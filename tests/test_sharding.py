"""Sharded stages without a scheduler (shards run in this process): the split, exact counts, duplicates
topped up, crashes mid-merge, failing shards, a changed shard count, and how sharded relates to unsharded."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from localace.apis.stage import ApiStageConfig, prepare_api_stage
from localace.apis.synth import ApiSynthesizer
from localace.backends.fake import FakeBackend
from localace.cli import cli
from localace.dialogs.generate import DialogConfig
from localace.dialogs.stage import prepare_dialog_stage
from localace.errors import LocalaceError
from localace.pipeline import RunConfig, config_record, ensure_pipeline_run
from localace.runs import mark_item, open_slots
from localace.scale import driver as driver_module
from localace.scale import shard as shard_module
from localace.scale.driver import InProcessExecutor, ShardRunner, ShardsFailed, StageDone
from localace.scale.pipeline import KnownModel, api_stages, dialog_stages, run_stages
from localace.scale.ray_exec import ClusterError, check_same_models
from localace.scale.shard import ApiWork, Models, NodeReport, probe_node
from localace.scale.stages import split
from localace.store import open_store

FAKE = KnownModel(FakeBackend().fingerprint())


def _drain(events):
    while True:
        try:
            next(events)
        except StopIteration as stop:
            return stop.value


def _runner(main, shards: int) -> ShardRunner:
    return ShardRunner(main, InProcessExecutor(), shards=shards, models=Models("fake"), poll_s=0)


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def _sharded_apis(db: Path, n: int, shards: int, seed: int = 3) -> str:
    main = open_store(db)
    try:
        cfg = ApiStageConfig(n=n, seed=seed, depth=1, breadth=2, generations=1, max_docs=4)
        stage = prepare_api_stage(main, FAKE, cfg)
        _drain(api_stages(main, _runner(main, shards), cfg, stage))
        return stage.run.id
    finally:
        main.close()


@given(st.integers(0, 10_000), st.integers(1, 64))
def test_split_deals_the_first_n_slots_by_slot_mod_shards(total, shards):
    parts = split(total, shards)
    assert sum(parts) == total and max(parts) - min(parts) <= 1
    assert parts == [len(range(k, total, shards)) for k in range(shards)]


def test_open_slots_of_a_shard_are_its_residue_class_without_the_decided_ones(store):
    with store.transaction():
        mark_item(store, "r", "apis", 4, "done", 1)
        mark_item(store, "r", "apis", 7, "failed", 3)
    slots = open_slots(store, "r", "apis", (1, 3))
    assert [next(slots) for _ in range(4)] == [1, 10, 13, 16]


def test_a_sharded_run_holds_exactly_the_requested_counts(tmp_path):
    main = open_store(tmp_path / "m.db")
    try:
        cfg = RunConfig(apis=7, dialogs=9, seed=4, max_docs=4)
        run_id, _ = ensure_pipeline_run(main, config_record(cfg, {"generator": FAKE.fingerprint(), "judge": None}),
                                        force_new=False)
        done: list[StageDone] = []
        events = run_stages(main, _runner(main, 3), cfg, run_id, FAKE)
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                report = stop.value
                break
            if isinstance(event, StageDone):
                done.append(event)
    finally:
        main.close()
    db = tmp_path / "m.db"
    assert _rows(db, f"SELECT COUNT(*) FROM apis WHERE run_id='{report['api_run']}'") == [(7,)]
    assert _rows(db, f"SELECT COUNT(*) FROM dialogs WHERE run_id='{report['dialog_run']}'") == [(9,)]
    assert _rows(db, "SELECT COUNT(*) FROM dialogs WHERE status='generated'") == [(0,)]
    assert report["kept_dialogs"] == _rows(db, "SELECT COUNT(*) FROM dialogs WHERE status='kept'")[0][0]
    # Each shard file holds only its own slots; every shard session's calls reached the main call log.
    for k in range(3):
        shard = tmp_path / "m.db.shards" / f"apis-{report['api_run']}-{k + 1}of3.db"
        assert {s % 3 for (s,) in _rows(shard, f"SELECT seq FROM apis WHERE run_id='{report['api_run']}'")} == {k}
    # One session per shard run: 3 shards x (tree, apis, dialogs, verify), plus any top-up round (two shards
    # whose slots drew the same functionality settle the same API name; the merge keeps one, a top-up replaces it).
    runs = sum(len(d.results) for d in done)
    assert runs >= 3 * 4 and _rows(db, "SELECT COUNT(*) FROM sessions")[0][0] == runs
    assert _rows(db, "SELECT COUNT(*) FROM call_log WHERE hit=0")[0][0] == _rows(db, "SELECT COUNT(*) FROM generations")[0][0]


def test_sharded_dialogs_equal_unsharded_ones_when_no_slot_fails_and_complexity_is_off(tmp_path):
    apis = tmp_path / "apis.db"
    res = CliRunner().invoke(cli, ["apis", "synth", "--db", str(apis), "--model", "fake", "--n", "6", "--max-docs", "3",
                                   "--depth", "1", "--generations", "0"])
    assert res.exit_code == 0, res.output
    plain, sharded = tmp_path / "plain.db", tmp_path / "sharded.db"
    for copy in (plain, sharded):
        with sqlite3.connect(apis) as s, sqlite3.connect(copy) as d:
            s.backup(d)
    res = CliRunner().invoke(cli, ["dialogs", "generate", "--db", str(plain), "--model", "fake", "--n", "10",
                                   "--seed", "3", "--no-complexity"])
    assert res.exit_code == 0, res.output
    cfg = DialogConfig(n=10, seed=3, complexity=False)
    main = open_store(sharded)
    try:
        _drain(dialog_stages(_runner(main, 3), cfg, prepare_dialog_stage(main, FAKE, cfg)))
    finally:
        main.close()
    items = "SELECT run_id, idx, status, result_id FROM work_items WHERE stage='dialogs' ORDER BY idx"
    assert all(status == "done" for _, _, status, _ in _rows(plain, items))  # the premise: no slot failed (seed 3)
    assert _rows(sharded, items) == _rows(plain, items)
    sql = "SELECT run_id, seq, id, data_json FROM dialogs ORDER BY seq"
    assert _rows(sharded, sql) == _rows(plain, sql)


def test_an_api_name_made_by_two_shards_is_merged_once_and_topped_up(tmp_path, monkeypatch):
    original = ApiSynthesizer._candidate

    def same_name_in_pairs(self, rng, slot, attempt):  # slots 2j and 2j+1 (shards 0 and 1) invent the same name
        spec, steps = yield from original(self, rng, slot, attempt)  # a task: it yields its model calls
        return spec.replace(name=f"shared_name_{slot // 2}"), steps

    monkeypatch.setattr(ApiSynthesizer, "_candidate", same_name_in_pairs)
    run_id = _sharded_apis(tmp_path / "m.db", 4, 2)
    db = tmp_path / "m.db"
    names = [n for (n,) in _rows(db, f"SELECT name FROM apis WHERE run_id='{run_id}' ORDER BY seq")]
    assert len(names) == 4 and len(set(names)) == 4
    duplicates = _rows(db, f"SELECT idx FROM work_items WHERE run_id='{run_id}' AND status='duplicate' ORDER BY idx")
    assert duplicates == [(1,), (3,), (5,)]  # shard 1 lost each race; three top-up rounds replaced them
    assert _rows(db, "SELECT COUNT(*) FROM rejections WHERE check_name='duplicate'") == [(3,)]


def test_a_driver_killed_in_the_middle_of_a_merge_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    reference = _sharded_apis(tmp_path / "ref.db", 9, 3)
    merges = []
    real_merge = driver_module.merge_database

    def merge_then_die(main, source, **kw):
        if len(merges) == 1:
            raise KeyboardInterrupt  # the driver dies after merging shard 1 of 3
        merges.append(source)
        return real_merge(main, source, **kw)

    monkeypatch.setattr(driver_module, "merge_database", merge_then_die)
    with pytest.raises(KeyboardInterrupt):
        _sharded_apis(tmp_path / "k.db", 9, 3)
    monkeypatch.setattr(driver_module, "merge_database", real_merge)
    assert _rows(tmp_path / "k.db", "SELECT COUNT(*) FROM apis WHERE run_id IS NOT NULL")[0][0] < 9
    resumed = _sharded_apis(tmp_path / "k.db", 9, 3)
    sql = "SELECT run_id, seq, id FROM apis ORDER BY seq"
    assert resumed == reference and _rows(tmp_path / "k.db", sql) == _rows(tmp_path / "ref.db", sql)
    # Nothing was generated twice: the resumed shards found their rows in their files.
    assert _rows(tmp_path / "k.db", "SELECT COUNT(*) FROM call_log WHERE hit=0") == \
        _rows(tmp_path / "ref.db", "SELECT COUNT(*) FROM call_log WHERE hit=0")


def test_a_failing_shard_is_reported_and_the_others_are_merged(tmp_path, monkeypatch):
    real = shard_module._RUNNERS[ApiWork]

    def fail_shard_2(work, store, models):
        if work.config.shard[0] == 1:
            raise LocalaceError("the model ran out of ideas")
        return real(work, store, models)

    monkeypatch.setitem(shard_module._RUNNERS, ApiWork, fail_shard_2)
    main = open_store(tmp_path / "m.db")
    cfg = ApiStageConfig(n=6, seed=3, depth=1, breadth=2, generations=0, max_docs=3)
    stage = prepare_api_stage(main, FAKE, cfg)
    events = []
    with pytest.raises(ShardsFailed, match="1 of 2 apis shards failed"):
        for event in api_stages(main, _runner(main, 2), cfg, stage):
            events.append(event)
    failures = [e for e in events if isinstance(e, driver_module.ShardFailure)]
    assert [(f.shard, f.error) for f in failures] == [(1, "LocalaceError: the model ran out of ideas")]
    assert {s % 2 for (s,) in main.conn.execute("SELECT seq FROM apis WHERE run_id=?", (stage.run.id,))} == {0}
    assert main.count("apis", "run_id=?", (stage.run.id,)) == 3  # shard 1/2's share, merged
    monkeypatch.setitem(shard_module._RUNNERS, ApiWork, real)
    _drain(api_stages(main, _runner(main, 2), cfg, stage))
    assert main.count("apis", "run_id=?", (stage.run.id,)) == 6
    main.close()


def test_an_unsharded_start_and_a_changed_shard_count_still_end_exact(tmp_path):
    db = tmp_path / "m.db"
    res = CliRunner().invoke(cli, ["apis", "synth", "--db", str(db), "--model", "fake", "--n", "3", "--seed", "3",
                                   "--max-docs", "4", "--depth", "1", "--breadth", "2", "--generations", "1"])
    assert res.exit_code == 0, res.output
    first = _rows(db, "SELECT id, seq FROM apis ORDER BY seq")
    run_id = _sharded_apis(db, 5, 2)
    assert _rows(db, "SELECT id, seq FROM apis ORDER BY seq")[:3] == first  # the unsharded slots were kept
    assert _sharded_apis(db, 11, 3) == run_id  # same run, extended, with another shard count
    assert _rows(db, f"SELECT COUNT(*) FROM apis WHERE run_id='{run_id}'") == [(11,)]
    assert len({n for (n,) in _rows(db, "SELECT norm_key FROM apis")}) == 11


def test_a_finished_stage_is_not_run_again(tmp_path):
    db = tmp_path / "m.db"
    _sharded_apis(db, 4, 2)
    main = open_store(db)
    try:
        cfg = ApiStageConfig(n=4, seed=3, depth=1, breadth=2, generations=1, max_docs=4)
        stage = prepare_api_stage(main, FAKE, cfg)
        events = list(api_stages(main, _runner(main, 2), cfg, stage))
    finally:
        main.close()
    assert all(isinstance(e, StageDone) and not e.results for e in events)  # no shard launched, nothing merged


def test_the_node_check_reports_what_a_node_lacks(tmp_path):
    (tmp_path / "marker").write_text("x")
    assert "cannot see" in probe_node(Models("fake"), str(tmp_path / "elsewhere"), "marker").error
    missing = probe_node(Models(str(tmp_path / "absent.gguf")), str(tmp_path), "marker")
    assert missing.error.startswith("lacks the model ") and "absent.gguf" in missing.error
    fake = probe_node(Models("fake"), str(tmp_path), "marker")
    assert fake.error is None and fake.fingerprints == {"fake": FakeBackend().fingerprint()}
    other = dataclasses.replace(fake, fingerprints={"fake": {**fake.fingerprints["fake"], "salt": "other"}})
    with pytest.raises(ClusterError, match="node b has other model files or libraries than node a"):
        check_same_models({"node a": fake, "node b": other})
    check_same_models({"node a": fake, "node b": NodeReport("h", dict(fake.fingerprints))})
