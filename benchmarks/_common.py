"""Shared helpers of the benchmark scripts: timing, plain-text tables, the final JSON line, the model."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # The scripts run from a checkout, installed or not.
    sys.path.insert(0, str(ROOT))

T = TypeVar("T")


def threads() -> int:
    """The thread count every llama.cpp instance of a benchmark uses (the backend reads the same variable)."""
    return int(os.environ.get("LOCALACE_THREADS", "0") or 0) or os.cpu_count() or 1


def model_ref(spec: str | None) -> Any:
    """A catalogue name or .gguf path (None: the embedded default) as a checked ModelRef."""
    from localace.model_catalogue import resolve_model

    return resolve_model(spec)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """`with stopwatch() as t: ...` then t["s"] holds the elapsed seconds."""
    box = {"s": 0.0}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def goal_mark(value: float | None, goal: float, *, at_most: bool = False) -> str:
    if value is None:
        return "n/a"
    met = value <= goal if at_most else value >= goal
    return "met" if met else "MISSED"


class Output:
    """Tables and notes for people; with json_only, just the final JSON line for machines."""

    def __init__(self, json_only: bool) -> None:
        self.json_only = json_only

    def line(self, text: str = "") -> None:
        if not self.json_only:
            print(text, flush=True)

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if self.json_only:
            return
        cells = [[fmt(c) for c in row] for row in rows]
        widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

        def render(row: Sequence[str]) -> str:
            # First column left-aligned (labels), the rest right-aligned (numbers).
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

        print(f"\n{title}")
        print(render(list(headers)))
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print(render(row))
        sys.stdout.flush()

    def finish(self, result: dict[str, Any]) -> None:
        """The last line of every benchmark: one JSON object."""
        if not self.json_only:
            print()
        print(json.dumps(result, sort_keys=True, default=str), flush=True)


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    ap.add_argument("--json", action="store_true", help="print only the final JSON line")
    return ap


def small_run_options(ap: argparse.ArgumentParser, *, dialogs: int = 4) -> None:
    """The options of a small seeded `localace run` that several benchmarks repeat."""
    ap.add_argument("--model", default=None, help="catalogue name, .gguf path or 'fake' (default: the embedded model)")
    ap.add_argument("--apis", type=int, default=4)
    ap.add_argument("--dialogs", type=int, default=dialogs)
    ap.add_argument("--max-docs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)


def run_main(main: Callable[[], None]) -> None:
    """Ctrl-C ends a benchmark quietly with the conventional exit code."""
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
