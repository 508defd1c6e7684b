"""Write exported rows to disk atomically: a killed export never leaves a half-written file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localace.dialogs.model import Dialog
from localace.errors import UserError
from localace.formats.registry import export_rows, get_format


@dataclass
class ExportSummary:
    path: Path
    rows: int
    not_applicable: dict[str, int] = field(default_factory=dict)
    extra_files: list[Path] = field(default_factory=list)
    fmt: str = ""
    dialogs: int = 0  # dialogs read, whether or not they gave rows
    dropped: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)
    row_labels: dict[str, int] = field(default_factory=dict)


def _dump(row: object) -> str:
    return json.dumps(row, ensure_ascii=False)


class _AtomicFile:
    """A text file written under a temporary name and moved into place only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        try:
            self.handle = open(self.tmp, "w", encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write {path}: {e.strerror}") from None

    def write_line(self, line: str) -> None:
        try:
            self.handle.write(line + "\n")
        except OSError as e:
            self.discard()
            raise UserError(f"cannot write {self.path}: {e.strerror}") from None

    def commit(self) -> None:
        try:
            self.handle.close()
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise UserError(f"cannot write {self.path}: {e.strerror}") from None

    def discard(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


def answers_path(path: Path) -> Path:
    return path.with_name(path.stem + ".answers" + (path.suffix or ".jsonl"))


def write_export(dialogs: Iterable[Dialog], fmt: str, path: str | Path, *, seed: int = 0,
                 tool_mix: Mapping[str, float] | None = None) -> ExportSummary:
    path = Path(path)
    if not path.parent.exists():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    run = export_rows(dialogs, fmt, seed=seed, tool_mix=tool_mix)
    # Streamed row by row (a 100k-dialog export never holds the whole output), and committed only at the end.
    files = [_AtomicFile(path)] + ([_AtomicFile(answers_path(path))] if fmt == "bfcl" else [])
    try:
        for row in run:
            if fmt == "bfcl":
                entry, answer = row
                files[0].write_line(_dump(entry))
                files[1].write_line(_dump(answer))
            else:
                files[0].write_line(_dump(row))
    except BaseException:
        for f in files:
            f.discard()
        raise
    no_rows = getattr(get_format(fmt), "NO_ROWS", None)
    if no_rows and not run.exported:
        # A format whose rows exist only for some dialogs (dpo): an empty file would pass for a dataset.
        for f in files:
            f.discard()
        raise UserError(no_rows.format(dialogs=run.dialogs))
    for f in files:
        f.commit()
    return ExportSummary(path, run.exported, dict(run.not_applicable), [f.path for f in files[1:]], fmt=fmt,
                         dialogs=run.dialogs, dropped=dict(run.dropped), kinds=dict(run.kinds),
                         domains=dict(run.domains), row_labels=dict(run.row_labels))
