"""A deterministic, scriptable backend for tests: a response queue plus a call history."""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

from localace.backends.base import Completion, Message, Output, Sampling
from localace.backends.validation import check_output
from localace.errors import REQUEST_FAILURES, ScriptExhausted
from localace.hashing import content_hash

if TYPE_CHECKING:
    from localace.tasks import Request

Responder = Callable[[list[Message], "Output | None", Sampling], Any]
ScriptItem = Union[str, dict, list, Exception, Responder]


@dataclass
class FakeCall:
    messages: list[Message]
    output: Output | None
    sampling: Sampling


class FakeBackend:
    """Replies from `script` first (str, JSON-able value, exception, or callable); then, when
    `improvise` is on, invents a schema-valid answer seeded by the request, so equal requests
    always get equal answers."""

    name = "fake"

    def __init__(self, script: Iterable[ScriptItem] = (), *, improvise: bool = True, salt: str = "",
                 consistency: float = 0.8) -> None:
        self.queue: deque[ScriptItem] = deque(script)
        self.improvise = improvise
        # Share of sampled (temperature > 0) answers that equal the greedy one, like a fairly
        # confident model; 0 makes every seed answer differently, 1 makes sampling irrelevant.
        self.consistency = consistency
        self.salt = salt
        self.calls: list[FakeCall] = []
        self.batch_sizes: list[int] = []  # one entry per generate_many: how many requests ran together
        self._last_prompt: list[str] = []

    def push(self, *items: ScriptItem) -> None:
        self.queue.extend(items)

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "fake", "salt": self.salt, "consistency": self.consistency}

    def generate(
        self, messages: list[Message], *, output: Output | None = None, sampling: Sampling = Sampling()
    ) -> Completion:
        self.calls.append(FakeCall([dict(m) for m in messages], output, sampling))
        if self.queue:
            item = self.queue.popleft()
            if isinstance(item, Exception):
                raise item
            if callable(item):
                item = item(messages, output, sampling)
            text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        elif self.improvise:
            text = self.invent(messages, output, sampling)
        else:
            raise ScriptExhausted("fake backend script is empty")
        finish = "stop"
        words = text.split()
        if len(words) > sampling.max_tokens:
            text, finish = " ".join(words[: sampling.max_tokens]), "length"
        value = check_output(output, text, finish)
        prompt = " ".join(m["content"] for m in messages).split()
        reused = 0
        for a, b in zip(self._last_prompt, prompt):
            if a != b:
                break
            reused += 1
        self._last_prompt = prompt + words
        return Completion(
            text=text, value=value, prompt_tokens=len(prompt), cached_tokens=reused,
            completion_tokens=len(words), seconds=0.0, finish_reason=finish,
        )

    def generate_many(self, requests: Sequence["Request"]) -> list[Any]:
        """As if batched: one 'step' for all requests (recorded in batch_sizes), failures in place."""
        self.batch_sizes.append(len(requests))
        results: list[Any] = []
        for request in requests:
            try:
                results.append(self.generate(request.messages, output=request.output, sampling=request.sampling))
            except REQUEST_FAILURES as error:
                results.append(error)
        return results

    def score(self, messages: list[Message], target: str) -> tuple[float, int]:
        """A deterministic pseudo log-likelihood: about -1..-4 nats per word, seeded by content."""
        words = max(1, len(target.split()))
        rng = random.Random(content_hash([self.salt, messages, target]))
        return -words * rng.uniform(1.0, 4.0), words

    def invent(self, messages: list[Message], output: Output | None, sampling: Sampling) -> str:
        from localace.backends.schema_sample import sample_instance

        request = [self.salt, messages, output.key() if output else None]
        greedy = sampling.temperature == 0 or random.Random(content_hash([*request, sampling.seed])).random() < self.consistency
        seed = content_hash(request if greedy else [*request, sampling.seed])
        rng = random.Random(seed)
        if output is None:
            return f"Fake reply {seed[:8]}."
        if output.expected is not None and greedy:
            return json.dumps(output.expected, ensure_ascii=False)
        if output.kind == "json":
            return json.dumps(sample_instance(output.json_schema or {}, rng), ensure_ascii=False)
        if output.kind == "regex":
            return sample_instance({"type": "string", "pattern": f"^(?:{output.pattern})$"}, rng)
        return rng.choice(list(output.choices or ("",)))
