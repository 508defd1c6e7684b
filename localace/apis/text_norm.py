"""Text normalization used to spot near-duplicate tree nodes and APIs."""

from __future__ import annotations

import re

from localace.kinds.said import stem

_STOP = frozenset("a an and the of for to in on by with from or api apis data info information".split())


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
