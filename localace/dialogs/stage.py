"""Stage B as one resumable unit, for the CLI and the pipeline."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from localace.apis.spec import ApiSpec
from localace.dialogs.generate import Gate, STAGE, DialogConfig, DialogEvent, DialogGenerator, load_dialogs, load_pool
from localace.dialogs.plans import PlanImpossible
from localace.errors import UserError
from localace.runs import Run, ensure_run, rejection_counts
from localace.store.cache import CachedBackend
from localace.store.db import Store


class DialogStage:
    """A dialog run ready to resume; the API pool is parsed only when a dialog has to be generated."""

    def __init__(self, run: Run, store: Store, pool_size: int) -> None:
        self.run, self.store, self.pool_size = run, store, pool_size
        self._pool: list[ApiSpec] | None = None

    @property
    def pool(self) -> list[ApiSpec]:
        if self._pool is None:
            self._pool = load_pool(self.store)
        return self._pool

    def events(self, gen: CachedBackend, store: Store, cfg: DialogConfig,
               learner: CachedBackend | None = None, *, parallel: int = 1, gate: Gate | None = None,
               backends: dict[str, CachedBackend] | None = None) -> Iterator[DialogEvent]:
        generator = DialogGenerator(gen, store, self.run.id, cfg, lambda: self.pool, learner, gate, backends)
        try:
            yield from generator.run(parallel)
        except PlanImpossible as e:
            raise UserError(str(e)) from None


def prepare_dialog_stage(store: Store, gen: CachedBackend, cfg: DialogConfig, *, learner_fp: dict | None = None) -> DialogStage:
    # The run's identity needs only the pool's ids (content hashes), not the parsed specs.
    api_ids = [r[0] for r in store.conn.execute("SELECT id FROM apis ORDER BY id")]
    if not api_ids:
        raise UserError(f"{store.path} has no APIs yet: run `localace apis synth` or `localace apis import` first")
    identity = cfg.identity(api_ids, gen.fingerprint())
    if learner_fp is not None:
        identity["learner"] = learner_fp
    return DialogStage(ensure_run(store, "dialogs generate", identity), store, len(api_ids))


def dialog_report(store: Store, run_id: str) -> dict[str, Any]:
    """Per-kind counts, self-consistency outcome, complexity distribution, rejections."""
    dialogs = load_dialogs(store, run_id)
    steps = Counter()
    for d in dialogs:
        steps.update(d.meta.get("consistency", {}))
    for (payload,) in store.conn.execute(
            "SELECT payload_json FROM rejections WHERE run_id=? AND stage=? AND payload_json IS NOT NULL",
            (run_id, STAGE)):
        steps.update(json.loads(payload).get("consistency", {}))
    scores = sorted(d.complexity for d in dialogs if d.complexity is not None)
    quantiles = {}
    if scores:
        for q in (0, 10, 25, 50, 75, 90, 100):
            quantiles[f"p{q}"] = scores[min(len(scores) - 1, round(q / 100 * (len(scores) - 1)))]
    return {
        "dialogs": len(dialogs),
        "kinds": dict(Counter(d.kind for d in dialogs).most_common()),
        "turns": dict(sorted(Counter(len(d.turns) for d in dialogs).items())),
        "calls": sum(len(d.calls()) for d in dialogs),
        "self_consistency": {**steps, "dropped_share": round(steps["dropped"] / steps["steps"], 4) if steps["steps"] else 0.0,
                             "regenerated_share": round(steps["regenerated"] / steps["steps"], 4) if steps["steps"] else 0.0},
        "complexity": quantiles,
        "rejections": rejection_counts(store, run_id, STAGE),
    }
