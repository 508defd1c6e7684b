"""Dialogs to training examples: token ids as inference will see them, and which tokens carry the loss.

A dialog is exported in the chosen format (the system turn lists the tools as that format renders them),
rendered with the GGUF's own chat template, and tokenized by llama.cpp itself (a vocabulary-only load), with
the same two functions the llama.cpp backend uses at inference. For each assistant turn, the prompt the
model would get at inference (the conversation before it plus the generation prompt) must be a token prefix
of the rendered conversation; the loss covers the tokens after that prefix up to and including the
end-of-generation token, i.e. exactly what the model has to produce there. Everything else (system, user,
tool turns) is context only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from localace.dialogs.model import Dialog
from localace.errors import UserError
from localace.formats.registry import export_rows
from localace.hashing import content_hash
from localace.model_catalogue import ModelRef
from localace.store.db import Store

TRAIN_FORMATS = ("toolace", "hermes", "openai")
# `localace eval` prompt mode asks for a bracketed call list, the way toolace rows write calls.
DEFAULT_FORMAT = "toolace"


class NotTrainable(ValueError):
    """A dialog that cannot become an example; `reason` is a short code for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Example:
    """Token ids of one rendered dialog and the [start, end) spans of tokens the model is trained to produce."""

    tokens: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]

    @property
    def target_tokens(self) -> int:
        return sum(end - start for start, end in self.spans)


@dataclass
class ExampleSet:
    examples: list[Example]
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> dialogs left out

    def digest(self) -> str:
        """Content hash of exactly what training sees (tokens and loss spans, in order)."""
        return content_hash([[list(e.tokens), [list(s) for s in e.spans]] for e in self.examples], 32)

    @property
    def tokens(self) -> int:
        return sum(len(e.tokens) for e in self.examples)

    @property
    def target_tokens(self) -> int:
        return sum(e.target_tokens for e in self.examples)


class ChatTokenizer:
    """The model's chat template and llama.cpp tokenizer, loaded without weights."""

    def __init__(self, ref: ModelRef) -> None:
        import llama_cpp

        from localace.backends.llamacpp import _quiet_llama_logs, chat_formatter, track

        _quiet_llama_logs()
        try:
            self.llama = track(llama_cpp.Llama(model_path=str(ref.path), vocab_only=True, verbose=False))
        except (ValueError, RuntimeError, OSError) as error:
            raise UserError(f"llama.cpp could not read the vocabulary of {ref.path}: {str(error)[:200]}") from None
        self.prompt_formatter = chat_formatter(self.llama, ref)
        self.full_formatter = chat_formatter(self.llama, ref, add_generation_prompt=False)
        self.template = self.llama.metadata.get("tokenizer.chat_template") or ""
        self._vocab = self.llama._model.vocab

    def tokenize(self, text: str) -> list[int]:
        from localace.backends.llamacpp import tokenize_text

        return tokenize_text(self.llama, text)

    def is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *, prompt: bool) -> str:
        formatter = self.prompt_formatter if prompt else self.full_formatter
        try:
            return formatter(messages=messages, tools=tools).prompt
        except Exception as error:  # a template's own raise_exception, or a jinja error on unusual messages
            raise NotTrainable("template_error", str(error)[:200]) from None

    def encode(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> Example:
        full = self.tokenize(self.render(messages, tools, prompt=False))
        spans = []
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = self.tokenize(self.render(messages[:index], tools, prompt=True))
            if full[: len(prompt)] != prompt:
                raise NotTrainable("prompt_not_prefix", "the inference prompt is not a prefix of the rendered dialog")
            end = next((i for i in range(len(prompt), len(full)) if self.is_end(full[i])), None)
            if end is None:
                raise NotTrainable("no_end_of_turn", "the chat template ends no assistant turn with an end token")
            spans.append((len(prompt), end + 1))
        if not spans:
            raise NotTrainable("no_assistant_turn")
        return Example(tuple(full), tuple(spans))


def row_messages(row: dict[str, Any], fmt: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Chat messages (and, for openai, the structured tool list) of one exported row."""
    if fmt == "toolace":
        turns = [{"role": turn["from"], "content": turn["value"]} for turn in row["conversations"]]
        return [{"role": "system", "content": row["system"]}, *turns], None
    if fmt == "hermes":
        return [{"role": m["role"], "content": m["content"]} for m in row["messages"]], None
    if fmt == "openai":
        messages = []
        for message in row["messages"]:
            message = dict(message)
            if message.get("tool_calls"):
                # Chat templates (as Hugging Face renders them) expect arguments as a mapping, not a JSON string.
                message["tool_calls"] = [
                    {**call, "function": {**call["function"], "arguments": json.loads(call["function"]["arguments"])}}
                    for call in message["tool_calls"]
                ]
            messages.append(message)
        return messages, row["tools"]
    raise UserError(f"cannot train on format {fmt!r}; choose one of {', '.join(TRAIN_FORMATS)}")


def build_examples(dialogs: Iterable[Dialog], fmt: str, tokenizer: ChatTokenizer, *, seed: int = 0,
                   max_tokens: int = 2048) -> ExampleSet:
    """Examples of every dialog that renders in `fmt` and fits max_tokens; the rest counted by reason."""
    if fmt not in TRAIN_FORMATS:
        raise UserError(f"cannot train on format {fmt!r}; choose one of {', '.join(TRAIN_FORMATS)}")
    if fmt == "openai" and "tools" not in tokenizer.template:
        raise UserError("this model's chat template does not render a tool list, so --format openai would train "
                        "without tools; use --format toolace or hermes")
    rows = export_rows(dialogs, fmt, seed=seed)
    result = ExampleSet([])
    for row in rows:
        try:
            example = tokenizer.encode(*row_messages(row, fmt))
        except NotTrainable as error:
            result.skipped[error.reason] += 1
            continue
        if len(example.tokens) > max_tokens:
            result.skipped["too_long"] += 1
            continue
        result.examples.append(example)
    for reason, count in rows.not_applicable.items():
        result.skipped[f"{fmt}:{reason}"] += count
    return result


def kept_dialogs(store: Store, run_id: str | None = None) -> list[Dialog]:
    """The verified (kept) dialogs of one run, or of every run; UserError when there are none."""
    from localace.dialogs.generate import load_dialogs

    where = f"run {run_id}" if run_id else str(store.path)
    total = store.count("dialogs", "run_id=?", (run_id,)) if run_id else store.count("dialogs")
    if run_id and total == 0:
        raise UserError(f"no dialogs of run {run_id} in {store.path}")
    dialogs = load_dialogs(store, run_id, status="kept")
    if not dialogs:
        raise UserError(f"{where} has no kept dialogs to train on ({total} dialogs, none passed verification; "
                        "run `localace verify` first)")
    return dialogs
