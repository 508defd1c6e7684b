"""Batch sessions: requests go in with a ticket, results come out as they finish.

A session is how the scheduler keeps a backend busy: it adds the requests its tasks are waiting on,
calls `step()` (one decoding step on llama.cpp; one whole batch on backends without an engine) and
gets back the requests that finished, each a Completion or a request failure (GenerationError,
SchemaError) that concerns that request alone. Requests added between steps join the batch at the
next step (continuous batching). `generate_many` is a session run to its end.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union

from localace.backends.base import Completion
from localace.errors import GenerationError, SchemaError

if TYPE_CHECKING:
    from localace.tasks import Request

Outcome = Union[Completion, GenerationError, SchemaError]


class BatchSession(Protocol):
    def add(self, ticket: Hashable, request: "Request") -> None:
        """Queue a request; its result comes back from a later `step()` under `ticket`."""
        ...

    def step(self) -> list[tuple[Hashable, Any]]:
        """Advance decoding; return the (ticket, result) pairs that finished."""
        ...

    @property
    def busy(self) -> bool:
        """Whether some added request has not been returned yet."""
        ...

    def close(self) -> None:
        """Drop whatever is still queued or decoding (the caller stopped early)."""
        ...


class ListSession:
    """A session over a backend that only has `generate_many`: each step runs everything added since
    the previous step as one batch."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.waiting: list[tuple[Hashable, Request]] = []

    def add(self, ticket: Hashable, request: "Request") -> None:
        self.waiting.append((ticket, request))

    def step(self) -> list[tuple[Hashable, Outcome]]:
        waiting, self.waiting = self.waiting, []
        if not waiting:
            return []
        results = self.backend.generate_many([request for _, request in waiting])
        return [(ticket, result) for (ticket, _), result in zip(waiting, results)]

    @property
    def busy(self) -> bool:
        return bool(self.waiting)

    def close(self) -> None:
        self.waiting.clear()


def open_session(backend: Any) -> BatchSession:
    """The backend's own session when it has one (continuous batching), else a ListSession."""
    opener = getattr(backend, "open_batch", None)
    return opener() if opener is not None else ListSession(backend)


def run_all(session: BatchSession, requests: Sequence["Request"]) -> list[Any]:
    """Add every request, step until all are back, close; results in request order."""
    results: list[Any] = [None] * len(requests)
    try:
        for i, request in enumerate(requests):
            session.add(i, request)
        while session.busy:
            for ticket, result in session.step():
                results[ticket] = result  # type: ignore[index]
    finally:
        session.close()
    return results
