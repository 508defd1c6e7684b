"""The closing answer: tool results reported the way an assistant would ("I found 3 showtimes: Dune at
Cinema Lumiere, …"), not field by field, built from the results' kinds and records."""

from __future__ import annotations

import re
from typing import Any

from localace.apis.spec import ApiSpec
from localace.dialogs.model import ToolResult
from localace.kinds import catalogue
from localace.kinds.language import number_words, singular

# Openers a capitalized sentence follows, and openers the sentence continues in lower case.
OPENERS = ("Done. ", "All set. ", "Sure thing. ", "Got it. ", "Okay. ", "Right. ", "Here you go. ", "")
LEAD_INS = ("Good news: ", "I checked, and ", "Here's what came back: ", "I've looked it up: ", "So, ")
MAX_CHARS = 60


def _clip(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]


def _show(value: Any, name: str = "", schema: dict[str, Any] | None = None) -> str:
    """A value as an assistant writes it: in its kind's first written form when it has one ("39 minutes",
    "April 11, 2026", "$120"), else as it is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    kind = catalogue().for_param(name, schema or {}) if name else None
    if kind is not None and kind.family not in ("identifier", "pick", "text", "integer", "ticker"):
        forms = kind.forms(value)
        if len(forms) > 1:
            return _clip(forms[1])
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return _clip(str(value))


def _label(name: str, schema: dict[str, Any]) -> str:
    """How an assistant names a field: its kind's label when the field carries one (`departs` is the departure
    time), else its name's words."""
    kind = catalogue().for_param(name, schema)
    words = re.sub(r"_+", " ", name).strip()
    return kind.label if kind is not None and (kind.param == name or "x-kind" in schema) else words


_MAIN = ("title", "name", "headline", "label", "subject")


def _item(record: dict[str, Any], schema: dict[str, Any]) -> str:
    """One listed thing, by its first text field, with a second field in brackets when there is one."""
    props = schema.get("properties", {})
    scalars = [(k, v) for k, v in record.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    if not scalars:
        return ""
    texts = [kv for kv in scalars if isinstance(kv[1], str)] or scalars
    # A listed thing is named by its title or name when it has one ("Dune", not the cinema showing it).
    main = next((kv for kv in texts if any(w in kv[0] for w in _MAIN)), texts[0])
    rest = [kv for kv in scalars if kv is not main]
    if rest:
        k, v = rest[0]
        return f"{_show(main[1], main[0], props.get(main[0]))} ({_label(k, props.get(k, {}))} " \
               f"{_show(v, k, props.get(k))})"
    return _show(main[1], main[0], props.get(main[0]))


def sentences(result: ToolResult, api: ApiSpec | None) -> list[tuple[str, list[str]]]:
    """(sentence, values it states) for one call's result: a list of records as a count and its first items,
    scalars as 'the <label> is <value>'."""
    props = (api.returns.get("properties", {}) if api is not None else {}) or {}
    data = result.results if isinstance(result.results, dict) else {"result": result.results}
    out: list[tuple[str, list[str]]] = []
    facts: list[tuple[str, str]] = []
    for name, value in data.items():
        schema = props.get(name, {})
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items = [i for i in (_item(v, schema.get("items", {})) for v in value[:3]) if i]
            if items:
                n = len(value)
                what = re.sub(r"_+", " ", singular(name) if n == 1 else name)
                listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
                count = number_words(n) if n <= 10 else str(n)
                out.append((f"I found {count} {what}: {listed}", [i.split(" (")[0] for i in items]))
        elif isinstance(value, list) and value:
            shown = [_show(v, name, schema.get("items")) for v in value[:3] if isinstance(v, (str, int, float))]
            if shown:
                facts.append((_label(name, schema), ", ".join(shown)))
        elif isinstance(value, dict):
            for k, v in list(value.items())[:2]:
                if isinstance(v, (str, int, float)):
                    facts.append((_label(k, {}), _show(v, k, (schema.get("properties") or {}).get(k))))
        elif isinstance(value, (str, int, float)) and str(value).strip():
            facts.append((_label(name, schema), _show(value, name, schema)))
    if facts:
        parts = [f"the {label} is {value}" for label, value in facts[:3]]
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        out.append((text, [v for _, v in facts[:3]]))
    return out


def answer_options(results: list[ToolResult], apis: dict[str, ApiSpec]) -> tuple[list[str], list[str]]:
    """(the answer's sentences, the values they state) for the latest tool results."""
    said: list[str] = []
    values: list[str] = []
    for result in results:
        for text, stated in sentences(result, apis.get(result.name)):
            said.append(text)
            values += stated
    return said[:3], values


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]
