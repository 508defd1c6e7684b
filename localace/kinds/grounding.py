"""Is an argument value stated in the conversation? ToolACE's hallucination check, made deterministic.

A value is grounded when an earlier user turn states it, an earlier tool result contains it, or it is
one of the parameter's enum members or its default. "States" is read generously where spellings
differ and strictly where they do not: case and punctuation never matter, numbers compare by value
("1,250.50" = 1250.5, "three" = 3), dates by the day they name ("2026-12-03", "December 3, 2026",
"3 Dec 2026", "12/03/2026"), times by the minute ("14:30", "2:30 pm"). A boolean is stated when the
words of its parameter's name are ("include air quality" for `include_air_quality`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from localace.kinds import KIND_KEY, Kind, Said, kind_of
from localace.kinds.families import literal_states
from localace.kinds.said import norm_text, stem


def flag_words(name: str) -> list[str]:
    """The words that state a boolean parameter: its name's words without filler ("air quality" for
    include_air_quality), all of them when the name is filler only. The user agent says these; the rule reads them."""
    words = re.findall(r"[a-z]+", name.lower())
    return [w for w in words if w not in _BOOL_FILLER] or words


_BOOL_FILLER = frozenset({"is", "has", "include", "includes", "with", "use", "enable", "enabled", "only", "show",
                          "allow", "flag", "should", "do", "want", "get"})


def _currency_names() -> dict[str, list[str]]:
    """ISO currency and crypto codes → the words that name them ("EUR" → "euro"), from Faker's tables."""
    from faker.providers.currency import Provider

    names: dict[str, list[str]] = {}
    for code, name in (*Provider.currencies, *Provider.cryptocurrencies):
        words = name.lower().split()
        names.setdefault(code, []).extend({words[-1], name.lower()})
    return names


_CODE_NAMES: dict[str, list[str]] | None = None


def code_names(code: str) -> list[str]:
    """What a code may be stated as instead of itself: a currency by its name ("euros" states EUR)."""
    global _CODE_NAMES
    if _CODE_NAMES is None:
        _CODE_NAMES = _currency_names()
    return _CODE_NAMES.get(code.upper(), []) if len(code) <= 5 else []


def _unspaced(text: str) -> bool:
    """Scripts written without spaces between words (Chinese, Japanese, Thai): no word boundaries to match on."""
    return any("\u0e00" <= c <= "\u0e7f" or "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff"
               or "\uac00" <= c <= "\ud7af" for c in text)


@dataclass
class Sources:
    """Everything a value may be taken from: user texts and tool results, read once (kinds.Said).

    `anchor`: the dialog's fixed date, against which year-less and relative dates are read (None for
    imported data, which states no anchor: only dates with a year count there)."""

    texts: list[str] = field(default_factory=list)
    anchor: dt.date | None = None

    def add(self, text: str) -> None:
        self.texts.append(text)
        self.__dict__.pop("said", None)  # invalidate the cached reading

    @cached_property
    def said(self) -> Said:
        return Said(" | ".join(self.texts), self.anchor)

    def states(self, value: Any) -> bool:
        """Whether a scalar value (string or number) appears in the sources, in its canonical form or one
        every reader agrees on (dates by the day, times by the minute, numbers by value, codes by name)."""
        said = self.said
        if isinstance(value, bool) or value is None:
            return False
        if isinstance(value, (int, float)):
            return float(value) in said.numbers
        if not isinstance(value, str) or not value.strip():
            return False
        if _unspaced(value) and norm_text(value).strip() in said.norm:
            return True
        if literal_states(value, said):
            return True
        day = _as_date(value)
        if day is not None and day in said.dates:
            clock = re.search(r"T(\d{2}):(\d{2})", value)
            return clock is None or (int(clock.group(1)), int(clock.group(2))) in said.times
        clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", value.strip())
        if clock is not None:
            return (int(clock.group(1)), int(clock.group(2))) in said.times
        for name in code_names(value):  # "1 bitcoin in euros" states BTC and EUR
            if said.has_stemmed(name):
                return True
        return False

    def states_as(self, value: Any, kind: Kind | None) -> bool:
        """Stated as a value of its kind: a surface form of the kind that normalizes to it ("December 9" for
        2026-12-09, "five" for 5, "coach" for economy), or the value itself."""
        if kind is not None and kind.states(value, self.said):
            return True
        return self.states(value)

    def mentions_flag(self, name: str, value: bool) -> bool:
        """Whether a boolean is stated: the meaningful words of its parameter's name all occur ("air quality"
        for include_air_quality); a name of filler words only counts whole, a name of no words by yes/no."""
        words = flag_words(name)
        if not words:
            words = ["true", "yes"] if value else ["false", "no"]
            return any(f" {w} " in self.said.norm for w in words)
        return all(f" {stem(w)} " in self.said.stemmed for w in words)  # "summaries" states include_summary


def _as_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, scalar) for every scalar inside a JSON value."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from leaves(child, f"{path}[{i}]")
    else:
        yield path, value


def schema_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The sub-schema of a leaf path like `items[0].sku` (best effort; {} when unknown)."""
    node: Any = {"type": "object", "properties": schema.get("properties", {})}
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if not isinstance(node, dict):
            return {}
        node = node.get("items", {}) if part.startswith("[") else node.get("properties", {}).get(part, {})
    return node if isinstance(node, dict) else {}


def ungrounded_values(arguments: dict[str, Any], parameters: dict[str, Any], sources: Sources) -> list[tuple[str, Any]]:
    """(path, value) of every argument value that is neither stated (in a surface form of its kind), nor an
    enum member, nor the default."""
    missing = []
    for path, value in leaves(arguments):
        schema = schema_at(parameters, path)
        if "enum" in schema and value in schema["enum"] and not _kind_enum(path, schema):
            continue
        if "default" in schema and value == schema["default"]:
            continue
        if value is None or value == "":
            continue  # nothing was claimed, so nothing can be invented
        name = path.rsplit(".", 1)[-1].split("[")[0]
        kind = kind_of(name, schema)
        if isinstance(value, bool):
            if kind is not None and kind.family == "boolean" and kind.states(value, sources.said):
                continue
            if sources.mentions_flag(name, value):
                continue
        elif sources.states_as(value, kind):
            continue
        elif any(rule(value, name, schema, sources) for _, rule in INFERENCES):
            continue
        missing.append((path, value))
    return missing


# Values a reader infers from what was said, each a named rule (README, Stage C). They accept what good data
# does and nothing stated nowhere: a language code must be the request's own, a date must bound a period the
# user named, a documented value must be in the parameter's own description.
_ENGLISH = frozenset("the a an and to of for in on is are what how can could please i my me you show find get "
                     "with this that".split())


def _request_language(value: Any, name: str, schema: dict[str, Any], sources: Sources) -> bool:
    """`lang="en"` for a request written in English (the only language this rule reads)."""
    if not isinstance(value, str) or not re.search(r"lang|locale", name, re.I):
        return False
    if value.lower().replace("_", "-") not in ("en", "en-us", "en-gb", "english", "eng"):
        return False
    said = sources.said.norm.split()
    return bool(said) and sum(w in _ENGLISH for w in said) / len(said) >= 0.15 and not _unspaced(sources.said.text)


def _named_period(value: Any, name: str, schema: dict[str, Any], sources: Sources) -> bool:
    """The first or last day of a month or a year the user named ("December 2020 through February 2021" bounds
    2020-12-01 and 2021-02-28; "the 2023 figures" bounds 2023-01-01 and 2023-12-31)."""
    day = _as_date(value) if isinstance(value, str) else None
    if day is None or len(value.strip()) > 10 and "T" not in value:
        return False
    text = sources.said.text
    month = day.strftime("%B")
    next_month = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    last_of_month = day == next_month - dt.timedelta(days=1)
    if (day.day == 1 or last_of_month) and re.search(rf"\b(?:{month}|{month[:3]})\.?,?\s+(?:of\s+)?{day.year}\b", text, re.I):
        return True
    year_bound = (day.month, day.day) in ((1, 1), (12, 31))
    return year_bound and re.search(rf"\b{day.year}\b", text) is not None


def _documented(value: Any, name: str, schema: dict[str, Any], sources: Sources) -> bool:
    """A value the parameter's own description gives as its usual one (`part="snippet"` where the API says
    "e.g. snippet")."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
        return False
    if KIND_KEY in schema:
        return False  # our own kinds' descriptions give examples of the form, not a customary value
    described = Said(f"{schema.get('description', '')} {schema.get('title', '')}")
    return literal_states(value, described)


def _coordinates_of_named_city(value: Any, name: str, schema: dict[str, Any], sources: Sources) -> bool:
    """A latitude or longitude of a city the user named (within 0.2°), from the kinds' table of places."""
    from localace.kinds.places import PLACES

    if not isinstance(value, (int, float)) or isinstance(value, bool) or not re.search(r"lat|lon|lng", name, re.I):
        return False
    coordinate = 0 if re.search(r"lat", name, re.I) else 1
    return any(abs((p.lat, p.lon)[coordinate] - float(value)) <= 0.2 and sources.said.has_phrase(p.city)
               for p in PLACES)


def _word_stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _named_by_its_meaning(value: Any, name: str, schema: dict[str, Any], sources: Sources) -> bool:
    """A one-word value the request names in another inflection (`case="mixed"` for "a mix of cases")."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3,}", value):
        return False
    stem = _word_stem(value.lower())
    return any(_word_stem(w) == stem for w in sources.said.norm.split())


INFERENCES: tuple[tuple[str, Any], ...] = (
    ("the coordinates of a named city", _coordinates_of_named_city),
    ("a word the request names in another inflection", _named_by_its_meaning),
    ("language of the request", _request_language),
    ("a date bounding a named period", _named_period),
    ("the parameter's documented value", _documented),
)


def _kind_enum(path: str, schema: dict[str, Any]) -> bool:
    """An enum that a kind made (cabin class, sort order): its member must be said, in one of its names; an
    enum an API declared on its own keeps the old leniency (any member is a customary value)."""
    return isinstance(schema.get(KIND_KEY), str)


def grounded_share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 1.0
