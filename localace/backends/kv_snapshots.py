"""Saved KV-cache states, so agents with different system prompts stop evicting each other's prefix.

llama.cpp keeps one sequence in its KV cache. A dialog alternates between the assistant, the user and
the tool agent, each with its own system prompt, so every switch threw away the other agent's prefix
and the next call of that agent evaluated hundreds of prompt tokens again. Before a prompt would
discard a long cached prefix we copy that state out (llama_state_seq_get_data: only the used cells),
and when a saved state shares a longer prefix with the new prompt than the live cache does, we copy
it back in. A copy costs milliseconds; evaluating the prefix again cost seconds on a laptop CPU."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_BUDGET_MB = 512
MIN_TOKENS = 128  # a prefix shorter than this is cheaper to evaluate again than to keep


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass
class Snapshot:
    tokens: list[int]
    data: Any  # an opaque buffer from the `read` function
    size: int
    last_used: int


# read(llama) -> (buffer, bytes); write(llama, buffer, bytes, tokens) -> whether that state is now the live cache.
Reader = Callable[[Any], tuple[Any, int]]
Writer = Callable[[Any, Any, int, list[int]], bool]


class KvSnapshots:
    """A byte-bounded, least-recently-used set of saved KV states for one llama.cpp context."""

    def __init__(self, read: Reader, write: Writer, *, budget_bytes: int | None = None,
                 min_tokens: int = MIN_TOKENS) -> None:
        self.read, self.write = read, write
        if budget_bytes is None:
            budget_bytes = int(float(os.environ.get("LOCALACE_KV_SNAPSHOT_MB", DEFAULT_BUDGET_MB)) * 2**20)
        self.budget_bytes = budget_bytes
        self.min_tokens = min_tokens
        self.snapshots: list[Snapshot] = []
        self._clock = 0
        self.saved = self.restored = 0
        # Leading live-cache tokens that were evaluated inside a prompt body: the only ones safe to reuse.
        self.reusable = 0

    @property
    def bytes_used(self) -> int:
        return sum(s.size for s in self.snapshots)

    def prepare(self, llama: Any, cached: list[int], prompt: Sequence[int]) -> list[int]:
        """Make the live cache the best available start for `prompt`; returns the tokens now cached."""
        if self.budget_bytes <= 0:
            return cached
        live = common_prefix(cached, prompt)
        best = max(self.snapshots, key=lambda s: common_prefix(s.tokens, prompt), default=None)
        best_len = common_prefix(best.tokens, prompt) if best is not None else 0
        if len(cached) - live >= self.min_tokens:
            self._save(llama, cached)  # this prompt is about to overwrite a long prefix: keep a copy
        if best is None or best_len < live + self.min_tokens:
            return cached
        self._clock += 1
        best.last_used = self._clock
        if not self.write(llama, best.data, best.size, best.tokens):
            self.snapshots.remove(best)
            return []
        self.restored += 1
        return list(best.tokens)

    def _save(self, llama: Any, tokens: list[int]) -> None:
        # A state that extends (or is extended by) a saved one replaces it: one snapshot per agent prefix.
        self.snapshots = [s for s in self.snapshots
                          if common_prefix(s.tokens, tokens) < min(len(s.tokens), len(tokens)) // 2]
        data, size = self.read(llama)
        if size > self.budget_bytes:
            return
        self._clock += 1
        self.snapshots.append(Snapshot(list(tokens), data, size, self._clock))
        self.saved += 1
        while self.bytes_used > self.budget_bytes:
            self.snapshots.remove(min(self.snapshots, key=lambda s: s.last_used))


def read_llama_state(llama: Any) -> tuple[Any, int]:
    """Copy sequence 0's KV cells out of a llama_cpp.Llama."""
    import ctypes

    import llama_cpp

    size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, buffer, size, 0)
    return buffer, int(written)


def write_llama_state(llama: Any, buffer: Any, size: int, tokens: list[int]) -> bool:
    """Make a saved state the live one, and tell llama-cpp-python which tokens it holds."""
    import llama_cpp

    llama._ctx.kv_cache_seq_rm(-1, 0, -1)
    if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, size, 0) != size:
        llama.reset()  # an empty cache is always correct: the prompt is then evaluated in full
        return False
    llama.input_ids[: len(tokens)] = tokens
    llama.n_tokens = len(tokens)
    llama._requires_eval = True  # the logits of the restored last token are not live
    return True
