"""Bring an existing dataset file into the store, so our rule layer and report can measure it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from localace.bfcl_package import YARDSTICK_REASON, is_benchmark_function
from localace.errors import UserError
from localace.formats.registry import IMPORT_FORMATS, import_rows
from localace.hashing import file_sha256
from localace.runs import ensure_run
from localace.dialogs.generate import insert_dialog
from localace.dialogs.model import Dialog
from localace.store.db import Store


@dataclass
class IngestSummary:
    run_id: str
    imported: int = 0
    duplicates: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)


def _rows(path: Path) -> list[str]:
    """JSON Lines, or one JSON array (exported by other tools), as a list of JSON texts."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            return [json.dumps(r) for r in json.loads(text)]
        except json.JSONDecodeError as e:
            raise UserError(f"{path} is not JSON: {e.msg} at line {e.lineno}") from None
    return text.splitlines()


def _benchmark_tool(dialog: Dialog) -> str | None:
    """Why a dialog must not enter the store: it offers a BFCL benchmark function."""
    hit = next((tool.name for tool in dialog.tools if is_benchmark_function(tool.name, tool.description)), None)
    return None if hit is None else f"tool {hit!r} is {YARDSTICK_REASON}"


def read_dialogs(path: str | Path, fmt: str) -> tuple[list[Dialog], list[tuple[int, str]]]:
    """The dialogs of a dataset file and its unreadable or refused rows (line, reason); UserError when the file
    is missing or no row reads as `fmt`. Rows offering a BFCL function are refused (the yardstick)."""
    path = Path(path)
    if fmt not in IMPORT_FORMATS:
        raise UserError(f"cannot import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    dialogs, errors = import_rows(_rows(path), fmt, refuse=_benchmark_tool)
    if not dialogs and errors:
        raise UserError(f"{path}: no row could be read as {fmt} (line {errors[0][0]}: {errors[0][1][:160]})")
    return dialogs, errors


def ingest_file(store: Store, path: str | Path, fmt: str,
                read: tuple[list[Dialog], list[tuple[int, str]]] | None = None) -> IngestSummary:
    """Store the dialogs of a dataset file (`read`: what read_dialogs already returned for it)."""
    path = Path(path)
    dialogs, errors = read if read is not None else read_dialogs(path, fmt)
    run = ensure_run(store, "import", {"file": file_sha256(str(path))[:16], "format": fmt})
    summary = IngestSummary(run.id, malformed=errors)
    with store.transaction():
        for seq, dialog in enumerate(dialogs):
            if store.conn.execute("SELECT 1 FROM dialogs WHERE id=?", (dialog.id,)).fetchone():
                summary.duplicates += 1
                continue
            insert_dialog(store, dialog, run.id, seq)
            summary.imported += 1
    return summary
