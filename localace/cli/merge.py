"""`localace merge A.db B.db ... --into C.db`: runs made on several machines (or shards) into one store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from localace.cli.common import exclusive_store, handle_errors, out, print_json
from localace.errors import UserError
from localace.store.merge import MergeReport, check_source, merge_database


def merge_table(report: MergeReport) -> Table:
    table = Table(title=f"{report.source} ({report.seconds:.2f} s)")
    table.add_column("table")
    for column in ("new", "already there", "duplicate", "status updated"):
        table.add_column(column, justify="right")
    for name, c in report.tables.items():
        table.add_row(name, str(c.new), str(c.already), str(c.duplicate or ""), str(c.updated or ""))
    return table


@click.command("merge")
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", "into", required=True, help="Database to merge into (created if missing).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@handle_errors
def merge_cmd(sources: tuple[str, ...], into: str, as_json: bool) -> None:
    """Merge databases by content id (one transaction per source; sources are only read)."""
    checked = [check_source(s) for s in sources]  # every source is checked before the target is touched
    if any(Path(into).expanduser().resolve() == source.resolve() for source in checked):
        raise UserError(f"--into {into} is also a source; merge the others into it")
    store = exclusive_store(into)
    reports = [merge_database(store, source) for source in checked]
    if as_json:
        print_json({"into": into, "sources": [r.as_dict() for r in reports]})
        return
    for report in reports:
        out.print(merge_table(report))
    new = sum(c.new for r in reports for t, c in r.tables.items() if t in ("apis", "dialogs"))
    out.print(f"merged {len(reports)} database(s) into {into}: {new} new APIs and dialogs; "
              "duplicates are recorded as rejections with check 'duplicate'")
