"""What a text says, read once: its words, numbers, dates, times and durations (the normalizers' input)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from localace.kinds import language as L


def norm_text(text: str) -> str:
    """Lower case, accents folded, every run of non-alphanumerics one space, padded with spaces."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " " + " ".join(re.sub(r"[\W_]+", " ", folded).split()) + " "


def compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def stem(word: str) -> str:
    """Crude stemming so that plural and -ing/-ed variants of one word meet."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The lower-case words (letters and digits) of a text or a snake_case name: the one tokenizer."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))


@dataclass
class Said:
    """A text (a conversation's user turns and tool results, joined) and what it states."""

    text: str
    anchor: dt.date | None = None

    @cached_property
    def norm(self) -> str:
        return norm_text(self.text)

    @cached_property
    def compact(self) -> str:
        return compact(self.norm)

    @cached_property
    def stemmed(self) -> str:
        return " " + " ".join(stem(w) for w in self.norm.split()) + " "

    @cached_property
    def numbers(self) -> set[float]:
        return L.numbers_in(self.text)

    @cached_property
    def dates(self) -> set[dt.date]:
        return L.dates_in(self.text, self.anchor)

    @cached_property
    def times(self) -> set[tuple[int, int]]:
        return L.times_in(self.text)

    @cached_property
    def minutes(self) -> set[int]:
        return L.minutes_in(self.text)

    def has_phrase(self, phrase: str) -> bool:
        """Whole words, case and punctuation ignored."""
        p = norm_text(phrase)
        return bool(p.strip()) and p in self.norm

    def has_stemmed(self, phrase: str) -> bool:
        p = " " + " ".join(stem(w) for w in norm_text(phrase).split()) + " "
        return bool(p.strip()) and p in self.stemmed
