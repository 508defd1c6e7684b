"""What a model call is made of: messages in; the shape the output must have (Output); how to sample (Sampling);
what comes back (Completion). Plain types below the backends (backends/base.py) and the tasks (tasks.py)
that both use."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from localace.hashing import canonical_json

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


class Output(BaseModel):
    """What a generation must look like. Our own type, so tests never import Outlines."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["json", "regex", "choice"]
    json_schema: dict[str, Any] | None = None
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    # The answer the plan expects, when it knows one (a blueprint call). Never shown to a model and not part of
    # the constraint's identity; the fake backend answers with it, like a model that can do the task.
    expected: Any = None

    @classmethod
    def json(cls, schema: dict[str, Any], expected: Any = None) -> "Output":  # type: ignore[override]
        return cls(kind="json", json_schema=schema, expected=expected)

    @classmethod
    def regex(cls, pattern: str) -> "Output":
        return cls(kind="regex", pattern=pattern)

    @classmethod
    def choice(cls, choices: list[str] | tuple[str, ...]) -> "Output":
        return cls(kind="choice", choices=tuple(choices))

    def key(self) -> str:
        """Stable text identity of the constraint (cache key part, compile-cache key)."""
        return canonical_json(self.model_dump(mode="json", exclude={"expected"}))


class Sampling(BaseModel):
    model_config = ConfigDict(frozen=True)

    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(40, ge=0)
    repeat_penalty: float = 1.0
    max_tokens: int = Field(512, ge=1)
    seed: int = 0


class Completion(BaseModel):
    text: str
    value: Any = None  # parsed JSON for json outputs
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens reused from the KV cache, not evaluated again
    completion_tokens: int = 0
    seconds: float = 0.0  # model time; decoded in a batch: this request's share of every step it was in
    finish_reason: str = "stop"
    cache_hit: bool = False  # served from the SQLite generation cache
