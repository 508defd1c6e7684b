"""`localace import` (datasets into the store) and `localace verify` (rules + judges on a run)."""

from __future__ import annotations

import shlex
import sys

import click

from localace.backends import make_backend
from localace.cli.common import ctx_option, db_option, existing_store, handle_errors, lora_option, model_option, out, seed_option
from localace.cli.progress import progress
from localace.cli.run import funnel_table
from localace.formats.ingest import ingest_file
from localace.formats.registry import IMPORT_FORMATS
from localace.report import verification_funnels
from localace.store import open_store
from localace.store.cache import CachedBackend
from localace.verify.judges import Judges, judge_mode
from localace.verify.stage import pending, verify_run


@click.command("import")
@db_option
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), required=True)
@click.argument("file")
@handle_errors
def import_cmd(db_path: str, fmt: str, file: str) -> None:
    """Import a dialog dataset (toolace, openai, sharegpt, hermes, xlam) to verify and report on it."""
    summary = ingest_file(open_store(db_path), file, fmt)
    out.print(f"{file}: {summary.imported} dialogs imported into run {summary.run_id}, "
              f"{summary.duplicates} already present, {len(summary.malformed)} malformed rows")
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
              show_default=True, help="auto: enforce verdicts, except a judge GGUF under 1 GiB only records them.")
@click.option("--judge-samples", type=click.IntRange(1, 9), default=1, show_default=True)
@handle_errors
def verify_cmd(db_path: str, model: str | None, lora: str | None, seed: int, n_ctx: int, run_id: str | None, no_judges: bool,
               judges_mode: str, judge_samples: int) -> None:
    """Run the rule layer (and model judges) over dialogs not verified yet."""
    store = existing_store(db_path)
    runs = [run_id] if run_id else [r[0] for r in store.conn.execute(
        "SELECT DISTINCT run_id FROM dialogs WHERE status='generated' ORDER BY run_id")]
    judges = None
    if not no_judges:
        session = store.start_session(shlex.join(["localace", *sys.argv[1:]]))
        gen = CachedBackend(make_backend(model, n_ctx=n_ctx, file_hash=store.file_hash, lora=lora), store, session)
        judges = Judges(gen, samples=judge_samples, seed=seed, enforce=judge_mode(judges_mode, gen.backend) == "enforce")
    with progress() as bars:
        for rid in runs:
            task = bars.add_task(f"verify {rid}", total=len(pending(store, rid)), info="")
            for ev in verify_run(store, rid, judges):
                bars.update(task, advance=1, info="kept" if ev.kept else f"rejected at {ev.rejected_at}")
    for rid in runs or ([run_id] if run_id else []):
        for funnel in verification_funnels(store, rid):
            out.print(funnel_table(funnel))
