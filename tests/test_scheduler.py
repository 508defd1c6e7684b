"""The scheduler on the fake backend: order, batching, cache, failures that stay local, resume."""

from __future__ import annotations

import pytest

from localace.backends.base import Output, Sampling
from localace.backends.fake import FakeBackend
from localace.errors import ConstraintViolation, SchemaError, TruncatedOutput
from localace.scheduler import run_tasks
from localace.stats import collect_stats
from localace.store.cache import CachedBackend, request_key
from localace.tasks import Request

OUT = Output.json({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99}},
                   "required": ["n"], "additionalProperties": False})


def ask(item: int, turn: int, **sampling) -> Request:
    return Request([{"role": "user", "content": f"item {item} turn {turn}"}], sampling=Sampling(**sampling))


def chat(item: int, turns: int):
    """A task of `turns` calls one after another; returns the texts it got."""
    texts = []
    for turn in range(turns):
        texts.append((yield ask(item, turn)).text)
    return texts


def test_outcomes_come_in_submission_order_although_tasks_finish_out_of_order(store):
    gen = CachedBackend(FakeBackend(), store)
    turns = [5, 1, 3, 1, 4, 2]  # task 1 finishes long before task 0
    outcomes = list(run_tasks((chat(i, n) for i, n in enumerate(turns)), gen, parallel=4))
    assert [o.index for o in outcomes] == list(range(6))
    assert [len(o.unwrap()) for o in outcomes] == turns


def test_requests_of_tasks_in_flight_are_decoded_together(store):
    fake = FakeBackend()
    outcomes = list(run_tasks((chat(i, 3) for i in range(8)), CachedBackend(fake, store), parallel=4))
    assert all(o.ok for o in outcomes)
    assert sum(fake.batch_sizes) == 24 and max(fake.batch_sizes) == 4
    assert len(fake.batch_sizes) < 24  # not one request at a time


def test_results_equal_the_one_at_a_time_path(tmp_path):
    from localace.store import open_store

    values = []
    for parallel in (1, 3):
        store = open_store(tmp_path / f"{parallel}.db")
        values.append([o.unwrap() for o in run_tasks((chat(i, 3) for i in range(7)), CachedBackend(FakeBackend(), store),
                                                     parallel=parallel)])
        store.close()
    assert values[0] == values[1]


def test_the_k_samples_of_a_vote_go_in_one_batch_with_failures_in_place(store):
    fake = FakeBackend()

    def vote():
        # The middle sample's budget is too small for the fake's 3-word reply: it alone is truncated.
        results = yield [ask(0, 0, temperature=0.7, seed=s, max_tokens=1 if s == 1 else 50) for s in range(3)]
        return [type(r).__name__ for r in results]

    (outcome,) = run_tasks([vote()], CachedBackend(fake, store), parallel=2)
    assert outcome.unwrap() == ["Completion", "TruncatedOutput", "Completion"]
    assert fake.batch_sizes == [3]


def test_a_failed_request_is_raised_in_its_task_only(store):
    fake = FakeBackend()

    def fragile(item: int):
        try:
            done = yield ask(item, 0, max_tokens=1 if item == 2 else 50)
        except TruncatedOutput as e:
            return f"failed: {e.kind}"
        return done.text

    alone = [o.unwrap() for o in run_tasks((fragile(i) for i in (0, 1, 3)), CachedBackend(FakeBackend(), store),
                                           parallel=1)]
    together = [o.unwrap() for o in run_tasks((fragile(i) for i in range(4)), CachedBackend(fake, store), parallel=4)]
    assert together[2] == "failed: truncated"
    assert [together[i] for i in (0, 1, 3)] == alone
    assert fake.batch_sizes == [1]  # items 0, 1, 3 were cached by the first run; only item 2 reached the model


def test_a_task_that_raises_is_reported_and_the_others_finish(store):
    def broken():
        yield ask(9, 0)
        raise ValueError("bug in this task")

    tasks = [chat(0, 2), broken(), chat(1, 2)]
    outcomes = list(run_tasks(tasks, CachedBackend(FakeBackend(), store), parallel=3))
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, ValueError)
    with pytest.raises(ValueError, match="bug in this task"):
        outcomes[1].unwrap()


def test_an_uncaught_request_failure_ends_only_that_task(store):
    fake = FakeBackend([ConstraintViolation("bad")], improvise=True)

    def strict():
        yield Request([{"role": "user", "content": "x"}], output=OUT)

    outcomes = list(run_tasks([strict(), chat(1, 1)], CachedBackend(fake, store), parallel=2))
    assert isinstance(outcomes[0].error, ConstraintViolation) and outcomes[1].ok


def test_a_schema_error_is_thrown_into_the_task_like_a_generation_error(store):
    fake = FakeBackend()

    def fallback():
        try:
            yield Request([{"role": "user", "content": "x"}], output=OUT)
        except SchemaError:
            return (yield ask(0, 0)).text
        return "constrained"

    for parallel in (1, 2):
        fake.push(SchemaError("cannot build this constraint"))
        (outcome,) = run_tasks([fallback()], CachedBackend(fake, store), parallel=parallel)
        assert outcome.unwrap().startswith("Fake reply")


def test_cached_requests_never_reach_the_model(store):
    first = FakeBackend()
    before = [o.unwrap() for o in run_tasks((chat(i, 3) for i in range(5)), CachedBackend(first, store), parallel=3)]
    replay = FakeBackend(improvise=False)  # any model call would fail with ScriptExhausted
    gen = CachedBackend(replay, store)
    after = [o.unwrap() for o in run_tasks((chat(i, 3) for i in range(5)), gen, parallel=3)]
    assert after == before and replay.calls == [] and replay.batch_sizes == []
    assert gen.hits == 15 and gen.misses == 0


def test_identical_requests_in_flight_run_once_and_count_as_one_call_and_one_hit(store):
    fake = FakeBackend()
    gen = CachedBackend(fake, store, store.start_session("t"))
    outcomes = list(run_tasks([chat(0, 1), chat(0, 1)], gen, parallel=2))
    assert outcomes[0].unwrap() == outcomes[1].unwrap()
    assert len(fake.calls) == 1
    calls = collect_stats(store)["calls"]
    assert (calls["model_calls"], calls["cache_hits"]) == (1, 1)


def test_score_requests_are_served_in_the_scheduler(store):
    def scored():
        total, n = yield Request([{"role": "user", "content": "q"}], op="score", target="two words")
        return n

    (outcome,) = run_tasks([scored()], CachedBackend(FakeBackend(), store), parallel=2)
    assert outcome.unwrap() == 2


def test_tasks_without_model_calls_need_no_backend():
    def pure(i: int):
        return i * i
        yield  # a generator that never yields

    assert [o.unwrap() for o in run_tasks((pure(i) for i in range(5)), None, parallel=4)] == [0, 1, 4, 9, 16]


def test_a_task_yielding_something_else_fails_alone(store):
    def wrong():
        yield "not a request"

    outcomes = list(run_tasks([wrong(), chat(0, 1)], CachedBackend(FakeBackend(), store), parallel=2))
    assert isinstance(outcomes[0].error, TypeError) and outcomes[1].ok


def test_tasks_are_created_lazily_as_places_free_up(store):
    created = []

    def tasks():
        for i in range(6):
            created.append(i)
            yield chat(i, 1)

    stream = run_tasks(tasks(), CachedBackend(FakeBackend(), store), parallel=2)
    first = next(stream)
    assert first.index == 0 and len(created) < 6
    stream.close()


def test_resume_after_a_stop_redoes_nothing_committed_and_resends_no_cached_request(tmp_path):
    """Kill-equivalent: stop consuming after 3 committed items; the rerun skips committed items, replays
    the cached requests of the unfinished ones and ends with the result of an uninterrupted run."""
    from localace.store import open_store

    turns = [3, 1, 4, 2, 3, 1, 2, 3]

    def stage(gen, committed: dict[int, list[str]], stop_after: int | None = None) -> None:
        todo = [i for i in range(len(turns)) if i not in committed]
        for n, outcome in enumerate(run_tasks((chat(i, turns[i]) for i in todo), gen, parallel=3), start=1):
            committed[todo[outcome.index]] = outcome.unwrap()
            if n == stop_after:
                return  # the stage's loop is left mid-way: the scheduler closes its tasks and session

    whole: dict[int, list[str]] = {}
    store = open_store(tmp_path / "whole.db")
    stage(CachedBackend(FakeBackend(), store), whole)
    store.close()

    store = open_store(tmp_path / "killed.db")
    first = FakeBackend()
    committed: dict[int, list[str]] = {}
    stage(CachedBackend(first, store), committed, stop_after=3)
    assert sorted(committed) == [0, 1, 2]
    sent_first = {request_key(first.fingerprint(), "", c.messages, c.output, c.sampling) for c in first.calls}

    second = FakeBackend()
    stage(CachedBackend(second, store), committed)
    sent_again = [request_key(second.fingerprint(), "", c.messages, c.output, c.sampling) for c in second.calls]
    assert not sent_first & set(sent_again)  # nothing decoded before the stop is decoded again
    assert len(sent_again) == len(set(sent_again))
    assert len(sent_first) + len(sent_again) == sum(turns)  # exact: every request decoded once overall
    assert committed == whole
    store.close()


def test_requests_go_to_their_roles_backend_each_in_its_own_batch(store):
    class Learner(FakeBackend):
        scored = 0

        def score(self, messages, target):
            self.scored += 1
            return super().score(messages, target)

    main, learner = Learner(), Learner()
    gen = {"": CachedBackend(main, store), "learner": CachedBackend(learner, store)}

    def two_roles(item: int):
        text = (yield ask(item, 0)).text
        total, _ = yield Request([{"role": "user", "content": f"item {item}"}], op="score", target=text, model="learner")
        return total

    outcomes = list(run_tasks((two_roles(i) for i in range(4)), gen, parallel=4))
    assert all(o.ok for o in outcomes)
    assert sum(main.batch_sizes) == 4 and main.scored == 0  # generations on the stage's model
    assert learner.scored == 4 and learner.batch_sizes == [] and not learner.calls  # scores on the learner


def _slot_task(committed: list[int], fails: set[int]):
    def task(slot: int):
        yield ask(slot, 0)
        if slot in fails:
            return ("failed", slot)
        committed.append(slot)
        return ("kept", slot)
    return task


@pytest.mark.parametrize("parallel", [1, 3, 8])
def test_run_slots_reaches_the_target_exactly_with_failed_slots_topped_up(store, parallel):
    from localace.scheduler import run_slots

    committed: list[int] = []
    events = list(run_slots(iter(range(100)), _slot_task(committed, {1, 2, 5}), CachedBackend(FakeBackend(), store),
                            parallel=parallel, room=lambda in_flight: len(committed) + in_flight < 6))
    assert len(committed) == 6 and committed == sorted(committed)  # never more than asked, slots in order
    assert [e[1] for e in events] == list(range(9))  # every started slot reported once, in slot order
    assert [e[1] for e in events if e[0] == "failed"] == [1, 2, 5]
