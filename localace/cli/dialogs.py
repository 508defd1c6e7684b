"""`localace dialogs ...`: generate and show dialogs."""

from __future__ import annotations

import dataclasses

import json
from collections import Counter

import click

from localace.cli.apis import counter_table
from localace.cli.common import model_size, cached_model, start_session
from localace.cli.common import lora_option, ctx_option, db_option, err, existing_store, handle_errors, model_option, out, print_json, seed_option
from localace.cli.common import exclusive_store, parallel_options, resolve_parallel
from localace.cli.scale import dialogs_sharded, ray_options, scale_request
from localace.cli.progress import progress
from localace.dialogs.generate import DialogConfig, free_text_for_size, parse_mix
from localace.verify.stage import gate
from localace.dialogs.stage import dialog_report, prepare_dialog_stage
from localace.errors import UserError
from localace.stats import calls_since, collect_stats


tool_results_option = click.option(
    "--tool-results", type=click.Choice(["values", "model"]), default="values", show_default=True,
    help="Simulated tool results: typed value generators under the return schema, or written by the model "
         "(richer with a larger model).")


@click.group("dialogs")
def dialogs_group() -> None:
    """Stage B: multi-agent dialog generation."""


def parse_band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise UserError(f"--band {text!r}: give two percentiles like 10,90") from None
    if not 0 <= low < high <= 100:
        raise UserError(f"--band {text!r}: need 0 <= low < high <= 100")
    return low, high


@dialogs_group.command("generate")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--n", "n", type=click.IntRange(1, 10_000_000), default=20, show_default=True, help="Dialogs to end with.")
@click.option("--mix", default=None, help="Kind shares, e.g. single=0.3,irrelevance=0.2 (default: ToolACE-like mix).")
@click.option("--k", "k", type=click.IntRange(1, 9), default=3, show_default=True, help="Self-consistency samples.")
@click.option("--band", default="10,90", show_default=True, help="Complexity band as low,high percentiles.")
@click.option("--learner", default=None, help="GGUF scoring complexity (default: the generation model).")
@click.option("--no-complexity", is_flag=True, help="Skip complexity scoring and the band.")
@tool_results_option
@parallel_options
@ray_options
@handle_errors
def generate_cmd(db_path: str, model: str | None, lora: str | None, n_gpu_layers: int, seed: int, n_ctx: int, n: int, mix: str | None,
                 k: int, band: str, learner: str | None, no_complexity: bool, tool_results: str, parallel: int | None,
                 deterministic: bool) -> None:
    """Generate dialogs until the run holds N. Kill and rerun to resume."""
    cfg = DialogConfig(n=n, seed=seed, k=k, mix=parse_mix(mix), band=parse_band(band), complexity=not no_complexity,
                       tool_results=tool_results)
    parallel = resolve_parallel(parallel, deterministic, n_gpu_layers)
    store = exclusive_store(db_path, must_exist=f" (create APIs first with `localace apis synth --db {db_path}`)")
    session = start_session(store)
    if (scale := scale_request()) is not None:
        stage = dialogs_sharded(store, scale, cfg, model=model, learner=learner, n_ctx=n_ctx)
        return _dialogs_summary(store, stage.run.id, calls_since(store, session))
    gen = cached_model(store, session, model, n_ctx=n_ctx, lora=lora, n_gpu_layers=n_gpu_layers, parallel=parallel)
    scorer = None
    if learner:
        # No `parallel`: the learner only scores (log-likelihoods), and scores are served one request at a time.
        scorer = cached_model(store, session, learner, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers)
    cfg = dataclasses.replace(cfg, free_text=free_text_for_size(model_size(gen.backend)))
    stage = prepare_dialog_stage(store, gen, cfg, learner_fp=scorer.fingerprint() if scorer else None)
    err.print(f"run {stage.run.id} ({'resumed' if stage.run.resumed else 'new'}), {stage.pool_size} APIs in the pool")
    have = store.count("dialogs", "run_id=?", (stage.run.id,))
    failed = 0
    with progress() as bars:
        task = bars.add_task("dialogs", total=n, completed=min(have, n), info="")
        for event in stage.events(gen, store, cfg, scorer, parallel=parallel, gate=gate(None)):
            if event.accepted:
                bars.update(task, advance=1, info=f"{event.kind} · {failed} slots failed")
            else:
                failed += 1
                bars.update(task, info=f"{event.kind} failed: {event.check} · {failed} slots failed")
    _dialogs_summary(store, stage.run.id, collect_stats(store)["last_session"])


def _dialogs_summary(store, run_id: str, calls: dict) -> None:
    show_dialog_report(dialog_report(store, run_id))
    out.print(f"this session: {calls['model_calls']} model calls, {calls['cache_hits']} cache hits, "
              f"KV-cache reuse {calls['kv_reuse_ratio']:.0%} of prompt tokens")


def show_dialog_report(report: dict) -> None:
    out.print(counter_table(f"{report['dialogs']} dialogs by kind", Counter(report["kinds"])))
    sc = report["self_consistency"]
    out.print(f"self-consistency: {sc.get('steps', 0)} assistant steps voted, {sc.get('agreed_first', 0)} agreed at once, "
              f"{sc.get('regenerated', 0)} after regeneration, {sc.get('dropped', 0)} dropped "
              f"({sc['dropped_share']:.1%})")
    if report["complexity"]:
        out.print("complexity (mean assistant-token loss): " + ", ".join(f"{k} {v:.2f}" for k, v in report["complexity"].items()))
    out.print(counter_table("generation rejections by check", Counter(report["rejections"])))


@dialogs_group.command("show")
@db_option
@click.argument("dialog_id")
@click.option("--json", "as_json", is_flag=True, help="The full record as JSON.")
@handle_errors
def show_cmd(db_path: str, dialog_id: str, as_json: bool) -> None:
    """Show one dialog as a chat."""
    store = existing_store(db_path)
    row = store.conn.execute("SELECT data_json, status FROM dialogs WHERE id=? OR id LIKE ?",
                             (dialog_id, dialog_id + "%")).fetchone()
    if row is None:
        raise UserError(f"no dialog {dialog_id!r} in {db_path}")
    data = json.loads(row[0])
    if as_json:
        print_json({**data, "status": row[1]})
        return
    from localace.apis.spec import STORED
    from localace.dialogs.model import Dialog
    from localace.dialogs.transcript import render_turn

    d = Dialog.model_validate(data, context=STORED)
    out.print(f"[bold]{d.id}[/] kind={d.kind} domains={', '.join(d.domains)} complexity={d.complexity} status={row[1]}")
    out.print("tools: " + ", ".join(t.name for t in d.tools))
    for t in d.turns:
        out.print(render_turn(t), markup=False)
