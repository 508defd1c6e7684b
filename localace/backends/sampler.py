"""Per-sequence token sampling for the batched path: one seeded generator per request.

The single-request path samples inside llama-cpp-python; sequences decoded together need one sampler
each (its own seed, its own recent tokens), so sampling happens here on the logits row llama.cpp
returns for that sequence. Order: repeat penalty, (temperature 0: argmax), top-k, temperature,
top-p, draw."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from localace.backends.base import Sampling

REPEAT_WINDOW = 64  # tokens the repeat penalty looks back over (llama-cpp-python's default last_n_tokens_size)


class NoCandidate(Exception):
    """Every token was masked out (a constraint that allows nothing)."""


class TokenSampler:
    def __init__(self, sampling: Sampling) -> None:
        import numpy as np

        self.sampling = sampling
        self.rng = np.random.default_rng(sampling.seed)

    def sample(self, logits: Any, recent: Sequence[int] = ()) -> int:
        """Pick the next token from one row of logits (float32, masked entries are -inf); edits `logits`."""
        import numpy as np

        s = self.sampling
        if s.repeat_penalty != 1.0 and recent:
            seen = np.unique(np.asarray(recent[-REPEAT_WINDOW:], dtype=np.int64))
            values = logits[seen]
            logits[seen] = np.where(values > 0, values / s.repeat_penalty, values * s.repeat_penalty)
        finite = np.flatnonzero(np.isfinite(logits))
        if finite.size == 0:
            raise NoCandidate("no token is allowed")
        if s.temperature <= 0.0:
            return int(finite[np.argmax(logits[finite])])
        candidates = finite
        if 0 < s.top_k < candidates.size:
            candidates = candidates[np.argpartition(-logits[candidates], s.top_k - 1)[: s.top_k]]
        scaled = logits[candidates].astype(np.float64) / s.temperature
        order = np.argsort(-scaled, kind="stable")
        candidates, scaled = candidates[order], scaled[order]
        probs = np.exp(scaled - scaled[0])
        probs /= probs.sum()
        if s.top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(probs), s.top_p)) + 1
            candidates, probs = candidates[:keep], probs[:keep] / probs[:keep].sum()
        return int(candidates[min(int(np.searchsorted(np.cumsum(probs), self.rng.random(), side="right")),
                                  candidates.size - 1)])
