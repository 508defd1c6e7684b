"""`localace apis ...`: synthesize, import, list and show APIs."""

from __future__ import annotations

import json
import shlex
import sys
from collections import Counter
from pathlib import Path

import click
from rich.table import Table

from localace.apis.importers import Skipped, import_file
from localace.apis.spec import STORED, ApiSpec
from localace.apis.stage import ApiStageConfig, prepare_api_stage
from localace.apis.synth import coverage, insert_api
from localace.apis.text_norm import norm_key
from localace.backends import make_backend
from localace.cli.common import ctx_option, db_option, existing_store, err, fail, handle_errors, lora_option, model_option, out, print_json, seed_option
from localace.cli.progress import progress
from localace.errors import UserError
from localace.runs import rejection_counts
from localace.store import open_store
from localace.store.cache import CachedBackend
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
@handle_errors
def synth_cmd(db_path: str, model: str | None, lora: str | None, seed: int, n_ctx: int, n: int, docs: str | None, max_docs: int | None,
              depth: int,
              breadth: int, generations: int) -> None:
    """Build the context tree and synthesize APIs until the run holds N. Kill and rerun to resume."""
    store = open_store(db_path)
    gen = CachedBackend(make_backend(model, n_ctx=n_ctx, file_hash=store.file_hash, lora=lora), store,
                        store.start_session(shlex.join(["localace", *sys.argv[1:]])))
    cfg = ApiStageConfig(n=n, seed=seed, depth=depth, breadth=breadth, generations=generations, docs=docs,
                         max_docs=max_docs)
    stage = prepare_api_stage(store, gen, cfg)
    for skipped in stage.skipped_documents:
        err.print(f"[yellow]skipped document[/] {skipped.path}: {skipped.reason}")
    err.print(f"run {stage.run.id} ({'resumed' if stage.run.resumed else 'new'}), {len(stage.documents)} documents")
    with progress() as bars:
        task = bars.add_task("context tree", total=len(stage.documents), info="")
        bars.update(task, completed=store.count("tree_nodes", "tree=? AND depth=0", (stage.tree_id,)))
        for event in stage.tree_events(gen, store, cfg):
            bars.update(task, advance=1, info=f"{event.document}: +{event.nodes_added} nodes")
        bars.update(task, completed=len(stage.documents))
        have = store.count("apis", "run_id=?", (stage.run.id,))
        task = bars.add_task("APIs", total=n, completed=min(have, n), info="")
        rejected = 0
        for event in stage.synth_events(gen, store, cfg):
            if event.accepted:
                bars.update(task, advance=1, info=f"{event.api.name} · {rejected} slots failed")
            else:
                rejected += 1
                bars.update(task, info=f"slot {event.slot} failed: {event.check} · {rejected} slots failed")
    cov = coverage(store, stage.run.id)
    out.print(counter_table(f"top-level domains ({len(cov['domains'])})", cov["domains"]))
    out.print(counter_table("parameter types", cov["types"]))
    out.print(counter_table("rejections by check", Counter(rejection_counts(store, stage.run.id, "apis"))))
    total = store.count("apis", "run_id=?", (stage.run.id,))
    out.print(f"{total} APIs in run {stage.run.id}; model calls this session: {gen.misses}, cache hits: {gen.hits}")


@apis_group.command("import")
@db_option
@click.argument("file")
@handle_errors
def import_cmd(db_path: str, file: str) -> None:
    """Import tools (OpenAI tools, BFCL functions, ToolACE rows/system prompts, JSON-Schema lists)."""
    if not Path(file).is_file():
        raise UserError(f"file not found: {file}")
    result = import_file(Path(file))
    store = open_store(db_path)
    added, skipped = 0, list(result.skipped)
    with store.transaction():
        for spec in result.apis:
            row = store.conn.execute("SELECT id, name FROM apis WHERE norm_key=? OR id=?",
                                     (norm_key(spec.name), spec.id)).fetchone()
            if row and row[0] == spec.id:
                continue  # already imported: importing twice is a no-op
            if row:
                skipped.append(Skipped(-1, spec.name, f"name collision with existing API {row[1]}"))
                continue
            insert_api(store, spec)
            added += 1
    out.print(f"{file}: format {result.format}; {added} APIs imported, {len(skipped)} skipped"
              + (f", {result.duplicates} duplicates in the file" if result.duplicates else ""))
    for s in skipped:
        out.print(f"  skipped {s.name or '#' + str(s.index)}: {s.reason}")
    if skipped and not result.apis:
        # Nothing in the file was usable: a script must be able to tell this from a successful import.
        fail(f"{file}: none of its {len(skipped)} API definitions could be imported (reasons above)", 2)


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
