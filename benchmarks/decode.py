"""How close our llama.cpp backend runs to raw llama.cpp, with and without constraints, and vs naive Outlines.

    python benchmarks/decode.py [--model PATH.gguf] [--tokens 128] [--repeats 3] [--turns 6] [--json]

All sides share one llama_cpp.Llama instance (same file, context and thread count) and are measured
interleaved in one run, so machine noise hits them alike; only the ratios are meant to be compared.
"""

from __future__ import annotations

import json
import random
import warnings
from typing import Any

from _common import Output, base_parser, goal_mark, median, model_ref, ratio, run_main, stopwatch, threads

GOALS = {"ours_vs_raw_decode": 0.9, "constrained_vs_unconstrained": 0.95, "speedup_vs_naive_outlines": 3.0}
TALK = [{"role": "user", "content": (
    "Write a long, detailed story about a lighthouse keeper who finds an old map hidden in the wall. "
    "Describe every room of the lighthouse, the weather, the sea and what the keeper thinks and feels.")}]
SAMPLING = {"temperature": 0.0, "top_p": 0.95, "top_k": 40, "repeat_penalty": 1.0, "seed": 0}

_VERBS = ["search", "book", "cancel", "list", "get", "update", "track", "compare", "convert", "find", "rate", "check"]
_THINGS = ["hotels", "flights", "weather", "orders", "invoices", "stocks", "recipes", "tickets", "routes",
           "accounts", "reviews", "parcels", "rentals", "events", "songs", "jobs"]
_CITIES = ["Oslo", "Lisbon", "Nairobi", "Lima", "Osaka", "Denver", "Krakow", "Hanoi"]


def tool_list(count: int) -> list[dict[str, Any]]:
    """Deterministic, ToolACE-looking tool definitions (names are unique)."""
    rng = random.Random(7)
    tools = []
    for i in range(count):
        verb, thing = _VERBS[i % len(_VERBS)], _THINGS[(i * 5 + i // len(_VERBS)) % len(_THINGS)]
        tools.append({
            "name": f"{verb}_{thing}",
            "description": f"{verb.capitalize()} {thing} by city and date range; returns at most 20 matching "
                           f"{thing} with their identifiers, prices and availability.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name, e.g. " + rng.choice(_CITIES) + "."},
                "nights": {"type": "integer", "description": "How many nights or days, 1 to 30."},
                "max_price": {"type": "number", "description": "Upper price limit in euros."},
                "flexible": {"type": "boolean", "description": "Whether nearby dates are acceptable."},
                "note": {"type": "string", "description": "Free text for the provider."},
            }, "required": ["city", "nights"]},
        })
    return tools


def tool_call_schema(names: list[str]) -> dict[str, Any]:
    """A bounded tool-call schema: name enum, a few typed fields and one free string with maxLength."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names},
            "arguments": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "maxLength": 24},
                    "nights": {"type": "integer", "minimum": 1, "maximum": 30},
                    "max_price": {"type": "number", "minimum": 0, "maximum": 5000},
                    "flexible": {"type": "boolean"},
                    "note": {"type": "string", "maxLength": 64},
                },
                "required": ["city", "nights", "max_price", "flexible", "note"],
                "additionalProperties": False,
            },
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def system_prompt(backend: Any, min_tokens: int) -> tuple[str, list[str], int]:
    """A system prompt whose tool list is at least min_tokens long; returns (prompt, tool names, tokens)."""
    count = 2
    while True:
        tools = tool_list(count)
        text = ("You are a helpful assistant. Call exactly one of these tools, answering with JSON "
                "{\"name\": ..., \"arguments\": {...}}:\n" + json.dumps(tools, indent=1))
        n = len(backend.tokenize(backend.render_prompt([{"role": "system", "content": text}])))
        if n >= min_tokens or count >= 200:
            return text, [t["name"] for t in tools], n
        count += 1


def dialog_turns(names: list[str], turns: int) -> list[tuple[str, str]]:
    """Scripted (user message, assistant reply) pairs, identical for every side being compared."""
    rng = random.Random(11)
    out = []
    for i in range(turns):
        name, city, nights = rng.choice(names), rng.choice(_CITIES), rng.randint(1, 9)
        thing = name.split("_", 1)[1]
        user = f"Next, {name.split('_')[0]} {thing} in {city} for {nights} nights, under {100 * nights} euros."
        reply = json.dumps({"name": name, "arguments": {"city": city, "nights": nights, "max_price": 100.0 * nights,
                                                        "flexible": i % 2 == 0, "note": "as discussed"}})
        out.append((user, reply))
    return out


def pp_tokens(llama: Any, n: int) -> list[int]:
    words = ("The harbour master counted the boats that came in before the storm, wrote each name in the ledger "
             "and noted the cargo, the crew and the hour. ")
    text, i = "", 0
    while len(llama.tokenize(text.encode(), add_bos=True)) < n:
        text += f"{words}Entry {i}: {_THINGS[i % len(_THINGS)]} from {_CITIES[i % len(_CITIES)]}. "
        i += 1
    return llama.tokenize(text.encode(), add_bos=True)[:n]


def prompt_processing(llama: Any, tokens: list[int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        llama.reset()
        with stopwatch() as t:
            llama.eval(tokens)
        rates.append(len(tokens) / t["s"])
    return median(rates)


def timed_generate(backend: Any, messages: list[dict[str, str]], sampling: Any,
                   output: Any = None) -> tuple[int, float, Any]:
    """(completion tokens, wall seconds of the generate call, completion or None).

    Unconstrained output that hits max_tokens raises TruncatedOutput by design; for a speed
    measurement that is fine: it means exactly max_tokens tokens were generated."""
    from localace.errors import TruncatedOutput

    with stopwatch() as t:
        try:
            c = backend.generate(messages, output=output, sampling=sampling)
        except TruncatedOutput:
            c = None
    return (c.completion_tokens if c else sampling.max_tokens), t["s"], c


def decode_side_by_side(backend: Any, n_tokens: int, repeats: int) -> dict[str, Any]:
    """Raw create_completion vs our generate on the same prompt; both find the prompt in the KV cache."""
    from localace.backends.base import Sampling

    llama = backend.llama
    tokens = backend.tokenize(backend.render_prompt(TALK))

    def raw() -> tuple[int, float]:
        with stopwatch() as t:
            result = llama.create_completion(prompt=tokens, max_tokens=n_tokens, **SAMPLING)
        return result["usage"]["completion_tokens"], t["s"]

    def ours() -> tuple[int, float]:
        n, s, _ = timed_generate(backend, TALK, Sampling(max_tokens=n_tokens, **SAMPLING))
        return n, s

    raw()  # warm-up: puts the prompt in the KV cache, so both sides time decoding only
    raw_runs, our_runs = [], []
    for _ in range(repeats):
        raw_runs.append(raw())
        our_runs.append(ours())
    raw_rate = median([n / s for n, s in raw_runs])
    our_rate = median([n / s for n, s in our_runs])
    return {"prompt_tokens": len(tokens), "raw_tokens": raw_runs[-1][0], "ours_tokens": our_runs[-1][0],
            "raw_decode_tok_s": round(raw_rate, 2), "ours_decode_tok_s": round(our_rate, 2),
            "ours_vs_raw_decode": ratio(our_rate, raw_rate)}


def constrained_side_by_side(backend: Any, schema: dict[str, Any], repeats: int, max_tokens: int) -> dict[str, Any]:
    """Constrained generate vs unconstrained generate of the same number of tokens on the same prompt."""
    from localace.backends.base import Output as Constraint
    from localace.backends.base import Sampling

    output = Constraint.json(schema)
    first_tokens, first_s, c = timed_generate(backend, TALK, Sampling(max_tokens=max_tokens, **SAMPLING), output)
    matched = Sampling(max_tokens=max(1, first_tokens), **SAMPLING)
    con_runs, unc_runs = [], []
    for _ in range(repeats):
        n, s, c = timed_generate(backend, TALK, Sampling(max_tokens=max_tokens, **SAMPLING), output)
        con_runs.append((n, s))
        n, s, _ = timed_generate(backend, TALK, matched)
        unc_runs.append((n, s))
    con_rate = median([n / s for n, s in con_runs])
    unc_rate = median([n / s for n, s in unc_runs])
    return {"constraint_first_call_s": round(first_s, 3), "constrained_tokens": con_runs[-1][0],
            "unconstrained_tokens": unc_runs[-1][0], "constrained_tok_s": round(con_rate, 2),
            "unconstrained_matched_tok_s": round(unc_rate, 2),
            "constrained_vs_unconstrained": ratio(con_rate, unc_rate), "constrained_sample": c.value if c else None}


def multi_turn(backend: Any, system: str, script: list[tuple[str, str]], schema: dict[str, Any],
               max_tokens: int) -> dict[str, Any]:
    """Growing dialog on a long shared prefix: our backend (KV cache kept) vs a naive Outlines loop."""
    import outlines
    from outlines.inputs import Chat

    from localace.backends.base import Output as Constraint
    from localace.backends.base import Sampling
    from localace.backends.constraints import grammar_schema

    def prompts() -> list[list[dict[str, str]]]:
        out, history = [], [{"role": "system", "content": system}]
        for user, reply in script:
            out.append([*history, {"role": "user", "content": user}])
            history += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        return out

    llama = backend.llama
    output, sampling = Constraint.json(schema), Sampling(max_tokens=max_tokens, **SAMPLING)
    llama.reset()  # our side starts cold too: the first call evaluates the whole prefix
    ours, our_values, reused, submitted = 0.0, [], 0, 0
    for messages in prompts():
        with stopwatch() as t:
            c = backend.generate(messages, output=output, sampling=sampling)
        ours += t["s"]
        our_values.append(c.value)
        reused += c.cached_tokens
        submitted += c.prompt_tokens

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = outlines.from_llamacpp(llama)
        # Same grammar as ours (closed objects, fixed JSON layout), so the outputs are comparable.
        generator = outlines.Generator(model, outlines.types.JsonSchema(grammar_schema(schema)), backend="llguidance")
        kwargs = {"max_tokens": max_tokens, **SAMPLING}
        generator(Chat([{"role": "user", "content": "Warm up."}]), **kwargs)  # one-time tokenizer setup, untimed
        naive, naive_values = 0.0, []
        for messages in prompts():
            with stopwatch() as t:
                text = generator(Chat(messages), **kwargs)
            naive += t["s"]
            try:
                naive_values.append(json.loads(text))
            except json.JSONDecodeError:
                naive_values.append(text)
    return {"turns": len(script), "ours_s": round(ours, 3), "naive_outlines_s": round(naive, 3),
            "speedup_vs_naive_outlines": ratio(naive, ours),
            "identical_outputs": sum(a == b for a, b in zip(our_values, naive_values)),
            "kv_reused_tokens": reused, "prompt_tokens": submitted}


def main() -> None:
    ap = base_parser(__doc__)
    ap.add_argument("--model", default=None, help="catalogue name or .gguf path (default: the embedded model)")
    ap.add_argument("--ctx", type=int, default=4096, help="context size")
    ap.add_argument("--prompt-tokens", type=int, default=500, help="prompt length for prompt processing")
    ap.add_argument("--tokens", type=int, default=128, help="tokens to decode per call")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats per side (medians are shown)")
    ap.add_argument("--tool-list-tokens", type=int, default=1000, help="length of the shared tool-list prefix")
    ap.add_argument("--turns", type=int, default=6, help="dialog turns for the naive-Outlines comparison")
    ap.add_argument("--constrained-max-tokens", type=int, default=200)
    ap.add_argument("--skip-naive", action="store_true", help="skip the naive Outlines comparison")
    args = ap.parse_args()
    out = Output(args.json)

    from localace.backends.llamacpp import LlamaCppBackend

    ref = model_ref(args.model)
    backend = LlamaCppBackend(ref, n_ctx=args.ctx)
    with stopwatch() as load:
        llama = backend.llama
    out.line(f"model {ref.path.name} ({ref.path.stat().st_size / 2**20:.0f} MB), n_ctx {args.ctx}, "
             f"{threads()} threads, loaded in {load['s']:.2f}s")

    result: dict[str, Any] = {"model": ref.path.name, "threads": threads(), "n_ctx": args.ctx, "goals": GOALS}
    pp = pp_tokens(llama, args.prompt_tokens)
    result["pp_prompt_tokens"] = len(pp)
    result["pp_tok_s"] = round(prompt_processing(llama, pp, args.repeats), 2)
    result.update(decode_side_by_side(backend, args.tokens, args.repeats))

    system, names, prefix_tokens = system_prompt(backend, args.tool_list_tokens)
    schema = tool_call_schema(names)
    result.update(constrained_side_by_side(backend, schema, args.repeats, args.constrained_max_tokens))
    if not args.skip_naive:
        script = dialog_turns(names, args.turns)
        result["multi_turn"] = {"prefix_tokens": prefix_tokens, "tools": len(names),
                                **multi_turn(backend, system, script, schema, args.constrained_max_tokens)}

    out.table("raw llama.cpp", ["measure", "value"], [
        [f"prompt processing, {len(pp)}-token prompt from scratch (tok/s)", result["pp_tok_s"]],
        [f"decode, {result['raw_tokens']} tokens (tok/s)", result["raw_decode_tok_s"]],
    ])
    rows = [
        ["ours unconstrained / raw decode", result["ours_decode_tok_s"], result["raw_decode_tok_s"],
         result["ours_vs_raw_decode"], f">= {GOALS['ours_vs_raw_decode']}",
         goal_mark(result["ours_vs_raw_decode"], GOALS["ours_vs_raw_decode"])],
        [f"ours constrained / unconstrained ({result['constrained_tokens']} tok)", result["constrained_tok_s"],
         result["unconstrained_matched_tok_s"], result["constrained_vs_unconstrained"],
         f">= {GOALS['constrained_vs_unconstrained']}",
         goal_mark(result["constrained_vs_unconstrained"], GOALS["constrained_vs_unconstrained"])],
    ]
    out.table("side by side (tok/s of completion tokens, medians)", ["comparison", "a", "b", "a/b", "goal", ""], rows)
    if "multi_turn" in result:
        m = result["multi_turn"]
        out.table(f"{m['turns']} turns on a {m['prefix_tokens']}-token tool-list prefix (total seconds)",
                  ["comparison", "naive Outlines", "ours", "speedup", "goal", ""],
                  [["naive Outlines loop / ours (KV cache kept)", m["naive_outlines_s"], m["ours_s"],
                    m["speedup_vs_naive_outlines"], f">= {GOALS['speedup_vs_naive_outlines']}",
                    goal_mark(m["speedup_vs_naive_outlines"], GOALS["speedup_vs_naive_outlines"])]])
        out.line(f"identical outputs: {m['identical_outputs']}/{m['turns']}; ours reused "
                 f"{m['kv_reused_tokens']:,} of {m['prompt_tokens']:,} prompt tokens from the KV cache")
    out.line(f"constraint compile + first call: {result['constraint_first_call_s']}s")
    out.finish(result)


if __name__ == "__main__":
    run_main(main)
