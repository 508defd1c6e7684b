"""Model calls as data: a task is a generator that yields requests and receives their results.

A piece of work that needs the model (one dialog, one API, one judged dialog, one eval entry) is
written top to bottom as a generator:

    completion = yield Request(messages, output=..., sampling=...)        # one call
    results = yield [Request(...), Request(...), Request(...)]           # calls that may run together

A single request's failure is raised inside the generator at the `yield` (a GenerationError, as if
the call had been made directly, or a SchemaError when its constraint cannot be built); a list of
requests gets back a list whose items are each a Completion or such an error (votes count failures,
they do not stop). What the generator returns is the task's result.

Who runs the requests is not the task's business: `run_task` serves them one at a time;
`localace.scheduler.run_tasks` drives many tasks at once and decodes their requests together,
without any change to the tasks (every request is still hashed and cached on its own).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

from localace.model_io import Completion, Message, Output, Sampling
from localace.errors import REQUEST_FAILURES, GenerationError, SchemaError

R = TypeVar("R")


@dataclass(frozen=True)
class Request:
    """One model call: generate a completion, or score `target` as the assistant's reply (log-likelihood)."""

    messages: list[Message]
    output: Output | None = None
    sampling: Sampling = field(default_factory=Sampling)
    template_hash: str = ""
    op: Literal["generate", "score"] = "generate"
    target: str | None = None  # op == "score" only
    model: str = ""  # which of the driver's backends serves it: "" the stage's own, else a role like "learner"


Result = Union[Completion, GenerationError, SchemaError, tuple[float, int]]
Yielded = Union[Request, list[Request]]
Task = Generator[Yielded, Any, R]


def backend_for(gen: Any, request: Request) -> Any:
    """`gen` is one CachedBackend-like object, or a mapping from role ("" = the stage's own) to one."""
    return gen[request.model] if isinstance(gen, dict) else gen


def serve(gen: Any, request: Request) -> Result:
    """Run one request on a CachedBackend-like object (or a role mapping); a request failure is returned, not raised."""
    gen = backend_for(gen, request)
    try:
        if request.op == "score":
            return gen.score(request.messages, request.target or "")
        return gen.generate(request.messages, output=request.output, sampling=request.sampling,
                            template_hash=request.template_hash)
    except REQUEST_FAILURES as error:
        return error


def run_task(task: Task[R], gen: Any) -> R:
    """Drive one task to its end, one request at a time (the deterministic, unbatched path)."""
    reply: Any = None
    throw: Exception | None = None
    while True:
        try:
            step = task.throw(throw) if throw is not None else task.send(reply)
        except StopIteration as stop:
            return stop.value
        throw = None
        if isinstance(step, Request):
            result = serve(gen, step)
            if isinstance(result, REQUEST_FAILURES):
                reply, throw = None, result
            else:
                reply = result
        else:
            reply = [serve(gen, r) for r in step]

