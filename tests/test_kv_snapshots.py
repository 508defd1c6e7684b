"""The saved-KV-state policy, on a stand-in for llama.cpp: what is saved, restored, replaced and evicted."""

from localace.backends.kv_snapshots import KvSnapshots, common_prefix


class FakeLlama:
    """Holds 'the live cache' as a token list; states are copies of it."""

    def __init__(self) -> None:
        self.live: list[int] = []
        self.fail_writes = False


def read(llama):
    return list(llama.live), len(llama.live) * 10  # 10 bytes per token


def write(llama, data, size, tokens):
    if llama.fail_writes:
        llama.live = []
        return False
    assert data == tokens
    llama.live = list(data)
    return True


def prompt(agent: int, n: int, tail: int = 0) -> list[int]:
    return [agent * 1000 + i for i in range(n)] + [9_000_000 + tail]


def run(snaps: KvSnapshots, llama: FakeLlama, tokens: list[int]) -> int:
    """One call: prepare, then the call leaves its prompt as the live cache. Returns cached prompt tokens."""
    cached = snaps.prepare(llama, llama.live, tokens)
    llama.live = list(tokens)
    return common_prefix(cached, tokens)


def test_agents_taking_turns_get_their_prefix_back():
    llama, snaps = FakeLlama(), KvSnapshots(read, write, budget_bytes=10**6, min_tokens=100)
    assert run(snaps, llama, prompt(1, 500, 1)) == 0
    assert run(snaps, llama, prompt(2, 400, 1)) == 0  # agent 1's 501 tokens were saved before this overwrote them
    assert snaps.saved == 1
    assert run(snaps, llama, prompt(1, 500, 2)) == 500  # restored
    assert run(snaps, llama, prompt(2, 400, 2)) == 400
    assert snaps.restored == 2
    assert len(snaps.snapshots) == 2  # one per agent: a newer state of the same prefix replaced the older one


def test_short_prefixes_are_neither_saved_nor_restored():
    llama, snaps = FakeLlama(), KvSnapshots(read, write, budget_bytes=10**6, min_tokens=100)
    run(snaps, llama, prompt(1, 50))
    run(snaps, llama, prompt(2, 50))
    assert snaps.saved == 0 and snaps.snapshots == []
    run(snaps, llama, prompt(1, 300))
    run(snaps, llama, prompt(1, 250, 5))  # shares 250 with the live cache; discards only 51 tokens
    assert snaps.saved == 0


def test_live_cache_wins_when_a_snapshot_is_not_clearly_better():
    llama, snaps = FakeLlama(), KvSnapshots(read, write, budget_bytes=10**6, min_tokens=100)
    run(snaps, llama, prompt(1, 500))
    run(snaps, llama, prompt(2, 500))
    assert run(snaps, llama, prompt(2, 450, 3)) == 450  # live prefix; agent 1's snapshot does not match at all
    assert snaps.restored == 0


def test_budget_evicts_least_recently_used_and_zero_disables():
    llama, snaps = FakeLlama(), KvSnapshots(read, write, budget_bytes=2 * 5010, min_tokens=100)
    for agent in (1, 2, 3):
        run(snaps, llama, prompt(agent, 500))
    run(snaps, llama, prompt(4, 500))
    assert snaps.bytes_used <= snaps.budget_bytes
    assert sorted(s.tokens[0] // 1000 for s in snaps.snapshots) == [2, 3]
    off = KvSnapshots(read, write, budget_bytes=0)
    llama = FakeLlama()
    run(off, llama, prompt(1, 500))
    run(off, llama, prompt(2, 500))
    assert off.saved == 0 and run(off, llama, prompt(1, 500)) == 0


def test_failed_restore_falls_back_to_an_empty_cache_and_forgets_the_state():
    llama, snaps = FakeLlama(), KvSnapshots(read, write, budget_bytes=10**6, min_tokens=100)
    run(snaps, llama, prompt(1, 500))
    run(snaps, llama, prompt(2, 500))
    llama.fail_writes = True
    assert snaps.prepare(llama, llama.live, prompt(1, 500, 9)) == []
    assert llama.live == [] and all(s.tokens[0] // 1000 != 1 for s in snaps.snapshots)
