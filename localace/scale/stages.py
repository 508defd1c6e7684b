"""How each stage is sharded: which work a shard owns, what it copies from the main database first,
and how its progress is counted.

Shard k of n owns the slots k, k+n, k+2n, ... of a stage (documents, for the context tree; dialog seq,
for verification; entry order, for eval). API and dialog stages have a row target: shard k first aims at
its share of it (n//N, one more for the first n%N shards — exactly the slots an unsharded run without
failures fills), and rows lost at merge as duplicates are topped up in further rounds (localace.scale.driver).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localace.apis.seed_corpus import SeedDocument
from localace.apis.synth import SynthConfig
from localace.dialogs.generate import DialogConfig
from localace.evaluate.runner import EvalItem
from localace.scale.shard import ApiWork, DialogWork, EvalWork, TreeWork, VerifyWork, Work
from localace.store.db import Store
from localace.store.merge import Selection


@dataclass(frozen=True)
class StagePlan:
    stage: str
    key: str  # names the shard files: the run (or tree) id
    total: int  # what the stage ends with: the progress bar's total
    count_sql: str  # rows done, counted the same way in the main database and in a shard file
    count_params: tuple[Any, ...]
    work: Callable[[int, int, int], Work | None]  # (shard k, of n, target) → its work; None: nothing to do
    seed: Callable[[int, int], Selection] | None = None  # what shard k of n copies from main before it runs
    target: int | None = None  # row target (apis, dialogs): per-shard targets, duplicates topped up

    def count(self, store: Store) -> int:
        return int(store.conn.execute(self.count_sql, self.count_params).fetchone()[0])


def split(total: int, shards: int) -> list[int]:
    """`total` rows over `shards`: n//N each, one more for the first n%N (the slots 0..n-1, dealt by slot % N)."""
    return [total // shards + (1 if k < total % shards else 0) for k in range(shards)]


def tree_plan(main: Store, tree_id: str, documents: list[SeedDocument], *, depth: int, breadth: int,
              seed: int) -> StagePlan:
    done = {r[0] for r in main.conn.execute("SELECT source_doc FROM tree_nodes WHERE tree=? AND depth=0", (tree_id,))}

    def work(k: int, n: int, _target: int) -> Work | None:
        mine = tuple(d for i, d in enumerate(documents) if i % n == k and d.name not in done)
        return TreeWork(tree_id, depth, breadth, seed, mine) if mine else None

    return StagePlan("tree", tree_id, len(documents), "SELECT COUNT(*) FROM tree_nodes WHERE tree=? AND depth=0",
                     (tree_id,), work)


def api_plan(run_id: str, tree_id: str, cfg: SynthConfig, documents: dict[str, str] | None = None,
             main: Store | None = None) -> StagePlan:
    def work(k: int, n: int, target: int) -> Work:
        # The names other shards' APIs of this run already have in the main database: a shard sees only its own
        # slots, and without these a top-up round would write the name its functionality settles again.
        taken = tuple(r[0] for r in main.conn.execute(
            "SELECT name FROM apis WHERE run_id=? AND seq % ? != ? ORDER BY name", (run_id, n, k))) if main else ()
        return ApiWork(run_id, tree_id, dataclasses.replace(cfg, n=target, shard=(k, n)),
                      tuple(sorted((documents or {}).items())), taken)

    def seed(k: int, n: int) -> Selection:
        # The run, its tree, every API of other runs and imports (the example buffer and the name checks
        # see them), and the shard's own slots (an unsharded run's rows, when it is resumed sharded).
        return {"runs": ("s.id = ?", (run_id,)), "tree_nodes": ("s.tree = ?", (tree_id,)),
                "apis": ("s.run_id IS NULL OR s.run_id != ? OR s.seq % ? = ?", (run_id, n, k)),
                "work_items": ("s.run_id = ? AND s.stage = 'apis' AND s.idx % ? = ?", (run_id, n, k))}

    return StagePlan("apis", run_id, cfg.n, "SELECT COUNT(*) FROM apis WHERE run_id=?", (run_id,), work, seed, cfg.n)


def dialog_plan(run_id: str, cfg: DialogConfig) -> StagePlan:
    def work(k: int, n: int, target: int) -> Work:
        return DialogWork(run_id, dataclasses.replace(cfg, n=target, shard=(k, n)))

    def seed(k: int, n: int) -> Selection:
        # The whole merged API pool (the run's identity hashes it), and the shard's own slots.
        return {"runs": ("s.id = ?", (run_id,)), "apis": ("1", ()),
                "dialogs": ("s.run_id = ? AND s.seq % ? = ?", (run_id, n, k)),
                "work_items": ("s.run_id = ? AND s.stage = 'dialogs' AND s.idx % ? = ?", (run_id, n, k))}

    return StagePlan("dialogs", run_id, cfg.n, "SELECT COUNT(*) FROM dialogs WHERE run_id=?", (run_id,), work, seed,
                     cfg.n)


def verify_plan(main: Store, run_id: str, *, judges: bool, enforce: bool, samples: int, seed: int) -> StagePlan:
    def work(k: int, n: int, _target: int) -> Work | None:
        pending = main.count("dialogs", "run_id=? AND status='generated' AND seq % ? = ?", (run_id, n, k))
        return VerifyWork(run_id, judges, enforce, samples, seed) if pending else None

    def copy(k: int, n: int) -> Selection:
        return {"dialogs": ("s.run_id = ? AND s.status = 'generated' AND s.seq % ? = ?", (run_id, n, k))}

    total = main.count("dialogs", "run_id=?", (run_id,))
    return StagePlan("verify", run_id, total, "SELECT COUNT(*) FROM dialogs WHERE run_id=? AND status!='generated'",
                     (run_id,), work, copy)


def eval_plan(key: str, items: list[EvalItem], *, mode: str, model_name: str, seed: int, max_tokens: int,
              since: str) -> StagePlan:
    def work(k: int, n: int, _target: int) -> Work | None:
        mine = tuple(items[k::n])
        return EvalWork(mine, mode, model_name, seed, max_tokens) if mine else None

    # run_eval rewrites every result it makes (created_at = now), so results since the start are this run's.
    return StagePlan("eval", key, len(items), "SELECT COUNT(*) FROM eval_results WHERE created_at >= ?", (since,), work)
