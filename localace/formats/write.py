"""Write exported rows to disk atomically: a killed export never leaves a half-written file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localace.dialogs.model import Dialog
from localace.errors import UserError
from localace.formats.registry import export_rows


@dataclass
class ExportSummary:
    path: Path
    rows: int
    not_applicable: dict[str, int] = field(default_factory=dict)
    extra_files: list[Path] = field(default_factory=list)


def _dump(row: object) -> str:
    return json.dumps(row, ensure_ascii=False)


def _atomic_lines(path: Path, lines: Iterable[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {e.strerror}") from None


def answers_path(path: Path) -> Path:
    return path.with_name(path.stem + ".answers" + (path.suffix or ".jsonl"))


def write_export(dialogs: Iterable[Dialog], fmt: str, path: str | Path, *, seed: int = 0,
                 tool_mix: Mapping[str, float] | None = None) -> ExportSummary:
    path = Path(path)
    if not path.parent.exists():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    run = export_rows(dialogs, fmt, seed=seed, tool_mix=tool_mix)
    if fmt == "bfcl":
        pairs = list(run)
        _atomic_lines(path, (_dump(entry) for entry, _ in pairs))
        _atomic_lines(answers_path(path), (_dump(answer) for _, answer in pairs))
        return ExportSummary(path, len(pairs), dict(run.not_applicable), [answers_path(path)])
    rows = [_dump(r) for r in run]
    _atomic_lines(path, rows)
    return ExportSummary(path, len(rows), dict(run.not_applicable))
