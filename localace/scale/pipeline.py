"""The pipeline's stages, sharded: the stages of `localace run`, each run by a ShardRunner and merged into the
main database before the next one starts (so the dialog stage samples the merged API pool). Runs get the
same ids as unsharded ones, so a run started one way can be resumed the other way."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from localace.apis.stage import ApiStage, ApiStageConfig, prepare_api_stage
from localace.dialogs.generate import DialogConfig
from localace.dialogs.stage import DialogStage, prepare_dialog_stage
from localace.pipeline import RunConfig, finish_run
from localace.scale.driver import Event, ShardRunner
from localace.scale.stages import api_plan, dialog_plan, tree_plan, verify_plan
from localace.store.db import Store

Stages = Generator[Event, None, Any]


class KnownModel:
    """A model known by its fingerprint, as the nodes reported it: enough to name runs, nothing to load."""

    def __init__(self, fingerprint: dict[str, Any]) -> None:
        self._fingerprint = fingerprint

    def fingerprint(self) -> dict[str, Any]:
        return self._fingerprint


def api_stages(store: Store, runner: ShardRunner, cfg: ApiStageConfig, stage: ApiStage) -> Stages:
    """Context tree (sharded by document), then API synthesis (by slot), of a prepared stage; returns it."""
    yield from runner.run(tree_plan(store, stage.tree_id, stage.documents, depth=cfg.depth, breadth=cfg.breadth,
                                    seed=cfg.seed))
    yield from runner.run(api_plan(stage.run.id, stage.tree_id, cfg.synth_config(), stage.documents_by_domain,
                                   main=store))
    return stage


def dialog_stages(runner: ShardRunner, cfg: DialogConfig, stage: DialogStage) -> Stages:
    """Dialog generation (by slot) of a prepared stage, over the merged API pool; returns the stage."""
    yield from runner.run(dialog_plan(stage.run.id, cfg))
    return stage


def verify_stages(store: Store, runner: ShardRunner, run_id: str, *, judges: str, samples: int, seed: int) -> Stages:
    """Rules and judges over a run's unverified dialogs (sharded by slot). judges: enforce | advisory | off."""
    yield from runner.run(verify_plan(store, run_id, judges=judges != "off", enforce=judges == "enforce",
                                      samples=samples, seed=seed))


def run_stages(store: Store, runner: ShardRunner, cfg: RunConfig, run_id: str, generator: KnownModel) -> Stages:
    """`localace run`, sharded; returns the run's report."""
    api_cfg = cfg.api_stage()
    api_stage = prepare_api_stage(store, generator, api_cfg)  # type: ignore[arg-type]  # only its fingerprint is used
    api: ApiStage = yield from api_stages(store, runner, api_cfg, api_stage)
    dialog_cfg = cfg.dialog_stage()
    dialog_stage = prepare_dialog_stage(store, generator, dialog_cfg)  # type: ignore[arg-type]
    dialogs: DialogStage = yield from dialog_stages(runner, dialog_cfg, dialog_stage)
    yield from verify_stages(store, runner, dialogs.run.id, judges=cfg.judges, samples=cfg.judge_samples, seed=cfg.seed)
    return finish_run(store, run_id, api.run.id, dialogs.run.id)
