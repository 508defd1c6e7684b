"""In-process llama.cpp backend: one model per process, KV cache kept between calls."""

from __future__ import annotations

import atexit
import os
import time
import weakref
from importlib.metadata import PackageNotFoundError, version
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from localace.backends.base import Completion, Message, Output, Sampling
from localace.backends.batching import run_all
from localace.backends.kv_snapshots import KvSnapshots, common_prefix, read_llama_state, write_llama_state
from localace.backends.llama_batch import BatchEngine, Job
from localace.backends.sampler import TokenSampler
from localace.backends.validation import check_output
from localace.errors import (
    REQUEST_FAILURES, ConstraintViolation, GenerationError, ModelLoadError, ModelNotFoundError, SchemaError,
)
from localace.model_catalogue import ModelRef, check_gguf

if TYPE_CHECKING:
    from localace.tasks import Request

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_LOADED: dict[tuple, Any] = {}  # one llama_cpp.Llama per (file, context, GPU layers[, LoRA adapter]) per process
_KV: dict[int, KvSnapshots] = {}  # per loaded Llama (by id; they live as long as _LOADED): its KV-cache bookkeeping
_ENGINES: dict[tuple[int, int], BatchEngine] = {}  # (loaded Llama, slots): the batched path's context, one per Llama


_OPEN: "weakref.WeakSet[Any]" = weakref.WeakSet()  # every llama_cpp.Llama localace made (see track), closed at exit


def track(llama: Any) -> Any:
    """Have `llama` (a llama_cpp.Llama this process made, with weights or vocabulary only) closed at exit."""
    _OPEN.add(llama)
    return llama


class _Closed:
    """What a closed llama_cpp object's ExitStack becomes: closing it again does nothing at all."""

    @staticmethod
    def close() -> None:
        return None


def _close_for_good(obj: Any, stack: str = "_exit_stack") -> None:
    """Close a llama_cpp object (Llama, LlamaModel, LlamaContext, LlamaBatch, LlamaSampler) and make its __del__
    inert: __del__ calls close() again, and ExitStack.close() reads contextlib's module globals even when
    the stack is empty, which fails once interpreter teardown has cleared them."""
    if obj is not None and hasattr(obj, stack):
        obj.close()
        setattr(obj, stack, _Closed())


def _free_engine(engine: BatchEngine) -> None:
    engine.close()
    _close_for_good(getattr(engine, "_context", None))


@atexit.register
def _free_loaded() -> None:
    """Free every llama.cpp context and model while Python is whole, and leave nothing for teardown to free.

    A llama_cpp object frees itself in __del__, which runs when its last reference goes. At interpreter
    teardown that can be after the modules its __del__ needs were cleared: an unclosed Llama then printed
    "Exception ignored in Llama.__del__ … 'NoneType' object is not callable" (llama_cpp's functions gone),
    and a closed one "… 'NoneType' object has no attribute 'exc_info'" (its close() again, in contextlib).
    A reference that outlives the modules (one held from `sys`, as sys.last_traceback's frames hold their
    locals) makes it happen every time (tests/test_e2e_model.py pins it). So, in this order: the batch
    contexts (they use the model's weights), then every Llama localace made and its parts (context, batch,
    sampler, model), each closed and its ExitStack replaced by one whose close() does nothing."""
    for engine in list(_ENGINES.values()):
        _free_engine(engine)
    _ENGINES.clear()
    for llama in [*_LOADED.values(), *_OPEN]:
        _close_for_good(getattr(llama, "_sampler", None))
        llama.close()  # the Llama's own stack frees its batch, context and model (contexts before the model)
        for part in ("_batch", "_ctx", "_model"):
            _close_for_good(getattr(llama, part, None))
        _close_for_good(llama, "_stack")
    _LOADED.clear()
    _KV.clear()


def _version(pkg: str) -> str:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "missing"


def _quiet_llama_logs() -> None:
    """llama.cpp logs through a C callback that ignores verbose=False for some messages."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def _drop(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    llama_cpp.llama_log_set(_drop, ctypes.c_void_p(0))
    _quiet_llama_logs.keep = _drop  # type: ignore[attr-defined]  # keep the callback alive


def llama_threads(n_threads: int | None = None) -> int:
    # LOCALACE_THREADS: when two jobs share a machine, give each its own cores instead of letting
    # their spinning threads oversubscribe it (DESIGN §4).
    return n_threads or int(os.environ.get("LOCALACE_THREADS", "0") or 0) or os.cpu_count() or 1


def load_llama(path: str, n_ctx: int, n_threads: int | None = None, n_gpu_layers: int = 0,
               lora: str | None = None) -> Any:
    key = (path, n_ctx, n_gpu_layers) if lora is None else (path, n_ctx, n_gpu_layers, lora)
    if key not in _LOADED:
        import llama_cpp

        _quiet_llama_logs()
        threads = llama_threads(n_threads)
        try:
            _LOADED[key] = track(llama_cpp.Llama(
                model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                # LOCALACE_N_GPU_LAYERS reaches Ray tasks given --num-gpus through the environment.
                n_gpu_layers=n_gpu_layers or int(os.environ.get("LOCALACE_N_GPU_LAYERS", "0") or 0),
                n_batch=512, seed=0, verbose=False, lora_path=lora,
            ))
        except (ValueError, RuntimeError, OSError) as e:
            what = f"{path} with LoRA adapter {lora}" if lora else path
            raise ModelLoadError(f"llama.cpp could not load {what}: {str(e).splitlines()[0][:200]}") from None
    return _LOADED[key]


def chat_formatter(llama: Any, model: ModelRef, *, add_generation_prompt: bool = True) -> Any:
    """The model's chat template as a formatter (ChatML when the catalogue says so and the file has none).
    Shared with training, so that training renders dialogs exactly as inference does."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        if "chatml" not in model.chat_format:
            raise ModelLoadError(f"{model.path.name} has no chat template (a base model?); use an instruct GGUF")
        template = CHATML_TEMPLATE
    eos = llama._model.token_get_text(llama.token_eos())
    bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
    return Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=add_generation_prompt)


def tokenize_text(llama: Any, text: str) -> list[int]:
    # The chat template writes BOS itself where the model wants one.
    return llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)


class LlamaCppBackend:
    """`generate`: one request at a time, prompts evaluated the canonical way (byte-identical reruns).
    `generate_many` / `open_batch`: many requests decoded together (llama_batch.BatchEngine), `parallel`
    sequences at a time, in a second context on the same loaded weights."""

    name = "llamacpp"

    def __init__(self, model: ModelRef, *, n_ctx: int = 4096, file_hash: Callable[[], str] | None = None,
                 n_gpu_layers: int = 0, parallel: int = 8, lora: Path | None = None,
                 lora_hash: Callable[[], str] | None = None) -> None:
        check_gguf(model.path)
        if lora is not None:
            try:
                check_gguf(lora)
            except (ModelLoadError, ModelNotFoundError) as error:  # they say "model file": name the option
                raise type(error)(f"--lora: {error}") from None
        self.model = model
        self.lora = lora  # a llama.cpp LoRA adapter GGUF applied on top of the model (both paths)
        self._lora_hash = lora_hash
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self.parallel = parallel
        self._file_hash = file_hash
        self._llama: Any = None
        self._formatter: Any = None
        self._constraints: Any = None

    # Loading is lazy so that a run served entirely from the cache never touches the model.
    @property
    def llama(self) -> Any:
        if self._llama is None:
            self._llama = load_llama(str(self.model.path), self.n_ctx, n_gpu_layers=self.n_gpu_layers,
                                     lora=str(self.lora) if self.lora else None)
        return self._llama

    def _prepare_cache(self, prompt: list[int]) -> int:
        """Evaluate all but the last prompt token, reusing what the KV cache (or a saved state) holds;
        returns how many prompt tokens were reused.

        Outputs must not depend on what ran before (a resumed run has to write what an uninterrupted one
        would): llama.cpp's numbers for a token evaluated alone differ in the last bits from the same token
        inside a larger batch, and at temperature > 0 that can change a sampled token. So the last prompt
        token is always evaluated alone, right before sampling, and only tokens that were evaluated as part
        of a prompt body are ever reused (never generated tokens, never a previous prompt's last token)."""
        llama = self.llama
        kv = _KV.setdefault(id(llama), KvSnapshots(read_llama_state, write_llama_state))
        cached = kv.prepare(llama, list(llama._input_ids)[: kv.reusable], prompt)
        keep = min(common_prefix(cached, prompt), len(prompt) - 1)
        llama.n_tokens = keep
        if keep < len(prompt) - 1:
            llama.eval(prompt[keep:-1])
        kv.reusable = len(prompt) - 1
        return keep

    def fingerprint(self) -> dict[str, Any]:
        from localace.hashing import file_sha256

        fingerprint = {
            "backend": self.name,
            "model_sha256": self._file_hash() if self._file_hash else file_sha256(str(self.model.path)),
            "n_ctx": self.n_ctx,
            "llama_cpp_python": _version("llama-cpp-python"),
            "llguidance": _version("llguidance"),
            "outlines": _version("outlines"),
        }
        if self.lora is not None:  # only then: a base model's cache keys stay what they were
            fingerprint["lora_sha256"] = self._lora_hash() if self._lora_hash else file_sha256(str(self.lora))
        return fingerprint

    def _chat_formatter(self) -> Any:
        if self._formatter is None:
            self._formatter = chat_formatter(self.llama, self.model)
        return self._formatter

    def render_prompt(self, messages: list[Message]) -> str:
        return self._chat_formatter()(messages=messages).prompt

    def tokenize(self, text: str) -> list[int]:
        return tokenize_text(self.llama, text)

    def constraints(self) -> Any:
        """The model's ConstraintCache (compiled constraints, shared by both paths)."""
        if self._constraints is None:
            import outlines

            from localace.backends.constraints import ConstraintCache

            self._constraints = ConstraintCache(outlines.from_llamacpp(self.llama), self.llama.token_eos())
        return self._constraints

    def _processor(self, output: Output) -> Any:
        return self.constraints().processor(output)

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The rendered, tokenized prompt; ConstraintViolation when it leaves no room to generate."""
        tokens = self.tokenize(self.render_prompt(messages))
        if len(tokens) + 1 >= self.n_ctx:
            raise ConstraintViolation(f"prompt of {len(tokens)} tokens does not fit the {self.n_ctx}-token context")
        return tokens

    def generate_many(self, requests: Sequence[Request]) -> list[Completion | GenerationError | SchemaError]:
        return run_all(self.open_batch(), requests)

    def open_batch(self) -> "LlamaSession":
        """A batch session on this model's engine (one session at a time per engine)."""
        key = (id(self.llama), self.parallel)
        if key not in _ENGINES:
            # One batch context per loaded model (each holds parallel x n_ctx KV cells): another --parallel on
            # the same model frees the old one instead of keeping it for the life of the process.
            for old in [k for k in _ENGINES if k[0] == key[0]]:
                if _ENGINES[old].busy:
                    raise RuntimeError("this model's batch engine is already running a session")
                _free_engine(_ENGINES.pop(old))
            _ENGINES[key] = BatchEngine(self.llama, slots=self.parallel, n_ctx=self.n_ctx, threads=llama_threads())
        return LlamaSession(self, _ENGINES[key])

    def generate(
        self, messages: list[Message], *, output: Output | None = None, sampling: Sampling = Sampling()
    ) -> Completion:
        tokens = self.prompt_tokens(messages)
        llama = self.llama
        processor = self._processor(output) if output is not None else None
        start = time.perf_counter()
        reused = self._prepare_cache(tokens)
        result = llama.create_completion(
            prompt=tokens,
            max_tokens=min(sampling.max_tokens, self.n_ctx - len(tokens)),
            temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
            repeat_penalty=sampling.repeat_penalty, seed=sampling.seed,
            logits_processor=[processor] if processor is not None else None,
        )
        seconds = time.perf_counter() - start
        choice = result["choices"][0]
        text, finish = choice["text"], choice.get("finish_reason") or "stop"
        usage = result.get("usage", {})
        spent = {"prompt_tokens": usage.get("prompt_tokens", len(tokens)), "cached_tokens": reused,
                 "completion_tokens": usage.get("completion_tokens", 0), "seconds": seconds}
        try:
            if processor is not None and processor.error:
                raise ConstraintViolation(f"constraint failed during generation: {processor.error[:200]}")
            value = check_output(output, text, finish)
        except GenerationError as error:
            error.usage = spent
            if output is not None and isinstance(error, ConstraintViolation):
                self._constraints.discard(output)
            raise
        return Completion(text=text, value=value, finish_reason=finish, **spent)

    def score(self, messages: list[Message], target: str) -> tuple[float, int]:
        """Log-likelihood of `target` as the assistant's reply to `messages`: (sum of log-probs, tokens).

        The target is evaluated in batches that ask llama.cpp for the logits of every position (prompt
        speed, not one decode step per token), without a logits_all buffer of n_ctx x n_vocab."""
        import numpy as np

        llama = self.llama
        prefix = self.tokenize(self.render_prompt(messages))
        tokens = self.tokenize(target)[: max(1, self.n_ctx - len(prefix) - 2)]
        if len(prefix) + 1 >= self.n_ctx or not tokens:
            return 0.0, 0
        self._prepare_cache(prefix)
        llama.eval(prefix[-1:])
        n_vocab = llama.n_vocab()
        last = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(1, n_vocab))
        total = _log_softmax_sum(last, tokens[:1])
        inputs = tokens[:-1]  # position i predicts target token i + 1
        llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
        for lo in range(0, len(inputs), llama.n_batch):
            chunk = inputs[lo: lo + llama.n_batch]
            n_past = llama.n_tokens
            llama._batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
            llama._ctx.decode(llama._batch)
            rows = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(len(chunk), n_vocab))
            total += _log_softmax_sum(rows, tokens[lo + 1: lo + 1 + len(chunk)])
            llama.input_ids[n_past: n_past + len(chunk)] = chunk
            llama.n_tokens += len(chunk)
        llama._requires_eval = True  # the live logits are the batch's, not the last token's alone
        return total, len(tokens)


class LlamaSession:
    """Requests in, results out, on a BatchEngine: renders and tokenizes each prompt and gives it its
    own constraint matcher and sampler. A request that fails before decoding (prompt too long, a
    constraint that cannot be built) comes back at the next step without entering the batch."""

    def __init__(self, backend: LlamaCppBackend, engine: BatchEngine) -> None:
        if engine.busy:
            raise RuntimeError("this model's batch engine is already running a session")
        self.backend, self.engine = backend, engine
        self.ready: list[tuple[Hashable, GenerationError | SchemaError]] = []

    def add(self, ticket: Hashable, request: "Request") -> None:
        backend = self.backend
        try:
            tokens = backend.prompt_tokens(request.messages)
            matcher = backend.constraints().matcher(request.output) if request.output is not None else None
        except REQUEST_FAILURES as error:
            self.ready.append((ticket, error))
            return
        sampling = request.sampling
        self.engine.submit(Job(ticket, tokens, request.output, matcher, TokenSampler(sampling),
                               max_tokens=min(sampling.max_tokens, backend.n_ctx - len(tokens))))

    def step(self) -> list[tuple[Hashable, Completion | GenerationError | SchemaError]]:
        out: list[tuple[Hashable, Completion | GenerationError | SchemaError]] = list(self.ready)
        self.ready.clear()
        out.extend(self.engine.step())
        return out

    @property
    def busy(self) -> bool:
        return bool(self.ready) or self.engine.busy

    def close(self) -> None:
        self.ready.clear()
        self.engine.cancel()


def _log_softmax_sum(rows: Any, targets: list[int]) -> float:
    """Sum over rows of log-softmax(row)[target]."""
    import numpy as np

    rows = rows.astype(np.float64)
    top = rows.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
    return float((rows[np.arange(len(targets)), targets] - log_norm).sum())
