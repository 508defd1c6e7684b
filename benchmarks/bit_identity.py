"""Are a sequence's logits bit-identical whatever else shares its llama.cpp batch?

    python benchmarks/bit_identity.py [--model PATH.gguf] [--n-gpu-layers N] [--json]

Logit level, on the batched path's own context (llama_batch.BatchEngine: one KV stream per sequence,
flash attention AUTO): a prompt (23 tokens, and 561 tokens so that prompt chunks are many rows and
the KV cache passes 512 cells), then a fixed continuation fed one token per step (teacher forcing,
so every variant computes the same positions), its logits compared bit for bit against the same
sequence decoded alone: with 1, 3 or 7 other sequences decoding in the same steps, in another slot
or last in the batch, its prompt in the same batch as other prompts, in 64-token or 1-token chunks,
or its prompt's KV cells copied from another sequence (llama_memory_seq_cp, then only the last token
evaluated). A contrast row repeats the chunking case with flash attention off (the single-request
path's setting). Request level: the same sampled, constrained requests (a long shared system prompt)
through `generate_many` with 1, 3 and 8 slots and in reverse order: how many texts differ.

Not a speed measurement: run it anywhere, busy or not. The answer holds for this build and device;
run it again on a GPU.
"""

from __future__ import annotations

from typing import Any

from _common import Output, base_parser, model_ref, run_main, threads

N_CTX = 1024
N_BATCH = 2048  # room for several long prompts in one batch


class Probe:
    """Raw access to a batched-path context: write tokens of chosen sequences, decode, read logits."""

    def __init__(self, llama: Any, *, slots: int = 8, flash_attn: int | None = None) -> None:
        import llama_cpp

        from localace.backends.llama_batch import BatchEngine

        self.llama = llama
        if flash_attn is None:
            self.engine = BatchEngine(llama, slots=slots, n_ctx=N_CTX, n_batch=N_BATCH, threads=threads())
            self.ctx, self.batch, self.memory = self.engine.ctx, self.engine.batch, self.engine.memory
            self._own = None
        else:  # the same layout with flash attention forced on or off
            from llama_cpp import _internals

            params = llama_cpp.llama_context_default_params()
            params.n_ctx, params.n_batch, params.n_ubatch, params.n_seq_max = slots * N_CTX, N_BATCH, N_BATCH, slots
            params.kv_unified, params.flash_attn_type = False, flash_attn
            params.n_threads = params.n_threads_batch = threads()
            self._own = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
            self.ctx, self.memory = self._own.ctx, llama_cpp.llama_get_memory(self._own.ctx)
            self.batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
            self.engine = None

    def close(self) -> None:
        import llama_cpp

        if self.engine is not None:
            self.engine.close()
        else:
            llama_cpp.llama_batch_free(self.batch)
            self._own.close()

    def decode(self, feeds: list[tuple[int, int, list[int], bool]]) -> list[Any]:
        """feeds: (seq, first position, tokens, want the last token's logits), written in this order."""
        import llama_cpp
        import numpy as np

        n, wanted = 0, []
        for seq, pos, tokens, logits in feeds:
            for i, token in enumerate(tokens):
                last = logits and i == len(tokens) - 1
                self.batch.token[n], self.batch.pos[n], self.batch.n_seq_id[n] = token, pos + i, 1
                self.batch.seq_id[n][0], self.batch.logits[n] = seq, last
                if last:
                    wanted.append(n)
                n += 1
        self.batch.n_tokens = n
        code = llama_cpp.llama_decode(self.ctx, self.batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
        n_vocab = self.llama.n_vocab()
        return [np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.ctx, i), shape=(n_vocab,)).copy()
                for i in wanted]


def tokens(llama: Any, text: str) -> list[int]:
    return llama.tokenize(text.encode(), add_bos=False, special=True)


def scenario(llama: Any, prompt: list[int], forced: list[int], others: list[list[int]], *, me: int = 0,
             mates: tuple[int, ...] = (), together: bool = False, chunk: int | None = None,
             copied: bool = False, flash_attn: int | None = None) -> list[Any]:
    """Logits of `prompt` + `forced` (after the prompt, then after each forced token) in sequence `me`.
    Sequences `mates` (prompts: `others`) decode alongside: their prompts are evaluated in an earlier
    step, or in the same batch as ours with `together`; they put one token into every later step."""
    import llama_cpp

    probe = Probe(llama, flash_attn=flash_attn)
    try:
        other = dict(zip(mates, others))
        pos = {s: 0 for s in other}
        if other and not together:
            probe.decode([(s, 0, other[s], False) for s in sorted(other)])
            pos = {s: len(other[s]) for s in other}
        start = 0
        if copied:  # another sequence evaluated the prompt; ours gets its cells, then evaluates the last token
            donor = max(set(range(8)) - set(mates) - {me})
            probe.decode([(donor, 0, prompt, False)])
            llama_cpp.llama_memory_seq_cp(probe.memory, donor, me, -1, -1)
            llama_cpp.llama_memory_seq_rm(probe.memory, me, len(prompt) - 1, -1)
            start = len(prompt) - 1
        size = chunk or len(prompt)
        chunks = [prompt[i: i + size] for i in range(start, len(prompt), size)]
        out: list[Any] = []
        for i, part in enumerate(chunks):
            feeds = [(me, start, part, i == len(chunks) - 1)]
            for s in sorted(other):  # the mates' prompts (together), or one decode token each
                feeds.append((s, pos[s], other[s] if pos[s] == 0 else [100], False))
                pos[s] += len(other[s]) if pos[s] == 0 else 1
            logits = probe.decode(sorted(feeds))
            start += len(part)
            if i == len(chunks) - 1:
                out.append(logits[0])
        for step, token in enumerate(forced):
            feeds = [(me, len(prompt) + step, [token], True)]
            feeds += [(s, pos[s], [100 + step], False) for s in sorted(other)]
            for s in other:
                pos[s] += 1
            out.append(probe.decode(sorted(feeds))[0])
        return out
    finally:
        probe.close()


def compare(reference: list[Any], logits: list[Any]) -> dict[str, Any]:
    import numpy as np

    return {"identical": all(np.array_equal(a, b) for a, b in zip(reference, logits)),
            "max_abs_diff": float(max(np.abs(a - b).max() for a, b in zip(reference, logits))),
            "argmax_agree": f"{sum(int(np.argmax(a) == np.argmax(b)) for a, b in zip(reference, logits))}/{len(reference)}"}


def request_level(backend_factory: Any) -> dict[str, Any]:
    """The same sampled, constrained requests through generate_many with 1, 3 and 8 slots and in
    reverse order: identical texts?"""
    from localace.backends.base import Output, Sampling
    from localace.tasks import Request

    schema = {"type": "object", "properties": {
        "name": {"type": "string", "enum": ["get_weather", "book_table", "find_route"]},
        "arguments": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                                                       "people": {"type": "integer", "minimum": 1, "maximum": 9}},
                      "required": ["city", "people"], "additionalProperties": False}},
        "required": ["name", "arguments"], "additionalProperties": False}
    rules = " ".join(f"Rule {i}: a city name is written as the traveller writes it, and a party has 1 to 9 people."
                     for i in range(1, 25))  # a long shared prefix, as tool lists are
    system = {"role": "system", "content": "Answer with one tool call as JSON. " + rules}
    asks = ["Weather in Oslo for 2 people?", "Book a table in Rome for 4.", "Route to Lima for 3 of us.",
            "Is it raining in Kyiv? We are 5."]
    requests = [Request([system, {"role": "user", "content": ask}], output=Output.json(schema),
                        sampling=Sampling(temperature=0.8, seed=seed, max_tokens=80))
                for ask in asks for seed in (1, 2)]
    texts = {}
    for slots, order in ((1, 1), (3, 1), (8, 1), (8, -1)):
        results = backend_factory(slots).generate_many(requests[::order])[::order]
        texts[f"{slots} slots{'' if order == 1 else ', reversed'}"] = [getattr(r, "text", repr(r)) for r in results]
    first = next(iter(texts.values()))
    differing = {run: sum(a != b for a, b in zip(first, t)) for run, t in texts.items()}
    return {"identical": all(t == first for t in texts.values()), "requests": len(requests),
            "runs": list(texts), "differing_from_first_run": differing}


def main() -> None:
    ap = base_parser(__doc__)
    ap.add_argument("--model", default=None, help="catalogue name or .gguf (default: the embedded model)")
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    args = ap.parse_args()
    out = Output(args.json)
    from localace.backends.llamacpp import LlamaCppBackend, load_llama

    ref = model_ref(args.model)
    llama = load_llama(str(ref.path), N_CTX, n_gpu_layers=args.n_gpu_layers)
    story = "<|im_start|>user\nWrite a long story about a cat named Tom who lives in Oslo.<|im_end|>\n<|im_start|>assistant\n"
    forced = tokens(llama, " Once upon a time, in the city of Oslo, there lived a cat named Tom. He was very curious")
    sea = "The sea is wide and deep and full of fish, and the boats go out every morning. "
    short_others = [tokens(llama, f"<|im_start|>user\nName {i} animals of the sea.<|im_end|>\n<|im_start|>assistant\n")
                    for i in range(2, 9)]
    long_others = [tokens(llama, f"<|im_start|>user\nStory {i}: " + sea * 12 + "<|im_end|>\n") for i in range(2, 9)]
    # Short: 23 prompt tokens, everything stays in small shapes. Long: a ~470-token prompt, so prompt
    # chunks are many rows and the KV cache passes 512 cells while the forced tokens are decoded.
    prompts = {"short prompt": (tokens(llama, story), short_others),
               "long prompt": (tokens(llama, "<|im_start|>system\n" + sea * 28 + "<|im_end|>\n" + story), long_others)}
    cases = {
        "alone again (control)": {},
        "alone, in slot 5": {"me": 5},
        "with 1 other sequence decoding": {"mates": (1,)},
        "with 3 others decoding": {"mates": (1, 2, 3)},
        "with 7 others decoding": {"mates": (1, 2, 3, 4, 5, 6, 7)},
        "last of 8 in the batch": {"me": 7, "mates": (0, 1, 2, 3, 4, 5, 6)},
        "prompt in the same batch as 3 other prompts": {"mates": (1, 2, 3), "together": True},
        "prompt in chunks of 64 tokens": {"chunk": 64},
        "prompt one token per step": {"chunk": 1},
        "prompt cells copied (llama_memory_seq_cp)": {"copied": True},
    }
    results: dict[str, dict[str, Any]] = {}
    rows = []
    for label, (prompt, others) in prompts.items():
        reference = scenario(llama, prompt, forced, [])
        for name, kw in cases.items():
            if label == "long prompt" and kw.get("chunk") == 1:
                continue  # 470 decode calls; the short prompt shows it
            r = compare(reference, scenario(llama, prompt, forced, others, **kw))
            results[f"{label}: {name}"] = r
            rows.append([f"{label} ({len(prompt)} tokens): {name}", r["identical"], r["max_abs_diff"], r["argmax_agree"]])
    import llama_cpp

    off = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    short = prompts["short prompt"][0]
    contrast = compare(scenario(llama, short, forced, [], flash_attn=off),
                       scenario(llama, short, forced, [], chunk=1, flash_attn=off))
    rows.append(["contrast, flash attention off: short prompt one token per step", contrast["identical"],
                 contrast["max_abs_diff"], contrast["argmax_agree"]])
    out.table(f"logits vs the same sequence decoded alone ({len(forced)} forced tokens after the prompt)",
              ["case", "bit-identical", "max |diff|", "same argmax"], rows)
    requests = request_level(lambda slots: LlamaCppBackend(ref, n_ctx=N_CTX, parallel=slots,
                                                           n_gpu_layers=args.n_gpu_layers))
    out.table(f"request level: {requests['requests']} constrained requests at temperature 0.8 through generate_many",
              ["run", "texts differing from the 1-slot run"],
              [[run, n] for run, n in requests["differing_from_first_run"].items()])
    identical = all(r["identical"] for r in results.values()) and requests["identical"]
    broken = [name for name, r in results.items() if not r["identical"]]
    out.line(f"\nbatched path bit-identical whatever shares the batch: {'yes' if identical else 'NO'}"
             f" ({ref.path.name}, {threads()} threads, n_gpu_layers={args.n_gpu_layers})")
    out.finish({"model": ref.path.name, "threads": threads(), "n_gpu_layers": args.n_gpu_layers,
                "bit_identical": identical, "not_identical": broken, "cases": results, "flash_attn_off_contrast": contrast,
                "request_level": requests})


if __name__ == "__main__":
    run_main(main)
