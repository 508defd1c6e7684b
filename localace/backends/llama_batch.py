"""Many sequences in one llama.cpp context: one `llama_decode` per step, continuous batching.

The context has `slots` sequences (llama.cpp's n_seq_max) sharing one unified pool of KV cells
(kv_unified on; each sequence's cells are masked for the others). Measured with benchmarks/batch.py
on 2 cores, 1 thread, 8 sequences: separate per-sequence streams (kv_unified off) made an 8-row
decode step cost ~6.5 single-row steps (0.22 s vs 0.034 s; 0.92x aggregate), the unified pool
1.33x — the rows go through one micro-batch. Each step builds one batch: the last sampled token of every decoding
sequence, then prompt chunks of newly admitted ones, up to n_batch tokens; after the decode every
sequence whose logits came out samples its next token under its own constraint (an llguidance matcher)
and its own seeded sampler. A sequence that ends (end of generation, grammar complete, max_tokens,
or a failure) leaves at once and a waiting request takes its slot at the next step.

Prefix reuse: a slot keeps the tokens of its KV cells after its request ends. A new request goes to
the lowest free slot (llama.cpp puts sequences with consecutive ids in one micro-batch, so active
sequences are kept at the bottom), and gets the longest prefix any slot holds: its own cells, or a
copy of another slot's (`llama_memory_seq_cp`, the cells gain the copy's sequence id in the unified pool, then the tail is
dropped with `llama_memory_seq_rm`). The k samples of a vote thus evaluate their shared prompt once.

Outputs are not bit-identical across batch compositions: llama.cpp picks its attention kernel by
shape (rows per sequence in a micro-batch, KV length, threads), so the same prompt evaluated in other
chunks, or with its prefix copied from another sequence, gives logits that differ by up to ~1.4 and
sampled texts that differ (benchmarks/bit_identity.py). The single-request path (llamacpp.py,
canonical prompt evaluation, KV snapshots) stays the way to byte-identical reruns (`--deterministic`);
here prefixes are reused wherever they are (generated tokens included), for speed.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from localace.backends.base import Completion, Output
from localace.backends.kv_snapshots import common_prefix
from localace.backends.sampler import REPEAT_WINDOW, NoCandidate, TokenSampler
from localace.backends.validation import check_output
from localace.errors import ConstraintViolation, GenerationError

MIN_COPY = 16  # a shared prefix must beat the target slot's own by this many tokens to be worth a stream copy


@dataclass(eq=False)
class Job:
    """One request on its way through the engine."""

    ticket: Hashable
    prompt: list[int]
    output: Output | None
    matcher: Any  # an llguidance LLMatcher of its own, or None when unconstrained
    sampler: TokenSampler
    max_tokens: int
    todo: list[int] = field(default_factory=list)  # prompt tokens still to evaluate
    generated: list[int] = field(default_factory=list)
    reused: int = 0
    seconds: float = 0.0

    def usage(self) -> dict[str, float]:
        return {"prompt_tokens": len(self.prompt), "cached_tokens": self.reused,
                "completion_tokens": len(self.generated), "seconds": self.seconds}


@dataclass(eq=False)
class Slot:
    seq: int  # llama.cpp sequence id
    tokens: list[int] = field(default_factory=list)  # what this sequence's KV cells hold, from position 0
    job: Job | None = None


class BatchEngine:
    """Owns a llama.cpp context with `slots` sequences of `n_ctx` cells each, on an already loaded model."""

    def __init__(self, llama: Any, *, slots: int, n_ctx: int, n_batch: int = 512, threads: int = 1) -> None:
        import llama_cpp
        from llama_cpp import _internals

        if not 1 <= slots <= min(n_batch, llama_cpp.llama_max_parallel_sequences()):
            raise ValueError(f"slots must be between 1 and {llama_cpp.llama_max_parallel_sequences()}, got {slots}")
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = slots * n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = slots
        # LOCALACE_KV_UNIFIED=0: per-sequence streams (the slower layout, kept to measure against)
        params.kv_unified = os.environ.get("LOCALACE_KV_UNIFIED", "1") != "0"
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO  # llama.cpp's default: on where supported
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self._context = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
        self.ctx = self._context.ctx
        adapter = getattr(llama, "_lora_adapter", None)
        if adapter is not None:  # a LoRA adapter is set per context: this one must decode the adapted model too
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
            scales = (ctypes.c_float * 1)(llama.lora_scale)
            if llama_cpp.llama_set_adapters_lora(self.ctx, adapters, 1, scales):
                raise RuntimeError(f"llama.cpp could not set the LoRA adapter {llama.lora_path} on the batch context")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.n_batch = n_batch
        self.n_ctx = n_ctx
        self.llama = llama
        self.vocab = llama._model.vocab
        self.n_vocab = llama.n_vocab()
        self.slots = [Slot(seq) for seq in range(slots)]
        self.waiting: deque[Job] = deque()
        self._bitmask: Any = None  # llguidance's allowed-token bits, one row reused by every sequence
        self.steps = 0  # llama_decode calls
        self.rows = 0  # sequences summed over those calls: rows / steps is the mean batch width

    def close(self) -> None:
        import llama_cpp

        if self.batch is not None:
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None
        self._context.close()

    # ------------------------------------------------------------------ queue

    def submit(self, job: Job) -> None:
        self.waiting.append(job)

    @property
    def busy(self) -> bool:
        return bool(self.waiting) or any(slot.job for slot in self.slots)

    def cancel(self) -> None:
        """Forget every queued and running request; the slots keep their cells as prefix cache."""
        self.waiting.clear()
        for slot in self.slots:
            slot.job = None

    # ------------------------------------------------------------------ one step

    def step(self) -> list[tuple[Hashable, Completion | GenerationError]]:
        """Admit waiting requests, decode one batch, sample; returns the requests that ended."""
        self._admit()
        feeds = self._fill()
        if not feeds:
            return []
        start = time.perf_counter()
        try:
            if self._llama_decode() == 0:
                ends = {feed.slot: self._sample(feed.slot.job, feed.logits) for feed in feeds if feed.logits is not None}
            else:
                ends = self._one_by_one(feeds)
        except BaseException:
            self._forget(feeds)  # Ctrl-C or a bug mid-step: these cells may not hold what the slots say
            raise
        share = (time.perf_counter() - start) / len(feeds)
        self.steps += 1
        self.rows += len(feeds)
        done = []
        for feed in feeds:
            job = feed.slot.job
            assert job is not None
            job.seconds += share  # the step's time divided among its sequences: per-request seconds add up
            end = ends.get(feed.slot)
            if end is not None:
                done.append((job.ticket, self._result(job, end)))
                feed.slot.job = None
        return done

    def _llama_decode(self) -> int:
        import llama_cpp

        return llama_cpp.llama_decode(self.ctx, self.batch)

    def _admit(self) -> None:
        import llama_cpp

        while self.waiting:
            target = next((slot for slot in self.slots if slot.job is None), None)
            if target is None:
                return
            job = self.waiting.popleft()
            limit = len(job.prompt) - 1  # the last prompt token is always evaluated: its logits start generation
            own = min(common_prefix(target.tokens, job.prompt), limit)
            donor = max(self.slots, key=lambda slot: common_prefix(slot.tokens, job.prompt))
            keep = min(common_prefix(donor.tokens, job.prompt), limit)
            if donor is not target and keep >= own + MIN_COPY:
                # In this KV layout a copy between sequences copies the whole stream, so copy all and cut.
                llama_cpp.llama_memory_seq_cp(self.memory, donor.seq, target.seq, -1, -1)
                target.tokens = list(donor.tokens)
            else:
                keep = own
            llama_cpp.llama_memory_seq_rm(self.memory, target.seq, keep, -1)
            del target.tokens[keep:]
            job.todo = job.prompt[keep:]
            job.reused = keep
            target.job = job

    def _fill(self) -> list[_Feed]:
        """Write this step's tokens into the batch: one token per decoding sequence, then prompt chunks
        up to n_batch tokens, all in slot order (llama.cpp puts consecutive sequence ids in one
        micro-batch)."""
        active = [slot for slot in self.slots if slot.job is not None]
        budget = self.n_batch - sum(1 for slot in active if not slot.job.todo)  # type: ignore[union-attr]
        feeds: list[_Feed] = []
        n = 0
        for slot in active:
            job = slot.job
            assert job is not None
            if job.todo:
                if budget <= 0:
                    continue
                tokens = job.todo[:budget]
                del job.todo[: len(tokens)]
                budget -= len(tokens)
                wants_logits = not job.todo
            else:
                tokens, wants_logits = [job.generated[-1]], True
            feed = _Feed(slot, len(slot.tokens), tokens, n + len(tokens) - 1 if wants_logits else None)
            n = self._write(feed, n)
            feeds.append(feed)
        self.batch.n_tokens = n
        return feeds

    def _write(self, feed: _Feed, n: int) -> int:
        """Put one sequence's tokens into the batch from index n; returns the next free index."""
        batch = self.batch
        for i, token in enumerate(feed.tokens):
            batch.token[n] = token
            batch.pos[n] = feed.start + i
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = feed.slot.seq
            batch.logits[n] = feed.logits == n
            n += 1
        feed.slot.tokens.extend(feed.tokens)
        return n

    def _forget(self, feeds: list[_Feed]) -> None:
        """Drop this step's cells of every fed sequence (a failed decode may have written part of them)."""
        import llama_cpp

        for feed in feeds:
            llama_cpp.llama_memory_seq_rm(self.memory, feed.slot.seq, feed.start, -1)
            del feed.slot.tokens[feed.start:]

    def _one_by_one(self, feeds: list[_Feed]) -> dict[Slot, str | GenerationError | None]:
        """llama.cpp refused the whole batch: decode each sequence on its own so that only the ones it
        cannot decode (e.g. out of KV cells) fail."""
        import llama_cpp

        self._forget(feeds)
        ends: dict[Slot, str | GenerationError | None] = {}
        for feed in feeds:
            alone = _Feed(feed.slot, feed.start, feed.tokens, len(feed.tokens) - 1 if feed.logits is not None else None)
            self.batch.n_tokens = self._write(alone, 0)
            code = self._llama_decode()
            if code != 0:
                llama_cpp.llama_memory_seq_rm(self.memory, feed.slot.seq, feed.start, -1)
                del feed.slot.tokens[feed.start:]
                ends[feed.slot] = GenerationError(f"llama.cpp could not decode this sequence (llama_decode returned {code})")
            elif alone.logits is not None:
                ends[feed.slot] = self._sample(feed.slot.job, alone.logits)
        return ends

    def _sample(self, job: Job | None, index: int) -> str | GenerationError | None:
        """Pick the job's next token from batch row `index`: None to go on, or how it ended (a finish
        reason or a failure)."""
        import llama_cpp
        import numpy as np

        assert job is not None
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.ctx, index), shape=(self.n_vocab,)).copy()
        matcher = job.matcher
        if matcher is not None:
            problem = self._mask(matcher, logits)
            if problem:
                return ConstraintViolation(f"constraint failed during generation: {problem[:200]}")
        recent = (job.prompt + job.generated)[-REPEAT_WINDOW:] if job.sampler.sampling.repeat_penalty != 1.0 else ()
        try:
            token = job.sampler.sample(logits, recent)
        except NoCandidate:
            return ConstraintViolation("constraint failed during generation: no token is allowed")
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            return "stop"
        if matcher is not None and not matcher.consume_token(token):
            return ConstraintViolation(f"constraint failed during generation: {matcher.get_error()[:200]}")
        job.generated.append(token)
        if matcher is not None and matcher.is_stopped():
            return "stop"  # the grammar is complete: nothing but end-of-sequence could follow
        if len(job.generated) >= job.max_tokens:
            return "length"
        return None

    def _mask(self, matcher: Any, logits: Any) -> str:
        """Set the logits of tokens the constraint forbids to -inf; returns the matcher's error, if any."""
        import numpy as np

        if self._bitmask is None:
            self._bitmask = np.zeros((self.n_vocab + 31) // 32, dtype=np.int32)
        try:
            matcher.unsafe_compute_mask_ptr(self._bitmask.ctypes.data, self._bitmask.nbytes)
        except Exception as e:  # noqa: BLE001 - one sequence's constraint must not stop the batch
            return f"{type(e).__name__}: {e}"
        if matcher.is_error():
            return matcher.get_error() or "matcher error"
        allowed = np.unpackbits(self._bitmask.view(np.uint8), bitorder="little")[: self.n_vocab]
        logits[allowed == 0] = -np.inf
        return ""

    def _result(self, job: Job, end: str | GenerationError) -> Completion | GenerationError:
        """The request's Completion, or its failure with what it cost; the output is re-validated."""
        if isinstance(end, GenerationError):
            end.usage = job.usage()
            return end
        text = self.llama.detokenize(job.generated, prev_tokens=job.prompt).decode("utf-8", errors="ignore")
        try:
            value = check_output(job.output, text, end)
        except GenerationError as error:
            error.usage = job.usage()
            return error
        return Completion(text=text, value=value, finish_reason=end, **job.usage())


@dataclass(eq=False)
class _Feed:
    """The tokens one sequence puts into this step's batch."""

    slot: Slot
    start: int  # position of the first token
    tokens: list[int]
    logits: int | None  # batch index whose logits this sequence samples from, if any
