"""`localace eval`: prompt-mode decoding, constrained mode, BFCL scoring, caching and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from localace.backends.fake import FakeBackend
from localace.backends.validation import check_schema_supported, schema_errors
from localace.cli.eval import eval_cmd
from localace.errors import SchemaError, TruncatedOutput, UserError
from localace.evaluate.ast_checker import ERROR_TYPES
from localace.evaluate.grammar import MAX_ITEMS, MAX_STRING, calls_schema, to_json_schema
from localace.evaluate.prompting import build_messages, system_prompt
from localace.evaluate.runner import (
    EvalInputError, decode_prompt_output, evaluate_item, find_answers, load_eval_set, run_eval,
)
from localace.formats.call_syntax import Call, CallSyntaxError, render_calls
from localace.store.cache import CachedBackend

EVAL = Path(__file__).parent / "fixtures" / "eval"
DATA = EVAL / "mini.jsonl"
ANSWERS = EVAL / "mini.answers.jsonl"


def _items(**kwargs):
    return {item.id: item for item in load_eval_set(DATA, ANSWERS, **kwargs)}


def _cached(store, *script):
    # The salt keeps differently scripted backends from sharing cached generations.
    return CachedBackend(FakeBackend(script, improvise=False, salt=repr(script)), store)


# ---------------------------------------------------------------- prompt-mode decoding


@pytest.mark.parametrize("text, expected", [
    ('[get_time(city="Tokyo")]', [{"get_time": {"city": "Tokyo"}}]),
    ('  \n[a.b(x=1), c(y=[1, 2])]\n', [{"a.b": {"x": 1}}, {"c": {"y": [1, 2]}}]),
    ('```python\n[get_time(city="Tokyo")]\n```', [{"get_time": {"city": "Tokyo"}}]),
    ('```\n[f(x=true)]\n```', [{"f": {"x": True}}]),
    ("", []),
    ("   \n", []),
    ("[]", []),
    ("```\n[]\n```", []),
    ("```json\n```", []),
])
def test_prompt_decoding_accepts_lists_fences_and_empty(text, expected):
    assert decode_prompt_output(text) == expected


@pytest.mark.parametrize("text", [
    'Sure! [get_time(city="Tokyo")]',
    '[get_time(city="Tokyo")] Hope this helps.',
    'Here you go:\n```python\n[get_time(city="Tokyo")]\n```',
    '```python\n[get_time(city="Tokyo")]',
    "I cannot help with that.",
    "[get_time('Tokyo')]",
])
def test_prompt_decoding_rejects_prose_and_positional(text):
    with pytest.raises(CallSyntaxError):
        decode_prompt_output(text)


_names = st.from_regex(r"[a-z][a-z0-9_]{0,6}(\.[a-z][a-z0-9_]{0,6})?", fullmatch=True)
_values = st.one_of(st.integers(-1000, 1000), st.text(max_size=8), st.booleans(),
                    st.lists(st.integers(0, 9), max_size=3))
_calls = st.lists(st.builds(Call, _names, st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _values,
                                                           max_size=3)), max_size=3)


@given(_calls, st.sampled_from(["{}", "```\n{}\n```", "```python\n{}\n```", "\n  {}  \n"]))
def test_rendered_calls_decode_back_whatever_the_wrapping(calls, wrapping):
    decoded = decode_prompt_output(wrapping.format(render_calls(calls)))
    assert decoded == [{call.name: call.arguments} for call in calls]


@given(_calls.filter(bool), st.sampled_from(["Answer: {}", "{}\nDone.", "Calling {} now"]))
def test_prose_around_any_call_list_is_a_decode_failure(calls, wrapping):
    with pytest.raises(CallSyntaxError):
        decode_prompt_output(wrapping.format(render_calls(calls)))


# ---------------------------------------------------------------- prompts and grammar


def test_messages_put_functions_in_system_prompt_and_merge_question_system():
    entry = {"id": "simple_9", "function": [{"name": "f", "parameters": {"type": "dict", "properties": {}}}],
             "question": [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]]}
    messages = build_messages(entry)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith(system_prompt(entry["function"]))
    assert messages[0]["content"].endswith("Be brief.") and '"name": "f"' in messages[0]["content"]
    assert "[func_name1(" in messages[0]["content"]
    assert '"calls"' in build_messages(entry, "constrained")[0]["content"]


def test_gorilla_types_become_bounded_closed_json_schema():
    schema = to_json_schema({"type": "dict", "required": ["a", "ghost"], "properties": {
        "a": {"type": "float"}, "b": {"type": "tuple", "items": {"type": "string"}},
        "c": {"type": "dict", "properties": {"d": {"type": "integer"}}}, "e": {"type": "any"},
        "f": {"type": "string", "enum": ["x", "y"]}, "g": {"type": "dict"}, "h": {"type": "boolean"},
    }})
    props = schema["properties"]
    assert schema["required"] == ["a"] and schema["additionalProperties"] is False
    assert props["a"] == {"type": "number"}
    assert props["b"] == {"type": "array", "maxItems": MAX_ITEMS, "items": {"type": "string", "maxLength": MAX_STRING}}
    assert props["c"]["additionalProperties"] is False and props["c"]["properties"]["d"] == {"type": "integer"}
    assert props["e"] == {} and props["f"] == {"type": "string", "enum": ["x", "y"]}
    assert props["g"]["maxProperties"] == MAX_ITEMS and props["h"] == {"type": "boolean"}


def test_calls_schema_allows_no_call_and_rejects_unknown_names_and_keys():
    functions = _items()["multiple_0"].entry["function"]
    schema = calls_schema(functions)
    check_schema_supported(schema)
    assert schema_errors(schema, {"calls": []}) == []
    assert schema_errors(schema, {"calls": [{"name": "get_time", "arguments": {"city": "Oslo"}}]}) == []
    assert schema_errors(schema, {"calls": [{"name": "other", "arguments": {}}]})
    assert schema_errors(schema, {"calls": [{"name": "get_time", "arguments": {"city": "Oslo", "x": 1}}]})
    assert schema_errors(schema, {"calls": [{"name": "get_time", "arguments": {"city": "x" * (MAX_STRING + 1)}}]})
    assert calls_schema([])["properties"]["calls"]["maxItems"] == 0


def test_unconstrainable_function_raises_schema_error_naming_it():
    with pytest.raises(SchemaError, match="'odd'"):
        calls_schema([{"name": "odd", "parameters": {"type": "dict", "properties": {"x": {"type": "complex"}}}}])


# ---------------------------------------------------------------- inputs


def test_load_eval_set_handles_missing_and_empty_irrelevance_answers():
    items = _items()
    assert items["irrelevance_0"].ground_truth == [] and items["irrelevance_1"].ground_truth == []
    assert items["simple_0"].category == "simple" and len(items["parallel_0"].ground_truth) == 2


def test_category_filter_and_limit():
    assert list(_items(category="irrelevance")) == ["irrelevance_0", "irrelevance_1"]
    assert list(_items(limit=2)) == ["simple_0", "parallel_0"]
    with pytest.raises(EvalInputError, match="no entries of category 'parallel_multiple'"):
        _items(category="parallel_multiple")


@pytest.mark.parametrize("kwargs, needle", [
    ({"limit": 0}, "--limit must be at least 1"),
    ({"category": "nonsense"}, "unsupported BFCL category 'nonsense'"),
])
def test_bad_options_are_user_errors(kwargs, needle):
    with pytest.raises(UserError, match=needle):
        _items(**kwargs)


def test_missing_ground_truth_for_a_scored_entry_is_an_error(tmp_path):
    answers = tmp_path / "a.jsonl"
    answers.write_text("\n".join(line for line in ANSWERS.read_text().splitlines() if "simple_0" not in line))
    with pytest.raises(EvalInputError, match="no ground truth for entry 'simple_0'"):
        load_eval_set(DATA, answers)


def test_answers_found_next_to_data_in_both_layouts(tmp_path):
    assert find_answers(DATA) == ANSWERS
    bfcl = tmp_path / "BFCL_v3_mini.json"
    shutil.copy(DATA, bfcl)
    with pytest.raises(EvalInputError, match="pass --answers"):
        find_answers(bfcl)
    (tmp_path / "possible_answer").mkdir()
    shutil.copy(ANSWERS, tmp_path / "possible_answer" / bfcl.name)
    assert len(load_eval_set(bfcl)) == 6


def test_missing_and_malformed_data_files(tmp_path):
    with pytest.raises(EvalInputError, match="data file not found"):
        load_eval_set(tmp_path / "nope.jsonl", ANSWERS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "simple_0", "question": []}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:1: 'question' must be"):
        load_eval_set(bad, ANSWERS)


def test_unnamed_ids_need_a_category(tmp_path):
    data, answers = tmp_path / "d.jsonl", tmp_path / "a.jsonl"
    entry = json.loads(DATA.read_text().splitlines()[2])
    data.write_text(json.dumps({**entry, "id": "weird"}) + "\n")
    answers.write_text(json.dumps({"id": "weird", "ground_truth": [{"get_time": {"city": ["Tokyo"]}}]}) + "\n")
    with pytest.raises(EvalInputError, match="pass --category"):
        load_eval_set(data, answers)
    assert load_eval_set(data, answers, category="multiple")[0].category == "multiple"


# ---------------------------------------------------------------- scoring


PROMPT_SCRIPT = {
    "simple_0": "[math.hypot(x=3, y=4)]",  # ints for floats, optional unit omitted
    "parallel_0": "[get_weather(location='Paris'), get_weather(location='Boston, MA')]",  # other order
    "multiple_0": '```python\n[get_time(city="tokyo")]\n```',
    "irrelevance_0": "Sorry, none of these functions can answer that.",
    "irrelevance_1": '[get_time(city="Oslo")]',
    "simple_1": '[maps.route(stops=["Oslo", "Bergen"], options={"avoid": "tolls"})]',
}


def test_prompt_mode_scoring_follows_bfcl_rules(store):
    items = _items()
    backend = _cached(store, *PROMPT_SCRIPT.values())
    report = run_eval(backend, store, list(items.values()), mode="prompt", model="fake")
    by_id = {r.id: r for r in report.results}
    assert [by_id[i].valid for i in PROMPT_SCRIPT] == [True, True, True, True, False, False]
    assert by_id["irrelevance_0"].decoded is None
    assert by_id["irrelevance_1"].error_type == "unexpected_call"
    assert by_id["simple_1"].error_type == "value_error"  # options not in the answer's "" only
    assert by_id["simple_0"].decoded == [{"math.hypot": {"x": 3, "y": 4}}]
    assert report.summary()["simple"] == {"total": 2, "correct": 1, "accuracy": 0.5}
    assert report.error_types() == {"unexpected_call": 1, "value_error": 1}
    assert report.model_calls == 6 and report.cache_hits == 0


def test_prompt_mode_wrong_name_and_prose_fail(store):
    item = _items()["simple_0"]
    prose = evaluate_item(_cached(store, "The answer is [math.hypot(x=3, y=4)]"), item)
    assert (prose.valid, prose.error_type, prose.decoded) == (False, "decode_failure", None)
    assert prose.raw_output.startswith("The answer")
    dotless = evaluate_item(_cached(store, "[math_hypot(x=3.0, y=4.0)]"), item)
    # A prompt-mode model sees BFCL's dotted names, and BFCL compares them as they are.
    assert (dotless.valid, dotless.error_type) == (False, "wrong_name")
    empty = evaluate_item(_cached(store, ""), item)
    assert (empty.decoded, empty.error_type) == ([], "wrong_count")


def test_truncated_generation_counts_as_decode_failure(store):
    items = _items()
    failing = _cached(store, TruncatedOutput("output hit max_tokens"), TruncatedOutput("output hit max_tokens"))
    scored = evaluate_item(failing, items["simple_0"])
    assert (scored.valid, scored.error_type, scored.raw_output) == (False, "decode_failure", None)
    assert "truncated" in scored.message
    assert evaluate_item(failing, items["irrelevance_0"]).valid  # no call decoded is right here


def test_constrained_mode_always_decodes(store):
    items = list(_items().values())
    report = run_eval(CachedBackend(FakeBackend(), store), store, items, mode="constrained")
    assert all(r.decoded is not None and r.fallback is None for r in report.results)
    assert all(json.loads(r.raw_output)["calls"] == [] or r.decoded for r in report.results)
    assert "decode_failure" not in report.error_types()


def test_constrained_mode_scripted_answers_are_scored(store):
    items = _items()
    backend = _cached(store, {"calls": [{"name": "math.hypot", "arguments": {"x": 3, "y": 4.0}}]}, {"calls": []})
    assert evaluate_item(backend, items["simple_0"], mode="constrained").valid
    assert evaluate_item(backend, items["irrelevance_0"], mode="constrained").valid
    call = backend.backend.calls[0]
    assert call.output.kind == "json" and call.sampling.temperature == 0 and call.sampling.max_tokens == 400


def test_unconstrainable_entry_falls_back_to_prompt_mode(store):
    item = _items()["multiple_0"]
    odd = {"name": "odd", "parameters": {"type": "dict", "properties": {"x": {"type": "complex"}}}}
    item = type(item)({**item.entry, "function": [*item.entry["function"], odd]}, item.category, item.ground_truth)
    backend = _cached(store, '[get_time(city="Tokyo")]')
    report = run_eval(backend, store, [item], mode="constrained")
    (result,) = report.results
    assert result.valid and "'odd'" in result.fallback and report.fallbacks() == 1
    assert backend.backend.calls[0].output is None
    row = store.conn.execute("SELECT mode, fallback FROM eval_results").fetchone()
    assert row[0] == "constrained" and "'odd'" in row[1]


def test_second_run_makes_zero_model_calls_and_replaces_rows(store):
    items = list(_items().values())
    for mode in ("prompt", "constrained"):
        first = run_eval(CachedBackend(FakeBackend(), store), store, items, mode=mode)
        again = CachedBackend(FakeBackend(improvise=False), store)  # would fail on any real call
        second = run_eval(again, store, items, mode=mode)
        assert first.model_calls == len(items) and second.model_calls == 0 and again.misses == 0
        assert second.cache_hits == len(items) and second.as_json() != first.as_json()
        assert [r.as_json() for r in second.results] == [r.as_json() for r in first.results]
    assert store.count("eval_results") == 2 * len(items)
    modes = {r[0] for r in store.conn.execute("SELECT DISTINCT mode FROM eval_results")}
    assert modes == {"prompt", "constrained"}


# ---------------------------------------------------------------- CLI


def _eval(tmp_path, *extra):
    args = ["--db", str(tmp_path / "e.db"), "--model", "fake", "--data", str(DATA), *extra]
    return CliRunner().invoke(eval_cmd, args)


def test_cli_json_shape_and_cached_rerun(tmp_path):
    first = _eval(tmp_path, "--json", "--mode", "constrained")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert set(report) >= {"model", "mode", "summary", "error_types", "entries"}
    assert (report["model"], report["mode"]) == ("fake", "constrained")
    assert set(report["summary"]) == {"simple", "parallel", "multiple", "irrelevance"}
    assert all(set(s) == {"total", "correct", "accuracy"} for s in report["summary"].values())
    assert sum(s["total"] for s in report["summary"].values()) == len(report["entries"]) == 6
    entry_keys = {"id", "category", "raw_output", "decoded", "valid", "error_type", "message"}
    assert all(entry_keys <= set(e) for e in report["entries"])
    assert report["calls"]["model_calls"] == 6
    second = json.loads(_eval(tmp_path, "--json", "--mode", "constrained").stdout)
    assert second["calls"] == {"model_calls": 0, "cache_hits": 6}
    assert second["entries"] == report["entries"]


def test_cli_tables(tmp_path):
    res = _eval(tmp_path, "--answers", str(ANSWERS), "--limit", "3")
    assert res.exit_code == 0, res.output
    assert "BFCL AST accuracy" in res.stdout and "overall" in res.stdout and "decode_failure" in res.stdout
    assert "3 model calls" in res.stderr


@pytest.mark.parametrize("extra, needle", [
    (["--limit", "0"], "--limit must be at least 1"),
    (["--category", "bogus"], "unsupported BFCL category"),
    (["--answers", "/nonexistent/a.jsonl"], "answers file not found"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, extra, needle):
    res = _eval(tmp_path, *extra)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.output


def test_cli_missing_answers_is_one_line(tmp_path):
    data = tmp_path / "d.jsonl"
    shutil.copy(DATA, data)
    res = _eval(tmp_path, "--data", str(data))
    assert res.exit_code == 2 and "no answers found" in res.stderr and len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the real embedded model


@pytest.mark.model
def test_embedded_model_both_modes_on_three_entries(embedded_model, store):
    items = [item for item in load_eval_set(DATA, ANSWERS) if item.id in {"simple_0", "multiple_0", "irrelevance_0"}]
    backend = CachedBackend(embedded_model, store)
    for mode in ("prompt", "constrained"):
        report = run_eval(backend, store, items, mode=mode, model="smollm2", max_tokens=64)
        assert len(report.results) == 3 and report.model_calls == 3
        for result in report.results:
            assert result.raw_output is not None or "truncated" in result.message
            if mode == "constrained" and result.raw_output is not None:
                assert result.decoded is not None and result.fallback is None
        again = run_eval(backend, store, items, mode=mode, max_tokens=64)
        assert again.model_calls == 0
        assert [r.valid for r in again.results] == [r.valid for r in report.results]


# ---------------------------------------------------------------- BFCL v4 files and the bfcl-eval package

_needs_bfcl = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("bfcl_eval") is None,
    reason="bfcl-eval is not installed (pip install --no-deps bfcl-eval)",
)


def _write_lines(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _v4_entry(entry_id, function, text="Do it."):
    return {"id": entry_id, "question": [[{"role": "user", "content": text}]], "function": [function]}


_JAVA_FN = {"name": "Geo.scale", "description": "Scale shapes.", "parameters": {"type": "dict", "properties": {
    "factors": {"type": "Array", "items": {"type": "integer"}, "description": "Factors."},
    "exact": {"type": "boolean", "description": "Exact?"}}, "required": ["factors"]}}


def test_v4_ids_load_with_their_category_and_irrelevance_needs_no_answers_file(tmp_path):
    data = _write_lines(tmp_path / "BFCL_v4_simple_java.json", [_v4_entry("simple_java_0", _JAVA_FN)])
    answers = _write_lines(tmp_path / "answers.json", [
        {"id": "simple_java_0", "ground_truth": [{"Geo.scale": {"factors": [[2, 3]], "exact": [True, ""]}}]}])
    (item,) = load_eval_set(data, answers)
    assert (item.category, item.ground_truth[0]["Geo.scale"]["factors"]) == ("simple_java", [[2, 3]])
    irrelevant = _write_lines(tmp_path / "BFCL_v4_live_irrelevance.json",
                              [_v4_entry("live_irrelevance_0-0-0", _JAVA_FN)])
    # BFCL ships no possible-answer file for (ir)relevance: none is looked for.
    assert [i.ground_truth for i in load_eval_set(irrelevant)] == [[]]


def test_java_entries_are_offered_as_strings_and_checked_after_conversion(tmp_path, store):
    data = _write_lines(tmp_path / "d.json", [_v4_entry("simple_java_0", _JAVA_FN)])
    answers = _write_lines(tmp_path / "a.json", [
        {"id": "simple_java_0", "ground_truth": [{"Geo.scale": {"factors": [[2, 3]], "exact": [True, ""]}}]}])
    (item,) = load_eval_set(data, answers)
    system = build_messages(item.entry, "prompt", item.category)[0]["content"]
    shown = json.loads(system.split("in JSON:\n", 1)[1])
    assert {p["type"] for p in shown[0]["parameters"]["properties"].values()} == {"string"}
    assert "Java 8" in shown[0]["description"] and "integer" in shown[0]["parameters"]["properties"]["factors"][
        "description"]
    schema = calls_schema(shown)
    assert schema_errors(schema, {"calls": [{"name": "Geo.scale", "arguments": {"factors": "new int[]{2, 3}"}}]}) == []
    ok = evaluate_item(_cached(store, '[Geo.scale(factors="new int[]{2, 3}", exact=true)]'), item)
    assert ok.valid, ok.message
    assert ok.decoded == [{"Geo.scale": {"factors": "new int[]{2, 3}", "exact": "true"}}]
    wrong = evaluate_item(_cached(store, '[Geo.scale(factors="new int[]{2, 4}")]'), item)
    assert (wrong.valid, wrong.error_type) == (False, "value_error")
    constrained = evaluate_item(_cached(store, json.dumps(
        {"calls": [{"name": "Geo.scale", "arguments": {"factors": "new int[]{2, 3}"}}]})), item, mode="constrained")
    assert constrained.valid and constrained.fallback is None, constrained.message


def test_bfcl_option_errors_are_one_line(tmp_path, monkeypatch):
    import importlib.util

    runner = CliRunner()
    base = ["--db", str(tmp_path / "e.db"), "--model", "fake"]
    for extra, needle in (
        ([], "pass --data FILE"),
        (["--bfcl", "simple"], "unknown BFCL category 'simple'"),
        (["--bfcl", "simple_python", "--data", str(DATA)], "leave out --data"),
    ):
        res = runner.invoke(eval_cmd, base + extra)
        assert res.exit_code == 2 and needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.output
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bfcl_eval" else real(name, *a))
    res = runner.invoke(eval_cmd, base + ["--bfcl", "simple_python"])
    assert res.exit_code == 2 and "pip install --no-deps bfcl-eval" in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1


@_needs_bfcl
def test_bfcl_option_scores_every_v4_category_from_the_package(tmp_path):
    from localace.bfcl_package import CATEGORIES

    for mode in ("prompt", "constrained"):
        res = CliRunner().invoke(eval_cmd, ["--db", str(tmp_path / "e.db"), "--model", "fake", "--bfcl", "all",
                                            "--limit", "2", "--mode", mode, "--json"])
        assert res.exit_code == 0, res.output
        report = json.loads(res.stdout)
        assert list(report["summary"]) == list(CATEGORIES)
        assert all(s["total"] == 2 for s in report["summary"].values())
        assert report["fallbacks"] == 0
        ids = [e["id"] for e in report["entries"]]
        assert "simple_python_0" in ids and "live_simple_0-0-0" in ids


@_needs_bfcl
def test_data_and_answers_paths_of_the_package_files_work_with_or_without_category(tmp_path):
    from localace.bfcl_package import category_files

    questions, answers = category_files("simple_python")
    for extra in ([], ["--category", "simple_python"]):
        res = CliRunner().invoke(eval_cmd, ["--db", str(tmp_path / "e.db"), "--model", "fake", "--data",
                                            str(questions), "--answers", str(answers), "--limit", "3", *extra])
        assert res.exit_code == 0, res.output
        assert "simple_python" in res.stdout
    # Without --answers, BFCL's possible_answer/ folder next to the data is found.
    assert len(load_eval_set(questions, limit=2)) == 2


@pytest.mark.model
@_needs_bfcl
def test_embedded_model_on_real_v4_entries(embedded_model, store):
    from localace.evaluate.runner import load_bfcl_sets

    items = load_bfcl_sets(["simple_python", "simple_java", "irrelevance"], limit=1)
    backend = CachedBackend(embedded_model, store)
    for mode in ("prompt", "constrained"):
        report = run_eval(backend, store, items, mode=mode, model="smollm2", max_tokens=96)
        assert [r.id for r in report.results] == ["simple_python_0", "simple_java_0", "irrelevance_0"]
        assert report.model_calls == 3
        for result in report.results:
            # Every verdict is BFCL's rule applied to what was decoded; constrained output always decodes.
            assert result.error_type in (None, *ERROR_TYPES)
            if mode == "constrained" and result.raw_output is not None:
                assert result.decoded is not None and result.fallback is None


@_needs_bfcl
def test_constrained_bounds_admit_every_shipped_answer():
    """The schema's string, list and call bounds never rule out a correct BFCL v4 answer."""
    from localace.evaluate.grammar import MAX_CALLS
    from localace.evaluate.runner import load_bfcl_sets

    def sizes(value):
        if isinstance(value, str):
            yield "string", len(value)
        elif isinstance(value, list):
            yield "list", len(value)
            for item in value:
                yield from sizes(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from sizes(item)

    longest = {"string": 0, "list": 0, "calls": 0}
    for item in load_bfcl_sets(["simple_python", "multiple", "parallel", "parallel_multiple", "live_simple",
                                "live_multiple", "live_parallel", "live_parallel_multiple"]):
        longest["calls"] = max(longest["calls"], len(item.ground_truth))
        for call in item.ground_truth:
            for options in next(iter(call.values())).values():
                first = next((o for o in options if o != ""), None)
                for kind, size in sizes(first):
                    # Answer-form dicts list options: the list of a dict's key is not a list value.
                    longest[kind] = max(longest[kind], size)
    assert longest["string"] <= MAX_STRING and longest["calls"] <= MAX_CALLS
    assert longest["list"] <= MAX_ITEMS
