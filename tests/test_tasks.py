"""Tasks yield requests; run_task serves them one at a time through the cache."""

from __future__ import annotations

import pytest

from localace.backends.base import Output, Sampling
from localace.backends.fake import FakeBackend
from localace.errors import TruncatedOutput
from localace.store.cache import CachedBackend
from localace.tasks import Request, run_task

MSG = [{"role": "user", "content": "hello"}]


def test_single_request_result_is_sent_back(store):
    fake = FakeBackend(["first", "second"], improvise=False)

    def task():
        a = yield Request(MSG)
        b = yield Request([{"role": "user", "content": "again"}])
        return a.text + "+" + b.text

    assert run_task(task(), CachedBackend(fake, store)) == "first+second"
    assert len(fake.calls) == 2


def test_failure_of_a_single_request_is_raised_at_the_yield(store):
    fake = FakeBackend([TruncatedOutput("cut")], improvise=False)

    def task():
        try:
            yield Request(MSG)
        except TruncatedOutput as e:
            return f"caught {e.kind}"
        return "no error"

    assert run_task(task(), CachedBackend(fake, store)) == "caught truncated"


def test_list_of_requests_gets_a_list_with_failures_in_place(store):
    fake = FakeBackend(['{"a": 1}', TruncatedOutput("cut"), '{"a": 3}'], improvise=False)
    out = Output.json({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})

    def task():
        results = yield [Request(MSG, output=out, sampling=Sampling(seed=i, temperature=0.5)) for i in range(3)]
        return [r.value["a"] if hasattr(r, "value") else r.kind for r in results]

    assert run_task(task(), CachedBackend(fake, store)) == [1, "truncated", 3]


def test_cached_requests_never_reach_the_model(store):
    fake = FakeBackend()
    gen = CachedBackend(fake, store)

    def task():
        first = yield Request(MSG)
        again = yield Request(MSG)
        return first.text == again.text, again.cache_hit

    assert run_task(task(), gen) == (True, True)
    assert len(fake.calls) == 1


def test_score_requests(store):
    gen = CachedBackend(FakeBackend(), store)

    def task():
        total, n = yield Request(MSG, op="score", target="four words right here")
        return n

    assert run_task(task(), gen) == 4


def test_an_error_the_task_does_not_catch_propagates(store):
    gen = CachedBackend(FakeBackend([TruncatedOutput("cut")], improvise=False), store)

    def task():
        yield Request(MSG)

    with pytest.raises(TruncatedOutput):
        run_task(task(), gen)
