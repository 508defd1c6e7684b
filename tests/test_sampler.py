"""The batched path's per-sequence sampler: masks respected, greedy is argmax, seeds reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.backends.base import Sampling
from localace.backends.sampler import NoCandidate, TokenSampler


def logits_of(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


@given(st.lists(st.floats(-20, 20), min_size=2, max_size=60), st.data())
@settings(max_examples=60, deadline=None)
def test_a_masked_token_is_never_drawn(values, data):
    logits = logits_of(values)
    masked = data.draw(st.sets(st.integers(0, len(values) - 1), max_size=len(values) - 1))
    logits[list(masked)] = -np.inf
    seed = data.draw(st.integers(0, 2**31))
    temperature = data.draw(st.sampled_from([0.0, 0.3, 1.0, 2.0]))
    token = TokenSampler(Sampling(temperature=temperature, seed=seed, top_k=0, top_p=1.0)).sample(logits.copy())
    assert token not in masked and np.isfinite(logits[token])


def test_greedy_is_argmax_and_top_k_1_is_greedy():
    logits = logits_of([0.1, 3.0, 2.9, -1.0])
    assert TokenSampler(Sampling(temperature=0.0)).sample(logits.copy()) == 1
    assert TokenSampler(Sampling(temperature=5.0, top_k=1, seed=3)).sample(logits.copy()) == 1


def test_same_seed_same_draws_other_seed_other_draws():
    logits = logits_of(np.linspace(0, 1, 50))

    def draws(seed: int) -> list[int]:
        sampler = TokenSampler(Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=seed))
        return [sampler.sample(logits.copy()) for _ in range(30)]

    assert draws(7) == draws(7) and draws(7) != draws(8)


def test_top_p_keeps_only_the_head_of_the_distribution():
    logits = logits_of([10.0, 9.5, 0.0, 0.0, 0.0])
    sampler = TokenSampler(Sampling(temperature=1.0, top_k=0, top_p=0.9, seed=1))
    assert {sampler.sample(logits.copy()) for _ in range(200)} <= {0, 1}


def test_repeat_penalty_pushes_recent_tokens_down():
    logits = logits_of([2.0, 1.9])
    assert TokenSampler(Sampling(temperature=0.0, repeat_penalty=1.5)).sample(logits.copy(), recent=[0]) == 1


def test_nothing_allowed_is_an_error():
    with pytest.raises(NoCandidate):
        TokenSampler(Sampling()).sample(logits_of([-np.inf, -np.inf]))
