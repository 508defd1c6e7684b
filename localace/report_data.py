"""Every number of the dataset report, collected from a Store as plain JSON-able data."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from localace.apis.spec import STORED, ApiSpec, param_types
from localace.dialogs.model import KINDS, Dialog
from localace.errors import UserError
from localace.quality import QualityTally, quality_section
from localace.report import run_report
from localace.store.db import Store

STATUSES = ("kept", "rejected", "generated")
COMPLEXITY_BINS = 10
SECOND_LEVEL_LIMIT = 24


class ReportError(UserError):
    """The requested run does not exist or cannot be reported."""


def _run_row(store: Store, sql: str, params: tuple[Any, ...] = ()) -> tuple[str, str, str | None] | None:
    return store.conn.execute(f"SELECT id, command, report_json FROM runs {sql}", params).fetchone()


def _latest(store: Store, prefix: str) -> str | None:
    row = _run_row(store, "WHERE command LIKE ? ORDER BY created_at DESC, id DESC LIMIT 1", (prefix + "%",))
    return row[0] if row else None


def resolve_scope(store: Store, run_id: str | None = None) -> dict[str, Any]:
    """Which pipeline / API / dialog runs the report covers, plus the stored pipeline report if any."""
    if run_id is None:
        row = _run_row(store, "WHERE command='run' AND report_json IS NOT NULL"
                              " ORDER BY created_at DESC, id DESC LIMIT 1")
        if row is None:
            return {"pipeline_run": None, "api_run": _latest(store, "apis"), "dialog_run": _latest(store, "dialogs"),
                    "stored_report": None}
    else:
        row = _run_row(store, "WHERE id=?", (run_id,))
        if row is None:
            known = [r[0] for r in store.conn.execute("SELECT id FROM runs ORDER BY created_at")]
            raise ReportError(f"no run {run_id!r} in {store.path} (runs: {', '.join(known) or 'none'})")
    rid, command, report_json = row
    if command == "run":
        if not report_json:
            raise ReportError(f"pipeline run {rid} has not finished; run it again to finish, or pass a dialog run id")
        report = json.loads(report_json)
        return {"pipeline_run": rid, "api_run": report.get("api_run"), "dialog_run": report.get("dialog_run"),
                "stored_report": report}
    if command.startswith("dialogs"):
        return {"pipeline_run": None, "api_run": None, "dialog_run": rid, "stored_report": None}
    return {"pipeline_run": None, "api_run": rid, "dialog_run": None, "stored_report": None}


def _bars(counter: Counter[str] | dict[str, int], order: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Label/count rows: in `order` when given (zeros kept), else by count then label."""
    if order is not None:
        extra = sorted(k for k in counter if k not in order)
        return [{"label": k, "count": int(counter.get(k, 0))} for k in (*order, *extra)]
    return [{"label": k, "count": int(n)} for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def _int_histogram(counts: Counter[int]) -> list[dict[str, Any]]:
    """One bar per integer from the smallest to the largest counted value, gaps included."""
    if not counts:
        return []
    return [{"label": str(v), "count": counts.get(v, 0)} for v in range(min(counts), max(counts) + 1)]


def float_histogram(values: list[float], bins: int = COMPLEXITY_BINS) -> list[dict[str, Any]]:
    """Equal-width bins over [min, max]; the last bin includes max."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins if hi > lo else 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    edges = [lo + i * width for i in range(bins + 1)]
    return [{"label": f"{edges[i]:.2f}–{edges[i + 1]:.2f}", "lo": round(edges[i], 6), "hi": round(edges[i + 1], 6),
             "count": counts[i]} for i in range(bins if hi > lo else 1)]


def _api_stats(store: Store, api_run: str | None) -> dict[str, Any]:
    sql = "SELECT data_json FROM apis" + (" WHERE run_id=?" if api_run else "") + " ORDER BY id"
    top: Counter[str] = Counter()
    second: Counter[str] = Counter()
    types: Counter[str] = Counter()
    n = 0
    for (data,) in store.conn.execute(sql, (api_run,) if api_run else ()):
        spec = ApiSpec.model_validate_json(data, context=STORED)
        n += 1
        top[spec.domain[0] if spec.domain else "(none)"] += 1
        if len(spec.domain) >= 2:
            second[f"{spec.domain[0]} › {spec.domain[1]}"] += 1
        types.update(param_types(spec))
    second_rows = _bars(second)
    hidden = second_rows[SECOND_LEVEL_LIMIT:]
    return {"n": n, "domains_top": _bars(top), "domains_second": second_rows[:SECOND_LEVEL_LIMIT],
            "domains_second_hidden": {"domains": len(hidden), "apis": sum(r["count"] for r in hidden)},
            "param_types": _bars(types)}


class _DialogTally:
    """Dialog distributions accumulated one row at a time, so a 100k-dialog report holds no dialog list."""

    def __init__(self) -> None:
        self.n = 0
        self.kinds: Counter[str] = Counter()
        self.status: Counter[str] = Counter()
        self.turns: Counter[int] = Counter()
        self.calls: Counter[int] = Counter()
        self.scores: list[float] = []

    def add(self, kind: str, status: str, complexity: float | None, turns: list[dict[str, Any]]) -> None:
        self.n += 1
        self.kinds[kind] += 1
        self.status[status] += 1
        self.turns[len(turns)] += 1
        self.calls.update(len(t["tool_calls"]) for t in turns if t.get("role") == "assistant" and t.get("tool_calls"))
        if complexity is not None:
            self.scores.append(complexity)

    def result(self) -> dict[str, Any]:
        scores = self.scores
        return {
            "n": self.n,
            "status": {s: int(self.status.get(s, 0)) for s in (*STATUSES, *sorted(set(self.status) - set(STATUSES)))},
            "kinds": _bars(self.kinds, KINDS),
            "turns": _int_histogram(self.turns),
            "calls_per_turn": _int_histogram(self.calls),
            "call_turns": sum(self.calls.values()),
            "complexity": float_histogram(scores),
            "complexity_summary": {"n": len(scores), "min": round(min(scores), 4) if scores else None,
                                   "max": round(max(scores), 4) if scores else None,
                                   "mean": round(sum(scores) / len(scores), 4) if scores else None},
        }


class _ExamplePicker:
    """Up to n example rows of one status, one per kind first so the examples show variety; bounded memory."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.first_of_kind: dict[str, tuple[str, str, str | None]] = {}
        self.others: list[tuple[str, str, str | None]] = []

    def offer(self, kind: str, row: tuple[str, str, str | None]) -> None:
        if kind not in self.first_of_kind:
            self.first_of_kind[kind] = row
        elif len(self.others) < self.n:
            self.others.append(row)

    def picked(self) -> list[tuple[str, str, str | None]]:
        return ([*self.first_of_kind.values(), *self.others])[: self.n]


def _rejection(store: Store, dialog_id: str, rejected_at: str | None) -> tuple[str | None, str | None]:
    row = store.conn.execute(
        "SELECT check_name, reason FROM verdicts WHERE dialog_id=? AND passed=0 ORDER BY check_name=? DESC, created_at"
        " LIMIT 1", (dialog_id, rejected_at or "")).fetchone()
    return (row[0], row[1]) if row else (rejected_at, None)


def _examples(store: Store, pickers: dict[str, _ExamplePicker]) -> list[dict]:
    out = []
    for status in ("kept", "rejected"):
        for dialog_id, data, rejected_at in pickers[status].picked():
            d = Dialog.model_validate_json(data, context=STORED)
            check, reason = _rejection(store, dialog_id, rejected_at) if status == "rejected" else (None, None)
            out.append({"id": dialog_id, "kind": d.kind, "status": status, "check": check, "reason": reason,
                        "domains": list(d.domains), "complexity": d.complexity, "tools": [t.name for t in d.tools],
                        "turns": [t.model_dump(mode="json", exclude_none=True) for t in d.turns]})
    return out


def collect_report(store: Store, run_id: str | None = None, *, kept_examples: int = 3,
                   rejected_examples: int = 2) -> dict[str, Any]:
    """All numbers (and a few example dialogs) for the dataset report, as plain data."""
    scope = resolve_scope(store, run_id)
    stored = scope.pop("stored_report")
    dialog_run = scope["dialog_run"]
    sql = "SELECT id, kind, status, complexity, rejected_at, data_json FROM dialogs" + (
        " WHERE run_id=?" if dialog_run else "")
    tally = _DialogTally()
    # Quality is measured on what a user exports: the kept dialogs, or every dialog before verification.
    quality = {"kept": QualityTally(), "all": QualityTally()}
    pickers = {"kept": _ExamplePicker(kept_examples), "rejected": _ExamplePicker(rejected_examples)}
    for dialog_id, kind, status, complexity, rejected_at, data in store.conn.execute(
            sql + " ORDER BY run_id, seq, id", (dialog_run,) if dialog_run else ()):
        # Plain JSON is enough for the counts; only the few example dialogs are parsed into models.
        row = json.loads(data)
        tally.add(kind, status, complexity, row["turns"])
        quality["all"].add(row)
        if status == "kept":
            quality["kept"].add(row)
        if status in pickers:
            pickers[status].offer(kind, (dialog_id, data, rejected_at))
    if stored is not None:
        funnels, source = stored.get("funnels", []), f"stored report of pipeline run {scope['pipeline_run']}"
    else:
        funnels = run_report(store, scope["api_run"], dialog_run)["funnels"]
        source = "computed from the database"
    return {
        "db": str(store.path),
        "scope": scope,
        "apis": _api_stats(store, scope["api_run"]),
        "dialogs": tally.result(),
        "quality": quality_section(quality, store, scope["api_run"]),
        "funnels": funnels,
        "funnel_source": source,
        "examples": _examples(store, pickers),
    }
