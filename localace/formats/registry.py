"""Format names mapped to their converter modules; batch export and import over many rows."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

from localace.dialogs.model import Dialog
from localace.errors import LocalaceError, UserError
from localace.formats import bfcl, dpo, hermes, openai, sharegpt, toolace, xlam
from localace.formats.common import FormatError, FormatNotApplicable
from localace.formats.tool_render import pick_style

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "IMPORT_FORMATS",
    "ExportRun",
    "FormatError",
    "FormatNotApplicable",
    "UnknownFormatError",
    "export_rows",
    "get_format",
    "import_rows",
]

# Every module has export_row(dialog, *, rng, tool_style) -> row, or export_rows(...) -> (rows, dropped reasons)
# when one dialog gives several rows (dpo: one per preference pair); those with import_row(row) can be read back.
FORMATS: dict[str, ModuleType] = {
    "toolace": toolace, "openai": openai, "sharegpt": sharegpt, "hermes": hermes, "xlam": xlam, "bfcl": bfcl,
    "dpo": dpo,
}  # fmt: skip
EXPORT_FORMATS = tuple(FORMATS)
IMPORT_FORMATS = tuple(name for name, module in FORMATS.items() if hasattr(module, "import_row"))


class UnknownFormatError(UserError, ValueError):
    """A format name that is not in FORMATS, or a format that cannot be read back."""


def get_format(name: str, *, importing: bool = False) -> ModuleType:
    known = IMPORT_FORMATS if importing else EXPORT_FORMATS
    if name not in known:
        what = "import" if importing else "export"
        raise UnknownFormatError(f"cannot {what} format {name!r}; choose one of {', '.join(known)}")
    return FORMATS[name]


def row_rng(seed: int, dialog: Dialog) -> random.Random:
    """Per-dialog generator: a row's style does not depend on which other dialogs are exported."""
    return random.Random(f"{seed}:{dialog.id}")


class ExportRun(Iterator[Any]):
    """Rows (bfcl: (entry, answer) pairs) in dialog order; dialogs that do not fit are counted, as are the kinds,
    domains and row labels of what was written (for the dataset card)."""

    def __init__(self, dialogs: Iterable[Dialog], fmt: str, seed: int, tool_mix: Mapping[str, float] | None) -> None:
        self.fmt = fmt
        self.exported = 0  # rows
        self.dialogs = 0  # dialogs read
        self.not_applicable: Counter[str] = Counter()  # reason -> dialogs skipped
        self.dropped: Counter[str] = Counter()  # reason -> parts of exported dialogs left out (dpo: pairs)
        self.kinds: Counter[str] = Counter()  # of the dialogs that gave rows
        self.domains: Counter[str] = Counter()
        self.row_labels: Counter[str] = Counter()  # dpo: rows per kind of disagreement
        self._module = get_format(fmt)
        self._rows = self._generate(dialogs, seed, tool_mix)

    def _convert(self, dialog: Dialog, rng: random.Random, style: str) -> list[Any]:
        if hasattr(self._module, "export_rows"):
            rows, dropped = self._module.export_rows(dialog, rng=rng, tool_style=style)
            self.dropped.update(dropped)
            return rows
        return [self._module.export_row(dialog, rng=rng, tool_style=style)]

    def _generate(self, dialogs: Iterable[Dialog], seed: int, tool_mix: Mapping[str, float] | None) -> Iterator[Any]:
        label = getattr(self._module, "row_label", None)
        for dialog in dialogs:
            self.dialogs += 1
            rng = row_rng(seed, dialog)
            style = pick_style(rng, tool_mix) if tool_mix else "json"
            try:
                rows = self._convert(dialog, rng, style)
            except FormatNotApplicable as error:
                self.not_applicable[error.reason] += 1
                continue
            self.kinds[dialog.kind] += 1
            self.domains.update(dict.fromkeys(dialog.domains, 1))
            for row in rows:
                self.exported += 1
                if label is not None:
                    self.row_labels[label(row)] += 1
                yield row

    def __next__(self) -> Any:
        return next(self._rows)

    @property
    def skipped(self) -> int:
        return sum(self.not_applicable.values())


def export_rows(
    dialogs: Iterable[Dialog], fmt: str, *, seed: int = 0, tool_mix: Mapping[str, float] | None = None
) -> ExportRun:
    """Lazily convert dialogs; tool_mix (e.g. tool_render.DEFAULT_MIX) varies the tool-list style, None keeps JSON."""
    return ExportRun(dialogs, fmt, seed, tool_mix)


def import_rows(
    rows: Iterable[Mapping[str, Any] | str], fmt: str, *, refuse: Callable[[Dialog], str | None] | None = None
) -> tuple[list[Dialog], list[tuple[int, str]]]:
    """Dialogs from rows (dicts or JSON lines); bad rows become (1-based line number, reason).

    `refuse` may name a reason to leave out a dialog that did import; it then counts as a bad row."""
    module = get_format(fmt, importing=True)
    dialogs: list[Dialog] = []
    errors: list[tuple[int, str]] = []
    for line_no, row in enumerate(rows, start=1):
        if isinstance(row, (str, bytes)):
            if not row.strip():
                continue
            try:
                row = json.loads(row)
            except json.JSONDecodeError as error:
                errors.append((line_no, f"invalid JSON: {error.msg}"))
                continue
        try:
            dialog = module.import_row(row)
        except (LocalaceError, ValueError) as error:
            # pydantic's ValidationError is a ValueError: a row whose turns do not validate
            errors.append((line_no, str(error) or type(error).__name__))
            continue
        reason = refuse(dialog) if refuse is not None else None
        if reason is None:
            dialogs.append(dialog)
        else:
            errors.append((line_no, reason))
    return dialogs, errors
