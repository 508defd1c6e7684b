"""`localace eval`: BFCL-compatible function-calling evaluation of a local model."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click
from rich.table import Table

from localace.backends import make_backend
from localace.cli.common import ctx_option, db_option, err, handle_errors, lora_option, model_option, out, print_json, seed_option
from localace.cli.progress import progress
from localace.evaluate.prompting import MODES, PROMPT
from localace.evaluate.runner import MAX_TOKENS, EntryResult, EvalReport, load_eval_set, run_eval
from localace.store import open_store
from localace.store.cache import CachedBackend


def _percent(score: dict) -> str:
    return f"{100 * score['accuracy']:.1f}%"


def accuracy_table(report: EvalReport) -> Table:
    table = Table(title=f"BFCL AST accuracy — {report.model}, {report.mode} mode")
    table.add_column("category")
    for column in ("total", "correct", "accuracy"):
        table.add_column(column, justify="right")
    for category, score in report.summary().items():
        table.add_row(category, str(score["total"]), str(score["correct"]), _percent(score))
    overall = report.overall()
    table.add_row("[bold]overall[/]", str(overall["total"]), str(overall["correct"]), _percent(overall))
    return table


def error_table(report: EvalReport) -> Table:
    table = Table(title="errors")
    table.add_column("error type")
    table.add_column("entries", justify="right")
    for error_type, count in report.error_types().items():
        table.add_row(error_type or "-", str(count))
    return table


@click.command("eval")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--data", "data_path", required=True, help="BFCL question entries (JSON Lines).")
@click.option("--answers", "answers_path", default=None,
              help="BFCL possible answers; default: <data stem>.answers.jsonl or possible_answer/<data name>.")
@click.option("--category", default=None, help="Only entries of this BFCL category (also the category of ids that name none).")
@click.option("--limit", type=int, default=None, help="Evaluate the first N entries only.")
@click.option("--mode", type=click.Choice(MODES), default=PROMPT, show_default=True,
              help="prompt: free text decoded as a call list; constrained: JSON call list under a schema.")
@click.option("--max-tokens", type=click.IntRange(1, 32768), default=MAX_TOKENS, show_default=True,
              help="Token budget of each answer; a longer answer counts as a decode failure.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def eval_cmd(db_path: str, model: str | None, lora: str | None, seed: int, n_ctx: int, data_path: str, answers_path: str | None,
             category: str | None, limit: int | None, mode: str, max_tokens: int, as_json: bool) -> None:
    """Score a model's function calls on BFCL entries with BFCL's AST rules (outputs cached in --db)."""
    items = load_eval_set(data_path, answers_path, category=category, limit=limit)
    store = open_store(db_path)
    backend = make_backend(model, n_ctx=n_ctx, file_hash=store.file_hash, lora=lora)
    session = store.start_session(shlex.join(["localace", *sys.argv[1:]]))
    cached = CachedBackend(backend, store, session)
    model_ref = getattr(backend, "model", None)
    name = getattr(model_ref, "name", None) or model or backend.name
    if lora:
        name = f"{name}+{Path(lora).name}"
    correct = 0
    with progress() as bar:
        task = bar.add_task("eval", total=len(items), info="")

        def advance(result: EntryResult) -> None:
            nonlocal correct
            correct += int(result.valid)
            bar.update(task, advance=1, info=f"{correct} correct")

        report = run_eval(cached, store, items, mode=mode, model=name, seed=seed, max_tokens=max_tokens,
                          on_result=advance)
    if as_json:
        print_json(report.as_json())
        return
    out.print(accuracy_table(report))
    if report.error_types():
        out.print(error_table(report))
    err.print(f"[dim]{report.model_calls} model calls, {report.cache_hits} cache hits; "
              f"{report.fallbacks()} fallbacks to prompt mode[/]")
