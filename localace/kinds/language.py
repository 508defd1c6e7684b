"""How values are written and read in English: number words, dates, times, money, durations.

One home for the language work of apis/, dialogs/ and verify/: inflect for number words and plurals,
babel for written dates, dateparser for relative and written dates against a fixed anchor."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})"), ("y", "m", "d")),
    (re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b"), ("y", "m", "d")),
    (re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b", re.I), ("mon", "d", "y")),
    (re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I), ("d", "mon", "y")),
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b"), ("a", "b", "y")),  # 12/03/2026: either order
    (re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!,?\s*\d{{4}})(?!\s*:)", re.I), ("mon", "d")),  # December 9: the anchor's year
    (re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b(?!,?\s+\d{{4}})", re.I), ("d", "mon")),
)
_RELATIVE = re.compile(r"\b(today|tomorrow|yesterday|the day after tomorrow|(?:next|this|last) "
                       r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|month|year)|"
                       r"in \d+ (?:days?|weeks?)|\d+ (?:days?|weeks?) ago)\b", re.I)
_TIME = re.compile(r"(?:\b|(?<=\dT))(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d])", re.I)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\d])")


@lru_cache(maxsize=1)
def _inflect():  # type: ignore[no-untyped-def]
    import inflect

    return inflect.engine()


def number_words(n: int) -> str:
    """7 → "seven", 21 → "twenty-one"."""
    return str(_inflect().number_to_words(n))


def plural(word: str) -> str:
    """The plural of a noun or a snake_case name's last word (`city` → cities, `start_date` → start_dates)."""
    head, _, last = word.rpartition("_")
    if last.endswith("s") and _inflect().singular_noun(last):
        many = last  # already plural: `weeks`, not `weekss`
    else:
        many = _inflect().plural_noun(last) or last + "s"
    return f"{head}_{many}" if head else many


def singular(word: str) -> str:
    """One item of a plural name, word by word (`organizations_mentioned` → organization_mentioned)."""
    out = []
    for part in word.split("_"):
        one = _inflect().singular_noun(part) if len(part) > 2 and part not in _NOT_PLURAL else False
        out.append(one or part)
    return "_".join(out)


_NOT_PLURAL = frozenset({"news", "status", "address", "class", "business", "series", "species", "analysis",
                         "basis", "bus", "gas", "plus", "bonus", "campus", "virus", "census", "canvas", "alias",
                         "access", "process", "progress", "success", "loss", "boss", "press", "stress", "is",
                         "this", "its", "has", "was", "does", "yes", "us", "as", "less", "miss", "glass", "sales"})


def article(phrase: str) -> str:
    """'an hour', 'a city'."""
    return str(_inflect().a(phrase))


@lru_cache(maxsize=1)
def _word_numbers() -> dict[str, int]:
    table = {number_words(i): i for i in range(0, 101)}
    table.update({w.replace("-", " "): i for w, i in table.items()})
    table.update({"a dozen": 12, "dozen": 12, "a couple": 2, "a pair": 2, "a single": 1, "a hundred": 100})
    return table


def numbers_in(text: str) -> set[float]:
    """Every number a text states: digits (1,250.50), number words (twenty-one), money ($120) and percents."""
    found: set[float] = set()
    cleaned = re.sub(r"[$€£¥₹]", " ", text)
    for m in _NUMBER.finditer(cleaned):
        try:
            found.add(float(m.group(0).replace(",", "")))
        except ValueError:
            continue
    lowered = " " + " ".join(re.sub(r"[^\w\s-]", " ", text.lower()).split()) + " "
    for word, n in _word_numbers().items():
        if f" {word} " in lowered or f" {word}-" in lowered:
            found.add(float(n))
    return found


def dates_in(text: str, anchor: dt.date | None = None) -> set[dt.date]:
    """Every calendar day a text names: ISO, written ("December 9, 2026", "9 Dec"), numeric in either order,
    and, given the dialog's anchor date, year-less and relative ones ("December 9", "next Friday")."""
    found: set[dt.date] = set()
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            if "y" not in parts and anchor is None:
                continue
            year = int(parts["y"]) if "y" in parts else anchor.year  # type: ignore[union-attr]
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
    if anchor is not None:
        for m in _RELATIVE.finditer(text):
            day = relative_date(m.group(1), anchor)
            if day is not None:
                found.add(day)
    return found


@lru_cache(maxsize=4096)
def relative_date(phrase: str, anchor: dt.date) -> dt.date | None:
    """"next Friday" → the date it names, seen from `anchor` (dateparser, future preferred)."""
    import dateparser

    parsed = dateparser.parse(phrase, languages=["en"], settings={
        "RELATIVE_BASE": dt.datetime.combine(anchor, dt.time(12)), "PREFER_DATES_FROM": "future"})
    return parsed.date() if parsed else None


def times_in(text: str) -> set[tuple[int, int]]:
    """(hour, minute) of every clock time a text names: 14:30, 2:30 pm, 9 am, noon."""
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
    lowered = text.lower()
    if "noon" in lowered or "midday" in lowered:
        found.add((12, 0))
    if "midnight" in lowered:
        found.add((0, 0))
    return found


def minutes_in(text: str) -> set[int]:
    """Durations a text names, in minutes: "90 minutes", "1.5 hours", "an hour and a half", "half an hour"."""
    lowered = text.lower()
    found: set[int] = set()
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*(?:hours?|hrs?|h)\b(?:\s*(?:and\s*)?(\d+)\s*(?:minutes?|mins?|m)\b)?", lowered):
        found.add(round(float(m.group(1)) * 60 + int(m.group(2) or 0)))
    for m in re.finditer(r"(\d+)\s*(?:minutes?|mins?)\b", lowered):
        found.add(int(m.group(1)))
    words = {"an hour and a half": 90, "one hour and a half": 90, "half an hour": 30, "an hour": 60,
             "a quarter of an hour": 15, "two hours": 120, "three hours": 180, "one hour": 60}
    for phrase, minutes in words.items():
        if phrase in lowered:
            found.add(minutes)
    for word, n in _word_numbers().items():
        if re.search(rf"\b{re.escape(word)} (?:minutes|mins)\b", lowered):
            found.add(n)
        if re.search(rf"\b{re.escape(word)} hours?\b", lowered):
            found.add(n * 60)
    return found


def written_date(day: dt.date, style: str) -> str:
    """A date as people write it: long ("December 9, 2026"), medium ("Dec 9, 2026"), day_first
    ("9 December 2026") or short ("December 9", for a date in the anchor's year)."""
    from babel.dates import format_date

    pattern = {"long": "MMMM d, y", "medium": "MMM d, y", "day_first": "d MMMM y", "short": "MMMM d",
               "weekday": "EEEE, MMMM d"}[style]
    return format_date(day, pattern, locale="en")


def clock(hour: int, minute: int) -> str:
    """14:30 → "2:30 pm", 9:00 → "9 am"."""
    half = "am" if hour < 12 else "pm"
    h = hour % 12 or 12
    return f"{h}:{minute:02d} {half}" if minute else f"{h} {half}"


def money(amount: float, symbol: str = "$") -> str:
    """120 → "$120", 120.5 → "$120.50"."""
    text = f"{amount:,.2f}".removesuffix(".00")
    return f"{symbol}{text}"
