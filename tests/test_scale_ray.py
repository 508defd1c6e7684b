"""Sharded stages on a local Ray (no outside cluster): exact counts, a killed driver, a killed task, the
node check, and the one-line hint without the extra. Skipped with a reason when Ray is not installed."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "LOCALACE_THREADS": "1"}
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="the optional extra localace[ray] is not installed (pip install 'localace[ray]')")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "localace", *args]


def _q(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def _shard_rows(folder: Path, pattern: str, sql: str) -> int:
    total = 0
    for path in folder.glob(pattern):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            try:
                total += conn.execute(sql).fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            pass
    return total


def _run_cmd(db: Path, *extra: str) -> list[str]:
    # --no-judges: the fake backend's judges reject at random, which would leave little to export.
    return _cli("run", "--db", str(db), "--model", "fake", "--apis", "6", "--dialogs", "12", "--seed", "5",
                "--no-judges", "--ray", "--shards", "2", *extra)


def _snapshot(db: Path) -> dict:
    return {"apis": _q(db, "SELECT run_id, seq, id FROM apis ORDER BY run_id, seq"),
            "dialogs": _q(db, "SELECT run_id, seq, id, status FROM dialogs ORDER BY run_id, seq"),
            "verdicts": _q(db, "SELECT id, passed FROM verdicts ORDER BY id")}


def test_without_ray_the_flag_says_in_one_line_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from localace.cli import main; "
            f"sys.argv = ['localace', 'run', '--db', {str(tmp_path / 'x.db')!r}, '--model', 'fake', '--ray']; main()")
    res = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == "Error: --ray needs Ray, an optional extra: pip install 'localace[ray]'"
    shards = subprocess.run(_cli("apis", "synth", "--db", str(tmp_path / "y.db"), "--model", "fake", "--shards", "2"),
                            env=ENV, capture_output=True, text=True, timeout=120)
    assert shards.returncode == 2 and "--shards and --num-gpus need --ray" in shards.stderr


# --- the library on a Ray started by the test ------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the optional extra localace[ray] is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 << 20)
    yield ray
    ray.shutdown()


@needs_ray
def test_shards_are_ray_tasks_in_other_processes_and_counts_are_exact(local_ray, tmp_path):
    from localace.backends.fake import FakeBackend
    from localace.pipeline import RunConfig, config_record, ensure_pipeline_run
    from localace.scale.driver import ShardRunner, shards_dir
    from localace.scale.pipeline import KnownModel, run_stages
    from localace.scale.ray_exec import RayExecutor
    from localace.scale.shard import Models
    from localace.store import open_store

    main = open_store(tmp_path / "m.db")
    executor = RayExecutor(None)
    executor.start()  # joins the Ray this test started
    shards_dir(main.path).mkdir()
    reports = executor.check_nodes(Models("fake"), shards_dir(main.path))
    assert len(reports) == 1 and next(iter(reports.values())).fingerprints == {"fake": FakeBackend().fingerprint()}
    cfg = RunConfig(apis=5, dialogs=7, seed=2, max_docs=3, judges="off")
    fp = FakeBackend().fingerprint()
    run_id, _ = ensure_pipeline_run(main, config_record(cfg, {"generator": fp, "judge": None}), force_new=False)
    events = run_stages(main, ShardRunner(main, executor, shards=2, models=Models("fake")), cfg, run_id, KnownModel(fp))
    while True:
        try:
            next(events)
        except StopIteration as stop:
            report = stop.value
            break
    assert main.count("apis", "run_id=?", (report["api_run"],)) == 5
    assert main.count("dialogs", "run_id=?", (report["dialog_run"],)) == 7
    pids = {int(m) for (cmd,) in main.conn.execute("SELECT command FROM sessions")
            for m in re.findall(r"\(pid (\d+) on", cmd)}
    assert pids and os.getpid() not in pids  # the shards ran in Ray's worker processes
    main.close()


@needs_ray
def test_a_node_without_the_model_is_named_in_one_line(local_ray, tmp_path):
    from localace.scale.ray_exec import ClusterError, RayExecutor
    from localace.scale.shard import Models

    executor = RayExecutor(None)
    executor.start()
    with pytest.raises(ClusterError) as e:
        executor.check_nodes(Models("/no/such/dir/model.gguf"), tmp_path)
    assert re.fullmatch(r"node \S+ \(id [0-9a-f]{12}\) lacks the model /no/such/dir/model\.gguf: .*model file not found.*",
                        str(e.value)), str(e.value)
    assert not list(tmp_path.iterdir())  # the probe marker is cleaned up


# --- the command line, each command with its own local Ray ------------------------------------------------


def _wait_for(proc: subprocess.Popen, check, timeout: float = 300) -> bool:
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@needs_ray
def test_a_sharded_run_exports_the_requested_counts_and_a_killed_driver_reruns_to_the_same(tmp_path):
    ref, out = tmp_path / "ref.db", tmp_path / "ref.jsonl"
    done = subprocess.run(_run_cmd(ref, "--out", str(out)), env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 shards of 1 thread(s) each" in done.stderr
    assert [n for (n,) in _q(ref, "SELECT COUNT(*) FROM apis GROUP BY run_id")] == [6]
    assert [n for (n,) in _q(ref, "SELECT COUNT(*) FROM dialogs GROUP BY run_id")] == [12]
    kept = _q(ref, "SELECT COUNT(*) FROM dialogs WHERE status='kept'")[0][0]
    assert len(out.read_text().splitlines()) == kept > 0
    back = subprocess.run(_cli("import", "--db", str(tmp_path / "back.db"), "--format", "openai", str(out)),
                          env=ENV, capture_output=True, text=True, timeout=120)  # a valid dataset: it reads back whole
    assert back.returncode == 0 and f"{kept} dialogs imported" in back.stdout and "0 malformed" in back.stdout

    db = tmp_path / "k.db"
    folder = Path(str(db) + ".shards")
    proc = subprocess.Popen(_run_cmd(db), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reached = _wait_for(proc, lambda: _shard_rows(folder, "dialogs-*.db", "SELECT COUNT(*) FROM dialogs") >= 3)
    assert reached, "the dialog stage never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _q(db, "SELECT COUNT(*) FROM dialogs")[0][0] < 12  # killed before the dialog stage was merged
    again = subprocess.run(_run_cmd(db), env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _snapshot(db) == _snapshot(ref)
    # What the shards committed before the kill was not generated again.
    made = _q(db, "SELECT COUNT(*) FROM call_log WHERE hit=0")[0][0]
    assert made <= _q(ref, "SELECT COUNT(*) FROM call_log WHERE hit=0")[0][0] + 2  # at most the calls in flight


def _worker_pid(folder: Path, pattern: str) -> int | None:
    """The pid of a Ray worker running a shard: written in the shard's lease file by the task itself."""
    for lease in folder.glob(pattern):
        try:
            holder = json.loads(lease.read_text())
        except (OSError, ValueError):
            continue
        if "shard" in holder.get("command", "") and "driver" not in holder["command"]:
            return int(holder["pid"])
    return None


@needs_ray
def test_a_killed_task_is_retried_and_resumes_from_its_file(tmp_path):
    db = tmp_path / "t.db"
    folder = Path(str(db) + ".shards")
    proc = subprocess.Popen(_run_cmd(db), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pid = None

    def dialog_shard_working() -> bool:
        nonlocal pid
        if _shard_rows(folder, "dialogs-*.db", "SELECT COUNT(*) FROM dialogs") < 2:
            return False
        pid = _worker_pid(folder, "dialogs-*.db.lock")
        return pid is not None

    assert _wait_for(proc, dialog_shard_working), "no dialog shard was seen working"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert b"ray" in cmdline and pid != proc.pid  # a Ray worker this test's command started
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert [n for (n,) in _q(db, "SELECT COUNT(*) FROM dialogs GROUP BY run_id")] == [12]
    sessions = [cmd for path in folder.glob("dialogs-*.db") for (cmd,) in _q(path, "SELECT command FROM sessions")]
    assert any(f"(pid {pid} on" in s for s in sessions) and len(sessions) >= 3  # the killed task, then its retry


@needs_ray
def test_a_model_missing_on_a_node_stops_the_command_before_any_shard(tmp_path):
    res = subprocess.run(_cli("run", "--db", str(tmp_path / "m.db"), "--model", str(tmp_path / "absent.gguf"),
                              "--ray", "--shards", "2"), env=ENV, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert re.match(r"Error: node \S+ \(id [0-9a-f]{12}\) lacks the model .*absent\.gguf", last), res.stderr
    assert _q(tmp_path / "m.db", "SELECT COUNT(*) FROM runs") == [(0,)]


@needs_ray
@pytest.mark.model
def test_two_shards_on_the_embedded_model(tmp_path):
    db = tmp_path / "e.db"
    res = subprocess.run(_cli("apis", "synth", "--db", str(db), "--n", "2", "--max-docs", "2", "--depth", "1",
                              "--breadth", "2", "--generations", "0", "--ray", "--shards", "2"),
                         env=ENV, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert _q(db, "SELECT COUNT(*) FROM apis") == [(2,)]
    folder = Path(str(db) + ".shards")
    for stage in ("tree", "apis"):
        files = sorted(folder.glob(f"{stage}-*.db"))
        assert len(files) == 2
        for path in files:  # each shard loaded the model and made its own calls
            assert _q(path, "SELECT COUNT(*) FROM call_log WHERE hit=0")[0][0] > 0, path
