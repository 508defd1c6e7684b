"""`localace run`: tree → APIs → dialogs → rule checks → model checks, resumable end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from localace.apis.stage import ApiStageConfig, prepare_api_stage
from localace.dialogs.generate import DEFAULT_MIX, DialogConfig, quotas
from localace.dialogs.stage import prepare_dialog_stage
from localace.errors import UserError
from localace.hashing import canonical_json, content_hash
from localace.report import run_report
from localace.runs import set_run_status
from localace.store.cache import CachedBackend
from localace.store.db import Store, utcnow
from localace.verify.judges import Judges
from localace.verify.stage import gate, verify_run

RUN_COMMAND = "run"


@dataclass(frozen=True)
class RunConfig:
    apis: int = 6
    dialogs: int = 6
    seed: int = 0
    docs: str | None = None
    max_docs: int | None = 8
    depth: int = 1
    breadth: int = 3
    generations: int = 2
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    k: int = 3
    band: tuple[float, float] = (10.0, 90.0)
    complexity: bool = True
    judges: str = "enforce"  # enforce | advisory | off (the CLI resolves "auto")
    judge_samples: int = 1
    tool_results: str = "values"
    free_text: bool = True

    def api_stage(self) -> ApiStageConfig:
        return ApiStageConfig(n=self.apis, seed=self.seed, depth=self.depth, breadth=self.breadth,
                              generations=self.generations, docs=self.docs, max_docs=self.max_docs)

    def dialog_stage(self) -> DialogConfig:
        return DialogConfig(n=self.dialogs, seed=self.seed, k=self.k, mix=self.mix, band=self.band,
                            complexity=self.complexity, tool_results=self.tool_results, free_text=self.free_text)


@dataclass(frozen=True)
class StageEvent:
    """Progress of the pipeline: stage name, and the underlying stage event."""

    stage: str
    event: Any


def config_record(cfg: RunConfig, models: dict[str, Any]) -> dict[str, Any]:
    return {**asdict(cfg), "band": list(cfg.band), "models": models}


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if canonical_json(old.get(k)) != canonical_json(new.get(k))]


def ensure_pipeline_run(store: Store, record: dict[str, Any], *, force_new: bool) -> tuple[str, bool]:
    """The run for this config; refuses a different config on a db that already has a run."""
    run_id = content_hash(record, 16)
    rows = store.conn.execute("SELECT id, config_json FROM runs WHERE command=? ORDER BY created_at",
                              (RUN_COMMAND,)).fetchall()
    if any(r[0] == run_id for r in rows):
        return run_id, True
    if rows and not force_new:
        diff = config_diff(json.loads(rows[-1][1]), record)
        raise UserError(f"{store.path} already holds a run with another config ({'; '.join(diff)}); "
                        "rerun with the same options to resume it, or add --force-new-run")
    with store.transaction():
        store.db["runs"].insert({"id": run_id, "created_at": utcnow(), "command": RUN_COMMAND,
                                 "config_json": canonical_json(record), "config_hash": run_id,
                                 "status": "running", "report_json": None})
    return run_id, False


def run_pipeline(store: Store, gen: CachedBackend, cfg: RunConfig, run_id: str,
                 judge_gen: CachedBackend | None = None, *, parallel: int = 1) -> Iterator[StageEvent]:
    """`parallel` work items in flight in every model stage (1: the deterministic one-at-a-time path)."""
    api_cfg = cfg.api_stage()
    api_stage = prepare_api_stage(store, gen, api_cfg)
    yield StageEvent("tree:start", len(api_stage.documents))
    for ev in api_stage.tree_events(gen, store, api_cfg):
        yield StageEvent("tree", ev)
    yield StageEvent("apis:start", api_stage.run.id)
    for ev in api_stage.synth_events(gen, store, api_cfg, parallel=parallel):
        yield StageEvent("apis", ev)
    dialog_cfg = cfg.dialog_stage()
    dialog_stage = prepare_dialog_stage(store, gen, dialog_cfg)
    judges = None
    if cfg.judges != "off":
        judges = Judges(judge_gen or gen, samples=cfg.judge_samples, seed=cfg.seed, enforce=cfg.judges == "enforce",
                        role="judge" if judge_gen is not None else "")
    # Every check runs on each new dialog, so `dialogs` counts kept ones and a rejected kind is topped up.
    yield StageEvent("dialogs:start", dialog_stage.run.id)
    for ev in dialog_stage.events(gen, store, dialog_cfg, parallel=parallel, gate=gate(judges),
                                  backends={"judge": judge_gen} if judge_gen is not None else None):
        yield StageEvent("dialogs", ev)
    yield StageEvent("verify:start", dialog_stage.run.id)
    for ev in verify_run(store, dialog_stage.run.id, judges, parallel=parallel):
        yield StageEvent("verify", ev)
    yield StageEvent("done", finish_run(store, run_id, api_stage.run.id, dialog_stage.run.id))


def finish_run(store: Store, run_id: str, api_run: str, dialog_run: str) -> dict[str, Any]:
    """The run's report (funnels, kept dialogs), stored with the run, which is now done."""
    config = json.loads(store.conn.execute("SELECT config_json FROM runs WHERE id=?", (run_id,)).fetchone()[0])
    requested = quotas(config["mix"], config["dialogs"]) if "mix" in config and "dialogs" in config else None
    report = {"api_run": api_run, "dialog_run": dialog_run, **run_report(store, api_run, dialog_run, requested)}
    set_run_status(store, run_id, "done", report)
    return report
