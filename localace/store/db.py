"""Open, check and migrate a localace SQLite database."""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from localace.errors import StoreError
from localace.hashing import file_sha256
from localace.store.migrations import MIGRATIONS

SQLITE_MAGIC = b"SQLite format 3\x00"
# quick_check reads the whole file; above this size opening would cost seconds on every command,
# so big databases only get the schema read (which still catches a smashed header or schema).
QUICK_CHECK_MAX_BYTES = 256 << 20
MIGRATIONS_TABLE = "_localace_migrations"


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def sqlite_uri(path: Path, **params: str) -> str:
    """A `file:` URI for sqlite3 (uri=True, ATTACH): the path percent-encoded, so `?`, `#` or `%` in it are harmless."""
    query = urllib.parse.urlencode(params)
    return "file:" + urllib.parse.quote(str(Path(path).resolve())) + (f"?{query}" if query else "")


def inspect_existing(path: Path) -> None:
    """Refuse foreign or corrupt files before anything writes to them."""
    with open(path, "rb") as f:
        header = f.read(16)
    if header != SQLITE_MAGIC:
        raise StoreError(f"{path} is not a SQLite database; refusing to touch it")
    try:
        conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            small = path.stat().st_size <= QUICK_CHECK_MAX_BYTES
            check = conn.execute("PRAGMA quick_check").fetchone()[0] if small else "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is a corrupt SQLite database ({e}); refusing to modify it") from None
    if check != "ok":
        raise StoreError(f"{path} is a corrupt SQLite database ({check}); refusing to modify it")
    if names and MIGRATIONS_TABLE not in names:
        shown = ", ".join(sorted(names)[:5])
        raise StoreError(f"{path} belongs to another program (tables: {shown}); refusing to modify it")


class Store:
    """One open database. Writes happen inside `transaction()`, one per committed work item."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Re-entrant: only the outermost block commits, so a work item lands whole or not at all."""
        if self._depth == 0:
            self.conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self.conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    # --- small helpers used across stages -------------------------------------------------
    def start_session(self, command: str) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO sessions (started_at, command) VALUES (?, ?)", (utcnow(), command)
            )
        return int(cur.lastrowid)

    def file_hash(self, path: Path) -> str:
        """sha256 of a (model) file, remembered by path/size/mtime so big GGUFs hash once."""
        st = path.stat()
        row = self.conn.execute(
            "SELECT sha256 FROM file_hashes WHERE path=? AND size=? AND mtime_ns=?",
            (str(path), st.st_size, st.st_mtime_ns),
        ).fetchone()
        if row:
            return row[0]
        digest = file_sha256(str(path))
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
                (str(path), st.st_size, st.st_mtime_ns, digest),
            )
        return digest

    def count(self, table: str, where: str = "", params: tuple[Any, ...] = ()) -> int:
        sql = f"SELECT COUNT(*) FROM [{table}]" + (f" WHERE {where}" if where else "")
        return int(self.conn.execute(sql, params).fetchone()[0])


def _migrate(store: Store) -> None:
    conn = store.conn
    conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT)")
    applied = {r[0] for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
    known = {name for name, _ in MIGRATIONS}
    if unknown := sorted(applied - known):
        raise StoreError(f"{store.path} was written by a newer localace (migration {unknown[-1]}); upgrade localace")
    for name, sql in MIGRATIONS:
        if name in applied:
            continue
        with store.transaction():
            if conn.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name=?", (name,)).fetchone():
                continue  # applied by another process opening the same new database while we waited to write
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, ?)", (name, utcnow()))


BUSY_TIMEOUT_MS = 10_000


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting like every other statement does. Changing the journal mode needs the file to
    itself and SQLite answers "database is locked" at once, without its busy handler: two processes opening
    one new database (both migrating it) made the second fail."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def check_db_path(path: str | Path) -> Path:
    """The database path, or StoreError with one line if it can never be a database file."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise StoreError(f"--db {path} is a directory; give a file path such as {path / 'localace.db'}")
    if not path.parent.exists():
        raise StoreError(f"cannot create database {path}: folder {path.parent} does not exist")
    return path


def open_store(path: str | Path) -> Store:
    """Open (creating if needed) a localace database; StoreError with one line if we cannot."""
    path = check_db_path(path)
    if path.exists() and path.stat().st_size > 0:
        inspect_existing(path)
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per work item.
        # uri=True: lets `localace merge` ATTACH a source read-only (file:...?mode=ro) on any SQLite build.
        conn = sqlite3.connect(sqlite_uri(path), uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache instead of SQLite's 2 MiB default: content-hash keys land on random pages,
        # so a store past a few hundred MB otherwise rereads index pages on every insert.
        conn.execute("PRAGMA cache_size=-65536")
        store = Store(conn, path)
        _migrate(store)
    except sqlite3.OperationalError as e:
        raise StoreError(f"cannot write database {path}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise StoreError(f"cannot use database {path}: {e}") from None
    return store
