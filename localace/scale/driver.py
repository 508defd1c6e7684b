"""The driver of a sharded stage: seed the shard files, run the shards on an executor (Ray, or in this
process), merge every shard into the main database in shard order, and top up rows lost as duplicates.

Crash safety: a shard's rows are committed in its own file one work item at a time, so a killed shard
resumes from its file. The per-shard targets of a row-target stage are written to the main database
before the shards run and changed only after every shard of a round is merged; a killed driver reruns the
same round with the same targets and merges the same rows in the same order, so the result equals an
uninterrupted run. Merging is INSERT OR IGNORE by content id, so nothing merged twice is duplicated.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localace.errors import LocalaceError
from localace.scale.shard import LEASE_WAIT_S, Models, ShardResult, ShardSpec, run_shard
from localace.scale.stages import StagePlan, split
from localace.store.db import Store, open_store, sqlite_uri, utcnow
from localace.store.lock import acquire
from localace.store.merge import MergeReport, merge_database


class ShardsFailed(LocalaceError):
    """Some shards of a stage failed (the others were merged); rerunning the command resumes them."""


class Executor(Protocol):
    def submit(self, spec: ShardSpec) -> Any: ...

    def wait(self, handles: list[Any], timeout: float) -> tuple[list[tuple[Any, ShardResult]], list[Any]]:
        """Finished (handle, result) pairs and the handles still running; a task's exception is a result's error."""
        ...


class InProcessExecutor:
    """Runs shards one after another in this process (tests, and the sharding logic without a scheduler)."""

    def submit(self, spec: ShardSpec) -> list[ShardSpec]:
        return [spec]  # a handle compared by identity

    def wait(self, handles: list[Any], timeout: float) -> tuple[list[tuple[Any, ShardResult]], list[Any]]:
        first, rest = handles[0], handles[1:]
        try:
            result = run_shard(first[0])
        except Exception as e:  # what a scheduler reports for a task that raised
            result = ShardResult(first[0].shard, error=f"{type(e).__name__}: {e}")
        return [(first, result)], rest


@dataclass(frozen=True)
class ShardProgress:
    stage: str
    done: int
    total: int
    running: int
    round: int


@dataclass(frozen=True)
class ShardFailure:
    stage: str
    shard: int
    shards: int
    host: str
    error: str


@dataclass
class StageDone:
    stage: str
    rows: int  # in the main database after the merge
    rounds: int
    merges: list[MergeReport] = field(default_factory=list)
    results: list[ShardResult] = field(default_factory=list)
    merge_seconds: float = 0.0

    @property
    def model_calls(self) -> int:
        return sum(r.model_calls for r in self.results)

    @property
    def cache_hits(self) -> int:
        return sum(r.cache_hits for r in self.results)


Event = ShardProgress | ShardFailure | StageDone


def shards_dir(db: str | Path) -> Path:
    return Path(str(db) + ".shards")


class ShardRunner:
    def __init__(self, main: Store, executor: Executor, *, shards: int, models: Models, threads: int = 1,
                 gpu_layers: int = 0, poll_s: float = 0.5, parallel: int = 1) -> None:
        self.main, self.executor, self.shards = main, executor, shards
        self.models, self.threads, self.gpu_layers, self.poll_s = models, threads, gpu_layers, poll_s
        self.parallel = parallel
        self.dir = shards_dir(main.path)
        self.dir.mkdir(exist_ok=True)

    def path(self, plan: StagePlan, k: int) -> Path:
        return self.dir / f"{plan.stage}-{plan.key}-{k + 1}of{self.shards}.db"

    # --- one stage -------------------------------------------------------------------------------
    def run(self, plan: StagePlan) -> Generator[Event, None, StageDone]:
        """Run a stage to its end; yields progress and failures, then StageDone (also returned). Raises
        ShardsFailed after merging what the other shards made, when some shard failed."""
        if plan.target is not None and plan.count(self.main) >= plan.target:
            finished = StageDone(plan.stage, plan.count(self.main), 0)  # the run already holds its rows
            yield finished
            return finished
        targets = {k: 0 for k in range(self.shards)} if plan.target is None else self._targets(plan)
        self._seed_all(plan)
        done = StageDone(plan.stage, 0, 0)
        while True:
            done.rounds += 1
            before = plan.count(self.main)
            counts = self._counts(plan)
            launch = [k for k in range(self.shards)
                      if (plan.target is None or counts[k] < targets[k]) and plan.work(k, self.shards, targets[k])]
            if plan.target is None and not launch:  # nothing left anywhere: every shard's work is merged
                done.rows = before
                break
            failures = yield from self._execute(plan, launch, targets, counts, before, done)
            yield from self._merge_all(plan, done)
            done.rows = plan.count(self.main)
            if failures:
                raise ShardsFailed(f"{len(failures)} of {self.shards} {plan.stage} shards failed; the others were "
                                   "merged. Run the same command again to resume them")
            if plan.target is None or done.rows >= plan.target:
                break
            if done.rows == before:
                raise ShardsFailed(f"{plan.stage}: a round of top-ups merged no new row (every one duplicated "
                                   "another); stopping instead of looping")
            targets = self._top_up(plan, done.rows)
        yield done
        return done

    def _execute(self, plan: StagePlan, launch: list[int], targets: dict[int, int], counts: dict[int, int],
                 before: int, done: StageDone) -> Iterator[Event]:
        specs: dict[int, ShardSpec] = {}  # by id(handle): handles need not be hashable
        handles: list[Any] = []
        for k in launch:
            work = plan.work(k, self.shards, targets[k])
            spec = ShardSpec(plan.stage, str(self.path(plan, k)), k, self.shards, self.models, self.threads,
                             self.gpu_layers, work, self.parallel)
            handle = self.executor.submit(spec)
            specs[id(handle)] = spec
            handles.append(handle)
        pending = handles
        failures = []
        yield self._progress(plan, counts, before, len(pending), done.rounds)
        while pending:
            finished, pending = self.executor.wait(pending, self.poll_s)
            for handle, result in finished:
                done.results.append(result)
                if result.error:
                    failures.append(result)
                    yield ShardFailure(plan.stage, specs[id(handle)].shard, self.shards, result.host, result.error)
            yield self._progress(plan, counts, before, len(pending), done.rounds)
        return failures

    def _progress(self, plan: StagePlan, start: dict[int, int], before: int, running: int, round_: int) -> ShardProgress:
        now = self._counts(plan)
        made = sum(max(0, now[k] - start[k]) for k in range(self.shards))
        return ShardProgress(plan.stage, min(plan.total, before + made), plan.total, running, round_)

    # --- shard files -----------------------------------------------------------------------------
    def _counts(self, plan: StagePlan) -> dict[int, int]:
        """The stage's rows in each shard file, read without disturbing a running shard."""
        counts = {}
        for k in range(self.shards):
            path = self.path(plan, k)
            counts[k] = 0
            if not path.exists():
                continue
            try:
                conn = sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True, timeout=5)
                try:
                    counts[k] = int(conn.execute(plan.count_sql, plan.count_params).fetchone()[0])
                finally:
                    conn.close()
            except sqlite3.Error:  # not created or migrated yet
                pass
        return counts

    def _seed_all(self, plan: StagePlan) -> None:
        if plan.seed is None:
            return
        for k in range(self.shards):
            path = self.path(plan, k)
            with acquire(path, command=f"localace driver seeding {plan.stage} shard {k + 1}", wait=LEASE_WAIT_S):
                store = open_store(path)
                try:
                    merge_database(store, self.main.path, only=plan.seed(k, self.shards), logs=False, trusted=True)
                finally:
                    store.close()

    def _merge_all(self, plan: StagePlan, done: StageDone) -> Iterator[Event]:
        start = time.perf_counter()
        for k in range(self.shards):  # always in shard order: the same merges in the same order on a rerun
            path = self.path(plan, k)
            if not path.exists():
                continue
            with acquire(path, command=f"localace driver merging {plan.stage} shard {k + 1}", wait=LEASE_WAIT_S):
                done.merges.append(merge_database(self.main, path))
        done.merge_seconds += time.perf_counter() - start
        yield ShardProgress(plan.stage, min(plan.total, plan.count(self.main)), plan.total, 0, done.rounds)

    def _reset(self, plan: StagePlan) -> None:
        """Remove this stage's shard files: they were made for other targets, so their unmerged rows
        would count toward a target they were not planned for. What was merged is re-seeded from main."""
        for k in range(self.shards):
            path = self.path(plan, k)
            if not path.exists():
                continue
            with acquire(path, command=f"localace driver resetting {plan.stage} shard {k + 1}", wait=LEASE_WAIT_S):
                for suffix in ("-wal", "-shm", ""):  # the log first: never a log left without its database
                    Path(str(path) + suffix).unlink(missing_ok=True)

    # --- row targets -----------------------------------------------------------------------------
    def _targets(self, plan: StagePlan) -> dict[int, int]:
        """This stage's per-shard targets: the stored ones when they were planned for the same shard count and
        total, else new ones."""
        rows = self.main.conn.execute("SELECT shard, shards, total, target FROM shard_targets WHERE run_id=? AND stage=?",
                                      (plan.key, plan.stage)).fetchall()
        if len(rows) == self.shards and all(r[1] == self.shards and r[2] == plan.target for r in rows):
            return {r[0]: r[3] for r in rows}
        self._reset(plan)
        self._seed_all(plan)
        return self._top_up(plan, plan.count(self.main))

    def _top_up(self, plan: StagePlan, merged: int) -> dict[int, int]:
        """Every shard's rows so far plus its share of what the run still lacks; stored before any shard runs."""
        counts = self._counts(plan)
        share = split((plan.target or 0) - merged, self.shards)
        targets = {k: counts[k] + share[k] for k in range(self.shards)}
        with self.main.transaction():
            self.main.conn.execute("DELETE FROM shard_targets WHERE run_id=? AND stage=?", (plan.key, plan.stage))
            self.main.conn.executemany(
                "INSERT INTO shard_targets (run_id, stage, shard, shards, total, target, updated_at) VALUES (?,?,?,?,?,?,?)",
                [(plan.key, plan.stage, k, self.shards, plan.target, t, utcnow()) for k, t in targets.items()])
        return targets
