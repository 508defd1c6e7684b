"""Quality figures of a dataset: grounded argument values, user turns written as a user, readable API names.

Computed from stored JSON rows (no model objects), so a report over 100k dialogs stays one cheap pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localace.apis.naming import is_odd_name
from localace.verify.grounding import Sources, leaves, ungrounded_values
from localace.verify.voice import voice_problem


def dialog_figures(data: dict[str, Any]) -> tuple[int, int, int, int]:
    """(grounded values, argument values, narrating or assistant-voiced user turns, user turns) of one dialog row."""
    tools = {t.get("name"): t.get("parameters") or {} for t in data.get("tools", [])}
    sources = Sources()
    grounded = values = bad_voice = user_turns = 0
    for turn in data.get("turns", []):
        if turn.get("role") == "user" and isinstance(turn.get("content"), str):
            user_turns += 1
            bad_voice += voice_problem(turn["content"]) is not None
            sources.add(turn["content"])
        for result in turn.get("tool_results") or ():
            sources.add(json.dumps(result.get("results"), ensure_ascii=False, sort_keys=True))
        for call in turn.get("tool_calls") or ():
            arguments = call.get("arguments") or {}
            n = sum(1 for _ in leaves(arguments))
            missing = len(ungrounded_values(arguments, tools.get(call.get("name"), {}), sources))
            values += n
            grounded += n - missing
    return grounded, values, bad_voice, user_turns


@dataclass
class QualityTally:
    """Accumulates dialog_figures over rows; `result` gives shares with their counts."""

    grounded: int = 0
    values: int = 0
    bad_voice: int = 0
    user_turns: int = 0
    dialogs: int = 0

    def add(self, data: dict[str, Any]) -> None:
        g, v, b, u = dialog_figures(data)
        self.grounded, self.values, self.bad_voice, self.user_turns = (
            self.grounded + g, self.values + v, self.bad_voice + b, self.user_turns + u)
        self.dialogs += 1

    def result(self) -> dict[str, Any]:
        return {"dialogs": self.dialogs,
                "grounded_values": _share(self.grounded, self.values),
                "narrating_user_turns": _share(self.bad_voice, self.user_turns)}


def api_name_figures(names: list[str]) -> dict[str, Any]:
    odd = [n for n in names if is_odd_name(n)]
    return {**_share(len(odd), len(names)), "examples": odd[:5]}


def plain_description_figures(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """Top-level fields whose description is the plain one written from their name (the model's failed the
    check, or said no more than that): how much of the APIs' prose the model did not write."""
    from localace.apis.field_text import written_description

    plain = total = 0
    for spec in specs:
        for key in ("parameters", "returns"):
            props = (spec.get(key) or {}).get("properties") or {}
            for name, schema in props.items():
                if isinstance(schema, dict):
                    total += 1
                    plain += schema.get("description") == written_description(name, schema)
    return _share(plain, total)


def _share(part: int, whole: int) -> dict[str, Any]:
    return {"count": part, "of": whole, "share": round(part / whole, 4) if whole else None}


def quality_figures(store: Any, dialog_run: str | None = None, api_run: str | None = None) -> dict[str, Any]:
    """The quality section of a report or card: dialogs of a run (kept ones when there are any), API names."""
    where, params = (" WHERE run_id=?", (dialog_run,)) if dialog_run else ("", ())
    tallies = {"kept": QualityTally(), "all": QualityTally()}
    for status, data in store.conn.execute(f"SELECT status, data_json FROM dialogs{where}", params):
        row = json.loads(data)
        tallies["all"].add(row)
        if status == "kept":
            tallies["kept"].add(row)
    return quality_section(tallies, store, api_run)


def quality_section(tallies: dict[str, QualityTally], store: Any, api_run: str | None) -> dict[str, Any]:
    kept = tallies["kept"].dialogs > 0
    names_sql = "SELECT name FROM apis" + (" WHERE run_id=?" if api_run else "")
    specs_sql = "SELECT data_json FROM apis WHERE source='synth'" + (" AND run_id=?" if api_run else "")
    leaks_sql = "SELECT COUNT(*) FROM rejections WHERE stage='apis' AND check_name='example_leak'" + (
        " AND run_id=?" if api_run else "")
    args = (api_run,) if api_run else ()
    return {**tallies["kept" if kept else "all"].result(),
            "scope": "kept dialogs" if kept else "all dialogs (none kept yet)",
            "odd_api_names": api_name_figures([r[0] for r in store.conn.execute(names_sql, args)]),
            "plain_field_descriptions": plain_description_figures(
                [json.loads(r[0]) for r in store.conn.execute(specs_sql, args)]),
            "example_leaks_rejected": store.conn.execute(leaks_sql, args).fetchone()[0]}
