"""Counts, cache behaviour and token totals of a database, as plain data."""

from __future__ import annotations

import json
from typing import Any

from localace.dialogs.preferences import DISAGREEMENTS, META_KEY
from localace.store.db import Store

_CALL_TOTALS = (
    "SELECT COUNT(*), COALESCE(SUM(hit),0), COALESCE(SUM(1-hit),0), COALESCE(SUM(1-ok),0),"
    " COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(cached_tokens),0),"
    " COALESCE(SUM(completion_tokens),0), COALESCE(SUM(seconds),0) FROM call_log"
)


def _calls(store: Store, where: str = "", params: tuple[Any, ...] = ()) -> dict[str, Any]:
    row = store.conn.execute(_CALL_TOTALS + (f" WHERE {where}" if where else ""), params).fetchone()
    requests, hits, misses, failed, pt, ct, gt, secs = row
    return {
        "requests": requests,
        "cache_hits": hits,
        "cache_misses": misses,
        "model_calls": misses,  # every miss is exactly one model call
        "failed": failed,
        "prompt_tokens": pt,
        "prompt_tokens_reused": ct,
        "kv_reuse_ratio": round(ct / pt, 4) if pt else 0.0,
        "completion_tokens": gt,
        "model_seconds": round(secs, 3),
    }


_STAGE_OF_PROMPT = (("tree_", "tree"), ("api_", "apis"), ("op_", "apis"), ("judge_", "judges"),
                    ("user_", "dialogs"), ("assistant_", "dialogs"), ("tool_", "dialogs"))


def _stage_of(template_hash: str, names: dict[str, str]) -> str:
    name = names.get(template_hash)
    if name is None:
        return "complexity" if template_hash in ("", "score") else "other"
    return next((stage for prefix, stage in _STAGE_OF_PROMPT if name.startswith(prefix)), "other")


def calls_by_stage(store: Store, where: str = "", params: tuple[Any, ...] = ()) -> dict[str, int]:
    """Model calls (cache misses) per pipeline stage, read from which prompt each call rendered; scoring calls
    (complexity) render none."""
    from localace.prompts import load_prompt
    from localace.resources import data_dir

    names = {load_prompt(p.stem).hash: p.stem for p in data_dir("prompts").glob("*.j2") if not p.stem.startswith("_")}
    sql = ("SELECT g.template_hash, COUNT(*) FROM call_log c JOIN generations g ON g.key = c.key WHERE c.hit = 0"
           + (f" AND {where}" if where else "") + " GROUP BY 1")
    out: dict[str, int] = {}
    for template_hash, n in store.conn.execute(sql, params):
        stage = _stage_of(template_hash or "", names)
        out[stage] = out.get(stage, 0) + n
    return dict(sorted(out.items()))


def calls_since(store: Store, session_id: int) -> dict[str, Any]:
    """Call totals of a session and every later one (a sharded command: the driver's session, then the
    shard sessions merged into the database after it)."""
    return _calls(store, "session_id >= ?", (session_id,))


def _runs(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute("SELECT id, command, status, created_at, report_json FROM runs ORDER BY created_at, id")
    return [{"id": r[0], "command": r[1], "status": r[2], "created_at": r[3],
             "report": json.loads(r[4]) if r[4] else None} for r in rows]


_PAIRS_BY_STATUS = (
    # json_each in SQLite: no dialog is parsed in Python, so counting stays cheap on 100k dialogs.
    "SELECT d.status, json_extract(p.value, '$.disagreement'), COUNT(*)"
    f" FROM dialogs d, json_each(d.data_json, '$.meta.{META_KEY}') p"
    f" WHERE json_type(d.data_json, '$.meta.{META_KEY}') = 'array' GROUP BY 1, 2"
)


def preference_pair_counts(store: Store) -> dict[str, dict[str, Any]]:
    """Stored preference pairs by kind of disagreement: in kept dialogs (what export writes by default) and in all."""
    counts = {scope: {"total": 0, "by_disagreement": dict.fromkeys(DISAGREEMENTS, 0)} for scope in ("kept", "all")}
    for status, disagreement, n in store.conn.execute(_PAIRS_BY_STATUS):
        label = disagreement if isinstance(disagreement, str) else "(malformed)"
        for scope in ("kept", "all") if status == "kept" else ("all",):
            counts[scope]["total"] += n
            by_kind = counts[scope]["by_disagreement"]
            by_kind[label] = by_kind.get(label, 0) + n
    return counts


def collect_stats(store: Store) -> dict[str, Any]:
    last = store.conn.execute("SELECT id, command, started_at FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
    return {
        "db": str(store.path),
        "counts": {t: store.count(t) for t in ("runs", "apis", "dialogs", "verdicts", "generations")},
        "cached_generations": {
            "ok": store.count("generations", "ok=1"),
            "failed": store.count("generations", "ok=0"),
        },
        "calls": _calls(store),
        "calls_by_stage": calls_by_stage(store),
        "runs": _runs(store),
        "dialog_status": dict(store.conn.execute("SELECT status, COUNT(*) FROM dialogs GROUP BY status").fetchall()),
        "preference_pairs": preference_pair_counts(store),
        "last_session": None if last is None else {
            "id": last[0], "command": last[1], "started_at": last[2],
            **_calls(store, "session_id=?", (last[0],)),
        },
    }
