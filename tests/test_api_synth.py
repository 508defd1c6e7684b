"""Stage A on the fake backend: exact counts, validity, dedup, lineage, coverage and resume."""

import itertools
import json
import random

import pytest

from localace.apis import operators as ops
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

def _ask_returning(*values):
    queue = list(values)

    def ask(name, output, salt, **v):
        return queue.pop(0)
        yield  # an ask is a task: the operators `yield from` it

    return ask


def _run(op):
    """Drive an operator task whose asks never reach a model."""
    from localace.tasks import run_task

    return run_task(op, None)


def test_operators_shape_the_schema():
    spec = builtin_examples()[0]  # get_current_weather: city, units(enum), include_air_quality
    rng = random.Random(0)
    s2, step = _run(ops.add_parameter(_ask_returning({"name": "days", "type": "integer", "description": "Days ahead.",
                                                 "required": True}), spec, rng, "integer"))
    assert s2.parameters["properties"]["days"]["type"] == "integer" and "days" in s2.parameters["required"]
    s3, _ = _run(ops.add_constraint(_ask_returning({"minimum": 1, "maximum": 14}), s2, rng, "range"))
    assert s3.parameters["properties"]["days"]["maximum"] == 14
    with pytest.raises(ops.OperatorFailed, match="empty"):
        _run(ops.add_constraint(_ask_returning({"minimum": 5, "maximum": 5}), s2, rng, "range"))
    s4, _ = _run(ops.add_constraint(_ask_returning("date"), spec, random.Random(1), "format"))
    assert any(p.get("format") == "date" for p in s4.parameters["properties"].values())
    fields = {"fields": [{"name": "lat", "type": "number", "description": "Latitude value."},
                         {"name": "lon", "type": "number", "description": "Longitude value."}]}
    s5, step = _run(ops.change_type(_ask_returning(fields), spec, random.Random(2), "array_of_objects"))
    changed = [p for p in s5.parameters["properties"].values() if p["type"] == "array"]
    assert changed and changed[0]["items"]["type"] == "object" and set(changed[0]["items"]["properties"]) == {"lat", "lon"}
    s6, _ = _run(ops.change_type(_ask_returning(fields, fields), spec, random.Random(3), "nested_object"))
    nested = [p for p in s6.parameters["properties"].values() if p["type"] == "object"][0]
    assert any(v["type"] == "object" for v in nested["properties"].values())
    s7, _ = _run(ops.change_returns(_ask_returning(fields), spec, random.Random(4)))
    assert check_definition(s7) == []


def test_resuming_a_finished_run_parses_no_stored_api(store, request):
    run_id, _ = run_stage(store, 8)
    request.getfixturevalue("refuse_stored_api_parsing")
    _, gen = run_stage(store, 8)
    assert gen.misses == 0 and len(api_rows(store, run_id)) == 8
