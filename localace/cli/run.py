"""`localace run` (the whole pipeline) and `localace export`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from rich.table import Table

from localace.apis.seed_corpus import load_documents
from localace.card import card_data, render_card, write_card
from localace.cli.common import cached_model, start_session
from localace.cli.common import lora_option, ctx_option, db_option, err, existing_store, handle_errors, model_option, out, seed_option
from localace.cli.common import exclusive_store, model_size, parallel_options, resolve_models, resolve_parallel
from localace.cli.dialogs import parse_band, tool_results_option
from localace.cli.scale import ADVISORY_JUDGES, ray_options, run_sharded, scale_request
from localace.cli.progress import progress
from localace.dialogs.generate import free_text_for_size, iter_dialogs, parse_mix
from localace.dialogs.model import KINDS
from localace.errors import UserError
from localace.formats.registry import EXPORT_FORMATS
from localace.formats.write import write_export
from localace.pipeline import RunConfig, config_record, ensure_pipeline_run, run_pipeline
from localace.stats import calls_by_stage, calls_since, collect_stats
from localace.verify.judges import judge_mode
from localace.store.cache import CachedBackend
from localace.store.db import Store

FORMAT_CHOICE = click.Choice(EXPORT_FORMATS)


def funnel_table(funnel: dict) -> Table:
    table = Table(title=f"{funnel['stage']}: {funnel['requested']} requested → {funnel['kept']} kept")
    table.add_column("check")
    table.add_column("rejected", justify="right")
    table.add_column("remaining", justify="right")
    table.add_row("requested", "", str(funnel["requested"]))
    for row in funnel["checks"]:
        table.add_row(row["check"], str(row["rejected"]), str(row["remaining"]))
    return table


def kind_table(kinds: list[dict]) -> Table:
    table = Table(title="dialog kinds: requested → kept")
    for column in ("kind", "requested", "kept", "attempts"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for row in kinds:
        table.add_row(row["kind"], "" if row["requested"] is None else str(row["requested"]), str(row["kept"]),
                      str(row["attempts"]))
    return table


@click.command("run")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--apis", "n_apis", type=click.IntRange(1, 1_000_000), default=6, show_default=True)
@click.option("--dialogs", "n_dialogs", type=click.IntRange(1, 10_000_000), default=6, show_default=True)
@click.option("--docs", default=None, help="Folder of .md/.txt API documents (default: built-in corpus).")
@click.option("--max-docs", type=click.IntRange(1, 100000), default=8, show_default=True,
              help="Use a seeded subset of this many documents (top-level domains).")
@click.option("--depth", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--breadth", type=click.IntRange(1, 8), default=3, show_default=True)
@click.option("--generations", type=click.IntRange(0, 6), default=2, show_default=True)
@click.option("--mix", default=None, help="Dialog kind shares, e.g. single=0.3,irrelevance=0.2.")
@click.option("--k", "k", type=click.IntRange(1, 9), default=3, show_default=True, help="Self-consistency samples.")
@click.option("--band", default="10,90", show_default=True, help="Complexity band (percentiles).")
@click.option("--no-complexity", is_flag=True, help="Skip complexity scoring.")
@click.option("--judges", "judges_mode", type=click.Choice(["auto", "enforce", "advisory", "off"]), default="auto",
              show_default=True, help="auto: enforce verdicts, except that a judge GGUF under 1 GiB is off.")
@click.option("--no-judges", is_flag=True, help="Same as --judges off.")
@click.option("--judge-model", default=None, help="GGUF for the judges (default: the generation model).")
@click.option("--judge-samples", type=click.IntRange(1, 9), default=1, show_default=True, help="Majority over N verdicts.")
@click.option("--out", "out_path", default=None, help="Write the kept dialogs to this JSON Lines file, with a dataset card (README.md) beside it.")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="openai", show_default=True)
@click.option("--force-new-run", is_flag=True, help="Start a new run although the db holds one with another config.")
@tool_results_option
@parallel_options
@ray_options
@handle_errors
def run_cmd(db_path: str, model: str | None, lora: str | None, n_gpu_layers: int, seed: int, n_ctx: int, n_apis: int, n_dialogs: int, docs: str | None,
            max_docs: int, depth: int, breadth: int, generations: int, mix: str | None, k: int, band: str, no_complexity: bool,
            judges_mode: str, no_judges: bool, judge_model: str | None, judge_samples: int, out_path: str | None, fmt: str,
            force_new_run: bool, tool_results: str, parallel: int | None, deterministic: bool) -> None:
    """The whole pipeline on one command; kill it any time and run the same command to resume."""
    parallel = resolve_parallel(parallel, deterministic, n_gpu_layers)
    if no_judges:
        judges_mode = "off"
    cfg = RunConfig(apis=n_apis, dialogs=n_dialogs, seed=seed, docs=docs, max_docs=max_docs, depth=depth, breadth=breadth,
                    generations=generations, mix=parse_mix(mix), k=k, band=parse_band(band),
                    complexity=not no_complexity, judges=judges_mode, judge_samples=judge_samples,
                    tool_results=tool_results)
    if out_path and not Path(out_path).expanduser().parent.exists():
        raise UserError(f"cannot write {out_path}: folder {Path(out_path).parent} does not exist")
    if docs:
        load_documents(Path(docs))  # a bad folder must fail before a run with it is recorded in the db
    scale = scale_request()
    if scale is None:  # a sharded run's nodes resolve the model themselves: it may live only on them
        resolve_models(model, *([judge_model] if judge_model and judges_mode != "off" else []))
    store = exclusive_store(db_path)
    session = start_session(store)
    if scale is not None:
        report = run_sharded(store, cfg, scale, model=model, judge_model=judge_model, n_ctx=n_ctx,
                             force_new_run=force_new_run)
        return _finish(store, report, calls_since(store, session), out_path, fmt, seed)
    gen = cached_model(store, session, model, n_ctx=n_ctx, lora=lora, n_gpu_layers=n_gpu_layers, parallel=parallel)
    judge_gen = None
    if judge_model and judges_mode != "off":
        judge_gen = cached_model(store, session, judge_model, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, parallel=parallel)
    if cfg.judges == "auto":
        resolved = judge_mode("auto", (judge_gen or gen).backend)
        cfg = dataclasses.replace(cfg, judges=resolved)
        if resolved == "off":
            err.print(ADVISORY_JUDGES)
    cfg = dataclasses.replace(cfg, free_text=free_text_for_size(model_size(gen.backend)))
    models = {"generator": gen.fingerprint(), "judge": judge_gen.fingerprint() if judge_gen else None}
    run_id, resumed = ensure_pipeline_run(store, config_record(cfg, models), force_new=force_new_run)
    err.print(f"run {run_id} ({'resuming' if resumed else 'new'}) in {db_path}")
    report = _drive(store, gen, cfg, run_id, judge_gen, parallel)
    _finish(store, report, collect_stats(store)["last_session"], out_path, fmt, seed)


def _finish(store: Store, report: dict, calls: dict, out_path: str | None, fmt: str, seed: int) -> None:
    """The funnels, this command's model calls, and the export."""
    for funnel in report["funnels"]:
        out.print(funnel_table(funnel))
    if report.get("kinds"):
        out.print(kind_table(report["kinds"]))
    out.print(f"{report['kept_dialogs']} dialogs kept. This session: {calls['model_calls']} model calls, "
                      f"{calls['cache_hits']} cache hits, KV-cache reuse {calls['kv_reuse_ratio']:.0%}.")
    if calls.get("id") is not None and (by_stage := calls_by_stage(store, "c.session_id >= ?", (calls["id"],))):
        out.print("Model calls by stage: " + ", ".join(f"{stage} {n}" for stage, n in by_stage.items()) + ".")
    if out_path:
        export_dataset(store, fmt, out_path, run_id=report["dialog_run"], status="kept", seed=seed)


def _drive(store: Store, gen: CachedBackend, cfg: RunConfig, run_id: str, judge_gen: CachedBackend | None,
           parallel: int = 1) -> dict:
    report: dict = {}
    with progress() as bars:
        tasks: dict[str, int] = {}
        failed = {"apis": 0, "dialogs": 0, "verify": 0}
        for se in run_pipeline(store, gen, cfg, run_id, judge_gen, parallel=parallel):
            stage, ev = se.stage, se.event
            if stage == "tree:start":
                tasks["tree"] = bars.add_task("context tree", total=ev, info="")
            elif stage == "tree":
                bars.update(tasks["tree"], advance=1, info=ev.document)
            elif stage == "apis:start":
                bars.update(tasks["tree"], completed=bars.tasks[tasks["tree"]].total)
                tasks["apis"] = bars.add_task("APIs", total=cfg.apis,
                                              completed=min(cfg.apis, store.count("apis", "run_id=?", (ev,))), info="")
            elif stage == "apis":
                if ev.accepted:
                    bars.update(tasks["apis"], advance=1, info=ev.api.name)
                else:
                    failed["apis"] += 1
                    bars.update(tasks["apis"], info=f"{failed['apis']} slots failed")
            elif stage == "dialogs:start":
                tasks["dialogs"] = bars.add_task("dialogs", total=cfg.dialogs, info="",
                                                 completed=min(cfg.dialogs, store.count("dialogs", "run_id=?", (ev,))))
            elif stage == "dialogs":
                if ev.accepted:
                    bars.update(tasks["dialogs"], advance=1, info=ev.kind)
                else:
                    failed["dialogs"] += 1
                    bars.update(tasks["dialogs"], info=f"{failed['dialogs']} slots failed ({ev.check})")
            elif stage == "verify:start":
                total = store.count("dialogs", "run_id=?", (ev,))
                done = store.count("dialogs", "run_id=? AND status!='generated'", (ev,))
                tasks["verify"] = bars.add_task("verify", total=total, completed=done, info="")
            elif stage == "verify":
                failed["verify"] += 0 if ev.kept else 1
                bars.update(tasks["verify"], advance=1, info=f"{failed['verify']} rejected")
            elif stage == "done":
                report = ev
    return report


@click.command("export")
@db_option
@click.option("--format", "fmt", type=FORMAT_CHOICE, required=True)
@click.option("--out", "out_path", required=True,
              help="Output JSON Lines file (bfcl also writes FILE.answers.jsonl); README.md goes beside it.")
@click.option("--only-kept/--all", default=True, show_default=True, help="Only dialogs that passed verification.")
@click.option("--kinds", default=None, help="Comma-separated dialog kinds to include.")
@click.option("--run", "run_id", default=None, help="Dialog run id (default: every run in the db).")
@click.option("--tool-mix", default=None, help="Tool-list styles in the system prompt, e.g. json=0.5,yaml=0.2,xml=0.15,markdown=0.15.")
@click.option("--license", "license_id", default=None,
              help="Licence id for the dataset card (default: the generating model's licence, else unknown).")
@seed_option
@handle_errors
def export_cmd(db_path: str, fmt: str, out_path: str, only_kept: bool, kinds: str | None, run_id: str | None,
               tool_mix: str | None, license_id: str | None, seed: int) -> None:
    """Export dialogs in a trainer's format (dpo: preference pairs), with a dataset card (README.md) beside them."""
    store = existing_store(db_path)
    wanted = tuple(k.strip() for k in kinds.split(",")) if kinds else ()
    if unknown := [k for k in wanted if k not in KINDS]:
        raise UserError(f"unknown dialog kind(s) {', '.join(unknown)} (kinds: {', '.join(KINDS)})")
    mix = _parse_tool_mix(tool_mix) if tool_mix else None
    export_dataset(store, fmt, out_path, run_id=run_id, status="kept" if only_kept else None, kinds=wanted, seed=seed,
                   tool_mix=mix, license=license_id)


def export_dataset(store: Store, fmt: str, out_path: str, *, run_id: str | None, status: str | None,
                   kinds: tuple[str, ...] = (), seed: int = 0, tool_mix: dict[str, float] | None = None,
                   license: str | None = None) -> None:
    """Write the data file and its dataset card, and say what was written (export and run --out)."""
    summary = write_export(iter_dialogs(store, run_id, status=status, kinds=kinds), fmt, out_path, seed=seed,
                           tool_mix=tool_mix)
    data = card_data(store, summary, run_id=run_id, status=status, kinds=kinds, seed=seed, tool_mix=tool_mix,
                     license=license)
    card = write_card(summary.path, render_card(data))
    click.echo(f"wrote {summary.rows} rows ({fmt}) to {summary.path}"
               + "".join(f"; also {p}" for p in summary.extra_files) + f"; dataset card {card.path}")
    if card.note:
        click.echo(f"  {card.note}")
    for reason, n in summary.not_applicable.items():
        click.echo(f"  {n} dialogs skipped: {reason}")
    for reason, n in summary.dropped.items():
        click.echo(f"  {n} preference pairs dropped: {reason}")


def _parse_tool_mix(text: str) -> dict[str, float]:
    from localace.formats.tool_render import STYLES

    mix = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in STYLES:
            raise UserError(f"unknown tool style {name!r} (styles: {', '.join(STYLES)})")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--tool-mix {part!r}: the share must be a number") from None
    return mix
