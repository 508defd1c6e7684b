"""A small seeded `localace run` end to end in a temp db: time per stage, model vs the rest, cache behaviour.

    python benchmarks/pipeline.py [--apis 4 --dialogs 4 --max-docs 4] [--model fake] [--parallel 1,8] [--json]

Then the same run again on the same db (a resume of a finished run), and a replay on a fresh db that
holds only the generation cache (every model call should be a cache hit: what is left is our overhead).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Output, base_parser, ratio, run_main, small_run_options, stopwatch, threads

STAGES = ("setup", "tree", "apis", "dialogs", "verify")
# The stage a pipeline marker starts; "done" closes the last one.
MARKERS = {"tree:start": "tree", "apis:start": "apis", "dialogs:start": "dialogs", "verify:start": "verify"}
CACHE_TABLES = ("generations", "file_hashes", "_localace_migrations")


class TimedBackend:
    """Forwards to a backend and adds the wall time of each generate/score call to the current stage.

    Scoring (complexity log-likelihoods) is kept apart from generation, so the table shows both."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.bucket = "setup"
        self.seconds: dict[str, float] = {}
        self.score_seconds: dict[str, float] = {}

    def __getattr__(self, attr: str) -> Any:
        if attr == "open_batch":  # the batched path: each decoding step counts as time in the backend
            opener = getattr(self.inner, "open_batch")  # AttributeError when the backend has none
            return lambda: _TimedSession(opener(), self)
        return getattr(self.inner, attr)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self.inner.generate, args, kwargs, self.seconds)

    def score(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self.inner.score, args, kwargs, self.score_seconds)

    def generate_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self.inner.generate_many, args, kwargs, self.seconds)


    def _call(self, fn: Any, args: tuple, kwargs: dict, into: dict[str, float]) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[self.bucket] = into.get(self.bucket, 0.0) + time.perf_counter() - start


class _TimedSession:
    def __init__(self, inner: Any, timed: TimedBackend) -> None:
        self.inner, self.timed = inner, timed

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def step(self) -> Any:
        return self.timed._call(self.inner.step, (), {}, self.timed.seconds)


def _calls(store: Any, session: int, lo: int = 0, hi: int | None = None) -> dict[str, float]:
    """call_log totals of one session, optionally for call ids in (lo, hi]."""
    where, params = "session_id=? AND id>?", [session, lo]
    if hi is not None:
        where += " AND id<=?"
        params.append(hi)
    row = store.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(hit),0), COALESCE(SUM(CASE WHEN hit=0 THEN seconds END),0),"
        " COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(cached_tokens),0), COALESCE(SUM(completion_tokens),0)"
        f" FROM call_log WHERE {where}", params).fetchone()
    return {"requests": row[0], "cache_hits": row[1], "model_calls": row[0] - row[1], "model_s": row[2],
            "prompt_tokens": row[3], "prompt_tokens_reused": row[4], "completion_tokens": row[5]}


def _last_call_id(store: Any) -> int:
    return int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM call_log").fetchone()[0])


def run_once(db: Path, model: str | None, cfg: Any, n_ctx: int, label: str, parallel: int = 1) -> dict[str, Any]:
    """One `localace run` equivalent, timed per stage; returns plain numbers."""
    from localace.backends import make_backend
    from localace.hashing import content_hash
    from localace.pipeline import config_record, ensure_pipeline_run, run_pipeline
    from localace.store import open_store
    from localace.store.cache import CachedBackend

    total_start = time.perf_counter()
    with stopwatch() as total:
        store = open_store(db)
        session = store.start_session(f"benchmarks/pipeline.py {label}")
        timed = TimedBackend(make_backend(model, n_ctx=n_ctx, file_hash=store.file_hash, parallel=parallel))
        gen = CachedBackend(timed, store, session)
        record = config_record(cfg, {"generator": gen.fingerprint(), "judge": None})
        run_id, resumed = ensure_pipeline_run(store, record, force_new=False)
        walls: dict[str, float] = {}
        bounds: dict[str, tuple[int, int]] = {}
        # "setup" (opening the db, loading nothing yet) counts from the start of this run.
        stage, start, first_id = "setup", total_start, _last_call_id(store)
        report: dict[str, Any] = {}
        for ev in run_pipeline(store, gen, cfg, run_id, parallel=parallel):
            if ev.stage in MARKERS or ev.stage == "done":
                now, last_id = time.perf_counter(), _last_call_id(store)
                walls[stage], bounds[stage] = now - start, (first_id, last_id)
                stage, start, first_id = MARKERS.get(ev.stage, "done"), now, last_id
                timed.bucket = stage
            if ev.stage == "done":
                report = ev.event
    stages = {}
    for name in STAGES:
        lo, hi = bounds.get(name, (0, 0))
        calls = _calls(store, session, lo, hi)
        stages[name] = {"wall_s": round(walls.get(name, 0.0), 3), "model_s": round(calls["model_s"], 3),
                        "generate_s": round(timed.seconds.get(name, 0.0), 3),
                        "score_s": round(timed.score_seconds.get(name, 0.0), 3),
                        "model_calls": calls["model_calls"], "cache_hits": calls["cache_hits"]}
    calls = _calls(store, session)
    status = dict(store.conn.execute("SELECT status, COUNT(*) FROM dialogs WHERE run_id=? GROUP BY status",
                                     (report.get("dialog_run"),)).fetchall())
    outcome = store.conn.execute("SELECT id, status FROM dialogs WHERE run_id=? ORDER BY id",
                                 (report.get("dialog_run"),)).fetchall()
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    generate_s, score_s = sum(timed.seconds.values()), sum(timed.score_seconds.values())
    return {"label": label, "resumed": resumed, "wall_s": round(total["s"], 3), "stages": stages,
            "model_s": round(calls["model_s"], 3), "generate_s": round(generate_s, 3), "score_s": round(score_s, 3),
            "other_s": round(total["s"] - generate_s - score_s, 3), **{k: calls[k] for k in (
                "requests", "cache_hits", "model_calls", "prompt_tokens", "prompt_tokens_reused", "completion_tokens")},
            "kv_reuse_ratio": ratio(calls["prompt_tokens_reused"], calls["prompt_tokens"]),
            "cache_hit_rate": ratio(calls["cache_hits"], calls["requests"]),
            "kept_dialogs": status.get("kept", 0),
            "verified_dialogs": status.get("kept", 0) + status.get("rejected", 0),
            "apis": report.get("funnels", [{}])[0].get("kept") if report.get("funnels") else None,
            "outcome_hash": content_hash([list(r) for r in outcome], 16)}


def cache_only_copy(src: Path, dst: Path) -> None:
    """A copy of the db with only the generation cache (and what opening it needs) left."""
    import sqlite3

    shutil.copyfile(src, dst)
    conn = sqlite3.connect(dst, isolation_level=None)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"
                                             " AND name NOT LIKE 'sqlite_%'")]
        conn.execute("BEGIN")
        for table in tables:
            if table not in CACHE_TABLES:
                conn.execute(f"DELETE FROM [{table}]")
        conn.execute("COMMIT")
        conn.execute("VACUUM")
    finally:
        conn.close()


def main() -> None:
    ap = base_parser(__doc__)
    small_run_options(ap)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--no-judges", action="store_true")
    ap.add_argument("--no-complexity", action="store_true")
    ap.add_argument("--keep", default=None, help="folder to keep the databases in (default: a temp folder)")
    ap.add_argument("--parallel", default="1",
                    help="work items in flight (1: the deterministic one-at-a-time path); several, e.g. 1,8: each "
                         "value's first run on its own fresh db, one after the other, compared side by side")
    ap.add_argument("--compare-ref", default=None,
                    help="also run this benchmark at a git revision (e.g. the commit before a change) with the same "
                         "options, one after the other, and print both side by side")
    args = ap.parse_args()
    out = Output(args.json)

    from localace.pipeline import RunConfig

    cfg = RunConfig(apis=args.apis, dialogs=args.dialogs, seed=args.seed, max_docs=args.max_docs,
                    judges=not args.no_judges, complexity=not args.no_complexity)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="localace-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db, replay_db = folder / "bench.db", folder / "replay.db"
    compared = None
    for path in (db, replay_db):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    try:
        out.line(f"model {args.model or 'embedded default'}, {threads()} threads; apis {args.apis}, "
                 f"dialogs {args.dialogs}, max-docs {args.max_docs}, seed {args.seed}; db {db}")
        parallels = [int(p) for p in str(args.parallel).split(",") if p.strip()]
        first = run_once(db, args.model, cfg, args.ctx, "first run", parallels[0])
        sides = [first]
        for n in parallels[1:]:
            side_db = folder / f"bench-p{n}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(str(side_db) + suffix).unlink(missing_ok=True)
            sides.append(run_once(side_db, args.model, cfg, args.ctx, f"first run, --parallel {n}", n))
            sides[-1]["quality"] = _quality(side_db)
        rerun = run_once(db, args.model, cfg, args.ctx, "rerun (same db)", parallels[0])
        cache_only_copy(db, replay_db)
        replay = run_once(replay_db, args.model, cfg, args.ctx, "replay (cache only)")
        quality = _quality(db)
        if args.compare_ref:
            compared = _run_at_ref(args.compare_ref, folder / "ref")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    hours = first["wall_s"] / 3600
    result = {
        "model": args.model or "embedded", "threads": threads(),
        "config": {"apis": args.apis, "dialogs": args.dialogs, "max_docs": args.max_docs, "seed": args.seed},
        "first": first, "rerun": rerun, "replay": replay,
        "wall_s": first["wall_s"], "model_s": first["model_s"], "other_s": first["other_s"],
        "model_share": ratio(first["model_s"], first["wall_s"]),
        "backend_share": ratio(first["generate_s"] + first["score_s"], first["wall_s"]),
        "kept_per_hour": round(first["kept_dialogs"] / hours, 1) if hours else None,
        "verified_per_hour": round(first["verified_dialogs"] / hours, 1) if hours else None,
        "kv_reuse_ratio": first["kv_reuse_ratio"],
        "rerun_wall_s": rerun["wall_s"], "rerun_cache_hit_rate": rerun["cache_hit_rate"],
        "replay_wall_s": replay["wall_s"], "replay_cache_hit_rate": replay["cache_hit_rate"],
        "replay_same_result": replay["outcome_hash"] == first["outcome_hash"],
    }
    rows = []
    for name in STAGES:
        s = first["stages"][name]
        rows.append([name, s["wall_s"], s["model_s"], s["generate_s"], s["score_s"],
                     round(s["wall_s"] - s["generate_s"] - s["score_s"], 3), s["model_calls"], s["cache_hits"]])
    rows.append(["total", first["wall_s"], first["model_s"], first["generate_s"], first["score_s"], first["other_s"],
                 first["model_calls"], first["cache_hits"]])
    out.line("\nllama.cpp = seconds inside llama.cpp of the model calls that missed the cache (call_log: generate "
             "calls, failed ones included, and complexity scoring); generate = wall time inside the backend's "
             "generate (adds prompt rendering, tokenizing, constraint setup, validation); score = wall time of "
             "complexity scoring; other = the pipeline itself (cache lookups, db writes, rule checks).")
    out.table("first run, seconds per stage",
              ["stage", "wall", "llama.cpp", "generate", "score", "other", "model calls", "cache hits"], rows)
    out.table("throughput and caches", ["measure", "value"], [
        ["verified dialogs (kept + rejected)", first["verified_dialogs"]],
        ["kept dialogs", first["kept_dialogs"]],
        ["verified dialogs per hour", result["verified_per_hour"]],
        ["kept dialogs per hour", result["kept_per_hour"]],
        ["share of wall time in llama.cpp (model calls)", result["model_share"]],
        ["share of wall time in the backend (generate + score)", result["backend_share"]],
        ["prompt tokens submitted", first["prompt_tokens"]],
        ["prompt tokens reused from the KV cache", first["prompt_tokens_reused"]],
        ["KV reuse (reused / submitted)", first["kv_reuse_ratio"]],
    ])
    out.table("running it again", ["run", "wall s", "requests", "cache hits", "hit rate", "model calls"], [
        [r["label"], r["wall_s"], r["requests"], r["cache_hits"], r["cache_hit_rate"], r["model_calls"]]
        for r in (first, rerun, replay)])
    out.line(f"replay produced the same dialogs with the same verdicts: {result['replay_same_result']}")
    result["quality"] = quality
    if len(sides) > 1:
        def per_hour(side: dict[str, Any]) -> float | None:
            return round(side["kept_dialogs"] / (side["wall_s"] / 3600), 1) if side["wall_s"] else None

        base = per_hour(first) or 0
        out.table("--parallel side by side (same seed and options, fresh db each, one after the other)",
                  ["--parallel", "wall s", "model calls", "kept", "kept/hour", "ratio", "in backend", "KV reuse",
                   "grounded values"],
                  [[p, s["wall_s"], s["model_calls"], s["kept_dialogs"], per_hour(s),
                    ratio(per_hour(s) or 0, base) if base else None,
                    ratio(s["generate_s"] + s["score_s"], s["wall_s"]), s["kv_reuse_ratio"],
                    (s.get("quality") or quality)["grounded values"]]
                   for p, s in zip(parallels, sides)])
        result["parallel_sides"] = [{"parallel": p, "kept_per_hour": per_hour(s), **s} for p, s in zip(parallels, sides)]
    if compared is not None:
        result["compared"] = compared
        old, q_old = compared["result"], compared["quality"]
        out.table(f"this tree vs {args.compare_ref} (same options, measured one after the other)",
                  ["measure", args.compare_ref, "this tree"], [
                      ["wall s", old["wall_s"], result["wall_s"]],
                      ["model calls", old["first"]["model_calls"], first["model_calls"]],
                      ["kept dialogs", old["first"]["kept_dialogs"], first["kept_dialogs"]],
                      ["kept dialogs per hour", old["kept_per_hour"], result["kept_per_hour"]],
                      ["model share", old["model_share"], result["model_share"]],
                      ["KV reuse", old["kv_reuse_ratio"], result["kv_reuse_ratio"]],
                      *[[f"quality: {k}", v, quality[k]] for k, v in q_old.items()]])
        if old["kept_per_hour"]:
            out.line(f"kept dialogs per hour, this tree / {args.compare_ref}: "
                     f"{ratio(result['kept_per_hour'] or 0, old['kept_per_hour'])}")
    out.finish(result)


def _quality(db: Path) -> dict[str, Any]:
    """The quality figures of issue 13, read the same way from any localace database."""
    from localace.report_data import collect_report
    from localace.store import open_store

    store = open_store(db)
    try:
        q = collect_report(store, kept_examples=0, rejected_examples=0)["quality"]
    finally:
        store.close()
    return {"grounded values": q["grounded_values"]["share"], "narrating user turns": q["narrating_user_turns"]["share"],
            "odd API names": q["odd_api_names"]["share"], "scope": q["scope"]}


def _run_at_ref(ref: str, folder: Path) -> dict[str, Any]:
    """This script's --json result at another revision (a temporary git worktree), with the same arguments."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    tree = Path(tempfile.mkdtemp(prefix="localace-ref-"))
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "--force", str(tree), ref], check=True,
                   capture_output=True)
    try:
        args = [a for a in sys.argv[1:] if a != "--json"]
        skip = {"--compare-ref", "--keep", "--parallel"}  # --parallel: the ref side runs its own default path
        kept = []
        it = iter(args)
        for a in it:
            if a in skip:
                next(it, None)
            elif not any(a.startswith(f"{s}=") for s in skip):
                kept.append(a)
        env = {**__import__("os").environ, "PYTHONPATH": str(tree)}
        proc = subprocess.run([sys.executable, str(tree / "benchmarks" / "pipeline.py"), *kept, "--json",
                               "--keep", str(folder)], cwd=tree, env=env, capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        return {"result": result, "quality": _quality(folder / "bench.db")}
    finally:
        subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], capture_output=True)


if __name__ == "__main__":
    run_main(main)
