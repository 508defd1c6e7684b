"""A seeded `localace run` measured as its user would read it: yield, cost and the quality of the kept data.

    python benchmarks/dialog_quality.py --db runs/q60.db --dialogs 60 --apis 12 --seed 7 [--model fake] [--json]

The run is the README's main job with these options, in --db (resumable: stop it and run the same command to
resume; the wall time then counts this invocation only). It reports, for the tool-using kinds, kept ÷ attempted;
model calls per kept dialog and kept dialogs per hour; and the quality figures of the kept dialogs (values
grounded, stated in a surface form other than the canonical one, text-kind parameters holding a number, strings
made of their own API's words, distinct first user turns, the commonest answer opening), with the goals.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, Output, base_parser, goal_mark, ratio, run_main, small_run_options

TOOL_KINDS = ("single", "parallel", "multiple", "dependent", "ask_missing", "multi_turn")
PLAIN_LIST = re.compile(r"^The list of [a-z_ ]+\.$")


def main() -> None:
    ap = base_parser(__doc__)
    small_run_options(ap, dialogs=60)
    ap.add_argument("--db", required=True, help="database of the run (kept: the run resumes from it)")
    ap.add_argument("--parallel", default=None, help="passed to localace run (default: its own)")
    args = ap.parse_args()
    out = Output(args.json)
    cmd = [sys.executable, "-m", "localace", "run", "--db", args.db, "--apis", str(args.apis), "--dialogs",
           str(args.dialogs), "--max-docs", str(args.max_docs), "--seed", str(args.seed)]
    if args.model:
        cmd += ["--model", args.model]
    if args.parallel:
        cmd += ["--parallel", args.parallel]
    out.line(" ".join(cmd[2:]))
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"localace run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    stats = json.loads(subprocess.run([sys.executable, "-m", "localace", "stats", "--db", args.db, "--json"],
                                      capture_output=True, text=True, check=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout)
    result = measure(Path(args.db), stats, seconds)
    kinds = result["kinds"]
    out.table("kinds", ["kind", "requested", "kept", "attempts", "kept/attempted"],
              [[k["kind"], k["requested"], k["kept"], k["attempts"], ratio(k["kept"], k["attempts"])] for k in kinds])
    q = result["quality"]
    rows = [
        ["tool kinds kept / attempted", result["tool_yield"], 0.5, goal_mark(result["tool_yield"], 0.5)],
        ["model calls per kept dialog", result["calls_per_kept"], 15,
         goal_mark(result["calls_per_kept"], 15, at_most=True)],
        ["kept dialogs per hour (this invocation)", result["kept_per_hour"], 150,
         goal_mark(result["kept_per_hour"], 150)],
        ["argument values grounded", q["grounded"], 0.95, goal_mark(q["grounded"], 0.95)],
        ["grounded values in another surface form", q["other_form"], 0.3, goal_mark(q["other_form"], 0.3)],
        ["text-kind parameters holding a number", q["text_numbers"], 0, goal_mark(q["text_numbers"], 0, at_most=True)],
        ["strings of their own API's words", q["own_words"], 0.1, goal_mark(q["own_words"], 0.1, at_most=True)],
        ["'The list of X.' descriptions", result["plain_list_descriptions"], 0,
         goal_mark(result["plain_list_descriptions"], 0, at_most=True)],
        ["distinct first user turns", q["distinct_first"], 1.0, goal_mark(q["distinct_first"], 1.0)],
        ["answers with the commonest 4-word opening", q["common_opening"], 0.3,
         goal_mark(q["common_opening"], 0.3, at_most=True)],
    ]
    out.table("figures (kept dialogs)", ["figure", "value", "goal", ""], rows)
    out.line(f"model calls by stage: {result['calls_by_stage']}")
    out.finish(result)


def measure(db: Path, stats: dict, seconds: float) -> dict:
    run = next(r for r in reversed(stats["runs"]) if r["command"] == "run" and r["report"])
    report = run["report"]
    kinds = report.get("kinds", [])
    tool = [k for k in kinds if k["kind"] in TOOL_KINDS]
    kept = report["kept_dialogs"]
    session = stats["last_session"] or {}
    calls_total = stats["calls"]["model_calls"]
    figures = report_quality(db)
    with sqlite3.connect(db) as c:
        plain = 0
        for (data,) in c.execute("SELECT data_json FROM apis WHERE source='synth'"):
            spec = json.loads(data)
            for part in ("parameters", "returns"):
                for schema in ((spec.get(part) or {}).get("properties") or {}).values():
                    plain += bool(PLAIN_LIST.match(str(schema.get("description", ""))))
    return {
        "kinds": kinds,
        "kept": kept,
        "tool_yield": ratio(sum(k["kept"] for k in tool), sum(k["attempts"] for k in tool)),
        "calls_total": calls_total,
        "calls_per_kept": ratio(calls_total, kept),
        "calls_by_stage": stats.get("calls_by_stage"),
        "seconds": round(seconds, 1),
        "session_calls": session.get("model_calls"),
        "kept_per_hour": round(kept / seconds * 3600, 1) if seconds and session.get("model_calls") else None,
        "quality": figures,
        "plain_list_descriptions": plain,
    }


def report_quality(db: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from localace.quality import quality_figures
    from localace.store import open_store

    store = open_store(db)
    try:
        q = quality_figures(store)
    finally:
        store.close()
    return {"grounded": q["grounded_values"]["share"], "other_form": q["values_in_another_form"]["share"],
            "text_numbers": q["text_parameters_holding_a_number"]["count"],
            "own_words": q["strings_of_their_own_api_words"]["share"],
            "distinct_first": q["distinct_first_user_turns"]["share"],
            "common_opening": q["answers_with_the_commonest_opening"]["share"],
            "commonest_opening": q["answers_with_the_commonest_opening"]["opening"]}


if __name__ == "__main__":
    run_main(main)
