"""Backends: the Backend protocol, the in-process llama.cpp backend and the fake test backend."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from localace.backends.base import Backend, Completion, Message, Output, Sampling
from localace.errors import UserError

FAKE_MODEL = "fake"  # `--model fake`: the scripted test backend, for tests and dry runs
# Sequences decoded together on a CPU: one. Measured on 2 cores, the README's main job took 142 s one at a time
# and 198 s with 8 in flight (0.72x; a batched step costs nearly its rows' single steps here, issue 26), and one
# at a time is also the deterministic path. `--parallel N` still batches where a CPU pays for it.
CPU_PARALLEL = 1
GPU_PARALLEL = 16  # bounded by KV memory: parallel x --ctx cells


def default_parallel(n_gpu_layers: int = 0) -> int:
    """How many sequences to decode together when the user does not say (see benchmarks/batch.py)."""
    return GPU_PARALLEL if n_gpu_layers != 0 else CPU_PARALLEL


def make_backend(model: str | None, *, n_ctx: int = 4096, file_hash: Callable[[object], str] | None = None,
                 n_gpu_layers: int = 0, parallel: int | None = None, lora: str | None = None) -> Backend:
    """Resolve `--model` (and `--lora`, a llama.cpp LoRA adapter GGUF) and build its backend; raises UserError
    subclasses on bad input.

    `parallel`: sequences its batched path (generate_many) decodes together; default_parallel() if None."""
    if model == FAKE_MODEL:
        if lora:
            raise UserError("--lora needs a GGUF model; the fake backend has no weights to adapt")
        from localace.backends.fake import FakeBackend

        return FakeBackend()
    from localace.backends.llamacpp import LlamaCppBackend
    from localace.model_catalogue import resolve_model

    ref = resolve_model(model)
    hasher = (lambda: file_hash(ref.path)) if file_hash else None
    adapter = Path(lora).expanduser().resolve() if lora else None
    lora_hasher = (lambda: file_hash(adapter)) if file_hash and adapter else None
    return LlamaCppBackend(ref, n_ctx=n_ctx, file_hash=hasher, n_gpu_layers=n_gpu_layers,
                           parallel=parallel if parallel and parallel > 1 else default_parallel(n_gpu_layers),
                           lora=adapter, lora_hash=lora_hasher)


__all__ = ["Backend", "Completion", "Message", "Output", "Sampling", "make_backend", "default_parallel", "FAKE_MODEL"]
