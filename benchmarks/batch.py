"""Aggregate decode speed of the batched path with 1, 2, 4, 8, 16 sequences under a tool-call constraint.

    python benchmarks/batch.py [--model PATH.gguf] [--sizes 1,2,4,8,16] [--rounds 2] [--max-tokens 64]
                               [--tool-list-tokens 300] [--ctx 2048] [--pp-tokens 500] [--n-gpu-layers N] [--json]

For each size N, `generate_many` runs N x rounds constrained requests (same tool-list system prompt,
different user questions, temperature 0.7, one seed each) on an engine with N slots, so N sequences
decode together until the queue runs dry. Aggregate tok/s = completion tokens of all requests / wall
time of the call (prompt suffixes, prefix copies, sampling, constraint masks and validation included),
next to its ratio to N = 1. Same run, same requests: the single-request `generate` one at a time
(today's path) vs the batched path with 1 slot, and llama.cpp's prompt-processing rate, which bounds
what batching can reach on a CPU (a batch of N decode tokens costs at least N tokens of prompt
processing). Every engine is warmed up first (constraint compiled, system prompt in the KV cache).
"""

from __future__ import annotations

import os
from typing import Any

from _common import Output, base_parser, goal_mark, model_ref, ratio, run_main, stopwatch, threads
from decode import pp_tokens, prompt_processing, system_prompt, tool_call_schema

GOAL_AT_8 = 2.0
_ASKS = ["Find {t} in {c} for {n} nights under {p} euros.", "I need {t} in {c}, {n} nights, budget {p}.",
         "Please look up {t} around {c} for {n} nights; at most {p} euros.",
         "Can you check {t} in {c}? {n} nights, no more than {p} euros, dates flexible."]
_CITIES = ["Oslo", "Lisbon", "Nairobi", "Lima", "Osaka", "Denver", "Krakow", "Hanoi", "Quito", "Tunis", "Perth"]


def requests(system: str, names: list[str], schema: dict[str, Any], count: int, max_tokens: int,
             start: int = 0) -> list[Any]:
    from localace.backends.base import Output, Sampling
    from localace.tasks import Request

    out = []
    for i in range(start, start + count):
        thing = names[i % len(names)].split("_", 1)[1]
        ask = _ASKS[i % len(_ASKS)].format(t=thing, c=_CITIES[i % len(_CITIES)], n=1 + i % 9, p=80 + 15 * i)
        out.append(Request([{"role": "system", "content": system}, {"role": "user", "content": ask}],
                           output=Output.json(schema), sampling=Sampling(temperature=0.7, seed=i, max_tokens=max_tokens)))
    return out


def tokens_of(results: list[Any]) -> tuple[int, int]:
    """(completion tokens, failed requests); a failure's tokens count too, they were decoded."""
    total = failed = 0
    for r in results:
        if hasattr(r, "completion_tokens"):
            total += r.completion_tokens
        else:
            failed += 1
            total += int((r.usage or {}).get("completion_tokens", 0))
    return total, failed


def batched(backend: Any, batch: list[Any]) -> dict[str, Any]:
    from localace.backends.llamacpp import _ENGINES

    engine = _ENGINES[(id(backend.llama), backend.parallel)]
    steps, rows = engine.steps, engine.rows
    with stopwatch() as t:
        results = backend.generate_many(batch)
    produced, failed = tokens_of(results)
    width = (engine.rows - rows) / max(1, engine.steps - steps)
    return {"tok_s": produced / t["s"], "tokens": produced, "seconds": t["s"], "failed": failed,
            "mean_batch": round(width, 2)}


def single(backend: Any, batch: list[Any]) -> dict[str, Any]:
    from localace.errors import GenerationError

    results: list[Any] = []
    with stopwatch() as t:
        for r in batch:
            try:
                results.append(backend.generate(r.messages, output=r.output, sampling=r.sampling))
            except GenerationError as error:
                results.append(error)
    produced, failed = tokens_of(results)
    return {"tok_s": produced / t["s"], "tokens": produced, "seconds": t["s"], "failed": failed}


def main() -> None:
    ap = base_parser(__doc__)
    ap.add_argument("--model", default=None, help="catalogue name or .gguf (default: the embedded model)")
    ap.add_argument("--sizes", default="1,2,4,8,16")
    ap.add_argument("--rounds", type=int, default=2, help="requests per slot at each size")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--tool-list-tokens", type=int, default=300)
    ap.add_argument("--ctx", type=int, default=2048, help="context per sequence")
    ap.add_argument("--pp-tokens", type=int, default=500, help="prompt length of the prompt-processing measurement")
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    args = ap.parse_args()
    out = Output(args.json)
    sizes = [int(s) for s in args.sizes.split(",")]
    from localace.backends.llamacpp import LlamaCppBackend

    ref = model_ref(args.model)
    load = os.getloadavg()
    base = LlamaCppBackend(ref, n_ctx=args.ctx, n_gpu_layers=args.n_gpu_layers, parallel=1)
    system, names, prefix = system_prompt(base, args.tool_list_tokens)
    schema = tool_call_schema(names)
    llama = base.llama
    pp = prompt_processing(llama, pp_tokens(llama, args.pp_tokens), 2)
    warm = requests(system, names, schema, 1, args.max_tokens, start=10_000)
    single(base, warm)  # compile the constraint, put the prefix in the KV cache
    out.line(f"{ref.path.name}, {threads()} threads, n_gpu_layers={args.n_gpu_layers}; system prompt {prefix} tokens;"
             f" load average before: {load[0]:.2f}")

    per_size: dict[int, dict[str, Any]] = {}
    one_at_a_time: dict[str, Any] = {}
    for n in sizes:
        backend = LlamaCppBackend(ref, n_ctx=args.ctx, n_gpu_layers=args.n_gpu_layers, parallel=n)
        backend.generate_many(warm)  # this engine's context: constraint copy, prefix in a slot
        batch = requests(system, names, schema, n * args.rounds, args.max_tokens, start=100 * n)
        per_size[n] = batched(backend, batch)
        if n == 1:  # right after, on the same requests: today's one-at-a-time path
            one_at_a_time = single(base, batch)
    one = per_size.get(1)
    if not one_at_a_time:
        one_at_a_time = single(base, requests(system, names, schema, args.rounds, args.max_tokens, start=100))
    rows = [[n, r["tok_s"], ratio(r["tok_s"], one["tok_s"]) if one else None, r["mean_batch"], r["tokens"],
             round(r["seconds"], 2), r["failed"]] for n, r in per_size.items()]
    out.table("batched path, tool-call constraint (aggregate completion tok/s)",
              ["sequences", "tok/s", "vs 1", "mean batch", "tokens", "seconds", "failed"], rows)
    at8 = ratio(per_size[8]["tok_s"], one["tok_s"]) if one and 8 in per_size else None
    single_ratio = ratio(one["tok_s"], one_at_a_time["tok_s"]) if one else None
    out.table("side by side", ["comparison", "a", "b", "a/b", "goal", ""], [
        ["8 sequences / 1 sequence (batched path)", per_size.get(8, {}).get("tok_s"), one and one["tok_s"], at8,
         GOAL_AT_8, goal_mark(at8, GOAL_AT_8)],
        ["batched path, 1 slot / single-request generate", one and one["tok_s"], one_at_a_time["tok_s"],
         single_ratio, "", ""],
        ["prompt processing / single-request decode (the CPU bound)", pp, one_at_a_time["tok_s"],
         ratio(pp, one_at_a_time["tok_s"]), "", ""],
    ])
    after = os.getloadavg()
    out.line(f"load average after: {after[0]:.2f} (a busy machine makes every ratio here noise)")
    out.finish({"model": ref.path.name, "threads": threads(), "n_gpu_layers": args.n_gpu_layers,
                "prefix_tokens": prefix, "max_tokens": args.max_tokens, "rounds": args.rounds,
                "sizes": {str(n): r for n, r in per_size.items()}, "ratio_8_vs_1": at8,
                "single_generate": one_at_a_time, "batched_1_vs_single": single_ratio, "pp_tok_s": pp,
                "pp_vs_single_decode": ratio(pp, one_at_a_time["tok_s"]), "load_before": load[0],
                "load_after": after[0], "goals": {"ratio_8_vs_1": GOAL_AT_8}})


if __name__ == "__main__":
    run_main(main)
