"""`--ray [ADDRESS] --shards N`: run, apis synth, dialogs generate, verify and eval as sharded Ray tasks."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import click

from localace.cli.common import resolve_parallel
from localace.cli.common import err
from localace.cli.progress import progress
from localace.errors import UserError
from localace.scale.driver import ShardFailure, ShardProgress, ShardRunner, StageDone, shards_dir
from localace.scale.shard import Models, NodeReport
from localace.store.db import Store

_META = "localace.scale"
ADVISORY_JUDGES = ("judges: off, the judge model is small (< 1 GiB) and judges near chance "
                   "(--judges advisory records its verdicts, --judges enforce rejects on them, "
                   "--judge-model takes a larger GGUF)")
_LABELS = {"tree": "context tree", "apis": "APIs", "dialogs": "dialogs", "verify": "verify", "eval": "eval"}


@dataclass(frozen=True)
class ScaleRequest:
    address: str | None  # None: a new Ray on this machine
    shards: int | None  # None: one per `threads` CPUs of the cluster
    threads: int
    num_gpus: float
    parallel: int = 1  # work items in flight inside each shard (the command's --parallel)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def ray_options(f: Callable) -> Callable:
    """The scale-out options; they reach the command through scale_request(), not as parameters."""
    options = [
        click.option("--ray", "ray", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
                     expose_value=False, callback=_remember,
                     help="Run as sharded Ray tasks: alone, on a new Ray on this machine; with ADDRESS, on that "
                          "cluster (`auto`: the one running here). Needs `pip install 'localace[ray]'`."),
        click.option("--shards", "shards", type=click.IntRange(1, 100_000), default=None, expose_value=False,
                     callback=_remember, help="Shards per stage (default: the cluster's CPUs / threads per shard)."),
        click.option("--threads-per-shard", "threads", type=click.IntRange(1, 256), default=None, expose_value=False,
                     callback=_remember, help="llama.cpp threads of each shard, and the CPUs Ray reserves for it "
                                              "(default: LOCALACE_THREADS, else 1)."),
        click.option("--num-gpus", "num_gpus", type=click.FloatRange(0, 64), default=0.0, expose_value=False,
                     callback=_remember, help="GPUs per shard (a Ray resource; layers are offloaded when > 0)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def scale_request() -> ScaleRequest | None:
    """What --ray/--shards asked for, or None when the command runs here, unsharded."""
    opts = click.get_current_context().meta.get(_META, {})
    if opts.get("ray") is None:
        if opts.get("shards") is not None or opts.get("num_gpus"):
            raise UserError("--shards and --num-gpus need --ray")
        return None
    threads = opts.get("threads") or int(os.environ.get("LOCALACE_THREADS", "0") or 0) or 1
    params = click.get_current_context().params
    if params.get("lora"):
        raise UserError("--lora does not go with --ray yet: run the adapted model without --ray")
    parallel = resolve_parallel(params.get("parallel"), bool(params.get("deterministic")), params.get("n_gpu_layers") or 0)
    return ScaleRequest(opts["ray"] or None, opts.get("shards"), threads, opts.get("num_gpus") or 0.0, parallel)


@dataclass
class Cluster:
    runner: ShardRunner
    reports: dict[str, NodeReport]

    @property
    def first(self) -> NodeReport:
        return next(iter(self.reports.values()))

    def fingerprint(self, model: str | None) -> dict[str, Any]:
        return self.first.fingerprints[model or ""]

    def known(self, model: str | None):
        from localace.scale.pipeline import KnownModel

        return KnownModel(self.fingerprint(model))

    def size(self, model: str | None) -> int | None:
        return self.first.sizes[model or ""]

    def label(self, model: str | None) -> str:
        return self.first.labels[model or ""]


def start_cluster(store: Store, request: ScaleRequest, models: Models) -> Cluster:
    """Start or join Ray, check every node (models present and identical, shard folder visible), size the shards."""
    from localace.scale.ray_exec import RayExecutor

    executor = RayExecutor(request.address, num_gpus=request.num_gpus)
    err.print(f"Ray: {'joining ' + request.address if request.address else 'starting on this machine'} …")
    executor.start()
    folder = shards_dir(store.path)
    folder.mkdir(exist_ok=True)
    reports = executor.check_nodes(models, folder)
    cpus = sum(int(n.get("Resources", {}).get("CPU", 0)) for n in executor.nodes())
    shards = request.shards or max(1, cpus // request.threads)
    runner = ShardRunner(store, executor, shards=shards, models=models, threads=request.threads,
                         gpu_layers=-1 if request.num_gpus > 0 else 0, parallel=request.parallel)
    err.print(f"Ray: {len(reports)} node(s), {cpus} CPUs; {shards} shards of {request.threads} thread(s) each, "
              f"files in {folder}")
    return Cluster(runner, reports)


def drive(stages: Generator[Any, None, Any]) -> Any:
    """One progress bar per stage across its shards; each failed shard printed with its error. Returns what
    the stages return."""
    with progress() as bars:
        tasks: dict[str, Any] = {}
        while True:
            try:
                event = next(stages)
            except StopIteration as stop:
                return stop.value
            if isinstance(event, ShardFailure):
                err.print(f"{event.stage} shard {event.shard + 1}/{event.shards} failed"
                          f"{' on ' + event.host if event.host else ''}: {event.error}", markup=False)
                continue
            stage = event.stage
            if stage not in tasks:  # a stage with nothing left to do only reports that it is done
                total = event.total if isinstance(event, ShardProgress) else event.rows
                tasks[stage] = bars.add_task(_LABELS.get(stage, stage), total=max(total, 1), info="")
            if isinstance(event, ShardProgress):
                info = f"{event.running} shards running" + (f", top-up round {event.round}" if event.round > 1 else "")
                bars.update(tasks[stage], total=max(event.total, 1), completed=event.done, info=info)
            elif isinstance(event, StageDone):
                dups = sum(c.duplicate for m in event.merges for c in m.tables.values())
                info = (f"merged {len(event.merges)} shard files in {event.merge_seconds:.2f} s"
                        + (f", {dups} duplicates topped up" if dups else "")) if event.merges else "done before"
                bars.update(tasks[stage], completed=event.rows, info=info)


def resolve_judges(cfg_judges: str, cluster: Cluster, judge_model: str | None) -> str:
    from localace.verify.judges import judge_mode_for_size

    resolved = judge_mode_for_size(cfg_judges, cluster.size(judge_model))
    if cfg_judges == "auto" and resolved == "off":
        err.print(ADVISORY_JUDGES)
    return resolved


def run_sharded(store: Store, cfg: Any, request: ScaleRequest, *, model: str | None, judge_model: str | None,
                n_ctx: int, force_new_run: bool) -> dict[str, Any]:
    """`localace run --ray`: the same run (same id) as without --ray, its stages sharded; returns the report."""
    from localace.pipeline import config_record, ensure_pipeline_run
    from localace.scale.pipeline import run_stages

    judge = judge_model if judge_model and cfg.judges != "off" else None
    cluster = start_cluster(store, request, Models(model, judge=judge, n_ctx=n_ctx))
    if cfg.judges == "auto":
        cfg = dataclasses.replace(cfg, judges=resolve_judges("auto", cluster, judge or model))
    from localace.dialogs.generate import free_text_for_size

    cfg = dataclasses.replace(cfg, free_text=free_text_for_size(cluster.size(model)))
    models = {"generator": cluster.fingerprint(model), "judge": cluster.fingerprint(judge) if judge else None}
    run_id, resumed = ensure_pipeline_run(store, config_record(cfg, models), force_new=force_new_run)
    err.print(f"run {run_id} ({'resuming' if resumed else 'new'}) in {store.path}")
    return drive(run_stages(store, cluster.runner, cfg, run_id, cluster.known(model)))


def synth_sharded(store: Store, request: ScaleRequest, cfg: Any, *, model: str | None, n_ctx: int,
                  announce: Callable[[Any], None]) -> Any:
    from localace.apis.stage import prepare_api_stage
    from localace.scale.pipeline import api_stages

    cluster = start_cluster(store, request, Models(model, n_ctx=n_ctx))
    stage = prepare_api_stage(store, cluster.known(model), cfg)  # type: ignore[arg-type]  # needs the fingerprint only
    announce(stage)
    return drive(api_stages(store, cluster.runner, cfg, stage))


def dialogs_sharded(store: Store, request: ScaleRequest, cfg: Any, *, model: str | None, learner: str | None,
                    n_ctx: int) -> Any:
    from localace.dialogs.stage import prepare_dialog_stage
    from localace.scale.pipeline import dialog_stages

    cluster = start_cluster(store, request, Models(model, learner=learner, n_ctx=n_ctx))
    learner_fp = cluster.fingerprint(learner) if learner else None
    stage = prepare_dialog_stage(store, cluster.known(model), cfg, learner_fp=learner_fp)  # type: ignore[arg-type]
    err.print(f"run {stage.run.id} ({'resumed' if stage.run.resumed else 'new'}), {stage.pool_size} APIs in the pool")
    return drive(dialog_stages(cluster.runner, cfg, stage))


def verify_sharded(store: Store, request: ScaleRequest, runs: list[str], *, model: str | None, n_ctx: int,
                   judges_mode: str | None, judge_samples: int, seed: int) -> None:
    """judges_mode None: rule checks only."""
    from localace.scale.pipeline import verify_stages

    cluster = start_cluster(store, request, Models(model, n_ctx=n_ctx))
    judges = "off" if judges_mode is None else resolve_judges(judges_mode, cluster, model)
    for run_id in runs:
        drive(verify_stages(store, cluster.runner, run_id, judges=judges, samples=judge_samples, seed=seed))


def eval_sharded(store: Store, request: ScaleRequest, items: list, *, model: str | None, n_ctx: int, mode: str,
                 seed: int, max_tokens: int):
    """`localace eval --ray`: entries sharded by position; the report is read back from the merged results."""
    from localace.evaluate.runner import EntryResult, EvalReport, result_id
    from localace.scale.stages import eval_plan
    from localace.store.db import utcnow

    cluster = start_cluster(store, request, Models(model, n_ctx=n_ctx))
    fingerprint, name = cluster.fingerprint(model), cluster.label(model)
    key = f"{name}-{mode}".replace("/", "_")[:60]
    plan = eval_plan(key, items, mode=mode, model_name=name, seed=seed, max_tokens=max_tokens, since=utcnow())
    done = drive(cluster.runner.run(plan))
    report = EvalReport(name, mode, model_calls=done.model_calls, cache_hits=done.cache_hits)
    for item in items:
        row = store.conn.execute(
            "SELECT raw_output, decoded_json, valid, error_type, message, fallback FROM eval_results WHERE id=?",
            (result_id(fingerprint, mode, item.entry),)).fetchone()
        raw, decoded, valid, error_type, message, fallback = row
        report.results.append(EntryResult(item.id, item.category, raw, None if decoded is None else json.loads(decoded),
                                          bool(valid), error_type, message or "", fallback))
    return report
