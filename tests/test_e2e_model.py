"""End-to-end on the real embedded model (SmolLM2-135M): constraints, KV reuse, CLI caching."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localace.backends.base import Output, Sampling
from localace.backends.validation import schema_errors

pytestmark = pytest.mark.model

NESTED = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["book_flight", "cancel_flight"]},
        "arguments": {
            "type": "object",
            "properties": {
                "origin": {"type": "string", "maxLength": 24},
                "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
                "max_price": {"type": "number", "minimum": 0, "maximum": 5000},
                "refundable": {"type": "boolean"},
                "legs": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
                    "type": "object",
                    "properties": {"date": {"type": "string", "pattern": "^2026-[01][0-9]-[0-3][0-9]$"},
                                   "cabin": {"type": "string", "enum": ["economy", "business"]}},
                    "required": ["date", "cabin"], "additionalProperties": False}},
            },
            "required": ["origin", "passengers", "max_price", "refundable", "legs"],
            "additionalProperties": False,
        },
    },
    "required": ["name", "arguments"],
    "additionalProperties": False,
}


def test_nested_schema_output_is_valid(embedded_model):
    for seed in range(3):
        c = embedded_model.generate(
            [{"role": "user", "content": "Book 2 seats from Oslo to Rome on 2026-05-04, economy, under 400."}],
            output=Output.json(NESTED), sampling=Sampling(temperature=0.8, seed=seed, max_tokens=400),
        )
        assert schema_errors(NESTED, c.value) == []
        assert c.finish_reason == "stop"


def test_choice_and_regex(embedded_model):
    c = embedded_model.generate([{"role": "user", "content": "Is water wet? yes or no"}],
                                output=Output.choice(["yes", "no"]))
    assert c.text in {"yes", "no"}
    c = embedded_model.generate([{"role": "user", "content": "Give a year"}], output=Output.regex("[12][0-9]{3}"))
    assert len(c.text) == 4 and c.text.isdigit()


def test_kv_cache_reused_across_calls_sharing_a_long_prefix(embedded_model):
    tools = [{"name": f"tool_{i}", "description": f"Looks up record number {i} in the archive of item kind {i % 7}.",
              "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}}} for i in range(24)]
    system = "You are a helpful assistant with these tools:\n" + json.dumps(tools)
    shared = len(embedded_model.tokenize(embedded_model.render_prompt([{"role": "system", "content": system}])))
    assert shared >= 900
    schema = {"type": "object", "properties": {"tool": {"type": "string", "maxLength": 12}}, "required": ["tool"]}
    embedded_model.generate([{"role": "system", "content": system}, {"role": "user", "content": "Find record 3."}],
                            output=Output.json(schema), sampling=Sampling(max_tokens=40))
    second = embedded_model.generate(
        [{"role": "system", "content": system}, {"role": "user", "content": "Find record 11 please."}],
        output=Output.json(schema), sampling=Sampling(max_tokens=40))
    assert second.cached_tokens >= 0.9 * shared
    assert second.prompt_tokens > second.cached_tokens


def test_cli_generate_twice_hits_cache(tmp_path):
    db = tmp_path / "e2e.db"
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps(NESTED))
    cmd = [sys.executable, "-m", "localace", "generate", "--db", str(db), "--schema", str(schema),
           "Book one seat from Lima on 2026-02-11 in business, max 900."]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert schema_errors(NESTED, json.loads(first.stdout)) == []
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.stdout == first.stdout and "cache hit" in second.stderr
    stats = json.loads(subprocess.run([sys.executable, "-m", "localace", "stats", "--db", str(db), "--json"],
                                      capture_output=True, text=True, timeout=60).stdout)
    assert stats["last_session"]["model_calls"] == 0 and stats["last_session"]["cache_hits"] == 1
    assert stats["calls"]["model_calls"] == 1


def test_saved_kv_states_survive_switching_between_agents(embedded_model):
    """Two agents with different long system prompts take turns; each call of an agent after the first
    restores that agent's saved prefix instead of evaluating it again, and outputs do not change."""
    from localace.backends.llamacpp import _KV

    def system(kind: str) -> str:
        tools = [{"name": f"{kind}_{i}", "description": f"The {kind} service number {i}, for items of group {i % 5}.",
                  "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}}} for i in range(14)]
        return f"You are the {kind} agent. Tools:\n" + json.dumps(tools)

    schema = {"type": "object", "properties": {"tool": {"type": "string", "maxLength": 12}}, "required": ["tool"]}

    def ask(kind: str, question: str):
        return embedded_model.generate([{"role": "system", "content": system(kind)},
                                        {"role": "user", "content": question}],
                                       output=Output.json(schema), sampling=Sampling(max_tokens=30))

    ask("user", "Warm up.")
    snapshots = _KV[id(embedded_model.llama)]
    restored = snapshots.restored
    first_a = ask("assistant", "Which tool finds item 4?")
    ask("user", "Which tool finds item 9?")
    again_a = ask("assistant", "Which tool finds item 7?")
    prefix = len(embedded_model.tokenize(embedded_model.render_prompt([{"role": "system",
                                                                        "content": system("assistant")}])))
    assert prefix >= 500
    assert first_a.cached_tokens < 0.2 * prefix  # the user agent's prompt was live
    assert again_a.cached_tokens >= 0.9 * prefix  # the assistant's prefix came back from its saved state
    assert snapshots.restored > restored
    # A restored state gives the same tokens as the first call, which evaluated the prompt from scratch.
    ask("user", "Which tool finds item 2?")
    repeat = ask("assistant", "Which tool finds item 4?")
    assert repeat.cached_tokens >= 0.9 * prefix and repeat.text == first_a.text


def test_batched_scoring_matches_one_token_at_a_time(embedded_model):
    """score() evaluates the target in batches; the reference below feeds it one token per decode step."""
    import numpy as np

    messages = [{"role": "system", "content": "You answer briefly."},
                {"role": "user", "content": "What is the capital of Portugal?"}]
    target = "The capital of Portugal is Lisbon, a city on the Tagus river with many hills and old trams."
    total, n = embedded_model.score(messages, target)
    llama = embedded_model.llama
    prefix = embedded_model.tokenize(embedded_model.render_prompt(messages))
    tokens = embedded_model.tokenize(target)
    llama.reset()
    llama.eval(prefix)
    reference = 0.0
    for i, tok in enumerate(tokens):
        logits = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),)).astype(np.float64)
        reference += float(logits[tok] - logits.max() - np.log(np.exp(logits - logits.max()).sum()))
        if i + 1 < len(tokens):
            llama.eval([tok])
    assert n == len(tokens) > 15
    assert abs(total - reference) < 1e-2 * max(1.0, abs(reference))


def test_sampled_output_does_not_depend_on_what_the_kv_cache_holds(embedded_model):
    """A resumed run must write what an uninterrupted one would: the same request (temperature > 0, fixed seed)
    gives the same text whether its prompt is evaluated from scratch, found whole in the cache, partly cached,
    or restored from a saved state."""
    from localace.backends import llamacpp

    case = json.loads((Path(__file__).parent / "fixtures" / "kv_divergence_request.json").read_text())
    messages, sampling = case["messages"], Sampling(**case["sampling"])
    output = Output.regex(case["pattern"])
    llama = embedded_model.llama
    llama.reset()
    llamacpp._KV.pop(id(llama), None)
    texts = {"scratch": embedded_model.generate(messages, output=output, sampling=sampling).text}
    texts["whole prompt cached"] = embedded_model.generate(messages, output=output, sampling=sampling).text
    embedded_model.generate([messages[0], {"role": "user", "content": "Say hello."}],
                            output=Output.choice(["hello", "hi"]))
    texts["shared prefix cached"] = embedded_model.generate(messages, output=output, sampling=sampling).text
    embedded_model.generate([{"role": "system", "content": "Another agent entirely. " * 60},
                             {"role": "user", "content": "Say hello."}], output=Output.choice(["hello", "hi"]))
    texts["restored state"] = embedded_model.generate(messages, output=output, sampling=sampling).text
    assert len(set(texts.values())) == 1, texts


_LATE_REFERENCES = """
import sys
from localace.backends.llamacpp import LlamaCppBackend
from localace.model_catalogue import resolve_model
from localace.train.examples import ChatTokenizer

backend = LlamaCppBackend(resolve_model(None), n_ctx=512, parallel=2)
backend.open_batch().close()  # the batch context, on the loaded model
print(backend.tokenize("ready")[:1])
# Held from sys, as sys.last_traceback holds the locals of its frames: these references go only after
# interpreter teardown has cleared the modules a llama_cpp object's __del__ needs.
sys._late = [backend, backend.llama, ChatTokenizer(resolve_model(None))]
"""


@pytest.mark.parametrize("late", [False, True], ids=["plain_exit", "references_outlive_the_modules"])
def test_exit_after_loading_a_model_and_a_batch_context_prints_nothing(late):
    script = _LATE_REFERENCES if late else _LATE_REFERENCES.replace("sys._late =", "_dropped =")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "LOCALACE_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr == "", res.stderr[-2000:]
