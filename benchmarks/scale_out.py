"""Scale-out on one machine: the same small `localace run` as one process with 2 threads, one with 1 thread,
and 2 Ray shards of 1 thread each (kept dialogs per hour side by side); then merge time per 1,000 dialogs.

    python benchmarks/scale_out.py [--apis 4 --dialogs 6 --max-docs 4] [--model M] [--sides 2t,1t,ray]
                                   [--merge-dialogs 1000] [--calls-per-dialog N] [--keep DIR] [--json]

Each side is the real command line in a fresh database (Ray's start-up and the merges included in the
sharded side's wall time). The merge part builds a shard-like database of --merge-dialogs dialogs with
their verdicts and --calls-per-dialog cached model calls each (default: what the sharded run made per
dialog) and times `localace merge` of it into an empty database, then again (every row already there).
Run it alone on the machine (`flock /tmp/localace-heavy.lock python benchmarks/scale_out.py`): the sides
run one after another, so a load that changes between them skews the ratios; the load average is printed.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Output, base_parser, ratio, run_main, small_run_options, stopwatch

SIDES = {
    "2t": ("1 process, 2 threads", {"LOCALACE_THREADS": "2"}, []),
    "1t": ("1 process, 1 thread", {"LOCALACE_THREADS": "1"}, []),
    "ray": ("2 Ray shards x 1 thread", {"LOCALACE_THREADS": "1"}, ["--ray", "--shards", "2", "--threads-per-shard", "1"]),
}


def _one(db: Path, sql: str) -> Any:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def run_side(key: str, folder: Path, args: Any) -> dict[str, Any]:
    label, env, extra = SIDES[key]
    db = folder / f"{key}.db"
    cmd = [sys.executable, "-m", "localace", "run", "--db", str(db), "--apis", str(args.apis), "--dialogs",
           str(args.dialogs), "--max-docs", str(args.max_docs), "--seed", str(args.seed), *extra]
    if args.model:
        cmd += ["--model", args.model]
    load_before = os.getloadavg()[0]
    with stopwatch() as t:
        res = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{label} failed ({res.returncode}): {res.stderr.strip().splitlines()[-1:]}")
    dialogs = _one(db, "SELECT COUNT(*) FROM dialogs")
    kept = _one(db, "SELECT COUNT(*) FROM dialogs WHERE status='kept'")
    model_s = _one(db, "SELECT COALESCE(SUM(seconds), 0) FROM call_log WHERE hit=0")
    shards = sorted(Path(str(db) + ".shards").glob("*.db"))
    hours = t["s"] / 3600
    return {"side": key, "label": label, "wall_s": round(t["s"], 1), "dialogs": dialogs, "kept": kept,
            "dialogs_per_hour": round(dialogs / hours, 1), "kept_per_hour": round(kept / hours, 1),
            "model_calls": _one(db, "SELECT COUNT(*) FROM call_log WHERE hit=0"), "model_s": round(model_s, 1),
            # Share of the side's processor time (threads x wall) spent inside model calls: what the barrier
            # between stages and Ray's start-up cost the sharded side.
            "busy_share": ratio(model_s, t["s"] * (2 if key == "ray" else 1)),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "shard_files": len(shards), "db": str(db)}


def calls_per_dialog(db: Path) -> float | None:
    """Cached model calls per dialog in the dialog and verification shards of a sharded run."""
    shards = [p for p in Path(str(db) + ".shards").glob("*.db") if p.name.startswith(("dialogs-", "verify-"))]
    dialogs = _one(db, "SELECT COUNT(*) FROM dialogs")
    calls = sum(_one(p, "SELECT COUNT(*) FROM generations") for p in shards)
    return round(calls / dialogs, 1) if shards and dialogs else None


def measure_merge(folder: Path, n_dialogs: int, per_dialog: float, seed: int) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from scale import build_store

    from localace.store import open_store
    from localace.store.merge import merge_database

    source, target = folder / "merge-source.db", folder / "merge-target.db"
    for path in (source, target):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    built = build_store(source, max(10, n_dialogs // 10), n_dialogs, seed, per_dialog)
    store = open_store(target)
    try:
        first = merge_database(store, source)
        again = merge_database(store, source)
    finally:
        store.close()
    per_1000 = 1000 / n_dialogs
    rows = sum(c.new for c in first.tables.values())
    return {"dialogs": n_dialogs, "calls_per_dialog": per_dialog, "source_mb": built["db_mb"], "rows": rows,
            "new_s": round(first.seconds, 3), "again_s": round(again.seconds, 3),
            "new_s_per_1000_dialogs": round(first.seconds * per_1000, 3),
            "again_s_per_1000_dialogs": round(again.seconds * per_1000, 3),
            "us_per_row": round(first.seconds / rows * 1e6, 1) if rows else None,
            "counts": built["counts"]}


def main() -> None:
    ap = base_parser(__doc__)
    small_run_options(ap, dialogs=6)
    ap.add_argument("--sides", default="2t,1t,ray", help="which sides to run, in order (2t, 1t, ray)")
    ap.add_argument("--merge-dialogs", type=int, default=1000)
    ap.add_argument("--calls-per-dialog", type=float, default=None,
                    help="cached calls per dialog in the merge source (default: the sharded run's, else 30)")
    ap.add_argument("--keep", default=None, help="folder to keep the databases in (default: a temp folder)")
    args = ap.parse_args()
    out = Output(args.json)
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if unknown := [s for s in sides if s not in SIDES]:
        raise SystemExit(f"unknown side(s) {unknown}; choose among {list(SIDES)}")
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="localace-scale-out-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        out.line(f"model {args.model or 'embedded default'}; apis {args.apis}, dialogs {args.dialogs}, max-docs "
                 f"{args.max_docs}, seed {args.seed}; {os.cpu_count()} CPUs; load average {os.getloadavg()}")
        results = []
        for key in sides:
            for suffix in ("", "-wal", "-shm"):
                Path(str(folder / f"{key}.db") + suffix).unlink(missing_ok=True)
            shutil.rmtree(folder / f"{key}.db.shards", ignore_errors=True)
            out.line(f"running: {SIDES[key][0]} …")
            results.append(run_side(key, folder, args))
            r = results[-1]  # as each side ends: a long benchmark stopped midway still says what it measured
            out.line(f"  {r['wall_s']} s, {r['dialogs']} dialogs ({r['kept']} kept): {r['dialogs_per_hour']} dialogs/h, "
                     f"{r['kept_per_hour']} kept/h; load {r['load_before']}→{r['load_after']}")
        base = next((r for r in results if r["side"] == "1t"), None)
        out.table("the same run three ways (wall time includes process and Ray start-up, and every merge)",
                  ["side", "wall s", "dialogs", "kept", "dialogs/h", "kept/h", "vs 1 thread", "busy", "load"],
                  [[r["label"], r["wall_s"], r["dialogs"], r["kept"], r["dialogs_per_hour"], r["kept_per_hour"],
                    ratio(r["dialogs_per_hour"], base["dialogs_per_hour"]) if base else None, r["busy_share"],
                    f"{r['load_before']}→{r['load_after']}"] for r in results])
        sharded = next((r for r in results if r["side"] == "ray"), None)
        per_dialog = args.calls_per_dialog or (calls_per_dialog(Path(sharded["db"])) if sharded else None) or 30.0
        out.line(f"\nmerge: building a source of {args.merge_dialogs} dialogs with {per_dialog} cached calls each …")
        merge = measure_merge(folder, args.merge_dialogs, per_dialog, args.seed)
        out.table("localace merge of that source", ["merge", "seconds", "s per 1,000 dialogs", "µs per row"],
                  [["into an empty database", merge["new_s"], merge["new_s_per_1000_dialogs"], merge["us_per_row"]],
                   ["again (all already there)", merge["again_s"], merge["again_s_per_1000_dialogs"], None]])
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    out.finish({"sides": results, "merge": merge, "config": {
        "model": args.model or "embedded", "apis": args.apis, "dialogs": args.dialogs, "max_docs": args.max_docs,
        "seed": args.seed}, "started": time.strftime("%Y-%m-%d %H:%M:%S")})


if __name__ == "__main__":
    run_main(main)
