"""`localace merge`: databases merged by content id, once, without touching the sources."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from localace.cli import cli
from localace.runs import record_rejection
from localace.store import open_store
from localace.store.merge import merge_database

CONTENT = ("apis", "dialogs", "verdicts", "tree_nodes", "work_items", "runs", "dialog_apis")


def _run(db: Path, seed: int) -> None:
    res = CliRunner().invoke(cli, ["run", "--db", str(db), "--model", "fake", "--apis", "4", "--dialogs", "5",
                                   "--seed", str(seed), "--no-judges"])
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("runs")
    a, b = folder / "a.db", folder / "b.db"
    _run(a, 1)
    _run(b, 2)
    return a, b


def _copy(src: Path, dst: Path) -> Path:
    """A consistent copy (the backup API: a plain file copy would miss what is still in the -wal file)."""
    s, d = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        s.close()
        d.close()
    return dst


def _copies(two_runs, tmp_path) -> tuple[Path, Path]:
    return tuple(_copy(src, tmp_path / src.name) for src in two_runs)  # type: ignore[return-value]


def _rows(db: Path, table: str) -> set[tuple]:
    with sqlite3.connect(db) as c:
        cols = [r[1] for r in c.execute(f"PRAGMA table_info({table})") if r[1] not in ("id", "origin", "session_id")
                or table not in ("rejections", "call_log", "sessions")]
        return set(c.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall())


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchone()[0]


def test_merging_two_runs_gives_their_union_once(two_runs, tmp_path):
    a, b = _copies(two_runs, tmp_path)
    c = tmp_path / "c.db"
    first = CliRunner().invoke(cli, ["merge", str(a), str(b), "--into", str(c), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)["sources"]
    for table in CONTENT:
        assert _rows(c, table) == _rows(a, table) | _rows(b, table), table
    assert _count(c, "SELECT COUNT(*) FROM generations") == len(
        {r[0] for db in (a, b) for r in sqlite3.connect(db).execute("SELECT key FROM generations")})
    # Logs are appended, not deduplicated by content: every call of both sources, each session once.
    assert _count(c, "SELECT COUNT(*) FROM call_log") == sum(_count(d, "SELECT COUNT(*) FROM call_log") for d in (a, b))
    assert _count(c, "SELECT COUNT(*) FROM sessions") == 2
    assert _rows(c, "rejections") == _rows(a, "rejections") | _rows(b, "rejections")
    assert report[0]["tables"]["apis"] == {"new": 4, "already": 0, "duplicate": 0, "updated": 0}

    again = CliRunner().invoke(cli, ["merge", str(a), str(b), "--into", str(c), "--json"])
    assert again.exit_code == 0, again.output
    for source in json.loads(again.output)["sources"]:
        assert all(t["new"] == 0 for t in source["tables"].values()), source
    assert _count(c, "SELECT COUNT(*) FROM call_log") == sum(_count(d, "SELECT COUNT(*) FROM call_log") for d in (a, b))

    # The merged store is a working one: its export holds both runs' kept dialogs.
    out = tmp_path / "c.jsonl"
    res = CliRunner().invoke(cli, ["export", "--db", str(c), "--format", "openai", "--out", str(out)])
    assert res.exit_code == 0, res.output
    kept = sum(_count(d, "SELECT COUNT(*) FROM dialogs WHERE status='kept'") for d in (a, b))
    assert len(out.read_text().splitlines()) == kept > 0


def _content(db: Path) -> bytes:
    """The database file and what its write-ahead log holds (SQLite creates an empty -wal and a -shm index
    even for a read-only reader of a WAL database; neither changes what the database contains)."""
    wal = Path(str(db) + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_sources_are_only_read(two_runs, tmp_path):
    a, b = _copies(two_runs, tmp_path)
    before = _content(a)
    assert CliRunner().invoke(cli, ["merge", str(a), "--into", str(tmp_path / "c.db")]).exit_code == 0
    assert _content(a) == before


def _sql(db: Path, *statements: str, params: tuple = ()) -> None:
    c = sqlite3.connect(db)
    try:
        for statement in statements:
            c.execute(statement, params if "?" in statement else ())
        c.commit()
    finally:
        c.close()  # closed, so its write-ahead log is checkpointed now and not when it is garbage-collected


def _foreign(path: Path) -> None:
    _sql(path, "CREATE TABLE invoices (n INTEGER)")


def _newer(path: Path) -> None:
    _sql(path, "INSERT INTO _localace_migrations VALUES ('999_from_the_future', 'x')")


@pytest.mark.parametrize("spoil, words", [
    (lambda p: p.write_bytes(b"not a database\n" * 50), "not a SQLite database"),
    (_foreign, "belongs to another program"),
    (_newer, "newer localace"),
    (lambda p: p.write_bytes(b""), "empty"),
])
def test_a_foreign_corrupt_or_newer_source_is_refused_before_anything_is_written(two_runs, tmp_path, spoil, words):
    a, _ = _copies(two_runs, tmp_path)
    bad = tmp_path / "bad.db"
    if spoil is _newer:
        _copy(a, bad)
    spoil(bad)
    c = tmp_path / "c.db"
    _copy(a, c)
    before_bad, before_c = _content(bad), _content(c)
    res = CliRunner().invoke(cli, ["merge", str(a), str(bad), "--into", str(c)])
    assert res.exit_code == 2 and words in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert _content(bad) == before_bad and _content(c) == before_c  # not even the good source was merged
    missing = CliRunner().invoke(cli, ["merge", str(tmp_path / "nope.db"), "--into", str(tmp_path / "new.db")])
    assert missing.exit_code == 2 and not (tmp_path / "new.db").exists()
    itself = CliRunner().invoke(cli, ["merge", str(a), str(c), "--into", str(c)])
    assert itself.exit_code == 2 and "is also a source" in itself.output and _content(c) == before_c


def test_an_api_whose_name_its_run_already_holds_is_a_duplicate_marked_on_its_slot(two_runs, tmp_path):
    a, _ = _copies(two_runs, tmp_path)
    other = tmp_path / "other_shard.db"
    _copy(a, other)
    # What another shard of the same run could make: an API of the same name in another slot.
    run, name, seq = sqlite3.connect(other).execute("SELECT run_id, name, seq FROM apis ORDER BY seq LIMIT 1").fetchone()
    _sql(other, f"DELETE FROM apis WHERE seq != {seq}", "UPDATE apis SET id='dupe-api-id', seq=99",
         "INSERT INTO work_items VALUES (?, 'apis', 99, 'done', 1, 'dupe-api-id', 'now')", params=(run,))
    c_db = tmp_path / "c.db"
    main = open_store(c_db)
    try:
        merge_database(main, a)
        report = merge_database(main, other)
        assert report.tables["apis"].duplicate == 1 and report.tables["apis"].new == 0
        merge_database(main, other)  # again: nothing more
    finally:
        main.close()
    assert _count(c_db, "SELECT COUNT(*) FROM apis") == _count(a, "SELECT COUNT(*) FROM apis")
    with sqlite3.connect(c_db) as c:
        assert c.execute("SELECT status FROM work_items WHERE run_id=? AND stage='apis' AND idx=99", (run,)).fetchone() == ("duplicate",)
        reasons = c.execute("SELECT reason FROM rejections WHERE check_name='duplicate'").fetchall()
    assert len(reasons) == 1 and name in reasons[0][0]


def test_verification_done_elsewhere_arrives_as_a_status_change(two_runs, tmp_path):
    a, _ = _copies(two_runs, tmp_path)
    unverified = tmp_path / "unverified.db"
    _copy(a, unverified)
    _sql(unverified, "UPDATE dialogs SET status='generated', rejected_at=NULL", "DELETE FROM verdicts")
    c_db = tmp_path / "c.db"
    main = open_store(c_db)
    try:
        merge_database(main, unverified)
        report = merge_database(main, a)
    finally:
        main.close()
    assert report.tables["dialogs"].updated == _count(a, "SELECT COUNT(*) FROM dialogs") > 0
    assert _rows(c_db, "dialogs") == _rows(a, "dialogs")


def test_a_second_merge_appends_only_calls_made_since(two_runs, tmp_path):
    a, _ = _copies(two_runs, tmp_path)
    c_db = tmp_path / "c.db"
    assert CliRunner().invoke(cli, ["merge", str(a), "--into", str(c_db)]).exit_code == 0
    calls = _count(c_db, "SELECT COUNT(*) FROM call_log")
    res = CliRunner().invoke(cli, ["generate", "--db", str(a), "--model", "fake", "one more prompt"])
    assert res.exit_code == 0, res.output
    assert CliRunner().invoke(cli, ["merge", str(a), "--into", str(c_db)]).exit_code == 0
    assert _count(c_db, "SELECT COUNT(*) FROM call_log") == calls + 1
    assert _count(c_db, "SELECT COUNT(*) FROM sessions") == 2


def test_rejections_merged_back_and_forth_stay_single(two_runs, tmp_path):
    a, _ = _copies(two_runs, tmp_path)
    store = open_store(a)  # the fake model's run may reject nothing: two rejections of the run's own stages
    run_id = store.conn.execute("SELECT id FROM runs WHERE command='dialogs generate'").fetchone()[0]
    record_rejection(store, run_id, "dialogs", 0, 0, "roundtrip", "arguments do not match the call")
    record_rejection(store, run_id, "dialogs", 1, 2, "user_voice", "the user turn narrates")
    store.close()
    c_db, back = tmp_path / "c.db", tmp_path / "back.db"
    _copy(a, back)
    rejections = _count(a, "SELECT COUNT(*) FROM rejections")
    assert rejections >= 2
    assert CliRunner().invoke(cli, ["merge", str(a), "--into", str(c_db)]).exit_code == 0
    assert CliRunner().invoke(cli, ["merge", str(c_db), "--into", str(back)]).exit_code == 0
    assert _count(back, "SELECT COUNT(*) FROM rejections") == rejections
