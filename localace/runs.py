"""Runs and their work items: what makes every stage resumable and free of duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from localace.hashing import canonical_json, content_hash
from localace.store.db import Store, utcnow


@dataclass(frozen=True)
class Run:
    id: str
    command: str
    config: dict[str, Any]
    resumed: bool


def ensure_run(store: Store, command: str, config: dict[str, Any]) -> Run:
    """The run for exactly this config: created on first use, resumed afterwards."""
    run_id = content_hash({"command": command, "config": config}, 16)
    row = store.conn.execute("SELECT config_json FROM runs WHERE id=?", (run_id,)).fetchone()
    if row:
        return Run(run_id, command, json.loads(row[0]), True)
    with store.transaction():
        store.db["runs"].insert({
            "id": run_id, "created_at": utcnow(), "command": command, "config_json": canonical_json(config),
            "config_hash": content_hash(config, 16), "status": "running", "report_json": None,
        })
    return Run(run_id, command, config, False)


def set_run_status(store: Store, run_id: str, status: str, report: dict[str, Any] | None = None) -> None:
    with store.transaction():
        store.conn.execute("UPDATE runs SET status=?, report_json=COALESCE(?, report_json) WHERE id=?",
                           (status, None if report is None else canonical_json(report), run_id))


def item_status(store: Store, run_id: str, stage: str) -> dict[int, str]:
    rows = store.conn.execute("SELECT idx, status FROM work_items WHERE run_id=? AND stage=?", (run_id, stage))
    return {idx: status for idx, status in rows}


Shard = tuple[int, int]  # (k, n): shard k of n owns the slots k, k+n, k+2n, ... (see localace.scale)


def open_slots(store: Store, run_id: str, stage: str, shard: Shard | None = None) -> Iterator[int]:
    """Slot indices with no work item yet (neither done nor failed), in order, without end: the resume order.
    With a shard, only that shard's slots: the deterministic split of a sharded stage."""
    status = item_status(store, run_id, stage)
    slot, step = shard or (0, 1)
    while True:
        if slot not in status:
            yield slot
        slot += step


class StallGuard:
    """Stop a stage whose slots keep failing, instead of spinning forever on a model that cannot do the task."""

    def __init__(self, limit: int, error: type[Exception], what: str) -> None:
        self.limit, self.error, self.what = limit, error, what
        self.failed_in_row = 0

    def record(self, accepted: bool, check: str | None, reason: str | None) -> None:
        self.failed_in_row = 0 if accepted else self.failed_in_row + 1
        if self.failed_in_row >= self.limit:
            raise self.error(f"{self.limit} {self.what} slots in a row failed (last: {check}: {reason})")


def mark_item(store: Store, run_id: str, stage: str, idx: int, status: str, attempts: int,
              result_id: str | None = None) -> None:
    """Call inside the transaction that writes the item's result, so both land or neither."""
    store.conn.execute(
        "INSERT OR REPLACE INTO work_items VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, stage, idx, status, attempts, result_id, utcnow()),
    )


def record_rejection(store: Store, run_id: str | None, stage: str, idx: int | None, attempt: int | None,
                     check_name: str, reason: str, payload: Any = None) -> None:
    with store.transaction():
        store.conn.execute(
            "INSERT INTO rejections (run_id, stage, idx, attempt, check_name, reason, payload_json, created_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (run_id, stage, idx, attempt, check_name, reason[:1000],
             None if payload is None else json.dumps(payload, ensure_ascii=False, default=str)[:20000], utcnow()),
        )


def rejection_counts(store: Store, run_id: str, stage: str) -> dict[str, int]:
    rows = store.conn.execute(
        "SELECT check_name, COUNT(*) FROM rejections WHERE run_id=? AND stage=? GROUP BY check_name ORDER BY 2 DESC",
        (run_id, stage),
    )
    return dict(rows.fetchall())
