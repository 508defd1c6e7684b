"""Per-stage, per-check funnels: requested → rejected at each check → kept (like APIGen's table)."""

from __future__ import annotations

from typing import Any

from localace.runs import rejection_counts
from localace.store.db import Store
from localace.verify.judges import JUDGES
from localace.verify.rules import RULE_CHECKS


def _funnel(stage: str, requested: int, rejected: dict[str, int], order: tuple[str, ...] | None = None) -> dict[str, Any]:
    names = list(order) if order else sorted(rejected, key=lambda k: -rejected[k])
    rows, remaining = [], requested
    for name in names:
        n = rejected.get(name, 0)
        if order is None or n:
            remaining -= n
            rows.append({"check": name, "rejected": n, "remaining": remaining})
    return {"stage": stage, "requested": requested, "checks": rows, "kept": remaining}


def generation_funnel(store: Store, run_id: str, stage: str, table: str) -> dict[str, Any]:
    """Attempts of a generation stage: each failed attempt is a rejection, each stored row a keep."""
    rejected = rejection_counts(store, run_id, stage)
    rejected = {k: v for k, v in rejected.items() if not k.startswith("operator:")}  # operators retry in place
    kept = store.count(table, "run_id=?", (run_id,))
    return _funnel(stage, kept + sum(rejected.values()), rejected)


def verification_funnels(store: Store, run_id: str) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT status, rejected_at, COUNT(*) FROM dialogs WHERE run_id=? GROUP BY 1, 2", (run_id,)).fetchall()
    verified = sum(n for status, _, n in rows if status != "generated")
    at = {check: n for status, check, n in rows if status == "rejected"}
    rules = _funnel("rules", verified, {c: at.get(c, 0) for c in RULE_CHECKS}, RULE_CHECKS)
    judged = store.conn.execute(
        "SELECT COUNT(DISTINCT v.dialog_id) FROM verdicts v JOIN dialogs d ON d.id = v.dialog_id "
        "WHERE d.run_id=? AND v.stage='judges'", (run_id,)).fetchone()[0]
    judges = _funnel("judges", judged, {c: at.get(c, 0) for c in JUDGES}, JUDGES)
    if judged and not any(at.get(c) for c in JUDGES):
        fails = dict(store.conn.execute(
            "SELECT v.check_name, COUNT(*) FROM verdicts v JOIN dialogs d ON d.id = v.dialog_id "
            "WHERE d.run_id=? AND v.stage='judges' AND v.passed=0 GROUP BY 1", (run_id,)).fetchall())
        if fails:  # advisory judges: verdicts recorded, nothing rejected on them
            judges = {"stage": "judges (advisory, not enforced)", "requested": judged, "kept": judged,
                      "checks": [{"check": c, "rejected": fails.get(c, 0), "remaining": judged} for c in JUDGES]}
    return [rules, judges] if judged else [rules]


def rejection_reasons(store: Store, run_id: str) -> list[tuple[str, str]]:
    """(check, reason) of every rejected dialog of the run, in dialog order: why each was rejected."""
    return store.conn.execute(
        "SELECT d.rejected_at, v.reason FROM dialogs d JOIN verdicts v "
        "ON v.dialog_id = d.id AND v.check_name = d.rejected_at "
        "WHERE d.run_id=? AND d.status='rejected' ORDER BY d.seq", (run_id,)).fetchall()


def kind_mix(store: Store, dialog_run: str, requested: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Per dialog kind: kept dialogs against the requested count, and the attempts it took."""
    kept = dict(store.conn.execute("SELECT kind, COUNT(*) FROM dialogs WHERE run_id=? AND status='kept' GROUP BY 1",
                                   (dialog_run,)).fetchall())
    stored = dict(store.conn.execute("SELECT kind, COUNT(*) FROM dialogs WHERE run_id=? GROUP BY 1",
                                     (dialog_run,)).fetchall())
    failed = dict(store.conn.execute(
        "SELECT json_extract(payload_json, '$.plan.kind'), COUNT(*) FROM rejections WHERE run_id=? AND stage='dialogs'"
        " AND json_valid(payload_json) AND json_extract(payload_json, '$.plan.kind') IS NOT NULL GROUP BY 1",
        (dialog_run,)).fetchall())
    kinds = sorted(set(kept) | set(stored) | set(failed) | set(requested or {}))
    return [{"kind": k, "requested": (requested or {}).get(k), "kept": kept.get(k, 0),
             "attempts": stored.get(k, 0) + failed.get(k, 0)} for k in kinds]


def run_report(store: Store, api_run: str | None, dialog_run: str | None,
               requested: dict[str, int] | None = None) -> dict[str, Any]:
    funnels = []
    if api_run:
        funnels.append(generation_funnel(store, api_run, "apis", "apis"))
    if dialog_run:
        funnels.append(generation_funnel(store, dialog_run, "dialogs", "dialogs"))
        funnels += verification_funnels(store, dialog_run)
    kept = store.count("dialogs", "run_id=? AND status='kept'", (dialog_run,)) if dialog_run else 0
    report: dict[str, Any] = {"funnels": funnels, "kept_dialogs": kept}
    if dialog_run:
        report["kinds"] = kind_mix(store, dialog_run, requested)
    return report
