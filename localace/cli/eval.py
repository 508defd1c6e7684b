"""`localace eval`: BFCL-compatible function-calling evaluation of a local model."""

from __future__ import annotations


import click
from rich.table import Table

from localace.bfcl_package import parse_categories
from localace.cli.common import cached_model, start_session
from localace.cli.common import (
    lora_option,
    ctx_option, db_option, err, exclusive_store, handle_errors, model_option, out, parallel_options, print_json,
    resolve_parallel, seed_option,
)
from localace.cli.scale import eval_sharded, ray_options, scale_request
from localace.cli.progress import progress
from localace.errors import UserError
from localace.evaluate.prompting import MODES, PROMPT
from localace.evaluate.runner import (
    MAX_TOKENS,
    EntryResult,
    EvalItem,
    EvalReport,
    load_bfcl_sets,
    load_eval_set,
    run_eval,
)


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


def _eval_items(data_path: str | None, answers_path: str | None, category: str | None,
                bfcl_categories: str | None, limit: int | None) -> list[EvalItem]:
    if bfcl_categories is None:
        if data_path is None:
            raise UserError("pass --data FILE (BFCL question entries) or --bfcl CATEGORIES")
        return load_eval_set(data_path, answers_path, category=category, limit=limit)
    for option, value in (("--data", data_path), ("--answers", answers_path), ("--category", category)):
        if value is not None:
            raise UserError(f"--bfcl reads the package's own files; leave out {option}")
    return load_bfcl_sets(parse_categories(bfcl_categories), limit=limit)


@click.command("eval")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--data", "data_path", default=None, help="BFCL question entries (JSON Lines).")
@click.option("--answers", "answers_path", default=None,
              help="BFCL possible answers; default: <data stem>.answers.jsonl or possible_answer/<data name>.")
@click.option("--category", default=None, help="Only entries of this BFCL category (also the category of ids that name none).")
@click.option("--bfcl", "bfcl_categories", default=None, metavar="CATEGORIES",
              help="Instead of --data: these categories (comma-separated, or 'all') from the installed "
                   "bfcl-eval package (pip install --no-deps bfcl-eval).")
@click.option("--limit", type=int, default=None, help="Evaluate the first N entries of the file (of each --bfcl category).")
@click.option("--mode", type=click.Choice(MODES), default=PROMPT, show_default=True,
              help="prompt: free text decoded as a call list; constrained: JSON call list under a schema.")
@click.option("--max-tokens", type=click.IntRange(1, 32768), default=MAX_TOKENS, show_default=True,
              help="Token budget of each answer; a longer answer counts as a decode failure.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@parallel_options
@ray_options
@handle_errors
def eval_cmd(db_path: str, model: str | None, lora: str | None, n_gpu_layers: int, seed: int, n_ctx: int, data_path: str | None,
             answers_path: str | None, category: str | None, bfcl_categories: str | None, limit: int | None,
             mode: str, max_tokens: int, as_json: bool, parallel: int | None, deterministic: bool) -> None:
    """Score a model's function calls on BFCL entries with BFCL's AST rules (outputs cached in --db)."""
    parallel = resolve_parallel(parallel, deterministic, n_gpu_layers)
    items = _eval_items(data_path, answers_path, category, bfcl_categories, limit)
    store = exclusive_store(db_path)
    if (scale := scale_request()) is not None:
        start_session(store)
        report = eval_sharded(store, scale, items, model=model, n_ctx=n_ctx, mode=mode, seed=seed, max_tokens=max_tokens)
        return show_report(report, as_json)
    session = start_session(store)
    cached = cached_model(store, session, model, n_ctx=n_ctx, lora=lora, n_gpu_layers=n_gpu_layers, parallel=parallel)
    backend = cached.backend
    model_ref = getattr(backend, "model", None)
    name = getattr(model_ref, "name", None) or model or backend.name
    correct = 0
    with progress() as bar:
        task = bar.add_task("eval", total=len(items), info="")

        def advance(result: EntryResult) -> None:
            nonlocal correct
            correct += int(result.valid)
            bar.update(task, advance=1, info=f"{correct} correct")

        report = run_eval(cached, store, items, mode=mode, model=name, seed=seed, max_tokens=max_tokens,
                          on_result=advance, parallel=parallel)
    show_report(report, as_json)


def show_report(report: EvalReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_json())
        return
    out.print(accuracy_table(report))
    if report.error_types():
        out.print(error_table(report))
    err.print(f"[dim]{report.model_calls} model calls, {report.cache_hits} cache hits; "
              f"{report.fallbacks()} fallbacks to prompt mode[/]")
