import pytest

from localace.backends.base import Output, Sampling
from localace.backends.fake import FakeBackend
from localace.backends.validation import schema_errors
from localace.errors import ConstraintViolation, ScriptExhausted, TruncatedOutput

MSG = [{"role": "user", "content": "hi"}]
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["x", "y"]},
        "args": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9},
                                                  "items": {"type": "array", "items": {"type": "boolean"}}},
                 "required": ["n", "items"], "additionalProperties": False},
    },
    "required": ["name", "args"],
    "additionalProperties": False,
}


def test_script_queue_and_history():
    fake = FakeBackend(["one", {"k": 1}, lambda m, o, s: "from callable"])
    assert fake.generate(MSG).text == "one"
    assert fake.generate(MSG).text == '{"k": 1}'
    assert fake.generate(MSG, sampling=Sampling(seed=4)).text == "from callable"
    assert len(fake.calls) == 3 and fake.calls[2].sampling.seed == 4


def test_scripted_output_is_validated_like_real_output():
    fake = FakeBackend(['{"name": "z"}'])
    with pytest.raises(ConstraintViolation):
        fake.generate(MSG, output=Output.json(SCHEMA))


def test_improvised_output_is_schema_valid_and_deterministic():
    a = FakeBackend().generate(MSG, output=Output.json(SCHEMA), sampling=Sampling(seed=1))
    b = FakeBackend().generate(MSG, output=Output.json(SCHEMA), sampling=Sampling(seed=1))
    assert schema_errors(SCHEMA, a.value) == [] and a.text == b.text
    sampled = lambda fake, s: fake.generate(MSG, output=Output.json(SCHEMA), sampling=Sampling(seed=s, temperature=0.7)).text  # noqa: E731
    assert len({sampled(FakeBackend(consistency=0.0), s) for s in range(10)}) > 1
    assert len({sampled(FakeBackend(consistency=1.0), s) for s in range(10)}) == 1
    greedy = {FakeBackend(consistency=0.0).generate(MSG, output=Output.json(SCHEMA), sampling=Sampling(seed=s)).text
              for s in range(5)}
    assert len(greedy) == 1  # temperature 0 ignores the seed, as greedy decoding does


def test_improvised_regex_and_choice():
    assert FakeBackend().generate(MSG, output=Output.regex("[a-c]{3}-[0-9]")).value[3] == "-"
    assert FakeBackend().generate(MSG, output=Output.choice(["p", "q"])).text in {"p", "q"}


def test_exhausted_script_and_truncation():
    with pytest.raises(ScriptExhausted):
        FakeBackend(improvise=False).generate(MSG)
    with pytest.raises(TruncatedOutput):
        FakeBackend(["a b c d e"]).generate(MSG, sampling=Sampling(max_tokens=2))


def test_kv_reuse_is_simulated_for_shared_prefixes():
    fake = FakeBackend(["ok", "ok"])
    shared = {"role": "system", "content": "word " * 50}
    fake.generate([shared, {"role": "user", "content": "a"}])
    second = fake.generate([shared, {"role": "user", "content": "b"}])
    assert second.cached_tokens == 50
