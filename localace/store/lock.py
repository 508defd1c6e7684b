"""One writer per database: an exclusive lease on `<db>.lock` that the kernel drops when its holder dies.

Two `localace run` on one database would each count the other's rows as their own and over-produce
(one API run with twice the APIs, two dialog runs). A command that writes work into a database takes
its lease first; a second one is refused at once with one line naming the holder. The lease is a
`flock` on a side file, not a row in the database: a killed holder (even `kill -9`) leaves no stale
lock behind, because the kernel releases it with the process; a leftover file only carries the last
holder's description and is taken over by the next process.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from localace.errors import StoreError
from localace.store.db import utcnow

try:  # POSIX (Linux, macOS); without it (Windows) no lease is taken, see acquire().
    import fcntl
except ImportError:  # pragma: no cover - not exercised on the CI platform
    fcntl = None  # type: ignore[assignment]


class DatabaseBusy(StoreError):
    """Another process holds the database's lease."""


def lock_path(db: str | Path) -> Path:
    return Path(str(db) + ".lock")


class Lease:
    """A held lease; `release()` (or the end of the process) frees it."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path, self._fd = path, fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Unlink while still holding it: a process waiting on the old file notices the inode changed.
            if _same_file(fd, self.path):
                self.path.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def read_holder(path: Path, tries: int = 20) -> dict | None:
    """The holder's description; a holder writes it right after locking, so an empty file is retried briefly."""
    for _ in range(tries):
        try:
            text = path.read_text(encoding="utf-8")
            if text.strip():
                return json.loads(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    return None


def busy_message(db: str | Path, holder: dict | None) -> str:
    if not holder:
        return f"{db} is in use by another localace process (lease {lock_path(db)}); wait for it to finish"
    return (f"{db} is in use by pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('since')} "
            f"({holder.get('command', '?')}); wait for it to finish or stop it — a database takes one writer at a time")


def acquire(db: str | Path, *, command: str, wait: float = 0.0, poll: float = 0.2) -> Lease:
    """Take the database's lease, waiting up to `wait` seconds; DatabaseBusy (one line) if another process holds it."""
    path = lock_path(db)
    if fcntl is None:
        return Lease(path, None)
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot create the lease file {path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise DatabaseBusy(busy_message(db, read_holder(path))) from None
            time.sleep(poll)
            continue
        if not _same_file(fd, path):  # the previous holder unlinked it between our open and our lock
            os.close(fd)
            continue
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": utcnow(), "command": command[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        return Lease(path, fd)
