"""Core commands: models, generate, stats."""

from __future__ import annotations


import click
from rich.table import Table

from localace.backends import Output, Sampling
from localace.backends.validation import check_schema_supported
from localace.cli.common import cached_model, resolve_models, start_session
from localace.cli.common import (
    lora_option,
    ctx_option, db_option, err, existing_store, handle_errors, model_option, out, print_json, read_json_file, seed_option,
)
from localace.errors import SchemaError, UserError
from localace.model_catalogue import list_models
from localace.quality import QUALITY_ROWS
from localace.stats import collect_stats
from localace.store import open_store


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def models_cmd(as_json: bool) -> None:
    """List catalogue models, which are on this machine, and the default."""
    rows = list_models()
    if as_json:
        print_json(rows)
        return
    table = Table(title="localace models")
    for col in ("name", "local", "chat format", "context", "license", "path or source"):
        table.add_column(col)
    for r in rows:
        name = r["name"] + (" (default)" if r["default"] else "")
        table.add_row(name, "yes" if r["available"] else "no", r["chat_format"], str(r["context_length"]),
                      r["license"], r["path"] or r["source"])
    out.print(table)
    out.print("Any other GGUF: --model /path/to/model.gguf")


def _output_from_flags(schema_path: str | None, regex: str | None, choices: str | None) -> Output | None:
    given = [x for x in (schema_path, regex, choices) if x]
    if len(given) > 1:
        raise UserError("give at most one of --schema, --regex, --choice")
    if schema_path:
        schema = read_json_file(schema_path, "schema")
        try:
            check_schema_supported(schema)
        except SchemaError as e:
            raise SchemaError(f"{schema_path}: {e}") from None
        return Output.json(schema)
    if regex:
        return Output.regex(regex)
    if choices:
        return Output.choice([c.strip() for c in choices.split(",") if c.strip()])
    return None


@click.command("generate")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--schema", "schema_path", help="JSON Schema file the output must follow.")
@click.option("--regex", help="Regular expression the output must match.")
@click.option("--choice", "choices", help="Comma-separated list; the output is one of them.")
@click.option("--system", default=None, help="System message.")
@click.option("--max-tokens", type=click.IntRange(1, 32768), default=512, show_default=True)
@click.option("--temperature", type=click.FloatRange(0.0, 5.0), default=0.0, show_default=True)
@click.argument("prompt")
@handle_errors
def generate_cmd(db_path: str, model: str | None, lora: str | None, n_gpu_layers: int, seed: int, n_ctx: int, schema_path: str | None,
                 regex: str | None, choices: str | None, system: str | None, max_tokens: int,
                 temperature: float, prompt: str) -> None:
    """One prompt, one completion (optionally constrained), cached in --db."""
    output = _output_from_flags(schema_path, regex, choices)
    resolve_models(model)
    store = open_store(db_path)
    cached = cached_model(store, start_session(store), model, n_ctx=n_ctx, lora=lora, n_gpu_layers=n_gpu_layers)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    with err.status("generating…"):
        completion = cached.generate(
            messages, output=output, sampling=Sampling(temperature=temperature, max_tokens=max_tokens, seed=seed)
        )
    if output is not None and output.kind == "json":
        print_json(completion.value)
    else:
        click.echo(completion.text)
    source = "cache hit (no model call)" if completion.cache_hit else f"model call, {completion.seconds:.2f}s"
    err.print(f"[dim]{source}; prompt {completion.prompt_tokens} tok ({completion.cached_tokens} reused), "
              f"completion {completion.completion_tokens} tok[/]")


def _distribution_tables(store) -> None:
    """The report's numbers as terminal tables (same source as `localace report`)."""
    from localace.report_data import collect_report

    data = collect_report(store, kept_examples=0, rejected_examples=0)
    groups = [("top-level domains", data["apis"]["domains_top"]), ("second-level domains", data["apis"]["domains_second"]),
              ("parameter types", data["apis"]["param_types"]), ("dialog kinds", data["dialogs"]["kinds"]),
              ("turns per dialog", data["dialogs"]["turns"]), ("calls per call turn", data["dialogs"]["calls_per_turn"]),
              ("complexity", [{"label": r["label"], "count": r["count"]} for r in data["dialogs"]["complexity"]])]
    for title, rows in groups:
        if not rows:
            continue
        table = Table(title=title)
        table.add_column("value")
        table.add_column("count", justify="right")
        for row in rows:
            table.add_row(str(row["label"]), str(row["count"]))
        out.print(table)
    out.print(quality_table(data["quality"]))


def quality_table(quality: dict) -> Table:
    """Grounded values and how they were said, user voice, text values, openings, kinds: what makes the data teach."""
    def share(figure: dict) -> str:
        return "—" if figure["share"] is None else f"{figure['share']:.1%} ({figure['count']} of {figure['of']})"

    table = Table(title=f"quality ({quality['scope']})")
    table.add_column("measure", no_wrap=True)
    table.add_column("value", justify="right")
    for key, label in QUALITY_ROWS:
        figure = quality[key]
        examples = figure.get("examples") or ([figure["opening"]] if figure.get("opening") else [])
        table.add_row(label, share(figure) + (f": {', '.join(map(str, examples))}" if examples else ""))
    return table


def _pairs_table(pairs: dict) -> None:
    if not pairs["all"]["total"]:
        out.print("preference pairs (export --format dpo): none stored")
        return
    table = Table(title="preference pairs (export --format dpo)")
    for col in ("disagreement", "in kept dialogs", "in all dialogs"):
        table.add_column(col, justify="left" if col == "disagreement" else "right")
    for label, n in pairs["all"]["by_disagreement"].items():
        table.add_row(label, str(pairs["kept"]["by_disagreement"].get(label, 0)), str(n))
    table.add_row("total", str(pairs["kept"]["total"]), str(pairs["all"]["total"]))
    out.print(table)


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def stats_cmd(db_path: str, as_json: bool) -> None:
    """Counts so far, cache hits/misses and tokens."""
    store = existing_store(db_path)
    stats = collect_stats(store)
    if as_json:
        from localace.report_data import collect_report

        data = collect_report(store, kept_examples=0, rejected_examples=0)
        print_json({**stats, "distributions": {"apis": data["apis"], "dialogs": data["dialogs"]},
                    "quality": data["quality"]})
        return
    table = Table(title=f"localace stats — {stats['db']}")
    table.add_column("what")
    table.add_column("all sessions", justify="right")
    table.add_column("last session", justify="right")
    last = stats["last_session"] or {}
    for key, value in stats["calls"].items():
        table.add_row(key.replace("_", " "), str(value), str(last.get(key, "")))
    out.print(table)
    from localace.cli.run import funnel_table

    pipeline_runs = [r for r in stats["runs"] if r["command"] == "run" and r["report"]]
    if pipeline_runs:
        latest = pipeline_runs[-1]
        out.print(f"latest pipeline run {latest['id']} ({latest['status']}):")
        for funnel in latest["report"]["funnels"]:
            out.print(funnel_table(funnel))
    _distribution_tables(store)
    _pairs_table(stats["preference_pairs"])
    counts = Table(title="records")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for key, value in stats["counts"].items():
        counts.add_row(key, str(value))
    out.print(counts)
