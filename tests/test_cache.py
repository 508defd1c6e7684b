import pytest

from localace.backends.base import Output, Sampling
from localace.backends.fake import FakeBackend
from localace.errors import ConstraintViolation, TruncatedOutput
from localace.stats import collect_stats
from localace.store.cache import CachedBackend, request_key

MSG = [{"role": "user", "content": "hello"}]
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_second_identical_call_is_a_hit_with_no_model_call(store):
    fake = FakeBackend(["first", "second"])
    cached = CachedBackend(fake, store, store.start_session("t"))
    a = cached.generate(MSG)
    b = cached.generate(MSG)
    assert (a.text, b.text) == ("first", "first")
    assert len(fake.calls) == 1 and b.cache_hit and not a.cache_hit
    calls = collect_stats(store)["calls"]
    assert calls["cache_hits"] == 1 and calls["model_calls"] == 1


def test_cache_survives_reopen(tmp_path):
    from localace.store import open_store

    s = open_store(tmp_path / "c.db")
    CachedBackend(FakeBackend(["kept"]), s).generate(MSG)
    s.close()
    fake = FakeBackend([], improvise=False)
    again = CachedBackend(fake, open_store(tmp_path / "c.db")).generate(MSG)
    assert again.text == "kept" and fake.calls == []


def test_failures_are_cached_and_reraised(store):
    fake = FakeBackend([ConstraintViolation("bad output")])
    cached = CachedBackend(fake, store)
    for _ in range(2):
        with pytest.raises(ConstraintViolation, match="bad output"):
            cached.generate(MSG)
    assert len(fake.calls) == 1
    assert collect_stats(store)["cached_generations"]["failed"] == 1


def test_a_failed_call_still_counts_the_tokens_and_time_it_cost(store):
    # Truncated outputs ran to max_tokens: before this, stats recorded them as free.
    error = TruncatedOutput("hit max_tokens")
    error.usage = {"prompt_tokens": 900, "cached_tokens": 700, "completion_tokens": 400, "seconds": 6.5}
    cached = CachedBackend(FakeBackend([error]), store)
    with pytest.raises(TruncatedOutput):
        cached.generate(MSG)
    calls = collect_stats(store)["calls"]
    assert (calls["failed"], calls["prompt_tokens"], calls["prompt_tokens_reused"], calls["completion_tokens"],
            calls["model_seconds"]) == (1, 900, 700, 400, 6.5)


def test_json_value_round_trips_through_cache(store):
    cached = CachedBackend(FakeBackend([{"a": 3}]), store)
    out = Output.json(SCHEMA)
    assert cached.generate(MSG, output=out).value == {"a": 3}
    assert cached.generate(MSG, output=out).value == {"a": 3}


@pytest.mark.parametrize(
    "change",
    [
        {"fingerprint": {"backend": "fake", "salt": "other", "consistency": 0.8}},
        {"template_hash": "t2"},
        {"messages": [{"role": "user", "content": "hello!"}]},
        {"output": Output.json(SCHEMA)},
        {"sampling": Sampling(seed=1)},
        {"sampling": Sampling(temperature=0.5)},
    ],
)
def test_every_key_part_changes_the_key(change):
    base = dict(fingerprint={"backend": "fake", "salt": "", "consistency": 0.8}, template_hash="t1", messages=MSG,
                output=None, sampling=Sampling())
    assert request_key(**base) != request_key(**{**base, **change})
