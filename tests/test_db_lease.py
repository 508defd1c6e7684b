"""Two processes on one database never over-produce: the second writer is refused at once, naming the holder."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from localace.cli import cli
from localace.store import open_store
from localace.store.lock import DatabaseBusy, acquire, lock_path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
EVAL = Path(__file__).parent / "fixtures" / "eval"


def test_the_same_run_started_twice_at_once_makes_exactly_the_requested_counts(tmp_path):
    # The reproduction: before the lease both exited 0, the API run held 39-40 APIs for --apis 20
    # and the dialog stage was split into two runs of 40 dialogs over different API pools.
    db = tmp_path / "c.db"
    # Judges off: the fake model's verdicts are coin flips, and enforced they would make 40 kept dialogs cost
    # thousands of attempts; the lease is what is tested.
    cmd = [sys.executable, "-m", "localace", "run", "--db", str(db), "--model", "fake", "--apis", "20",
           "--dialogs", "40", "--seed", "3", "--judges", "off"]
    procs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for _ in range(2)]
    results = [(p, *p.communicate(timeout=600)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [(p.returncode, err[-500:]) for p, _, err in results]
    winner = next(p for p, _, _ in results if p.returncode == 0)
    loser_err = next(err for p, _, err in results if p.returncode == 2)
    assert len(loser_err.strip().splitlines()) == 1, loser_err
    assert f"in use by pid {winner.pid} on host {socket.gethostname()} since " in loser_err
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT run_id, COUNT(*) FROM apis GROUP BY run_id").fetchall()[0][1] == 20
        assert len(c.execute("SELECT DISTINCT run_id FROM apis").fetchall()) == 1
        assert [n for _, n in c.execute("SELECT run_id, COUNT(*) FROM dialogs GROUP BY run_id")] == [40]
        assert c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1  # the refused one wrote nothing
    assert not lock_path(db).exists()  # released at the end of the command


@pytest.mark.parametrize("args", [
    ["run", "--model", "fake", "--apis", "2", "--dialogs", "2"],
    ["apis", "synth", "--model", "fake", "--n", "2"],
    ["dialogs", "generate", "--model", "fake", "--n", "2"],
    ["verify", "--model", "fake"],
    ["eval", "--model", "fake", "--data", str(EVAL / "mini.jsonl")],
])
def test_every_writing_command_refuses_a_held_database_without_writing(tmp_path, args):
    db = tmp_path / "w.db"
    open_store(db).close()
    with acquire(db, command="localace test holder"):
        res = CliRunner().invoke(cli, [*args[:2], "--db", str(db), *args[2:]] if args[0] in ("apis", "dialogs")
                                 else [args[0], "--db", str(db), *args[1:]])
    assert res.exit_code == 2, res.output
    assert f"in use by pid {os.getpid()} on host" in res.output and "localace test holder" in res.output
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


@pytest.mark.parametrize("args", [
    ["run", "--model", "fake", "--apis", "2", "--dialogs", "2"],
    ["verify", "--model", "fake"],
])
def test_a_holder_still_migrating_a_new_database_is_named_not_reported_as_locked(tmp_path, args):
    # CI caught it: two `run`s on one new file, and the second failed at "database is locked" because it
    # opened (and migrated) the database before asking for the lease. The holder here is mid-write.
    db = tmp_path / "m.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        with acquire(db, command="localace test migrator"):
            res = CliRunner().invoke(cli, [args[0], "--db", str(db), *args[1:]])
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert res.exit_code == 2, res.output
    assert f"in use by pid {os.getpid()} on host" in res.output and "localace test migrator" in res.output


def _holder(db: Path) -> subprocess.Popen:
    code = ("import sys, time; from localace.store.lock import acquire; "
            "lease = acquire(sys.argv[1], command='holder'); print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_holder_is_named_and_a_killed_one_leaves_no_stale_lock(tmp_path):
    db = tmp_path / "k.db"
    proc = _holder(db)
    try:
        with pytest.raises(DatabaseBusy) as e:
            acquire(db, command="second")
        assert f"pid {proc.pid} on host {socket.gethostname()}" in str(e.value)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lock_path(db).exists()  # kill -9 leaves the file (and its description of the dead holder) ...
    with acquire(db, command="after the kill") as lease:  # ... but not the lock: taken at once
        assert lease.held


def test_waiting_for_a_lease_gets_it_when_the_holder_ends(tmp_path):
    db = tmp_path / "q.db"
    proc = _holder(db)
    start = time.monotonic()
    try:
        subprocess.Popen(["sh", "-c", f"sleep 1; kill {proc.pid}"])
        with acquire(db, command="patient", wait=30) as lease:
            assert lease.held and time.monotonic() - start < 30
    finally:
        proc.kill()
        proc.wait()
