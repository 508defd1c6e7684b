"""Stage A on the fake backend: exact counts, validity, dedup, lineage, coverage and resume."""

import itertools
import json
import random

import pytest

from localace.apis.spec import ApiSpec, check_definition
from localace.apis.stage import ApiStageConfig, prepare_api_stage
from localace.apis.synth import TARGETS, builtin_examples, coverage
from localace.backends.fake import FakeBackend
from localace.store import open_store
from localace.store.cache import CachedBackend


def run_stage(store, n, *, stop_after=None, seed=0, fake=None):
    gen = CachedBackend(fake or FakeBackend(), store)
    cfg = ApiStageConfig(n=n, seed=seed, depth=1, breadth=3, generations=2)
    stage = prepare_api_stage(store, gen, cfg)
    list(stage.tree_events(gen, store, cfg))
    events = stage.synth_events(gen, store, cfg)
    list(itertools.islice(events, stop_after) if stop_after else events)
    return stage.run.id, gen


def api_rows(store, run_id):
    return store.conn.execute("SELECT id, name, seq, operators FROM apis WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()


def test_exactly_n_valid_distinct_apis_with_lineage(store):
    run_id, _ = run_stage(store, 40)
    rows = api_rows(store, run_id)
    assert len(rows) == 40
    assert len({r[1] for r in rows}) == 40  # distinct names
    for (data,) in store.conn.execute("SELECT data_json FROM apis"):
        spec = ApiSpec.model_validate_json(data)
        assert check_definition(spec) == []
        assert spec.operator
        # A related API names the API whose result it takes; one built from the tree alone has no parent.
        assert (spec.parent_id is not None) == spec.operator.startswith("add_related")
    lineage = [json.loads(r[3]) for r in rows]
    assert all(steps[0]["operator"] in ("write", "add_related") for steps in lineage)
    assert any(steps[0]["operator"] == "add_related" for steps in lineage)
    assert any(len(steps) > 1 for steps in lineage)


def test_domains_are_steered_and_types_covered(store):
    run_id, _ = run_stage(store, 60)
    cov = coverage(store, run_id)
    assert len(cov["domains"]) >= 30  # least-covered domain first: 60 APIs over 36 domains
    # Least covered first among the domains with a functionality not built yet: a domain whose few tree nodes
    # are used up (the fake model's tree has some with one) leaves its share to the others.
    assert max(cov["domains"].values()) - min(cov["domains"].values()) <= 2
    missing = [t for t in TARGETS if cov["types"][t] == 0]
    assert missing == []


def test_rerun_does_nothing_and_interrupted_run_matches_uninterrupted(tmp_path):
    a = open_store(tmp_path / "a.db")
    run_a, _ = run_stage(a, 25)
    full = api_rows(a, run_a)
    _, gen = run_stage(a, 25)
    assert gen.misses == 0 and len(api_rows(a, run_a)) == 25

    b = open_store(tmp_path / "b.db")
    run_b, _ = run_stage(b, 25, stop_after=9)
    assert len(api_rows(b, run_b)) <= 9
    run_b2, _ = run_stage(b, 25)
    assert run_b2 == run_b == run_a
    assert api_rows(b, run_b) == full


def test_growing_n_extends_the_same_run(store):
    run_id, _ = run_stage(store, 10)
    run_id2, _ = run_stage(store, 15)
    assert run_id == run_id2 and len(api_rows(store, run_id)) == 15


def test_duplicates_are_rejected_with_reason(store, tmp_path):
    # One functionality, many slots: APIs built from it are kept only as variants that take other parameters
    # under another name; the rest are counted duplicates that name the API they repeat.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "weather.md").write_text("# Weather\n\n- Get the weather for a city, with its temperature\n")
    gen = CachedBackend(FakeBackend(), store)
    cfg = ApiStageConfig(n=6, seed=0, depth=1, breadth=2, generations=0, docs=str(tmp_path / "docs"))
    stage = prepare_api_stage(store, gen, cfg)
    list(stage.tree_events(gen, store, cfg))
    list(stage.synth_events(gen, store, cfg))
    specs = [ApiSpec.model_validate_json(d) for (d,) in store.conn.execute("SELECT data_json FROM apis")]
    assert len(specs) == 6
    assert len({s.name for s in specs}) == len(specs)
    assert len({frozenset(s.parameters["properties"]) for s in specs}) == len(specs)
    reasons = [r[0] for r in store.conn.execute("SELECT reason FROM rejections WHERE check_name='duplicate'")]
    assert all(any(s.name in r for s in specs) or "is taken" in r for r in reasons)

def test_evolution_on_kinds_adds_every_type_category_and_keeps_the_definition_valid():
    """Each diversity operator, applied to a kinds-built API, adds the category it names and keeps the API valid;
    the parameters it adds carry their kinds (so values, phrasings and grounding still know what they are)."""
    from localace.apis import kinded
    from localace.apis.spec import param_types
    from localace.kinds import KIND_KEY, catalogue

    cat = catalogue()
    required = cat.for_text("Find hotels in a city for check-in and check-out dates", "Hotels")
    assert {k.family for k in required} >= {"city", "date"}
    base = kinded.parameters_for(required, [])
    returns = kinded.returns_for("Search hotels in a city", "Hotels", required, random.Random(0))
    assert any(s.get("type") == "array" for s in returns["properties"].values())  # a list of hotel records
    for target in kinded.MOVES:
        for seed in range(8):  # some moves need the right kind in the API or its domain
            evolved = kinded.evolve(base, returns, "Hotels", random.Random(seed), target)
            if evolved is not None:
                break
        assert evolved is not None, target
        params, rets, step = evolved
        spec = ApiSpec(name="search_hotels", description="Search hotels.", domain=["Hotels"], parameters=params,
                       returns=rets)
        assert check_definition(spec) == []
        if target != "returns":
            assert param_types(spec)[target] > param_types({"parameters": base})[target], (target, step)
        leaves = [s for s in params["properties"].values() if s.get("type") in ("string", "integer", "number")]
        assert all(KIND_KEY in s for s in leaves)


def test_resuming_a_finished_run_parses_no_stored_api(store, request):
    run_id, _ = run_stage(store, 8)
    request.getfixturevalue("refuse_stored_api_parsing")
    _, gen = run_stage(store, 8)
    assert gen.misses == 0 and len(api_rows(store, run_id)) == 8
