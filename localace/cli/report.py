"""`localace report`: one self-contained HTML page about a dataset (charts, funnels, examples)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from localace.cli.common import db_option, handle_errors
from localace.errors import UserError
from localace.report_data import collect_report
from localace.report_html import render_report
from localace.store import open_store


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file next to `path`, then rename: readers never see half a report."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_out(out_path: str) -> Path:
    out = Path(out_path).expanduser()
    if out.is_dir():
        raise UserError(f"--out {out_path} is a directory; give a file path such as {out / 'report.html'}")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out_path}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise UserError(f"cannot write {out_path}: permission denied")
    return out


@click.command("report")
@db_option
@click.option("--out", "out_path", required=True, help="HTML file to write (self-contained, opens offline).")
@click.option("--run", "run_id", default=None, help="Pipeline, dialog or API run id (default: the latest run).")
@handle_errors
def report_cmd(db_path: str, out_path: str, run_id: str | None) -> None:
    """Write a visual HTML report of a dataset: distributions, rejection funnels and example dialogs."""
    if not Path(db_path).expanduser().is_file():
        raise UserError(f"database not found: {db_path}")
    out = _check_out(out_path)
    store = open_store(db_path)
    try:
        data = collect_report(store, run_id)
    finally:
        store.close()
    try:
        write_atomically(out, render_report(data))
    except OSError as e:
        raise UserError(f"cannot write {out_path}: {e.strerror or e}") from None
    d = data["dialogs"]
    click.echo(f"wrote {out} ({data['apis']['n']} APIs, {d['n']} dialogs: "
               + ", ".join(f"{n} {s}" for s, n in d["status"].items()) + ")")
