"""Merge localace databases by content id: runs made on several machines, or the shards of one run.

Content rows are keyed by content hashes, so merging is INSERT OR IGNORE: a row the target already holds
is left alone and counted as "already there". One transaction per source; a source is only read
(attached read-only), and a foreign, corrupt or newer-schema source is refused before anything is written.

What merging means where a plain INSERT OR IGNORE would be wrong:
- A stage row (API or dialog) whose content the target already holds under another slot or run, or an
  API whose run already holds an API of the same normalized name (two shards can invent the same name),
  is a *duplicate*: not merged; its slot's work item is recorded as 'duplicate' and a 'duplicate'
  rejection says what it duplicates. The slot is decided, the run is one row short, and a sharded stage
  tops it up (localace.scale).
- Dialogs: verification done elsewhere arrives as a status change (generated → kept/rejected).
- sessions and call_log are logs with autoincrement ids, not content: each source session becomes a new
  session of the target with its calls appended; merged_sessions remembers, per source session, the last
  call appended, so merging the same source again appends only calls made since.
- rejections (autoincrement ids too) are identified by a hash of their content (column `origin`) and merge once.
- Not merged: file_hashes (paths of the source's machine), shard_targets, merged_sessions, store_meta.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localace.errors import StoreError, UserError
from localace.hashing import content_hash
from localace.store.db import MIGRATIONS_TABLE, Store, inspect_existing, sqlite_uri, utcnow
from localace.store.migrations import MIGRATIONS

# Merge order matters: stage rows first (their duplicates mark work items before the plain copy of work_items).
CONTENT_TABLES = ("runs", "tree_nodes", "apis", "dialogs", "dialog_apis", "verdicts", "work_items",
                  "rejections", "eval_results", "generations")
LOG_TABLES = ("sessions", "call_log")
_REJECTION_FIELDS = "run_id, stage, idx, attempt, check_name, reason, payload_json, created_at"

# table -> (WHERE over the source table's columns, written as `s.column`, and its parameters). A table left out
# is not copied.
Selection = dict[str, tuple[str, tuple[Any, ...]]]


@dataclass
class TableCount:
    new: int = 0
    already: int = 0
    duplicate: int = 0  # stage rows not merged: their content or name is already in the target (see module doc)
    updated: int = 0  # dialogs whose verification status arrived

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "already": self.already, "duplicate": self.duplicate, "updated": self.updated}


@dataclass
class MergeReport:
    source: str
    tables: dict[str, TableCount] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, table: str) -> TableCount:
        return self.tables.setdefault(table, TableCount())

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "seconds": round(self.seconds, 4),
                "tables": {t: c.as_dict() for t, c in self.tables.items()}}


@dataclass(frozen=True)
class Duplicate:
    stage: str
    run_id: str | None
    seq: int | None
    row_id: str
    reason: str


def check_source(path: str | Path) -> Path:
    """A database we can merge from, or StoreError (one line) without touching it."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"database not found: {path}")
    if not path.is_file():
        raise StoreError(f"{path} is not a database file")
    if path.stat().st_size == 0:
        raise StoreError(f"{path} is empty, not a localace database")
    inspect_existing(path)
    conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if MIGRATIONS_TABLE not in tables:
            raise StoreError(f"{path} is not a localace database (no {MIGRATIONS_TABLE} table)")
        applied = {r[0] for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
    finally:
        conn.close()
    if unknown := sorted(applied - {name for name, _ in MIGRATIONS}):
        raise StoreError(f"{path} was written by a newer localace (migration {unknown[-1]}); upgrade localace to merge it")
    return path


def _origin(*values: Any) -> str:
    return content_hash(list(values), 32)


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def merge_database(target: Store, source: str | Path, *, only: Selection | None = None, logs: bool = True,
                   trusted: bool = False) -> MergeReport:
    """Merge one source into `target` in one transaction. only: copy just these tables/rows (None: every
    content table, whole); logs: also append the source's sessions and call log; trusted: a database this
    process holds open and checked already (check_source reads all of a file up to 256 MB)."""
    source = Path(source) if trusted else check_source(source)
    if source.resolve() == Path(target.path).resolve():
        raise UserError(f"cannot merge {source} into itself")
    conn = target.conn
    conn.create_function("localace_origin", -1, _origin, deterministic=True)
    report = MergeReport(str(source))
    start = time.perf_counter()
    conn.execute("ATTACH DATABASE ? AS src", (sqlite_uri(source, mode="ro"),))
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM src.sqlite_master WHERE type='table'")}
        selection = only if only is not None else {t: ("1", ()) for t in CONTENT_TABLES}
        with target.transaction():
            duplicates: list[Duplicate] = []
            for table in CONTENT_TABLES:
                if table not in selection or table not in present:
                    continue
                where, params = selection[table]
                if table == "apis":
                    duplicates += _merge_apis(conn, where, params, report.count(table))
                elif table == "dialogs":
                    duplicates += _merge_dialogs(conn, where, params, report.count(table))
                elif table == "rejections":
                    _merge_rejections(conn, where, params, report.count(table))
                else:
                    _copy(conn, table, where, params, report.count(table))
                if table in ("apis", "dialogs"):
                    _mark_duplicates(conn, duplicates)
                    duplicates = []
            if logs and "sessions" in present:
                _merge_logs(conn, present, report)
    finally:
        conn.execute("DETACH DATABASE src")
    report.seconds = time.perf_counter() - start
    return report


def _copy(conn: sqlite3.Connection, table: str, where: str, params: tuple, count: TableCount) -> None:
    main_cols = set(_columns(conn, "main", table))
    cols = ", ".join(c for c in _columns(conn, "src", table) if c in main_cols)
    selected = conn.execute(f"SELECT COUNT(*) FROM src.{table} s WHERE {where}", params).fetchone()[0]
    new = conn.execute(f"INSERT OR IGNORE INTO main.{table} ({cols}) SELECT {cols} FROM src.{table} s WHERE {where}",
                       params).rowcount
    count.new += new
    count.already += selected - new


def _same_id_rows(conn: sqlite3.Connection, table: str, where: str, params: tuple, count: TableCount) -> list[tuple]:
    """Rows already in the target by id: the same slot of the same run is 'already there'; the same content
    in another slot or run is returned (a duplicate)."""
    same = "t.run_id IS s.run_id AND t.seq IS s.seq"
    count.already += conn.execute(
        f"SELECT COUNT(*) FROM src.{table} s JOIN main.{table} t ON t.id = s.id WHERE ({where}) AND {same}",
        params).fetchone()[0]
    return conn.execute(
        f"SELECT s.id, s.run_id, s.seq, t.run_id, t.seq FROM src.{table} s JOIN main.{table} t ON t.id = s.id "
        f"WHERE ({where}) AND NOT ({same})", params).fetchall()


def _merge_apis(conn: sqlite3.Connection, where: str, params: tuple, count: TableCount) -> list[Duplicate]:
    dups = [Duplicate("apis", run, seq, api_id, f"identical API already in run {t_run} slot {t_seq}")
            for api_id, run, seq, t_run, t_seq in _same_id_rows(conn, "apis", where, params, count)]
    # New ids: an API whose run already holds that normalized name (another shard invented it too) is a duplicate.
    candidates = conn.execute(
        f"SELECT s.id, s.run_id, s.seq, s.norm_key FROM src.apis s WHERE ({where}) "
        "AND NOT EXISTS (SELECT 1 FROM main.apis t WHERE t.id = s.id) ORDER BY s.run_id, s.seq, s.id", params).fetchall()
    taken: dict[tuple[str | None, str | None], str] = {}
    accepted: list[str] = []
    for api_id, run, seq, key in candidates:
        row = conn.execute("SELECT name FROM main.apis WHERE norm_key IS ? AND run_id IS ? LIMIT 1", (key, run)).fetchone()
        other = row[0] if row else taken.get((run, key))
        if other is not None:
            dups.append(Duplicate("apis", run, seq, api_id, f"same name as API {other}, already in this run"))
            continue
        taken[(run, key)] = api_id
        accepted.append(api_id)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS merge_ids (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.merge_ids")
    conn.executemany("INSERT INTO temp.merge_ids VALUES (?)", [(i,) for i in accepted])
    main_cols = set(_columns(conn, "main", "apis"))
    cols = ", ".join(c for c in _columns(conn, "src", "apis") if c in main_cols)
    count.new += conn.execute(f"INSERT INTO main.apis ({cols}) SELECT {cols} FROM src.apis "
                              "WHERE id IN (SELECT id FROM temp.merge_ids)").rowcount
    count.duplicate += len(dups)
    return dups


def _merge_dialogs(conn: sqlite3.Connection, where: str, params: tuple, count: TableCount) -> list[Duplicate]:
    dups = [Duplicate("dialogs", run, seq, dialog_id, f"identical dialog already in run {t_run} slot {t_seq}")
            for dialog_id, run, seq, t_run, t_seq in _same_id_rows(conn, "dialogs", where, params, count)]
    _copy(conn, "dialogs", where, params, scratch := TableCount())
    count.new += scratch.new
    count.duplicate += len(dups)
    # Verification done in the source: generated → kept/rejected (a status already decided here is kept).
    count.updated += conn.execute(
        "UPDATE main.dialogs SET status = (SELECT s.status FROM src.dialogs s WHERE s.id = dialogs.id), "
        "rejected_at = (SELECT s.rejected_at FROM src.dialogs s WHERE s.id = dialogs.id) "
        f"WHERE status = 'generated' AND id IN (SELECT s.id FROM src.dialogs s WHERE ({where}) AND s.status != 'generated')",
        params).rowcount
    return dups


def _mark_duplicates(conn: sqlite3.Connection, dups: list[Duplicate]) -> None:
    """Decide each duplicate's slot ('duplicate' work item, from the source's item) and say why (a rejection)."""
    now = utcnow()
    for d in dups:
        if d.run_id is None or d.seq is None:
            continue
        conn.execute(
            "INSERT OR IGNORE INTO main.work_items (run_id, stage, idx, status, attempts, result_id, created_at) "
            "SELECT run_id, stage, idx, 'duplicate', attempts, result_id, ? FROM src.work_items "
            "WHERE run_id=? AND stage=? AND idx=?", (now, d.run_id, d.stage, d.seq))
        conn.execute(
            f"INSERT OR IGNORE INTO main.rejections ({_REJECTION_FIELDS}, origin) VALUES (?,?,?,?,?,?,?,?,?)",
            (d.run_id, d.stage, d.seq, None, "duplicate", d.reason, None, now,
             _origin("duplicate", d.run_id, d.stage, d.seq, d.row_id)))


def _merge_rejections(conn: sqlite3.Connection, where: str, params: tuple, count: TableCount) -> None:
    # Rows written here before have no origin yet: give them one, so the same rejection arriving back merges once.
    conn.execute(f"UPDATE main.rejections SET origin = localace_origin({_REJECTION_FIELDS}) WHERE origin IS NULL")
    selected = conn.execute(f"SELECT COUNT(*) FROM src.rejections s WHERE {where}", params).fetchone()[0]
    new = conn.execute(
        f"INSERT OR IGNORE INTO main.rejections ({_REJECTION_FIELDS}, origin) "
        f"SELECT {_REJECTION_FIELDS}, localace_origin({_REJECTION_FIELDS}) FROM src.rejections s WHERE {where}",
        params).rowcount
    count.new += new
    count.already += selected - new


def _merge_logs(conn: sqlite3.Connection, present: set[str], report: MergeReport) -> None:
    uid = None
    if "store_meta" in present:
        row = conn.execute("SELECT value FROM src.store_meta WHERE key='uid'").fetchone()
        uid = row[0] if row else None
    sessions, calls = report.count("sessions"), report.count("call_log")
    call_cols = "key, hit, ok, prompt_tokens, cached_tokens, completion_tokens, seconds, created_at"
    source_sessions: list[tuple[Any, ...]] = conn.execute(
        "SELECT id, started_at, command FROM src.sessions ORDER BY id").fetchall()
    source_sessions.append((None, None, None))  # calls made without a session
    for sid, started, command in source_sessions:
        origin = _origin(uid, sid, started, command)
        row = conn.execute("SELECT session_id, last_call_id FROM main.merged_sessions WHERE origin=?", (origin,)).fetchone()
        if row is None:
            if sid is not None:
                new_sid = conn.execute("INSERT INTO main.sessions (started_at, command) VALUES (?, ?)",
                                       (started, command)).lastrowid
                sessions.new += 1
            else:
                new_sid = None
            last = 0
            conn.execute("INSERT INTO main.merged_sessions VALUES (?, ?, 0)", (origin, new_sid))
        else:
            (new_sid, last) = row
            sessions.already += sid is not None
        appended = conn.execute(
            f"INSERT INTO main.call_log (session_id, {call_cols}) SELECT ?, {call_cols} FROM src.call_log "
            "WHERE session_id IS ? AND id > ? ORDER BY id", (new_sid, sid, last)).rowcount
        total, top = conn.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM src.call_log WHERE session_id IS ?",
                                  (sid,)).fetchone()
        calls.new += appended
        calls.already += total - appended
        if top > last:
            conn.execute("UPDATE main.merged_sessions SET last_call_id=? WHERE origin=?", (top, origin))
