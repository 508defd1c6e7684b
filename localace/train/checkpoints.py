"""Training checkpoints in the store: the last one per training run (a row replaced in one transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from localace.store.db import Store, utcnow


@dataclass(frozen=True)
class Checkpoint:
    step: int
    total_steps: int
    state: bytes  # torch.save of {"lora", "optimizer", "losses", "tokens", "seconds"}


def save_checkpoint(store: Store, run_id: str, checkpoint: Checkpoint) -> None:
    with store.transaction():
        store.conn.execute(
            "INSERT OR REPLACE INTO train_checkpoints VALUES (?, ?, ?, ?, ?)",
            (run_id, checkpoint.step, checkpoint.total_steps, checkpoint.state, utcnow()),
        )


def load_checkpoint(store: Store, run_id: str) -> Checkpoint | None:
    row = store.conn.execute(
        "SELECT step, total_steps, state FROM train_checkpoints WHERE run_id=?", (run_id,)).fetchone()
    return Checkpoint(row[0], row[1], bytes(row[2])) if row else None
