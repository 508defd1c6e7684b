"""Many tasks at once: their requests are gathered, cached ones served from SQLite, the rest decoded
together, and finished tasks come out in the order they were submitted.

    for outcome in run_tasks(tasks, gen, parallel=8):
        item = outcome.unwrap()          # the task's return value, or its exception re-raised
        commit(outcome.index, item)      # slot by slot, in submission order

`tasks` is any iterable of task generators (see localace/tasks.py); it is consumed lazily, one task
each time a place frees up, so building a task may depend on what was committed before it.
`gen` is a CachedBackend (anything with `generate`/`score` for parallel=1, `open_batch` otherwise), or a
mapping from role to one (see tasks.backend_for): each backend gets its own batch session.

- parallel == 1 is the one-at-a-time path: each task runs alone through `run_task` on the
  single-request `generate` (byte-identical reruns: `--deterministic`).
- parallel > 1: up to `parallel` tasks are in flight; every request they wait on (a list counts
  item by item) goes into one batch session, which decodes the misses together and hands results
  back as they finish; a task whose request finished moves on at once and its next request joins
  the running batch. A failed single request is thrown into its task at the `yield` (as run_task
  does); a list gets its failures in place.
- A task that raises an Exception ends as an Outcome carrying that error; the other tasks go on.
  The caller decides (`unwrap()` re-raises it). KeyboardInterrupt and other BaseExceptions stop
  everything.
- Stopping early (closing the iterator, Ctrl-C) closes the tasks in flight and the session: nothing
  of theirs was returned, so nothing of theirs was committed; the requests that finished are in the
  generation cache and a rerun replays them without the model.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from localace.backends.batching import BatchSession, open_session
from localace.errors import REQUEST_FAILURES
from localace.tasks import Request, Task, backend_for, run_task

R = TypeVar("R")
# Finished tasks wait for the ones submitted before them; past this many per place in flight,
# no new task starts until the oldest finishes (bounds memory and what a kill throws away).
LOOKAHEAD = 8


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """How task number `index` (0-based, submission order) ended: its value, or the error it raised."""

    index: int
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> R:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


def run_tasks(tasks: Iterable[Task[R]], gen: Any, *, parallel: int = 1) -> Iterator[Outcome[R]]:
    """Run every task to its end; yield their outcomes in submission order (see the module doc)."""
    if parallel <= 1:
        yield from _one_at_a_time(tasks, gen)
    else:
        yield from _Scheduler(gen, parallel).run(tasks)


def _one_at_a_time(tasks: Iterable[Task[R]], gen: Any) -> Iterator[Outcome[R]]:
    for index, task in enumerate(tasks):
        try:
            value = run_task(task, gen)
        except Exception as error:  # noqa: BLE001 - reported for this task; the caller decides
            yield Outcome(index, error=error)
            continue
        yield Outcome(index, value)


class _Flight:
    """A task in flight and the results it is waiting for."""

    __slots__ = ("index", "task", "replies", "pending")

    def __init__(self, index: int, task: Task[Any]) -> None:
        self.index, self.task = index, task
        self.replies: list[Any] | None = None  # None: waiting on a single request
        self.pending = 0


class _Scheduler:
    def __init__(self, gen: Any, parallel: int) -> None:
        self.gen = gen
        self.parallel = parallel
        # One per backend, opened on its first request: tasks may need no model, or only some roles.
        self.sessions: dict[int, BatchSession] = {}
        self.flights: dict[int, _Flight] = {}
        self.finished: dict[int, Outcome[Any]] = {}

    def run(self, tasks: Iterable[Task[R]]) -> Iterator[Outcome[R]]:
        source = enumerate(tasks)
        exhausted = False
        next_out = 0
        try:
            while True:
                while (not exhausted and len(self.flights) < self.parallel
                       and len(self.flights) + len(self.finished) < LOOKAHEAD * self.parallel):
                    item = next(source, None)
                    if item is None:
                        exhausted = True
                        break
                    flight = _Flight(*item)
                    self.flights[flight.index] = flight
                    self._advance(flight, None)
                while next_out in self.finished:
                    yield self.finished.pop(next_out)
                    next_out += 1
                if not self.flights:
                    if exhausted and not self.finished:
                        return
                    continue
                self._step()
        finally:
            for flight in self.flights.values():
                flight.task.close()
            for session in self.sessions.values():
                session.close()

    def _step(self) -> None:
        busy = [session for session in self.sessions.values() if session.busy]
        if not busy:
            raise RuntimeError("scheduler: tasks are waiting for requests nobody runs")
        for (index, slot), result in (done for session in busy for done in session.step()):
            flight = self.flights[index]
            if slot is None:
                self._advance(flight, result, throw=isinstance(result, REQUEST_FAILURES))
                continue
            assert flight.replies is not None
            flight.replies[slot] = result
            flight.pending -= 1
            if flight.pending == 0:
                self._advance(flight, flight.replies)

    def _advance(self, flight: _Flight, reply: Any, *, throw: bool = False) -> None:
        """Resume the task with `reply` until it waits on requests again or ends."""
        while True:
            try:
                step = flight.task.throw(reply) if throw else flight.task.send(reply)
            except StopIteration as stop:
                self._finish(Outcome(flight.index, stop.value))
                return
            except Exception as error:  # noqa: BLE001 - this task's failure, not the others'
                self._finish(Outcome(flight.index, error=error))
                return
            throw = False
            if isinstance(step, Request):
                flight.replies, flight.pending = None, 1
                self._add((flight.index, None), step)
                return
            requests = list(step) if isinstance(step, (list, tuple)) else None
            if requests is None or not all(isinstance(r, Request) for r in requests):
                flight.task.close()
                self._finish(Outcome(flight.index, error=TypeError(
                    f"a task must yield a Request or a list of Requests, not {type(step).__name__}")))
                return
            if not requests:
                reply = []
                continue
            flight.replies, flight.pending = [None] * len(requests), len(requests)
            for slot, request in enumerate(requests):
                self._add((flight.index, slot), request)
            return

    def _add(self, ticket: Hashable, request: Request) -> None:
        backend = backend_for(self.gen, request)
        session = self.sessions.get(id(backend))
        if session is None:
            session = self.sessions[id(backend)] = open_session(backend)
        session.add(ticket, request)

    def _finish(self, outcome: Outcome[Any]) -> None:
        del self.flights[outcome.index]
        self.finished[outcome.index] = outcome


def run_slots(slots: Iterator[int], slot_task: Callable[[int], Task[R]], gen: Any, *, parallel: int,
              room: Callable[[int], bool]) -> Iterator[R]:
    """A stage's slots as tasks, `parallel` in flight, their results in slot order (a failed task re-raises).

    A new slot starts only while `room(in_flight)` holds: the stage's target is not yet covered by what
    is committed plus what is in flight, so a batched run does not make more than it was asked for. When
    there is no room but slots are in flight, they finish first and the question is asked again (one of
    them may fail its slot). Ends when there is no room and nothing is in flight.

    A slot task must commit its row before it returns: it stops counting as in flight when it ends, and
    `room` sees only committed rows, so a row committed later by the caller would be admitted twice."""
    in_flight = 0

    def tracked(task: Task[R]) -> Task[R]:
        nonlocal in_flight
        try:
            return (yield from task)
        finally:
            in_flight -= 1

    def admitted() -> Iterator[Task[R]]:
        nonlocal in_flight
        while room(in_flight):
            slot = next(slots, None)
            if slot is None:
                return
            in_flight += 1
            yield tracked(slot_task(slot))

    while True:
        started = 0
        with closing(run_tasks(admitted(), gen, parallel=parallel)) as outcomes:
            for outcome in outcomes:
                started += 1
                yield outcome.unwrap()
        if started == 0:
            return
