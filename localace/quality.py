"""Quality figures of a dataset: grounded argument values, user turns written as a user, readable API names.

Computed from stored JSON rows (no model objects), so a report over 100k dialogs stays one cheap pass."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from localace.apis.naming import is_odd_name
from localace.kinds.grounding import Sources, leaves, schema_at, ungrounded_values
from localace.voice import voice_problem


_TEXT_FAMILIES = frozenset({"pick", "text", "person_name", "first_name", "company", "city", "country", "region",
                            "address", "username", "language"})


@dataclass
class DialogFigures:
    grounded: int = 0
    values: int = 0
    bad_voice: int = 0
    user_turns: int = 0
    other_form: int = 0  # grounded values the user stated in a form other than the canonical one ("five" for 5)
    text_numbers: int = 0  # text-kind parameters holding a number
    text_values: int = 0
    own_words: int = 0  # string values made only of words of their API's name, description or parameter name
    strings: int = 0
    first_user: str = ""
    answer_opening: str = ""


def dialog_figures(data: dict[str, Any]) -> DialogFigures:
    """Figures of one dialog row: grounding (and how values were stated), voice, text values, openings."""
    from localace.kinds import ANCHOR, kind_of
    from localace.kinds.said import norm_text, words

    tools = {t.get("name"): t for t in data.get("tools", [])}
    anchor = ANCHOR if (data.get("meta") or {}).get("plan") else None
    sources = Sources(anchor=anchor)
    f = DialogFigures()
    for turn in data.get("turns", []):
        content = turn.get("content")
        if turn.get("role") == "user" and isinstance(content, str):
            f.user_turns += 1
            f.bad_voice += voice_problem(content) is not None
            sources.add(content)
            f.first_user = f.first_user or norm_text(content).strip()
        if turn.get("role") == "assistant" and isinstance(content, str) and turn.get("action") == "summarize" \
                and not f.answer_opening:
            f.answer_opening = " ".join(norm_text(content).split()[:4])
        for result in turn.get("tool_results") or ():
            text = json.dumps(result.get("results"), ensure_ascii=False, sort_keys=True)
            sources.add(text)
        for call in turn.get("tool_calls") or ():
            arguments = call.get("arguments") or {}
            tool = tools.get(call.get("name")) or {}
            params = tool.get("parameters") or {}
            n = sum(1 for _ in leaves(arguments))
            missing = {p for p, _ in ungrounded_values(arguments, params, sources)}
            f.values += n
            f.grounded += n - len(missing)
            own = set(words(f"{tool.get('name', '')} {tool.get('description', '')}"))
            for path, value in leaves(arguments):
                name = path.rsplit(".", 1)[-1].split("[")[0]
                kind = kind_of(name, schema_at(params, path))
                if path not in missing and not isinstance(value, bool) and not _literally(value, sources):
                    f.other_form += 1
                if kind is not None and kind.family in _TEXT_FAMILIES:
                    f.text_values += 1
                    f.text_numbers += isinstance(value, (int, float)) or (isinstance(value, str) and _numeric(value))
                if isinstance(value, str) and words(value) and not any(c.isdigit() for c in value):
                    f.strings += 1
                    f.own_words += set(words(value)) <= own | set(words(name))
    return f


_UNIT_AFTER = re.compile(r"\s*(?:%|percent|dollars?|euros?|pounds?|yen|km|kilomet(?:re|er)s?|miles?|kg|kilograms?|"
                         r"lbs?|minutes?|mins?|hours?|cm|met(?:re|er)s?|degrees?|°)", re.I)


def _literally(value: Any, sources: Sources) -> bool:
    """The canonical value itself appears, not a surface form of it: a number bare ("120", not "$120",
    "120 dollars" or "12 km"), a string as it is."""
    from localace.kinds.families import literal_states

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = sources.said.text
        for written in dict.fromkeys((f"{value:g}", str(value))):
            for m in re.finditer(rf"(?<![\w.$€£¥]){re.escape(written)}(?![\w])", text):
                if not _UNIT_AFTER.match(text, m.end()):
                    return True
        return False
    return literal_states(value, sources.said)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


_COUNTED = ("grounded", "values", "bad_voice", "user_turns", "other_form", "text_numbers", "text_values",
            "own_words", "strings")


@dataclass
class QualityTally:
    """Accumulates dialog_figures over rows (the counted figures summed by name); `result` gives shares."""

    counts: Counter = field(default_factory=Counter)
    dialogs: int = 0
    firsts: Counter = field(default_factory=Counter)
    openings: Counter = field(default_factory=Counter)

    def add(self, data: dict[str, Any]) -> None:
        f = dialog_figures(data)
        self.counts.update({name: getattr(f, name) for name in _COUNTED})
        if f.first_user:
            self.firsts[f.first_user] += 1
        if f.answer_opening:
            self.openings[f.answer_opening] += 1
        self.dialogs += 1

    def result(self) -> dict[str, Any]:
        top = self.openings.most_common(1)
        c = self.counts
        return {"dialogs": self.dialogs,
                "grounded_values": _share(c["grounded"], c["values"]),
                "values_in_another_form": _share(c["other_form"], c["grounded"]),
                "narrating_user_turns": _share(c["bad_voice"], c["user_turns"]),
                "text_parameters_holding_a_number": _share(c["text_numbers"], c["text_values"]),
                "strings_of_their_own_api_words": _share(c["own_words"], c["strings"]),
                "distinct_first_user_turns": _share(len(self.firsts), sum(self.firsts.values())),
                "answers_with_the_commonest_opening": {
                    **_share(top[0][1] if top else 0, sum(self.openings.values())),
                    "opening": top[0][0] if top else None}}


def api_name_figures(names: list[str]) -> dict[str, Any]:
    odd = [n for n in names if is_odd_name(n)]
    return {**_share(len(odd), len(names)), "examples": odd[:5]}


def kind_coverage(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """Top-level parameters that have a kind (annotated, or found by name, alias or format)."""
    from localace.kinds import kind_of

    kinded = total = 0
    for spec in specs:
        for name, schema in ((spec.get("parameters") or {}).get("properties") or {}).items():
            if isinstance(schema, dict):
                total += 1
                kinded += kind_of(name, schema) is not None
    return _share(kinded, total)


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
    args = (api_run,) if api_run else ()
    return {**tallies["kept" if kept else "all"].result(),
            "scope": "kept dialogs" if kept else "all dialogs (none kept yet)",
            "odd_api_names": api_name_figures([r[0] for r in store.conn.execute(names_sql, args)]),
            "parameter_kinds": kind_coverage([json.loads(r[0]) for r in store.conn.execute(specs_sql, args)])}


# The quality figures as people read them, in the order stats, the dataset card and the report show them.
QUALITY_ROWS: tuple[tuple[str, str], ...] = (
    ("grounded_values", "argument values grounded in the conversation"),
    ("values_in_another_form", "grounded values stated in a form other than the canonical one"),
    ("narrating_user_turns", "user turns that narrate or speak as the assistant"),
    ("text_parameters_holding_a_number", "text-kind parameters holding a number"),
    ("strings_of_their_own_api_words", "string values made only of their own API's words"),
    ("distinct_first_user_turns", "distinct first user turns"),
    ("answers_with_the_commonest_opening", "answers opening with the commonest four words"),
    ("parameter_kinds", "synthesized parameters with a kind"),
    ("odd_api_names", "odd API names (3+ digit run, http, more than 6 parts)"),
)
