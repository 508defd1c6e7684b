import hashlib
import sqlite3
from pathlib import Path

import pytest

from localace.errors import StoreError
from localace.store import open_store
from localace.store.migrations import MIGRATIONS


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_db_gets_all_migrations_and_wal(tmp_path):
    s = open_store(tmp_path / "a.db")
    applied = [r[0] for r in s.conn.execute("SELECT name FROM _localace_migrations ORDER BY name")]
    assert applied == [name for name, _ in MIGRATIONS]
    assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"runs", "apis", "dialogs", "verdicts", "generations"} <= set(s.db.table_names())
    s.close()


def test_reopen_is_idempotent(tmp_path):
    open_store(tmp_path / "a.db").close()
    s = open_store(tmp_path / "a.db")
    assert s.count("_localace_migrations") == len(MIGRATIONS)


def test_foreign_sqlite_db_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="another program"):
        open_store(path)
    assert _digest(path) == before


def test_non_sqlite_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("just some text\n" * 20)
    before = _digest(path)
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_store(path)
    assert _digest(path) == before


def test_corrupt_db_is_refused_and_untouched(tmp_path):
    path = tmp_path / "c.db"
    open_store(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # smash the schema page, keep the header
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(StoreError, match="corrupt"):
        open_store(path)
    assert _digest(path) == before


def test_missing_folder_and_directory_paths(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nope" / "x.db")
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path)


def test_newer_migration_is_refused(tmp_path):
    s = open_store(tmp_path / "a.db")
    s.conn.execute("INSERT INTO _localace_migrations VALUES ('999_future', 'x')")
    s.close()
    with pytest.raises(StoreError, match="newer localace"):
        open_store(tmp_path / "a.db")


def test_transaction_rolls_back_whole_work_item(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.conn.execute("INSERT INTO runs VALUES ('r1', 't', 'c', '{}', 'h', 'new', NULL)")
            with store.transaction():  # nested blocks join the outer transaction
                store.conn.execute("INSERT INTO runs VALUES ('r2', 't', 'c', '{}', 'h', 'new', NULL)")
            raise RuntimeError("killed mid item")
    assert store.count("runs") == 0


def test_file_hash_is_remembered(store, tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 100)
    first = store.file_hash(f)
    assert first == hashlib.sha256(f.read_bytes()).hexdigest()
    assert store.count("file_hashes") == 1
    assert store.file_hash(f) == first


def test_open_slots_skip_done_and_failed_items_in_order(store):
    import itertools

    from localace.runs import mark_item, open_slots

    with store.transaction():
        for idx, status in ((0, "done"), (1, "failed"), (3, "done")):
            mark_item(store, "r1", "apis", idx, status, 1)
        mark_item(store, "r2", "apis", 2, "done", 1)  # another run's items do not count
    assert list(itertools.islice(open_slots(store, "r1", "apis"), 4)) == [2, 4, 5, 6]


def test_stall_guard_counts_failures_in_a_row_only():
    from localace.runs import StallGuard

    class Stalled(Exception):
        pass

    guard = StallGuard(3, Stalled, "dialog")
    for accepted in (False, False, True, False, False):
        guard.record(accepted, "plan", "no APIs")
    with pytest.raises(Stalled, match="3 dialog slots in a row failed \\(last: wrong_tool: called x\\)"):
        guard.record(False, "wrong_tool", "called x")



_OPEN_AT = """
import sys, time
from localace.errors import LocalaceError
from localace.store import open_store
while time.time() < float(sys.argv[2]):
    pass
try:
    open_store(sys.argv[1]).close()
    print("ok")
except LocalaceError as e:
    print(e)
"""


def test_two_processes_opening_one_new_database_both_succeed(tmp_path):
    # `localace apis import` twice at once on a new file: the second's switch to WAL got "database is locked"
    # at once (SQLite does not wait for a journal-mode change); 3 of 20 such pairs failed before the fix.
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    outputs = []
    for k in range(12):
        start = time.time() + 0.6  # both started and importing before either opens
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, str(tmp_path / f"n{k}.db"), str(start)], env=env,
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outputs += [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == ["ok"] * 24, [o for o in outputs if o != "ok"]
