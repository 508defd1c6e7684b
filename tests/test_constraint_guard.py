"""GuardedProcessor and ConstraintCache on stand-ins for Outlines' llguidance processor (no model needed)."""

import numpy as np

from localace.backends.base import Output
from localace.backends.constraints import ConstraintCache, GuardedProcessor

EOS = 2


class FakeMatcher:
    def __init__(self) -> None:
        self.error: str | None = None
        self.resets = 0

    def is_error(self) -> bool:
        return self.error is not None

    def get_error(self) -> str | None:
        return self.error

    def reset(self) -> None:
        self.resets += 1


class FakeAdapter:
    @staticmethod
    def squeeze(x):
        return x.reshape(-1)


class FakeInner:
    """Allows token 5 only; `fail_at` puts the matcher in error at that step (0 = the first step)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.ll_matchers = [FakeMatcher()]
        self.tensor_adapter = FakeAdapter()
        self.fail_at, self.step = fail_at, 0

    def _bias_logits(self, input_ids, logits):
        if self.step == self.fail_at:
            self.ll_matchers[0].error = "lexer state limit"
        self.step += 1
        masked = np.full_like(logits, -np.inf)
        masked[..., 5] = logits[..., 5]
        masked[..., EOS] = logits[..., EOS]
        return masked

    def __call__(self, input_ids, logits):
        return self.tensor_adapter.squeeze(self._bias_logits(input_ids.reshape(1, -1), logits.reshape(1, -1)))


def test_an_error_on_the_first_step_is_recorded_not_hidden_behind_an_empty_output():
    guard = GuardedProcessor(FakeInner(fail_at=0), EOS)
    guard.reset()
    out = guard(np.array([1, 2, 3]), np.zeros(8, dtype=np.float32))
    assert guard.error == "lexer state limit"
    assert out[EOS] == 0.0 and np.isneginf(np.delete(out, EOS)).all()


def test_an_error_on_a_later_step_is_recorded_and_reset_clears_it():
    inner = FakeInner(fail_at=1)
    guard = GuardedProcessor(inner, EOS)
    guard.reset()
    assert guard.error is None and guard(np.array([1]), np.zeros(8, dtype=np.float32))[5] == 0.0
    guard(np.array([1, 5]), np.zeros(8, dtype=np.float32))
    assert guard.error == "lexer state limit"
    inner.ll_matchers[0].error = None
    guard.reset()
    assert guard.error is None and inner.ll_matchers[0].resets == 2


def test_an_exception_inside_the_processor_forces_eos_and_is_recorded():
    class Broken(FakeInner):
        def _bias_logits(self, input_ids, logits):
            raise RuntimeError("boom")

    guard = GuardedProcessor(Broken(), EOS)
    guard.reset()
    out = guard(np.array([1]), np.zeros(8, dtype=np.float32))
    assert "boom" in guard.error and out[EOS] == 0.0


def test_cache_discards_a_processor_so_the_next_call_compiles_a_fresh_one():
    cache = ConstraintCache.__new__(ConstraintCache)  # no Outlines backend: _build is replaced below
    cache.eos_token, cache._processors = EOS, {}
    built = []
    cache._build = lambda output: built.append(output) or FakeInner()
    out = Output.regex("[a-z]+")
    first = cache.processor(out)
    assert cache.processor(out) is first and len(built) == 1  # compiled once, reused
    cache.discard(out)
    assert cache.processor(out) is not first and len(built) == 2
