"""Text normalization used to spot near-duplicate tree nodes and APIs."""

from __future__ import annotations

import re

_STOP = frozenset("a an and the of for to in on by with from or api apis data info information".split())


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


def tokens(text: str) -> frozenset[str]:
    words = re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))
    return frozenset(stem(w) for w in words if w not in _STOP)


def norm_key(text: str) -> str:
    return " ".join(sorted(tokens(text)))


def similar(a: str, b: str, threshold: float = 0.75) -> bool:
    """Jaccard similarity of normalized word sets."""
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return ta == tb
    return len(ta & tb) / len(ta | tb) >= threshold
