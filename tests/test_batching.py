"""generate_many and batch sessions on the fake backend: order, failures in place, cache hits never batched."""

from __future__ import annotations

import pytest

from localace.backends import llamacpp
from localace.backends.base import Output, Sampling
from localace.backends.batching import ListSession, open_session, run_all
from localace.backends.fake import FakeBackend
from localace.errors import ConstraintViolation, TruncatedOutput
from localace.model_catalogue import ModelRef
from localace.stats import collect_stats
from localace.store.cache import CachedBackend
from localace.tasks import Request

OUT = Output.json({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})


def req(text: str, **sampling) -> Request:
    return Request([{"role": "user", "content": text}], sampling=Sampling(**sampling))


def test_fake_generate_many_is_one_batch_with_failures_in_place():
    fake = FakeBackend(["one", TruncatedOutput("cut"), "three"], improvise=False)
    results = fake.generate_many([req("a"), req("b"), req("c")])
    assert [getattr(r, "text", None) for r in results] == ["one", None, "three"]
    assert isinstance(results[1], TruncatedOutput)
    assert fake.batch_sizes == [3]


def test_a_backend_without_open_batch_gets_a_list_session_that_batches_what_was_added():
    fake = FakeBackend()
    session = open_session(fake)
    assert isinstance(session, ListSession)
    session.add("x", req("a"))
    session.add("y", req("b"))
    assert [ticket for ticket, _ in session.step()] == ["x", "y"] and not session.busy
    assert session.step() == [] and fake.batch_sizes == [2]


def test_cached_generate_many_sends_only_misses_in_one_batch_and_commits_each(store):
    fake = FakeBackend()
    gen = CachedBackend(fake, store, store.start_session("t"))
    first = gen.generate_many([req("a"), req("b")])
    assert fake.batch_sizes == [2]
    again = gen.generate_many([req("b"), req("c"), req("a"), req("d")])
    assert fake.batch_sizes == [2, 2]  # only c and d reached the model
    assert [r.cache_hit for r in again] == [True, False, True, False]
    assert (again[0].text, again[2].text) == (first[1].text, first[0].text)
    calls = collect_stats(store)["calls"]
    assert (calls["model_calls"], calls["cache_hits"]) == (4, 2)


def test_cached_generate_many_caches_failures_with_the_same_keys_as_generate(store):
    fake = FakeBackend([ConstraintViolation("bad")], improvise=True)
    gen = CachedBackend(fake, store)
    (failed,) = gen.generate_many([Request([{"role": "user", "content": "x"}], output=OUT)])
    assert isinstance(failed, ConstraintViolation)
    try:
        gen.generate([{"role": "user", "content": "x"}], output=OUT)  # the single path finds the same entry
    except ConstraintViolation as e:
        assert "bad" in str(e)
    else:
        raise AssertionError("the cached failure was not found by generate")
    assert len(fake.calls) == 1


def test_a_fully_cached_batch_never_opens_a_backend_session(store):
    gen = CachedBackend(FakeBackend(), store)
    gen.generate_many([req("a")])

    class Refuses(FakeBackend):
        def open_batch(self):
            raise AssertionError("the model was touched")

    gen = CachedBackend(Refuses(), store)
    assert gen.generate_many([req("a")])[0].cache_hit


def test_run_all_returns_results_in_request_order_across_steps():
    class Staggered(ListSession):
        """Returns one result per step, last added first."""

        def step(self):
            if not self.waiting:
                return []
            ticket, request = self.waiting.pop()
            return [(ticket, request.messages[0]["content"])]

    assert run_all(Staggered(FakeBackend()), [req("a"), req("b"), req("c")]) == ["a", "b", "c"]


class _Engine:
    """Stands in for llama_batch.BatchEngine: counts what was made and freed."""

    made: list["_Engine"] = []

    def __init__(self, llama, *, slots, n_ctx, threads):
        self.llama, self.slots, self.busy, self.closed = llama, slots, False, False
        _Engine.made.append(self)

    def close(self):
        self.closed = True

    def cancel(self):
        pass


def test_batch_contexts_are_one_per_loaded_model_a_new_parallel_frees_the_old(tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(16))
    monkeypatch.setattr(llamacpp, "BatchEngine", _Engine)
    monkeypatch.setattr(llamacpp, "_ENGINES", {})
    monkeypatch.setattr(_Engine, "made", [])
    model, other = object(), object()  # two loaded models (the Llama objects are never touched)

    def backend(llama, parallel):
        b = llamacpp.LlamaCppBackend(ModelRef("m", gguf, "from GGUF", 0), parallel=parallel)
        b._llama = llama
        return b

    for parallel in (2, 4, 8, 4):
        backend(model, parallel).open_batch().close()
    backend(other, 3).open_batch().close()
    backend(model, 4).open_batch().close()  # the live one is reused
    assert [(e.slots, e.closed) for e in _Engine.made] == [(2, True), (4, True), (8, True), (4, False), (3, False)]
    assert sorted(slots for _, slots in llamacpp._ENGINES) == [3, 4]

    live = backend(model, 4).open_batch()
    live.engine.busy = True  # a session in progress is never freed under it
    with pytest.raises(RuntimeError, match="already running"):
        backend(model, 2).open_batch()
    assert not live.engine.closed
