"""The loop, measured: synthesize dialogs, train a LoRA adapter on them, evaluate base vs tuned on BFCL.

Every phase is a `localace` command in its own process (what a user would run), each resumable, in a work
folder: kill the script and run it again to continue. BFCL is the yardstick only: its files are passed to
`localace eval` and to nothing else; the training data is what `localace run` synthesizes from the built-in
seed corpus, in a database of its own (synth.db), and evaluation writes to eval.db.

Default size: 24 dialogs (4 APIs), 3 epochs, the first 100 entries of simple_python, multiple and
irrelevance in prompt and constrained modes for base and tuned (1,200 model calls). The evaluation is the
long pole (see benchmarks/README.md for the measured split); `--limit 25` brings the whole loop near an hour."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Output, base_parser, fmt, run_main

CATEGORIES = ("simple_python", "multiple", "irrelevance")
MODES = ("prompt", "constrained")


def bfcl_dir() -> Path | None:
    """The data folder shipped inside the bfcl-eval package (pip install --no-deps bfcl-eval), if installed."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    return folder if folder.is_dir() else None


def category_file(folder: Path, category: str) -> Path | None:
    """BFCL_v<N>_<category>.json with the highest version N (exactly that category: a glob would also
    take BFCL_v4_live_irrelevance.json for irrelevance)."""
    pattern = re.compile(rf"BFCL_v(\d+)_{re.escape(category)}\.json")
    found = [(int(m[1]), p) for p in folder.glob("BFCL_v*.json") if (m := pattern.fullmatch(p.name))]
    return max(found)[1] if found else None


def localace(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """One localace command in a fresh process; (result, seconds)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "localace", *args], env=env, capture_output=True, text=True)
    return result, time.perf_counter() - start


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def require_ok(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        sys.exit(f"{what} failed (exit {result.returncode}): {last_line(result.stderr) or last_line(result.stdout)}")


def evaluate(env: dict[str, str], db: Path, model: str | None, lora: Path | None, data: Path, mode: str,
             limit: int, max_tokens: int | None) -> dict[str, Any]:
    """Accuracy of one model on one BFCL file in one mode, or the error that stopped `localace eval`."""
    args = ["eval", "--db", str(db), "--data", str(data), "--mode", mode, "--limit", str(limit), "--json"]
    args += ["--max-tokens", str(max_tokens)] if max_tokens else []
    args += (["--model", model] if model else []) + (["--lora", str(lora)] if lora else [])
    result, seconds = localace(args, env)
    if result.returncode != 0:
        return {"error": last_line(result.stderr) or f"exit {result.returncode}", "seconds": seconds}
    report = json.loads(result.stdout)
    return {**report["overall"], "errors": report.get("error_types", {}), "seconds": seconds}


def cell(score: dict[str, Any]) -> str:
    if "error" in score:
        return "error"
    return f"{100 * score['accuracy']:.1f}% ({score['correct']}/{score['total']})"


def delta(base: dict[str, Any], tuned: dict[str, Any]) -> str:
    if "error" in base or "error" in tuned:
        return "-"
    return f"{100 * (tuned['accuracy'] - base['accuracy']):+.1f}"


def main() -> None:
    ap = base_parser(__doc__)
    ap.add_argument("--model", default=None, help="GGUF to train and evaluate (default: the embedded model)")
    ap.add_argument("--synth-model", default=None, help="model that synthesizes the data (default: --model; "
                    "'fake' for a smoke run)")
    ap.add_argument("--work", default="loop-work", help="folder for synth.db, eval.db and the adapter (reused: resume)")
    ap.add_argument("--dialogs", type=int, default=24)
    ap.add_argument("--apis", type=int, default=4)
    ap.add_argument("--max-docs", type=int, default=4)
    ap.add_argument("--no-judges", action="store_true", help="rule checks only during synthesis")
    ap.add_argument("--format", default="toolace", help="training format (toolace: the call syntax of eval prompt mode)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--train-max-tokens", type=int, default=2048,
                    help="localace train --max-tokens: longer examples are left out (and counted)")
    ap.add_argument("--limit", type=int, default=100, help="first N entries of each category")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--eval-max-tokens", type=int, default=None,
                    help="answer budget of `localace eval` (default: its own, 400); a model that never stops "
                         "costs that many decode steps per entry")
    ap.add_argument("--bfcl-dir", default=None, help="folder of BFCL_v*_<category>.json (default: bfcl-eval's data)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synth-db", default=None,
                    help="train on the kept dialogs of this existing localace database instead of synthesizing")
    args = ap.parse_args()
    out = Output(args.json)

    folder = Path(args.bfcl_dir) if args.bfcl_dir else bfcl_dir()
    if folder is None:
        sys.exit("no BFCL data: pip install --no-deps bfcl-eval, or pass --bfcl-dir")
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    files = {c: category_file(folder, c) for c in categories}
    if missing := [c for c, f in files.items() if f is None]:
        sys.exit(f"no BFCL file for {', '.join(missing)} in {folder}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    synth_db, eval_db, adapter = work / "synth.db", work / "eval.db", work / "adapter.gguf"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    model = ["--model", args.model] if args.model else []
    synth_model = args.synth_model or args.model

    if args.synth_db:
        synth_db, synth_s = Path(args.synth_db), 0.0
        if not synth_db.is_file():
            sys.exit(f"--synth-db: no such database {synth_db}")
        out.line(f"1/3 synthesis skipped: the kept dialogs of {synth_db}")
    else:
        out.line(f"1/3 synthesize {args.dialogs} dialogs over {args.apis} APIs into {synth_db} …")
        run_args = ["run", "--db", str(synth_db), "--apis", str(args.apis), "--dialogs", str(args.dialogs),
                    "--max-docs", str(args.max_docs), "--seed", str(args.seed)]
        run_args += (["--model", synth_model] if synth_model else []) + (["--no-judges"] if args.no_judges else [])
        result, synth_s = localace(run_args, env)
        require_ok(result, "localace run")

    out.line(f"2/3 train a rank-{args.rank} LoRA adapter ({args.epochs} epochs) …")
    train_args = ["train", "--db", str(synth_db), *model, "--out", str(adapter), "--format", args.format,
                  "--epochs", str(args.epochs), "--rank", str(args.rank), "--lr", str(args.lr), "--batch",
                  str(args.batch), "--seed", str(args.seed), "--max-tokens", str(args.train_max_tokens), "--json"]
    result, train_s = localace(train_args, env)
    require_ok(result, "localace train")
    trained = json.loads(result.stdout)

    out.line(f"3/3 evaluate base and tuned on {', '.join(categories)} (first {args.limit}), {', '.join(modes)} …")
    scores: dict[tuple[str, str, str], dict[str, Any]] = {}
    eval_s = 0.0
    for category in categories:
        for mode in modes:
            for side, lora in (("base", None), ("tuned", adapter)):
                score = evaluate(env, eval_db, args.model, lora, files[category], mode, args.limit,
                                 args.eval_max_tokens)
                scores[(category, mode, side)] = score
                eval_s += score["seconds"]

    rows = [[c, m, cell(scores[(c, m, "base")]), cell(scores[(c, m, "tuned")]),
             delta(scores[(c, m, "base")], scores[(c, m, "tuned")])] for c in categories for m in modes]
    out.table(f"BFCL AST accuracy, first {args.limit} of each category: base vs tuned "
              f"({trained['examples']} examples from {trained['dialogs']} dialogs, {args.epochs} epochs)",
              ["category", "mode", "base", "tuned", "Δ points"], rows)
    errors = sorted({s["error"] for s in scores.values() if "error" in s})
    for error in errors:
        out.line(f"  eval error: {error}")
    out.table("phases", ["phase", "seconds", "detail"], [
        ["synthesize", synth_s, f"{trained['dialogs']} kept dialogs"],
        ["train", train_s, f"{trained['tokens']:,} tokens at {fmt(trained['tokens_per_s'])} tokens/s, "
                           f"{trained['threads']} threads; loss {trained['first_epoch_loss']} → "
                           f"{trained['last_epoch_loss']}; adapter {trained['adapter_bytes'] / 1e6:.1f} MB"],
        ["evaluate", eval_s, f"{len(scores)} evaluations"],
    ])
    out.finish({
        "scores": {f"{c}/{m}/{side}": s for (c, m, side), s in scores.items()},
        "train": trained, "train_tokens_per_s": trained["tokens_per_s"],
        "seconds": {"synthesize": round(synth_s, 1), "train": round(train_s, 1), "evaluate": round(eval_s, 1)},
        "limit": args.limit, "dialogs_requested": args.dialogs, "work": str(work),
    })


if __name__ == "__main__":
    run_main(main)
