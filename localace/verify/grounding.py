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
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from localace.apis.text_norm import stem

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\d])")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "a dozen": 12, "dozen": 12,
                      "single": 1, "couple": 2, "pair": 2})
_MONTHS = {m.lower(): i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b", re.I), ("mon", "d", "y")),
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I), ("d", "mon", "y")),
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b"), ("a", "b", "y")),  # 12/03/2026: either order
)
_TIME = re.compile(r"\b(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d])", re.I)
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


def norm_text(text: str) -> str:
    """Lower case, accents folded, every run of non-alphanumerics one space, padded with spaces."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " " + " ".join(re.sub(r"[\W_]+", " ", folded).split()) + " "


def _compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _unspaced(text: str) -> bool:
    """Scripts written without spaces between words (Chinese, Japanese, Thai): no word boundaries to match on."""
    return any("\u0e00" <= c <= "\u0e7f" or "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff"
               or "\uac00" <= c <= "\ud7af" for c in text)


def _as_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


@dataclass
class Sources:
    """Everything a value may be taken from: user texts and tool results, indexed once."""

    texts: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.texts.append(text)
        self.__dict__.pop("_index", None)  # invalidate the cached indexes
        self.__dict__.pop("_stemmed", None)

    @cached_property
    def _index(self) -> tuple[str, str, set[float], set[dt.date], set[tuple[int, int]]]:
        joined = " | ".join(self.texts)
        norm = norm_text(joined)
        return norm, _compact(norm), _numbers(joined), _dates(joined), _times(joined)

    def states(self, value: Any) -> bool:
        """Whether a scalar value (string or number) appears in the sources."""
        norm, compact, numbers, dates, times = self._index
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return float(value) in numbers
        if not isinstance(value, str) or not value.strip():
            return False
        nv = norm_text(value)
        if nv.strip() and (nv in norm or (_unspaced(value) and nv.strip() in norm)):
            return True
        cv = _compact(nv)
        if len(cv) >= 4 and any(c.isdigit() for c in cv) and cv in compact:  # "BA2490" stated as "BA 2490", "+1-555-0100" as "+1 555 0100"
            return True
        day = _as_date(value)
        if day is not None and day in dates:
            clock = re.search(r"T(\d{2}):(\d{2})", value)
            return clock is None or (int(clock.group(1)), int(clock.group(2))) in times
        clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", value.strip())
        if clock is not None:
            return (int(clock.group(1)), int(clock.group(2))) in times
        for name in code_names(value):  # "1 bitcoin in euros" states BTC and EUR
            stems = " ".join(stem(w) for w in name.split())
            if f" {stems} " in self._stemmed:
                return True
        if re.fullmatch(r"[-+]?\d[\d,]*(?:\.\d+)?", value.strip()):
            return float(value.replace(",", "")) in numbers
        return False

    def mentions_flag(self, name: str, value: bool) -> bool:
        """Whether a boolean is stated: the meaningful words of its parameter's name all occur ("air quality"
        for include_air_quality); a name of filler words only counts whole, a name of no words by yes/no."""
        words = flag_words(name)
        if not words:
            words = ["true", "yes"] if value else ["false", "no"]
            return any(f" {w} " in self._index[0] for w in words)
        return all(f" {stem(w)} " in self._stemmed for w in words)  # "summaries" states include_summary

    @cached_property
    def _stemmed(self) -> str:
        return " " + " ".join(stem(w) for w in self._index[0].split()) + " "


def _numbers(text: str) -> set[float]:
    found: set[float] = set()
    for m in _NUMBER.finditer(text):
        try:
            found.add(float(m.group(0).replace(",", "")))
        except ValueError:
            continue
    lowered = norm_text(text)
    for word, n in _NUMBER_WORDS.items():
        if f" {word} " in lowered:
            found.add(float(n))
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*%", text):
        found.add(float(m.group(1)))
    return found


def _dates(text: str) -> set[dt.date]:
    found: set[dt.date] = set()
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            year = int(parts["y"])
            if "mon" in parts:
                candidates = [(_MONTHS[parts["mon"].lower().rstrip(".")], int(parts["d"]))]
            elif "m" in parts:
                candidates = [(int(parts["m"]), int(parts["d"]))]
            else:
                a, b = int(parts["a"]), int(parts["b"])
                candidates = [(a, b), (b, a)]
            for month, day in candidates:
                try:
                    found.add(dt.date(year, month, day))
                except ValueError:
                    continue
    return found


def _times(text: str) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for m in _TIME.finditer(text):
        hour, minute, half = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower().replace(".", "")
        if m.group(2) is None and not half:
            continue  # a bare number is not a time
        if half == "pm" and hour < 12:
            hour += 12
        if half == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60:
            found.add((hour, minute))
    return found


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


def _schema_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The sub-schema of a leaf path like `items[0].sku` (best effort; {} when unknown)."""
    node: Any = {"type": "object", "properties": schema.get("properties", {})}
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if not isinstance(node, dict):
            return {}
        node = node.get("items", {}) if part.startswith("[") else node.get("properties", {}).get(part, {})
    return node if isinstance(node, dict) else {}


def ungrounded_values(arguments: dict[str, Any], parameters: dict[str, Any], sources: Sources) -> list[tuple[str, Any]]:
    """(path, value) of every argument value that is neither stated, nor an enum member, nor the default."""
    missing = []
    for path, value in leaves(arguments):
        schema = _schema_at(parameters, path)
        if "enum" in schema and value in schema["enum"]:
            continue
        if "default" in schema and value == schema["default"]:
            continue
        if value is None or value == "":
            continue  # nothing was claimed, so nothing can be invented
        if isinstance(value, bool):
            if sources.mentions_flag(path.rsplit(".", 1)[-1].split("[")[0], value):
                continue
        elif sources.states(value):
            continue
        missing.append((path, value))
    return missing


def grounded_share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 1.0
