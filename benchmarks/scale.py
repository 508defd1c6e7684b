"""How the store-side work scales: a synthetic ToolACE-sized store (26,507 APIs, 100,000 dialogs), no model.

    python benchmarks/scale.py [--scales 0.1,0.5,1.0] [--quick] [--json]

Each scale runs in its own process (so its peak RSS is its own) on its own database: insert the APIs and
dialogs, then time what resume, `localace stats`, `localace export` and `localace report` do on it.
Growth exponent = log(time ratio) / log(size ratio) between consecutive scales: 1.0 is linear.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import Output, base_parser, goal_mark, run_main, stopwatch

FULL_APIS = 26_507  # ToolACE's API pool
FULL_DIALOGS = 100_000
GOAL_SECONDS = 1.0
GOAL_OPS = ("open_store", "resume_apis", "resume_dialogs", "resume_verify", "stats")
OPS = ("open_store", "resume_apis", "continue_apis", "resume_dialogs", "continue_dialogs", "resume_verify", "stats",
       "export", "report_collect", "report_render")
BATCH = 2_000

DOMAINS = ("Weather", "Finance", "Travel", "Health", "Music", "Movies", "Sports", "E-commerce", "Education", "Jobs",
           "Real Estate", "Food", "News", "Social Media", "Maps", "Email", "Calendar", "Banking", "Cryptocurrency",
           "Insurance", "Legal", "Energy", "Gaming", "Science", "Security", "Translation", "Transportation",
           "Agriculture", "Automotive", "Government")
FACETS = ("search", "booking", "analytics", "alerts", "profiles", "catalog", "reports", "history")
VERBS = ("get", "search", "list", "create", "update", "delete", "track", "compare", "convert", "check", "book", "rate")
NOUNS = ("forecast", "quote", "order", "ticket", "profile", "route", "invoice", "review", "event", "record", "price",
         "schedule", "report", "account", "listing", "alert")
WORDS = ("city", "date", "limit", "query", "country", "currency", "category", "language", "sort", "radius", "page",
         "user_id", "start", "end", "level", "region", "format", "status", "tags", "filters")
STATUS_REJECTED_AT = ("required_params", "param_values", "judge_hallucination", "judge_consistency")
KIND_WEIGHTS = {"single": 0.18, "parallel": 0.1, "multiple": 0.15, "dependent": 0.1, "non_tool": 0.08,
                "irrelevance": 0.12, "ask_missing": 0.12, "multi_turn": 0.15}


# -- synthetic records ---------------------------------------------------------------------------

def _property(rng: random.Random, name: str) -> dict[str, Any]:
    desc = f"The {name.replace('_', ' ')} to use."
    roll = rng.random()
    if roll < 0.15:
        return {"type": "string", "enum": rng.sample(("low", "medium", "high", "auto", "none"), 3), "description": desc}
    if roll < 0.25:
        return {"type": "string", "format": "date", "description": desc}
    if roll < 0.45:
        return {"type": "string", "maxLength": 64, "description": desc}
    if roll < 0.6:
        return {"type": "integer", "minimum": 0, "maximum": 1000, "description": desc}
    if roll < 0.7:
        return {"type": "number", "minimum": 0, "description": desc}
    if roll < 0.8:
        return {"type": "boolean", "description": desc}
    if roll < 0.9:
        return {"type": "array", "items": {"type": "string"}, "maxItems": 5, "description": desc}
    return {"type": "object", "description": desc, "properties": {
        "code": {"type": "string", "description": "Short code."},
        "amount": {"type": "number", "description": "Amount."}}, "required": ["code"]}


def api_record(i: int, seed: int) -> dict[str, Any]:
    """The i-th synthetic API definition: valid for ApiSpec, spread over len(DOMAINS) domains."""
    rng = random.Random(f"api:{seed}:{i}")
    top = DOMAINS[i % len(DOMAINS)]
    verb, noun = rng.choice(VERBS), rng.choice(NOUNS)
    names = rng.sample(WORDS, rng.randint(1, 5))
    props = {n: _property(rng, n) for n in names}
    returns = {"type": "object", "properties": {
        "id": {"type": "string", "description": "Identifier."},
        "total": {"type": "integer", "description": "Number of matches."},
        "items": {"type": "array", "items": {"type": "string"}, "description": "Matching items."}},
        "required": ["id", "total"]}
    return {"name": f"{verb}_{noun}_{i:05d}", "domain": [top, f"{top} {rng.choice(FACETS)}"],
            "description": f"{verb.capitalize()} {noun}s in the {top.lower()} domain, filtered by "
                           f"{', '.join(n.replace('_', ' ') for n in names)}; returns matching {noun}s.",
            "parameters": {"type": "object", "properties": props, "required": names[: rng.randint(1, len(names))]},
            "returns": returns}


def value_for(schema: dict[str, Any], rng: random.Random) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if kind == "string":
        return "2025-0%d-1%d" % (rng.randint(1, 9), rng.randint(0, 9)) if schema.get("format") == "date" \
            else rng.choice(("Lisbon", "blue", "pending", "alpha", "report 7"))
    if kind == "integer":
        return rng.randint(schema.get("minimum", 0), schema.get("maximum", 100))
    if kind == "number":
        return round(rng.uniform(schema.get("minimum", 0), 500), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [value_for(schema["items"], rng) for _ in range(rng.randint(1, 2))]
    if kind == "object":
        return {k: value_for(v, rng) for k, v in schema.get("properties", {}).items()}
    return None


def _call(api: Any, rng: random.Random) -> Any:
    from localace.dialogs.model import ToolCall

    props = api.parameters.get("properties", {})
    wanted = [n for n in props if n in api.parameters.get("required", []) or rng.random() < 0.3]
    return ToolCall(name=api.name, arguments={n: value_for(props[n], rng) for n in wanted})


def _tool_round(apis: list[Any], rng: random.Random, user: str) -> list[Any]:
    """user → assistant calls → tool results → assistant summary."""
    from localace.dialogs.model import ToolResult, Turn

    calls = [_call(a, rng) for a in apis]
    results = [ToolResult(name=c.name, results={"id": f"r{rng.randint(1, 99999)}", "total": rng.randint(0, 40)})
               for c in calls]
    return [Turn(role="user", content=user),
            Turn(role="assistant", tool_calls=calls, action="call", thought="The request needs the tool."),
            Turn(role="tool", tool_results=results),
            Turn(role="assistant", content=f"I found {results[0].results['total']} results for you.",
                 action="summarize")]


def dialog_record(i: int, seed: int, pool: list[Any]) -> Any:
    """The i-th synthetic dialog over the pool, in one of the dialog kinds, with a valid shape."""
    from localace.dialogs.model import Dialog, Turn

    rng = random.Random(f"dialog:{seed}:{i}")
    kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
    offered = rng.sample(pool, min(len(pool), rng.randint(1, 4)))
    first = offered[0]
    ask = f"Could you {first.name.split('_')[0]} {first.name.split('_')[1]}s for me in Lisbon, please?"
    if kind in ("non_tool", "irrelevance"):
        action = "answer" if kind == "non_tool" else "refuse_no_tool"
        turns = [Turn(role="user", content="What is a good name for a cat?" if kind == "non_tool" else
                      "Can you write me a poem about autumn?"),
                 Turn(role="assistant", content="Here is my answer without any tool.", action=action)]
    elif kind == "ask_missing":
        turns = [Turn(role="user", content="I need some help with a search."),
                 Turn(role="assistant", content="Which city should I use?", action="ask_missing"),
                 *_tool_round([first], rng, "Lisbon, please.")]
    elif kind == "parallel":
        turns = _tool_round([first, first], rng, ask + " Two at once.")
    elif kind == "dependent" and len(offered) > 1:
        turns = _tool_round([first], rng, ask) + _tool_round([offered[1]], rng, "Now use that result.")[1:]
    elif kind == "multi_turn":
        turns = _tool_round([first], rng, ask) + _tool_round([offered[-1]], rng, "And one more thing.")
    else:
        turns = _tool_round([first], rng, ask)
    # A reference number in the first message keeps every dialog (and so its content-hash id) distinct.
    turns[0] = turns[0].model_copy(update={"content": f"{turns[0].content} My reference is R{i}."})
    meta = {"run_id": "synthetic", "slot": i, "attempt": 0, "difficulty": "normal", "band": "ok",
            "consistency": {"steps": 2, "agreed_first": 2, "regenerated": 0, "dropped": 0}}
    return Dialog(kind=kind, tools=offered, turns=turns, domains=sorted({a.domain[0] for a in offered}),
                  complexity=round(rng.uniform(0.5, 3.5), 4), seed=seed, meta=meta)


# -- building one store --------------------------------------------------------------------------

class _StubModel:
    """What the stages need from a backend to prepare a resume: a fingerprint, nothing else."""

    name = "stub"

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "stub", "model_sha256": "0" * 64, "n_ctx": 4096}


def _stamp(i: int) -> str:
    return f"2025-01-01T00:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}+00:00"


def build_store(db: Path, n_apis: int, n_dialogs: int, seed: int, calls_per_dialog: float) -> dict[str, Any]:
    """Insert the synthetic records; returns timings split into building records and writing them."""
    from localace.apis.spec import ApiSpec
    from localace.apis.stage import ApiStageConfig, prepare_api_stage
    from localace.apis.text_norm import norm_key
    from localace.dialogs.generate import DialogConfig
    from localace.dialogs.stage import prepare_dialog_stage
    from localace.pipeline import RunConfig, config_record, ensure_pipeline_run
    from localace.report import run_report
    from localace.runs import set_run_status
    from localace.store import open_store
    from localace.verify.judges import JUDGES
    from localace.verify.rules import RULE_CHECKS

    store = open_store(db)
    gen = _StubModel()
    session = store.start_session("benchmarks/scale.py")
    times = {"build_records_s": 0.0, "insert_apis_s": 0.0, "insert_dialogs_s": 0.0}
    api_stage = prepare_api_stage(store, gen, ApiStageConfig(n=n_apis, seed=seed))  # type: ignore[arg-type]
    api_run = api_stage.run.id

    pool: list[Any] = []
    for lo in range(0, n_apis, BATCH):
        with stopwatch() as t:
            specs = [ApiSpec(**api_record(i, seed)) for i in range(lo, min(n_apis, lo + BATCH))]
            rows = [{"id": s.id, "run_id": api_run, "name": s.name, "top_domain": s.domain[0],
                     "data_json": s.model_dump_json(), "created_at": _stamp(lo + k), "parent_id": None,
                     "operators": "[]", "source": s.source, "norm_key": norm_key(s.name), "seq": lo + k}
                    for k, s in enumerate(specs)]
            items = [(api_run, "apis", lo + k, "done", 1, s.id, _stamp(lo + k)) for k, s in enumerate(specs)]
        times["build_records_s"] += t["s"]
        with stopwatch() as t, store.transaction():
            store.db["apis"].insert_all(rows, batch_size=500)
            store.conn.executemany("INSERT INTO work_items VALUES (?,?,?,?,?,?,?)", items)
        times["insert_apis_s"] += t["s"]
        pool += specs

    dialog_cfg = DialogConfig(n=n_dialogs, seed=seed)
    dialog_stage = prepare_dialog_stage(store, gen, dialog_cfg)  # type: ignore[arg-type]
    dialog_run = dialog_stage.run.id
    del dialog_stage  # holds a second copy of the pool
    rng = random.Random(f"status:{seed}")
    slot = 0
    for lo in range(0, n_dialogs, BATCH):
        with stopwatch() as t:
            rows, links, items, verdicts, rejections, generations, calls = [], [], [], [], [], [], []
            for i in range(lo, min(n_dialogs, lo + BATCH)):
                while rng.random() < 0.05:  # a failed slot now and then, as in real runs
                    items.append((dialog_run, "dialogs", slot, "failed", 3, None, _stamp(slot)))
                    rejections.append((dialog_run, "dialogs", slot, 0, "self_consistency", "steps disagreed",
                                       None, _stamp(slot)))
                    slot += 1
                d = dialog_record(i, seed, pool)
                did, data = d.id, d.model_dump_json()  # id is a property that hashes on every access
                rejected_at = rng.choice(STATUS_REJECTED_AT) if rng.random() < 0.3 else None
                rows.append({"id": did, "run_id": dialog_run, "kind": d.kind, "domains": json.dumps(d.domains),
                             "complexity": d.complexity, "status": "rejected" if rejected_at else "kept",
                             "data_json": data, "created_at": _stamp(i), "seq": slot,
                             "api_ids": json.dumps(d.api_ids), "n_turns": len(d.turns), "rejected_at": rejected_at})
                links += [(did, a) for a in dict.fromkeys(d.api_ids)]
                items.append((dialog_run, "dialogs", slot, "done", 1, did, _stamp(slot)))
                judged = rejected_at is None or rejected_at.startswith("judge_")
                for check in RULE_CHECKS + (JUDGES if judged else ()):
                    failed = check == rejected_at
                    verdicts.append((f"{did}:{check}", did, "judges" if check in JUDGES else "rules",
                                     check, 0 if failed else 1, "synthetic failure" if failed else "", _stamp(i)))
                    if failed:
                        break
                n_calls = int(calls_per_dialog) + (rng.random() < calls_per_dialog % 1)
                for c in range(n_calls):
                    key = f"{did}{c:016d}"
                    # A request the size of a real one: system prompt with the tool list, then the user turn.
                    request = json.dumps({"messages": [{"role": "system", "content": data[:2400]},
                                                       {"role": "user", "content": d.turns[0].content}]})
                    ok = rng.random() < 0.95
                    generations.append((key, "llamacpp", "f" * 16, "t" * 16, request, int(ok),
                                        d.turns[-1].content if ok else None, None, None if ok else "constraint",
                                        None if ok else "output violates schema", 900, 700, 60, 0.9, "stop", _stamp(i)))
                    calls.append((session, key, 0, int(ok), 900, 700, 60, 0.9, _stamp(i)))
                slot += 1
        times["build_records_s"] += t["s"]
        with stopwatch() as t, store.transaction():
            store.db["dialogs"].insert_all(rows, batch_size=500)
            conn = store.conn
            conn.executemany("INSERT OR IGNORE INTO dialog_apis VALUES (?, ?)", links)
            conn.executemany("INSERT INTO work_items VALUES (?,?,?,?,?,?,?)", items)
            conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?)", verdicts)
            conn.executemany("INSERT INTO rejections (run_id, stage, idx, attempt, check_name, reason, payload_json,"
                             " created_at) VALUES (?,?,?,?,?,?,?,?)", rejections)
            conn.executemany("INSERT OR REPLACE INTO generations VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", generations)
            conn.executemany("INSERT INTO call_log (session_id, key, hit, ok, prompt_tokens, cached_tokens,"
                             " completion_tokens, seconds, created_at) VALUES (?,?,?,?,?,?,?,?,?)", calls)
        times["insert_dialogs_s"] += t["s"]

    # A finished pipeline run pointing at both stage runs, as `localace run` leaves it.
    cfg = RunConfig(apis=n_apis, dialogs=n_dialogs, seed=seed)
    run_id, _ = ensure_pipeline_run(store, config_record(cfg, {"generator": gen.fingerprint(), "judge": None}),
                                    force_new=False)
    set_run_status(store, run_id, "done", {"api_run": api_run, "dialog_run": dialog_run,
                                           **run_report(store, api_run, dialog_run)})
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {t: store.count(t) for t in ("apis", "dialogs", "dialog_apis", "verdicts", "work_items", "generations",
                                          "call_log")}
    store.close()
    return {**{k: round(v, 3) for k, v in times.items()}, "counts": counts, "api_run": api_run,
            "dialog_run": dialog_run, "tree_id": api_stage.tree_id, "db_mb": round(db.stat().st_size / 2**20, 1)}


# -- the operations --------------------------------------------------------------------------------

def operations(db: Path, built: dict[str, Any], n_apis: int, n_dialogs: int, seed: int,
               out_dir: Path) -> dict[str, Callable[[], Any]]:
    """Each op opens the store itself, as the CLI command doing that work would."""
    from localace.apis.stage import ApiStageConfig, prepare_api_stage
    from localace.apis.synth import ApiSynthesizer, SynthConfig
    from localace.dialogs.generate import STAGE as DIALOG_STAGE
    from localace.dialogs.generate import DialogConfig, DialogGenerator, iter_dialogs
    from localace.dialogs.stage import prepare_dialog_stage
    from localace.formats.write import write_export
    from localace.report_data import collect_report
    from localace.report_html import render_report
    from localace.runs import item_status
    from localace.stats import collect_stats
    from localace.store import open_store
    from localace.verify.stage import pending

    gen = _StubModel()
    state: dict[str, Any] = {}

    def open_only() -> int:
        # Every command below pays this first: open_store runs PRAGMA quick_check over the whole file.
        open_store(db).close()
        return 0

    def synthesizer(store: Any) -> Any:
        stage = prepare_api_stage(store, gen, ApiStageConfig(n=n_apis, seed=seed))  # type: ignore[arg-type]
        return ApiSynthesizer(gen, store, stage.run.id, stage.tree_id,  # type: ignore[arg-type]
                              SynthConfig(n=n_apis, seed=seed))

    def dialog_generator(store: Any) -> Any:
        cfg = DialogConfig(n=n_dialogs, seed=seed)
        stage = prepare_dialog_stage(store, gen, cfg)  # type: ignore[arg-type]
        return DialogGenerator(gen, store, stage.run.id, cfg, lambda: stage.pool)  # type: ignore[arg-type]

    def resume_apis() -> int:
        store = open_store(db)
        synth = synthesizer(store)
        done = item_status(store, synth.run_id, "apis")
        store.close()
        return synth.accepted + len(done)

    def continue_apis() -> int:
        # What the first new API of an unfinished run pays on top: every accepted spec parsed for dedup/coverage.
        store = open_store(db)
        n = len(synthesizer(store).state.accepted)
        store.close()
        return n

    def resume_dialogs() -> int:
        store = open_store(db)
        generator = dialog_generator(store)
        done = item_status(store, generator.run_id, DIALOG_STAGE)
        store.close()
        return generator.accepted + len(done)

    def continue_dialogs() -> int:
        # What the first new dialog pays on top: the API pool parsed for sampling, the run's complexity scores.
        store = open_store(db)
        generator = dialog_generator(store)
        n = len(generator.sampler.pool) + sum(len(v) for v in generator.scores.values())
        store.close()
        return n

    def resume_verify() -> int:
        store = open_store(db)
        n = len(pending(store, built["dialog_run"]))
        store.close()
        return n

    def stats() -> dict[str, Any]:
        store = open_store(db)
        data = collect_stats(store)
        store.close()
        return data["counts"]

    def export() -> int:
        # What `localace export --format toolace` does: every run's kept dialogs, streamed, converted, written.
        store = open_store(db)
        dialogs = iter_dialogs(store, None, status="kept")
        summary = write_export(dialogs, "toolace", out_dir / "export.jsonl", seed=seed)
        store.close()
        return summary.rows

    def report_collect() -> int:
        store = open_store(db)
        state["report"] = collect_report(store)
        store.close()
        return state["report"]["dialogs"]["n"]

    def report_render() -> int:
        if "report" not in state:
            report_collect()
        return len(render_report(state["report"]))

    return {"open_store": open_only, "resume_apis": resume_apis, "continue_apis": continue_apis,
            "resume_dialogs": resume_dialogs, "continue_dialogs": continue_dialogs, "resume_verify": resume_verify,
            "stats": stats, "export": export, "report_collect": report_collect, "report_render": report_render}


def _rss_mb() -> float:
    # ru_maxrss is in kB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def run_scale(scale: float, args: Any, folder: Path) -> dict[str, Any]:
    n_apis = max(1, round(args.apis * scale))
    n_dialogs = max(1, round(args.dialogs * scale))
    db = folder / f"scale-{scale:g}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    built = build_store(db, n_apis, n_dialogs, args.seed, args.calls_per_dialog)
    rss_after_build = _rss_mb()
    ops = operations(db, built, n_apis, n_dialogs, args.seed, folder)
    results: dict[str, Any] = {}
    for name in OPS:
        with stopwatch() as t:
            value = ops[name]()
        results[name] = {"s": round(t["s"], 4), "result": value if isinstance(value, int) else None}
    if args.tracemalloc:
        # A second pass: tracemalloc slows Python down, so its runs are not the timed ones.
        for name in OPS:
            tracemalloc.start()
            ops[name]()
            results[name]["py_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
    profile = None
    if args.profile and args.profile in ops:
        profile = _profile(ops[args.profile], args.profile_lines)
    return {"scale": scale, "apis": n_apis, "dialogs": n_dialogs, "build": built, "ops": results,
            "rss_after_build_mb": rss_after_build, "rss_peak_mb": _rss_mb(), "profile": profile}


def _profile(fn: Callable[[], Any], lines: int) -> str:
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.runcall(fn)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(lines)
    return buf.getvalue()


# -- the parent: one child process per scale, then the comparison ----------------------------------

def _children(args: Any, scales: list[float], folder: Path) -> Iterator[dict[str, Any]]:
    for scale in scales:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", str(scale), "--folder", str(folder),
               "--apis", str(args.apis), "--dialogs", str(args.dialogs), "--seed", str(args.seed),
               "--calls-per-dialog", str(args.calls_per_dialog), "--profile-lines", str(args.profile_lines)]
        if args.tracemalloc:
            cmd.append("--tracemalloc")
        if args.profile and scale == scales[-1]:
            cmd += ["--profile", args.profile]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"scale {scale} failed (exit {proc.returncode})")
        yield json.loads(proc.stdout.strip().splitlines()[-1])


def growth(results: list[dict[str, Any]], op: str) -> list[float | None]:
    """Growth exponent between consecutive scales (by dialog count): 1.0 linear, 2.0 quadratic."""
    out: list[float | None] = []
    for a, b in zip(results, results[1:]):
        ta, tb = a["ops"][op]["s"], b["ops"][op]["s"]
        size = b["dialogs"] / a["dialogs"]
        out.append(round(math.log(tb / ta) / math.log(size), 2) if ta > 0 and tb > 0 and size != 1 else None)
    return out


def main() -> None:
    ap = base_parser(__doc__)
    ap.add_argument("--scales", default="0.1,0.5,1.0",
                    help="fractions of the full store (26,507 APIs, 100,000 dialogs)")
    ap.add_argument("--quick", action="store_true", help="use 1/10 of the full counts")
    ap.add_argument("--apis", type=int, default=None, help=f"full API count (default {FULL_APIS:,})")
    ap.add_argument("--dialogs", type=int, default=None, help=f"full dialog count (default {FULL_DIALOGS:,})")
    ap.add_argument("--calls-per-dialog", type=float, default=1.0,
                    help="cached generations (and call_log rows) per dialog")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also measure each operation's peak Python memory (a second, untimed pass)")
    ap.add_argument("--profile", choices=OPS, default=None, help="cProfile this operation at the largest scale")
    ap.add_argument("--profile-lines", type=int, default=25)
    ap.add_argument("--keep", default=None, help="folder to keep the databases in (default: a temp folder)")
    ap.add_argument("--_child", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.apis is None:
        args.apis = FULL_APIS // (10 if args.quick else 1)
    if args.dialogs is None:
        args.dialogs = FULL_DIALOGS // (10 if args.quick else 1)
    if args._child is not None:
        print(json.dumps(run_scale(args._child, args, Path(args.folder))))
        return

    out = Output(args.json)
    scales = sorted(float(s) for s in args.scales.split(",") if s.strip())
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="localace-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    out.line(f"full store: {args.apis:,} APIs, {args.dialogs:,} dialogs, {args.calls_per_dialog:g} cached "
             f"generations per dialog; scales {', '.join(f'{s:g}' for s in scales)}; dbs in {folder}")
    results = []
    try:
        for r in _children(args, scales, folder):
            results.append(r)
            b = r["build"]
            out.line(f"  scale {r['scale']:g}: {r['apis']:,} APIs, {r['dialogs']:,} dialogs, {b['db_mb']} MB db, "
                     f"built in {b['build_records_s'] + b['insert_apis_s'] + b['insert_dialogs_s']:.1f}s")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    headers = ["operation", *(f"{r['scale']:g} ({r['dialogs']:,} d)" for r in results),
               *(f"exp {a['scale']:g}→{b['scale']:g}" for a, b in zip(results, results[1:]))]
    rows = []
    for op in ("insert_apis", "insert_dialogs"):
        times = [r["build"][f"{op}_s"] for r in results]
        exps = [round(math.log(tb / ta) / math.log(b["dialogs"] / a["dialogs"]), 2) if ta > 0 and tb > 0 and
                a["dialogs"] != b["dialogs"] else None for ta, tb, a, b in zip(times, times[1:], results, results[1:])]
        rows.append([op, *times, *exps])
    for op in OPS:
        rows.append([op, *(r["ops"][op]["s"] for r in results), *growth(results, op)])
    out.table("seconds per operation at each scale; exp = growth exponent (1 = linear)", headers, rows)
    mem_rows = [["peak RSS after building (MB)", *(r["rss_after_build_mb"] for r in results)],
                ["peak RSS after all operations (MB)", *(r["rss_peak_mb"] for r in results)],
                ["db size (MB)", *(r["build"]["db_mb"] for r in results)]]
    if args.tracemalloc:
        mem_rows += [[f"{op}: peak Python heap (MB)", *(r["ops"][op].get("py_peak_mb") for r in results)] for op in OPS]
    out.table("memory", ["measure", *(f"{r['scale']:g}" for r in results)], mem_rows)
    largest = results[-1]
    full = largest["apis"] == FULL_APIS
    goals = {op: {"s": largest["ops"][op]["s"], "goal_s": GOAL_SECONDS,
                  "met": largest["ops"][op]["s"] < GOAL_SECONDS} for op in GOAL_OPS}
    out.table(f"goal: under {GOAL_SECONDS:g}s on the {FULL_APIS:,}-API store"
              + ("" if full else f" (this run's largest store has {largest['apis']:,} APIs: indicative only)"),
              ["operation", "seconds", "goal"],
              [[op, g["s"], goal_mark(g["s"], GOAL_SECONDS, at_most=True)] for op, g in goals.items()])
    if largest.get("profile"):
        out.line(f"\nprofile of {args.profile} at scale {largest['scale']:g}:\n{largest['profile']}")
    summary = {
        "scales": [{"scale": r["scale"], "apis": r["apis"], "dialogs": r["dialogs"], "db_mb": r["build"]["db_mb"],
                    "counts": r["build"]["counts"], "insert_apis_s": r["build"]["insert_apis_s"],
                    "insert_dialogs_s": r["build"]["insert_dialogs_s"],
                    "build_records_s": r["build"]["build_records_s"],
                    "ops": r["ops"], "rss_after_build_mb": r["rss_after_build_mb"], "rss_peak_mb": r["rss_peak_mb"]}
                   for r in results],
        "growth_exponents": {op: growth(results, op) for op in OPS},
        "goals": goals, "full_size": full, "quick": args.quick,
    }
    out.finish(summary)


if __name__ == "__main__":
    run_main(main)
