"""`localace apis ...`: synthesize, import, list and show APIs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click
from rich.table import Table

from localace.apis.importers import import_file, save_imported, skip_counts
from localace.apis.mcp_import import DEFAULT_TIMEOUT, import_listing, list_server_tools, parse_command
from localace.apis.openapi_import import import_openapi
from localace.apis.spec import STORED, ApiSpec
from localace.apis.stage import ApiStage, ApiStageConfig, prepare_api_stage
from localace.apis.synth import coverage
from localace.cli.common import cached_model, start_session
from localace.cli.common import lora_option, ctx_option, db_option, existing_store, err, fail, handle_errors, model_option, out, print_json, seed_option
from localace.cli.common import exclusive_store, parallel_options, resolve_models, resolve_parallel
from localace.cli.scale import ray_options, scale_request, synth_sharded
from localace.cli.progress import progress
from localace.errors import UserError
from localace.runs import rejection_counts
from localace.stats import calls_since
from localace.store import open_store
from localace.store.db import Store


@click.group("apis")
def apis_group() -> None:
    """Stage A: the API context tree and API synthesis."""


def counter_table(title: str, counts: Counter, top: int = 40) -> Table:
    table = Table(title=title)
    table.add_column("name")
    table.add_column("count", justify="right")
    for name, n in counts.most_common(top):
        table.add_row(str(name), str(n))
    return table


@apis_group.command("synth")
@db_option
@model_option
@lora_option
@seed_option
@ctx_option
@click.option("--n", "n", type=click.IntRange(1, 1_000_000), default=20, show_default=True, help="APIs to end with.")
@click.option("--docs", type=click.Path(), default=None, help="Folder of .md/.txt API documents (default: built-in corpus).")
@click.option("--max-docs", type=click.IntRange(1, 100000), default=None, help="Use a seeded subset of the documents.")
@click.option("--depth", type=click.IntRange(1, 4), default=2, show_default=True, help="Context-tree depth.")
@click.option("--breadth", type=click.IntRange(1, 8), default=3, show_default=True, help="Children per tree node.")
@click.option("--generations", type=click.IntRange(0, 6), default=2, show_default=True,
              help="Evolution operators applied to each new API.")
@parallel_options
@ray_options
@handle_errors
def synth_cmd(db_path: str, model: str | None, lora: str | None, n_gpu_layers: int, seed: int, n_ctx: int, n: int, docs: str | None, max_docs: int | None,
              depth: int,
              breadth: int, generations: int, parallel: int | None, deterministic: bool) -> None:
    """Build the context tree and synthesize APIs until the run holds N. Kill and rerun to resume."""
    parallel = resolve_parallel(parallel, deterministic, n_gpu_layers)
    resolve_models(model)
    store = exclusive_store(db_path)
    session = start_session(store)
    cfg = ApiStageConfig(n=n, seed=seed, depth=depth, breadth=breadth, generations=generations, docs=docs,
                         max_docs=max_docs)
    if (scale := scale_request()) is not None:
        stage = synth_sharded(store, scale, cfg, model=model, n_ctx=n_ctx, announce=announce_api_stage)
        calls = calls_since(store, session)
        return _synth_summary(store, stage, calls["model_calls"], calls["cache_hits"])
    gen = cached_model(store, session, model, n_ctx=n_ctx, lora=lora, n_gpu_layers=n_gpu_layers, parallel=parallel)
    stage = prepare_api_stage(store, gen, cfg)
    announce_api_stage(stage)
    with progress() as bars:
        task = bars.add_task("context tree", total=len(stage.documents), info="")
        bars.update(task, completed=store.count("tree_nodes", "tree=? AND depth=0", (stage.tree_id,)))
        for event in stage.tree_events(gen, store, cfg):
            bars.update(task, advance=1, info=f"{event.document}: +{event.nodes_added} nodes")
        bars.update(task, completed=len(stage.documents))
        have = store.count("apis", "run_id=?", (stage.run.id,))
        task = bars.add_task("APIs", total=n, completed=min(have, n), info="")
        rejected = 0
        for event in stage.synth_events(gen, store, cfg, parallel=parallel):
            if event.accepted:
                bars.update(task, advance=1, info=f"{event.api.name} · {rejected} slots failed")
            else:
                rejected += 1
                bars.update(task, info=f"slot {event.slot} failed: {event.check} · {rejected} slots failed")
    _synth_summary(store, stage, gen.misses, gen.hits)


def announce_api_stage(stage: ApiStage) -> None:
    for skipped in stage.skipped_documents:
        err.print(f"[yellow]skipped document[/] {skipped.path}: {skipped.reason}")
    err.print(f"run {stage.run.id} ({'resumed' if stage.run.resumed else 'new'}), {len(stage.documents)} documents")


def _synth_summary(store: Store, stage: ApiStage, model_calls: int, cache_hits: int) -> None:
    cov = coverage(store, stage.run.id)
    out.print(counter_table(f"top-level domains ({len(cov['domains'])})", cov["domains"]))
    out.print(counter_table("parameter types", cov["types"]))
    out.print(counter_table("rejections by check", Counter(rejection_counts(store, stage.run.id, "apis"))))
    total = store.count("apis", "run_id=?", (stage.run.id,))
    out.print(f"{total} APIs in run {stage.run.id}; model calls this session: {model_calls}, cache hits: {cache_hits}")


@apis_group.command("import")
@db_option
@click.argument("file", required=False)
@click.option("--mcp", "mcp_command", default=None, metavar='"COMMAND [ARGS...]"',
              help="List the tools of a local MCP server started with this command (stdio); tools are never called.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds the MCP server has to start and list its tools.")
@click.option("--openapi", "openapi_spec", default=None, metavar="SPEC",
              help="An OpenAPI 3.0/3.1 or Swagger 2.0 document (JSON or YAML): every operation becomes a tool.")
@click.option("--strict", is_flag=True, help="Import nothing and exit 2 when any tool would be skipped.")
@handle_errors
def import_cmd(db_path: str, file: str | None, mcp_command: str | None, timeout: float,
               openapi_spec: str | None, strict: bool) -> None:
    """Import tools from a file (OpenAI tools, BFCL functions, ToolACE rows/system prompts, JSON-Schema lists),
    from a local MCP server (--mcp) or from an OpenAPI document (--openapi)."""
    if sum(source is not None for source in (file, mcp_command, openapi_spec)) != 1:
        raise UserError("give one of a FILE to import, --mcp \"COMMAND [ARGS...]\" or --openapi SPEC")
    if mcp_command is not None:
        listing = list_server_tools(parse_command(mcp_command), timeout=timeout)
        result, label = import_listing(listing), f"MCP server {listing.server_name or mcp_command}"
    elif openapi_spec is not None:
        if not Path(openapi_spec).is_file():
            raise UserError(f"file not found: {openapi_spec}")
        result, label = import_openapi(Path(openapi_spec)), openapi_spec
    else:
        if not Path(file).is_file():
            raise UserError(f"file not found: {file}")
        result, label = import_file(Path(file)), file
    if strict and result.skipped:
        kinds = skip_counts(s.reason for s in result.skipped)
        fail(f"{label}: --strict: {len(result.skipped)} tools would be skipped ("
             + "; ".join(f"{n} × {kind}" for kind, n in kinds.most_common()) + ")", 2)
    # A file of which nothing can be imported leaves no database behind (an empty one would look like a run).
    added = save_imported(open_store(db_path), result.apis) if result.apis else 0
    skipped = result.skipped
    # markup=False: names and reasons quote the source's text, which may hold [brackets].
    out.print(f"{label}: format {result.format}; {added} APIs imported, {len(skipped)} skipped"
              + (f", {result.duplicates} duplicates in the {'listing' if mcp_command else 'file'}"
                 if result.duplicates else ""), markup=False)
    for kind, n in skip_counts(s.reason for s in skipped).most_common():
        out.print(f"  skipped {n}: {kind}", markup=False)
    for s in skipped:
        out.print(f"  skipped {s.name or '#' + str(s.index)}: {s.reason}", markup=False)
    if result.annotations:
        out.print("  unknown formats kept as annotations (not checked): " + ", ".join(
            f"{fmt!r} ({n})" for fmt, n in result.annotations.most_common()), markup=False)
    for note in result.notes:
        out.print(f"  {note}", markup=False)
    if skipped and not result.apis:
        # Nothing was usable: a script must be able to tell this from a successful import.
        fail(f"{label}: none of its {len(skipped)} API definitions could be imported (reasons above)", 2)
    if mcp_command is not None and not result.apis and not skipped:
        fail(f"{label} lists no tools", 2)
    if openapi_spec is not None and not result.apis and not skipped:
        fail(f"{label} describes no operations", 2)


def _rows(store: Store, domain: str | None) -> list[tuple]:
    sql = "SELECT id, name, top_domain, source, parent_id, operators, data_json FROM apis"
    if domain:
        return store.conn.execute(sql + " WHERE lower(top_domain)=lower(?) ORDER BY top_domain, name", (domain,)).fetchall()
    return store.conn.execute(sql + " ORDER BY top_domain, name").fetchall()


@apis_group.command("list")
@db_option
@click.option("--domain", default=None, help="Only this top-level domain.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines of full API records.")
@handle_errors
def list_cmd(db_path: str, domain: str | None, as_json: bool) -> None:
    """List stored APIs."""
    rows = _rows(existing_store(db_path), domain)
    if as_json:
        for api_id, _, _, _, parent, operators, data in rows:
            record = {"id": api_id, **json.loads(data), "lineage": json.loads(operators or "[]")}
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} APIs")
    for col in ("name", "domain", "params", "source", "operators"):
        table.add_column(col)
    for _, name, top, source, _, operators, data in rows:
        spec = ApiSpec.model_validate_json(data, context=STORED)
        ops = "+".join(s["operator"] for s in json.loads(operators or "[]"))
        table.add_row(name, " / ".join(spec.domain[:2]), ", ".join(spec.parameters.get("properties", {})),
                      source or "", ops)
    out.print(table)


@apis_group.command("show")
@db_option
@click.argument("name")
@handle_errors
def show_cmd(db_path: str, name: str) -> None:
    """Show one API (by name or id) with its lineage."""
    store = existing_store(db_path)
    row = store.conn.execute("SELECT id, data_json, operators, parent_id FROM apis WHERE name=? OR id=? LIMIT 1",
                             (name, name)).fetchone()
    if row is None:
        raise UserError(f"no API named {name!r} in {db_path}")
    parent = None
    if row[3]:
        p = store.conn.execute("SELECT name FROM apis WHERE id=?", (row[3],)).fetchone()
        parent = p[0] if p else row[3]
    print_json({"id": row[0], **json.loads(row[1]), "parent": parent, "lineage": json.loads(row[2] or "[]")})
