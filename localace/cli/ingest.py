"""`localace import` (datasets into the store) and `localace verify` (rules + judges on a run)."""

from __future__ import annotations


from collections import Counter

import click

from localace.cli.common import cached_model, start_session
from localace.cli.common import (
    lora_option,
    ctx_option, db_option, err, exclusive_store, fail, handle_errors, model_option, out, parallel_options,
    resolve_parallel,
    seed_option,
)
from localace.cli.scale import ADVISORY_JUDGES, ray_options, scale_request, verify_sharded
from localace.cli.progress import progress
from localace.cli.run import funnel_table
from localace.apis.importers import skip_counts
from localace.apis.spec import unknown_formats
from localace.formats.ingest import ingest_file, read_dialogs
from localace.formats.registry import IMPORT_FORMATS
from localace.report import rejection_reasons, verification_funnels
from localace.store import open_store
from localace.verify.judges import Judges, judge_mode
from localace.verify.stage import pending, verify_run


_SHOWN_REASONS = 12


@click.command("import")
@db_option
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), required=True)
@click.option("--strict", is_flag=True, help="Import nothing and exit 2 when any row would be skipped.")
@click.argument("file")
@handle_errors
def import_cmd(db_path: str, fmt: str, file: str, strict: bool) -> None:
    """Import a dialog dataset (toolace, openai, sharegpt, hermes, xlam) to verify and report on it."""
    dialogs, malformed = read_dialogs(file, fmt)
    if strict and malformed:
        kinds = skip_counts(reason for _, reason in malformed)
        fail(f"{file}: --strict: {len(malformed)} rows would be skipped ("
             + "; ".join(f"{n} × {kind}" for kind, n in kinds.most_common()) + ")", 2)
    summary = ingest_file(open_store(db_path), file, fmt, read=(dialogs, malformed))
    out.print(f"{file}: {summary.imported} dialogs imported into run {summary.run_id}, "
              f"{summary.duplicates} already present, {len(summary.malformed)} malformed rows")
    for kind, n in skip_counts(reason for _, reason in summary.malformed).most_common():
        out.print(f"  skipped {n}: {kind}", markup=False)
    annotations = Counter(fmt for d in dialogs for tool in d.tools for _, fmt in unknown_formats(tool.parameters))
    if annotations:
        out.print("  unknown formats kept as annotations (not checked): " + ", ".join(
            f"{name!r} ({n})" for name, n in annotations.most_common()), markup=False)
    for line, reason in summary.malformed[:10]:
        out.print(f"  line {line}: {reason[:200]}", markup=False)
    if len(summary.malformed) > 10:
        out.print(f"  … and {len(summary.malformed) - 10} more")
    out.print(f"next: localace verify --db {db_path} --run {summary.run_id}")


@click.command("verify")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--run", "run_id", default=None, help="Dialog run to verify (default: every run with unverified dialogs).")
@click.option("--no-judges", is_flag=True, help="Rule checks only.")
@click.option("--judges", "judges_mode", type=click.Choice(["auto", "enforce", "advisory"]), default="auto",
              show_default=True, help="auto: enforce verdicts, except that a judge GGUF under 1 GiB is off.")
@click.option("--judge-samples", type=click.IntRange(1, 9), default=1, show_default=True)
@parallel_options
@ray_options
@handle_errors
def verify_cmd(db_path: str, model: str | None, lora: str | None, n_gpu_layers: int, seed: int, n_ctx: int, run_id: str | None, no_judges: bool,
               judges_mode: str, judge_samples: int, parallel: int | None, deterministic: bool) -> None:
    """Run the rule layer (and model judges) over dialogs not verified yet."""
    parallel = resolve_parallel(parallel, deterministic, n_gpu_layers)
    store = exclusive_store(db_path, must_exist="")
    runs = [run_id] if run_id else [r[0] for r in store.conn.execute(
        "SELECT DISTINCT run_id FROM dialogs WHERE status='generated' ORDER BY run_id")]
    if (scale := scale_request()) is not None:
        start_session(store)
        verify_sharded(store, scale, runs, model=model, n_ctx=n_ctx, judges_mode=None if no_judges else judges_mode,
                       judge_samples=judge_samples, seed=seed)
        return _show_funnels(store, runs or ([run_id] if run_id else []))
    judges = None
    if not no_judges:
        session = start_session(store)
        gen = cached_model(store, session, model, n_ctx=n_ctx, lora=lora, n_gpu_layers=n_gpu_layers, parallel=parallel)
        mode = judge_mode(judges_mode, gen.backend)
        if mode == "off":
            err.print(ADVISORY_JUDGES)
        else:
            judges = Judges(gen, samples=judge_samples, seed=seed, enforce=mode == "enforce")
    with progress() as bars:
        for rid in runs:
            task = bars.add_task(f"verify {rid}", total=len(pending(store, rid)), info="")
            for ev in verify_run(store, rid, judges, parallel=parallel):
                bars.update(task, advance=1, info="kept" if ev.kept else f"rejected at {ev.rejected_at}")
    _show_funnels(store, runs or ([run_id] if run_id else []))


def _show_funnels(store, runs: list[str]) -> None:
    for rid in runs:
        for funnel in verification_funnels(store, rid):
            out.print(funnel_table(funnel))
        reasons = rejection_reasons(store, rid)
        if reasons:
            out.print(f"rejected in run {rid} ({len(reasons)}), each at its first failing check:")
        for check, reason in reasons[:_SHOWN_REASONS]:
            out.print(f"  {reason or check}"[:240], markup=False)
        if len(reasons) > _SHOWN_REASONS:
            out.print(f"  … and {len(reasons) - _SHOWN_REASONS} more (localace dialogs show ID --json)")
