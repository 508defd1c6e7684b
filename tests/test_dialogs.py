"""Stage B on the fake backend: every kind, voting, complexity band, resume, mix."""

import itertools
import json
import random

import pytest

from localace.apis.spec import ApiSpec
from localace.apis.synth import builtin_examples
from localace.backends.fake import FakeBackend
from localace.dialogs.agents import DialogBuilder, DialogRejected, vote_key
from localace.dialogs.plans import PlannedCall
from localace.dialogs.statements import statements
from localace.tasks import run_task
from localace.dialogs.complexity import Band, learner_view, mean_loss
from localace.dialogs.generate import DEFAULT_MIX, DialogConfig, iter_dialogs, parse_mix, schedule
from localace.dialogs.model import KINDS
from localace.dialogs.plans import PlanSampler
from localace.dialogs.stage import dialog_report, prepare_dialog_stage
from localace.errors import TruncatedOutput, UserError
from localace.store.cache import CachedBackend
from localace.store.db import utcnow
from localace.verify.rules import check_dialog

WEATHER, FLIGHTS, ORDER, WORKOUT = builtin_examples()
# The next step after create_order: its order_id feeds this call (a pool needs such pairs for `dependent`).
ORDER_STATUS = ApiSpec(name="get_order_status", description="Get the delivery status of a shop order.",
                       domain=["E-commerce", "Track an order"],
                       parameters={"type": "object", "required": ["order_id"], "properties": {
                           "order_id": {"type": "string", "description": "Id of the order."}}},
                       returns={"type": "object", "required": ["status"], "properties": {
                           "status": {"type": "string", "enum": ["pending", "shipped", "delivered"],
                                      "description": "Delivery status."}}})
POOL = [*builtin_examples(), ORDER_STATUS]


def seed_apis(store, apis=None):
    from localace.apis.text_norm import norm_key

    with store.transaction():
        for spec in apis or POOL:
            store.db["apis"].insert({"id": spec.id, "run_id": None, "name": spec.name, "top_domain": spec.domain[0],
                                     "data_json": spec.model_dump_json(), "created_at": utcnow(),
                                     "norm_key": norm_key(spec.name), "source": spec.source})


def generate(store, n, *, mix=None, stop_after=None, k=3, fake=None, seed=0, tool_results="values"):
    gen = CachedBackend(fake or FakeBackend(), store)
    cfg = DialogConfig(n=n, seed=seed, k=k, mix=mix or dict(DEFAULT_MIX), tool_results=tool_results)
    stage = prepare_dialog_stage(store, gen, cfg)
    events = stage.events(gen, store, cfg)
    list(itertools.islice(events, stop_after) if stop_after else events)
    return stage.run.id, gen


def rows(store, run_id):
    return store.conn.execute("SELECT id, kind, seq, data_json FROM dialogs WHERE run_id=? ORDER BY seq",
                              (run_id,)).fetchall()


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_generates_dialogs_that_pass_the_rule_checks(store, kind):
    seed_apis(store)
    run_id, _ = generate(store, 3, mix={kind: 1.0}, fake=FakeBackend(consistency=1.0))
    from localace.dialogs.model import Dialog

    dialogs = [Dialog.model_validate_json(r[3]) for r in rows(store, run_id)]
    assert len(dialogs) == 3 and {d.kind for d in dialogs} == {kind}
    for d in dialogs:
        assert check_dialog(d) == [], (kind, check_dialog(d))
        assert d.complexity is not None
        if kind not in ("irrelevance", "non_tool"):
            assert d.meta["consistency"]["steps"] >= 1  # every call step was reproduced by the assistant's samples
        stored_api_ids = {r[0] for r in store.conn.execute("SELECT api_id FROM dialog_apis WHERE dialog_id=?", (d.id,))}
        assert stored_api_ids == set(d.api_ids)
    if kind in ("irrelevance", "non_tool"):
        assert all(not d.calls() for d in dialogs)
    else:
        assert all(d.calls() for d in dialogs)


def _builder(script, k=3):
    fake = FakeBackend(script, improvise=True)
    from localace.store import open_store
    import tempfile, os

    store = open_store(os.path.join(tempfile.mkdtemp(), "v.db"))
    return DialogBuilder([WEATHER, FLIGHTS], ["t"], k=k), CachedBackend(fake, store), fake


def _call(city):
    return {"calls": [{"name": "get_current_weather", "arguments": {"city": city}}]}


LISBON = PlannedCall(WEATHER, {"city": "Lisbon"})
RESULT = {"temperature": 20.5, "condition": "sunny", "humidity": 40}


def _call_requests(fake):
    return [c for c in fake.calls if c.output is not None and c.output.kind == "json"
            and "calls" in c.output.json_schema["properties"]]


def test_roundtrip_stops_as_soon_as_the_majority_reproduces_the_plan():
    b, gen, fake = _builder([_call("lisbon "), _call("Lisbon"), RESULT])
    turn = run_task(b.call([LISBON], "thought"), gen)
    assert turn.tool_calls[0].arguments == {"city": "Lisbon"}  # the plan's value; 'lisbon ' counts as the same
    assert len(_call_requests(fake)) == 2  # k=3: two agreeing samples are a majority, the third is never drawn
    assert b.stats.agreed_first == 1 and b.turns[-1].role == "tool" and not b.preference_pairs


def test_roundtrip_draws_more_only_while_a_majority_is_possible_and_keeps_the_loser():
    from localace.dialogs.model import Turn

    b, gen, fake = _builder([_call("Lisbon"), _call("Porto"), _call("Lisbon"), RESULT])
    b.turns.append(Turn(role="user", content="I was in Porto yesterday; what's the weather in Lisbon?"))
    run_task(b.call([LISBON], "thought"), gen)
    assert len(_call_requests(fake)) == 3 and b.stats.regenerated == 1
    pair = b.preference_pairs[0]
    assert pair["turn"] == 1 and pair["disagreement"] == "different_arguments"  # Porto was said, for another reason
    assert pair["rejected"]["tool_calls"] == [{"name": "get_current_weather", "arguments": {"city": "Porto"}}]
    b, gen, _ = _builder([_call("Faro"), _call("Lisbon"), _call("Lisbon"), RESULT])
    b.turns.append(Turn(role="user", content="What's the weather in Lisbon?"))
    run_task(b.call([LISBON], "thought"), gen)
    assert b.preference_pairs[0]["disagreement"] == "ungrounded_arguments"  # nobody said Faro


def test_roundtrip_rejects_when_the_majority_cannot_be_reached():
    b, gen, fake = _builder([_call("Porto"), _call("Faro")])
    with pytest.raises(DialogRejected) as e:
        run_task(b.call([LISBON], "thought"), gen)
    assert e.value.check == "roundtrip" and b.stats.dropped == 1 and not b.turns
    assert len(_call_requests(fake)) == 2  # two misses of three: a majority is out of reach, stop


def test_wrong_tool_is_labelled_and_votes_compare_canonical_values():
    flights = {"calls": [{"name": "search_flights", "arguments": {"origin": "LIS", "destination": "OPO",
                                                                  "date": "2026-05-01"}}]}
    b, gen, _ = _builder([flights, _call("Lisbon"), _call("Lisbon"), RESULT])
    run_task(b.call([LISBON], "thought"), gen)
    assert b.preference_pairs[0]["disagreement"] == "wrong_tool"
    assert vote_key("call", [{"name": "a", "arguments": {"x": 1.0}}]) == vote_key("call", [{"name": "a", "arguments": {"x": 1}}])


def test_user_turn_must_state_the_values_and_speak_as_the_user():
    from localace.dialogs import constraints as C

    state = statements(LISBON)
    grammar = C.user_request_grammar("get the weather", state, style="terse")
    b, gen, fake = _builder(["I'd like the weather in Porto please.", "Hi. Can you get the weather? Make it in Lisbon."])
    assert run_task(b.user("user_request", state, grammar=grammar, goal="get the weather"), gen).endswith("in Lisbon.")
    assert fake.calls[1].output == grammar  # the second attempt is the grammar that states the value
    b, gen, _ = _builder(["The user wants the weather in Lisbon.", "Can you get the weather? That's around Lisbon."])
    assert run_task(b.user("user_request", state, grammar=grammar, goal="get the weather"), gen).startswith("Can")
    b, gen, _ = _builder(["The user wants the weather in Lisbon.", TruncatedOutput("cut")])
    with pytest.raises(DialogRejected) as e:
        run_task(b.user("user_request", state, grammar=grammar, goal="get the weather"), gen)
    assert e.value.check == "generation:truncated" and not b.turns


@pytest.mark.parametrize("style", ["terse", "chatty and friendly", "polite and formal", "in a hurry", "unknown"])
def test_request_grammar_always_states_every_value_in_the_users_voice(style):
    """Whatever the model picks inside the grammar, the text is a user's request that states the plan's values."""
    import random as rnd

    from localace.backends.schema_sample import sample_instance
    from localace.dialogs import constraints as C
    from localace.voice import voice_problem
    from localace.dialogs.statements import unstated

    call = PlannedCall(FLIGHTS, {"origin": "LIS", "destination": "OPO", "date": "2026-05-01", "passengers": 2})
    state = statements(call)
    for grammar in (C.user_request_grammar("search flights", state, style=style),
                    C.user_request_grammar("search flights", state, then="book the cheapest", followup=True),
                    C.supply_grammar(state[:1])):
        for seed in range(20):
            text = sample_instance({"type": "string", "pattern": f"^(?:{grammar.pattern})$"}, rnd.Random(seed))
            assert voice_problem(text) is None, text
            assert unstated(text, state if grammar.pattern.count("LIS") and "OPO" in grammar.pattern
                            else state[:1]) == [], text


def test_interrupted_generation_matches_uninterrupted(tmp_path):
    from localace.store import open_store

    a = open_store(tmp_path / "a.db")
    seed_apis(a)
    run_a, _ = generate(a, 16)
    full = rows(a, run_a)
    assert len(full) == 16
    _, gen = generate(a, 16)
    assert gen.misses == 0  # a finished run makes no model call when run again

    b = open_store(tmp_path / "b.db")
    seed_apis(b)
    run_b, _ = generate(b, 16, stop_after=5)
    generate(b, 16)
    assert run_b == run_a and rows(b, run_b) == full


def test_report_has_kinds_consistency_complexity_and_kv_reuse(store):
    seed_apis(store)
    run_id, gen = generate(store, 24)
    report = dialog_report(store, run_id)
    assert report["dialogs"] == 24 and set(report["kinds"]) <= set(KINDS) and len(report["kinds"]) >= 6
    assert report["self_consistency"]["steps"] >= 24 and 0 <= report["self_consistency"]["dropped_share"] <= 1
    assert report["complexity"]["p0"] <= report["complexity"]["p50"] <= report["complexity"]["p100"]
    from localace.stats import collect_stats

    assert collect_stats(store)["calls"]["kv_reuse_ratio"] > 0.5


def test_complexity_band_and_learner_view():
    band = Band(25, 75, warmup=4)
    assert band.classify(9.0, [1.0, 2.0]) == "ok"  # warm-up: everything is in band
    scores = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert band.classify(1.1, scores) == "easy" and band.classify(4.9, scores) == "hard"
    assert band.classify(3.0, scores) == "ok"
    from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn

    d = Dialog(kind="single", tools=[WEATHER], turns=[
        Turn(role="user", content="Weather in Rome?"),
        Turn(role="assistant", tool_calls=[ToolCall(name="get_current_weather", arguments={"city": "Rome"})]),
        Turn(role="tool", tool_results=[ToolResult(name="get_current_weather", results={"temperature": 20})]),
        Turn(role="assistant", content="It is 20 degrees in Rome.")])
    pairs = learner_view(d)
    assert [p[1] for p in pairs] == ['[get_current_weather(city="Rome")]', "It is 20 degrees in Rome."]
    assert pairs[1][0][-1]["role"] == "tool"
    assert mean_loss(FakeBackend(), d) > 0


def test_mix_parsing_and_schedule():
    assert parse_mix("single=1,irrelevance=1") == {"single": 0.5, "irrelevance": 0.5}
    for bad in ("nope=1", "single=x", "single=-1", "single=0"):
        with pytest.raises(UserError):
            parse_mix(bad)
    slots = schedule(DEFAULT_MIX, 100)
    counts = {k: slots.count(k) for k in DEFAULT_MIX}
    assert all(abs(counts[k] - 100 * DEFAULT_MIX[k]) <= 1 for k in DEFAULT_MIX)
    assert counts["non_tool"] + counts["irrelevance"] >= 15 and counts["ask_missing"] >= 10
    assert schedule(DEFAULT_MIX, 10) == slots[:10]  # prefixes are stable: resume keeps the same kinds


def test_plans_offer_related_apis_and_distractors():
    sampler = PlanSampler(POOL)
    rng = random.Random(1)
    for kind in KINDS:
        plan = sampler.sample(kind, rng)
        names = {a.name for a in plan.offered}
        assert {t.name for t in plan.targets} <= names
        if kind == "irrelevance":
            assert plan.topic and not plan.targets
        if kind == "ask_missing":
            assert plan.missing in plan.targets[0].parameters["required"]


def test_no_apis_is_a_clear_error(store):
    gen = CachedBackend(FakeBackend(), store)
    with pytest.raises(UserError, match="no APIs"):
        prepare_dialog_stage(store, gen, DialogConfig(n=1))


def test_cli_generate_show_and_errors(tmp_path):
    import json

    from click.testing import CliRunner

    from localace.cli import cli
    from localace.store import open_store

    db = tmp_path / "d.db"
    seed_apis(open_store(db))
    runner = CliRunner()
    res = runner.invoke(cli, ["dialogs", "generate", "--db", str(db), "--model", "fake", "--n", "6"])
    assert res.exit_code == 0, res.output
    assert "dialogs by kind" in res.stdout and "KV-cache reuse" in res.stdout
    first = open_store(db).conn.execute("SELECT id FROM dialogs ORDER BY seq LIMIT 1").fetchone()[0]
    shown = runner.invoke(cli, ["dialogs", "show", "--db", str(db), first[:8]])
    assert shown.exit_code == 0 and "User:" in shown.stdout
    record = json.loads(runner.invoke(cli, ["dialogs", "show", "--db", str(db), first, "--json"]).stdout)
    assert record["kind"] in KINDS
    for args, needle in [(["dialogs", "generate", "--db", str(tmp_path / "none.db"), "--model", "fake"], "not found"),
                         (["dialogs", "generate", "--db", str(db), "--model", "fake", "--mix", "chat=1"], "unknown dialog kind"),
                         (["dialogs", "generate", "--db", str(db), "--model", "fake", "--band", "90,10"], "--band"),
                         (["dialogs", "show", "--db", str(db), "zzz"], "no dialog")]:
        bad = runner.invoke(cli, args)
        assert bad.exit_code == 2 and needle in bad.stderr, (args, bad.output)


def test_resuming_a_finished_run_parses_no_api(store, request):
    seed_apis(store)
    run_id, _ = generate(store, 6)
    request.getfixturevalue("refuse_stored_api_parsing")
    _, gen = generate(store, 6)
    assert gen.misses == 0 and len(rows(store, run_id)) == 6


def test_samples_that_lost_the_vote_become_preference_pairs_for_dpo_export(store, tmp_path):
    from localace.dialogs.model import Dialog
    from localace.dialogs.preferences import read_pairs
    from localace.formats.write import write_export

    seed_apis(store)
    # A model that reproduces the plan on 60% of its samples: some steps need a third sample, and the loser is kept.
    run_id, _ = generate(store, 12, mix={"single": 1, "multiple": 1, "parallel": 1}, fake=FakeBackend(consistency=0.6))
    dialogs = [Dialog.model_validate_json(r[3]) for r in rows(store, run_id)]
    pairs = [p for d in dialogs for p in read_pairs(d)[0]]
    assert pairs and all(not read_pairs(d)[1] for d in dialogs)  # every stored pair is usable
    for d in dialogs:
        for p in read_pairs(d)[0]:
            chosen = d.turns[p.turn]
            assert chosen.tool_calls and p.rejected.tool_calls != chosen.tool_calls
    with store.transaction():
        store.conn.execute("UPDATE dialogs SET status='kept'")
    summary = write_export(iter_dialogs(store, run_id, status="kept"), "dpo", tmp_path / "dpo.jsonl")
    assert summary.rows == len(pairs)


@pytest.mark.parametrize("tool_results", ["values", "model"])
def test_dependent_results_carry_the_planned_value_into_the_next_call(store, tool_results):
    from localace.dialogs.model import Dialog

    seed_apis(store)
    run_id, gen = generate(store, 2, mix={"dependent": 1}, fake=FakeBackend(consistency=1.0), tool_results=tool_results)
    tool_calls = [c for c in gen.backend.calls if c.output is not None and c.output.kind == "json"
                  and "calls" not in c.output.json_schema.get("properties", {})]
    assert bool(tool_calls) is (tool_results == "model")  # the value generators need no model call
    for d in (Dialog.model_validate_json(r[3]) for r in rows(store, run_id)):
        link = d.meta["plan"]["link"]
        first_result, second_call = d.turns[2].tool_results[0].results, d.turns[3].tool_calls[0]
        assert first_result[link["field"]] == second_call.arguments[link["param"]] == link["value"]
        assert check_dialog(d) == []


def test_a_summary_of_values_longer_than_the_grammar_writes_is_still_accepted():
    # The grammar clips values at 60 characters; the check once asked for the full value, so a result whose
    # values were all long rejected every summary the grammar could produce.
    from localace.dialogs.flows import summarize
    from localace.dialogs.model import ToolResult, Turn

    long_note = ("Rain is expected from the late afternoon onwards with strong gusts along the coast and "
                 "cooler air arriving overnight")
    b, gen, fake = _builder([])
    b.turns.append(Turn(role="tool", tool_results=[ToolResult(name="get_current_weather",
                                                              results={"forecast_note": long_note})]))
    turn = run_task(summarize(b), gen)
    assert turn.action == "summarize" and long_note[:40] in turn.content
    assert [c.output.kind for c in fake.calls if c.output is not None][-1] == "regex"  # it came from the grammar


def test_a_question_for_a_missing_value_must_name_it_in_whole_words():
    from localace.dialogs.flows import _mentions

    check = _mentions("order id")
    assert check("What is the order id?") is None
    assert check("Did you place an order?") == "does not mention the order id"  # 'id' inside 'Did' is not asking


def test_a_chat_dialog_stays_on_its_topic(store):
    # A README run kept a user turn about a beach day in Barcelona answered about good morning in Spanish.
    from localace.dialogs.flows import _about
    from localace.dialogs.model import Dialog

    check = _about("how to say good morning in Spanish")
    assert check("Tell me how to say good morning in Spanish?") is None
    assert check("I'm going to the beach in Barcelona tomorrow.") == "is not about 'how to say good morning in Spanish'"
    seed_apis(store)
    run_id, _ = generate(store, 3, mix={"non_tool": 1.0})
    for row in rows(store, run_id):
        dialog = Dialog.model_validate_json(row[3])
        topic = dialog.meta["plan"]["topic"] or ""
        for turn in dialog.turns:
            assert topic and _about(topic)(turn.content) is None, (topic, turn.content)


def test_a_summary_names_an_array_once_with_its_items():
    from localace.dialogs.flows import summarize
    from localace.dialogs.model import ToolResult, Turn

    b, gen, fake = _builder([])
    b.turns.append(Turn(role="tool", tool_results=[ToolResult(name="get_current_weather", results={
        "people": ["Laura Alvarez", "Mark Bryant"]})]))
    turn = run_task(summarize(b), gen)
    assert turn.content.lower().count("people") == 1 and "Laura Alvarez, Mark Bryant" in turn.content


def test_a_summary_of_a_long_list_keeps_its_items_whole():
    # A fresh run's summary ended "…, Dominguez-Campbell, English." for the company "English Inc".
    from localace.dialogs.answers import answer_options
    from localace.dialogs.model import ToolResult

    orgs = ["Fields, Bryant and Hernandez", "Dominguez-Campbell", "English Inc", "Fourth Ltd"]
    said, values = answer_options([ToolResult(name="x", results={"organizations": orgs})], {})
    assert "Fields, Bryant and Hernandez, Dominguez-Campbell, English Inc" in said[0]
    assert "Fourth Ltd" not in said[0]  # at most three items, each whole


def test_quota_top_up_reaches_every_kinds_count_whatever_the_checks_reject(store):
    """n means n kept: a gate that rejects every other dialog (as the rule layer or an enforcing judge would)
    makes the run top each kind up until its quota from the mix is met, and no more."""
    from localace.dialogs.generate import quotas

    seed_apis(store)
    gen = CachedBackend(FakeBackend(), store)
    cfg = DialogConfig(n=24, seed=1, mix=dict(DEFAULT_MIX), complexity=False)
    stage = prepare_dialog_stage(store, gen, cfg)
    seen = []

    def gate(dialog):
        seen.append(dialog.kind)
        return None if len(seen) % 2 == 0 else ("verify:test_gate", "every other dialog is rejected")
        yield  # a task: it may yield model requests (judges); this one needs none

    list(stage.events(gen, store, cfg, gate=gate))
    kept = dict(store.conn.execute("SELECT kind, COUNT(*) FROM dialogs WHERE run_id=? GROUP BY kind",
                                   (stage.run.id,)).fetchall())
    assert kept == {k: q for k, q in quotas(cfg.mix, 24).items() if q}
    assert store.conn.execute("SELECT COUNT(*) FROM rejections WHERE check_name='verify:test_gate'").fetchone()[0] \
        >= 12


def test_no_two_kept_dialogs_open_with_the_same_user_turn(store):
    from localace.kinds.said import norm_text

    seed_apis(store)
    run_id, _ = generate(store, 30, mix={"non_tool": 1.0})
    firsts = [norm_text(next(t["content"] for t in json.loads(r[3])["turns"] if t["role"] == "user"))
              for r in rows(store, run_id)]
    assert len(firsts) == 30 and len(set(firsts)) == 30
