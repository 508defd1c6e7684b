"""Hugging Face dataset cards: README.md beside every export, built from one plain dict.

`card_data` collects the dict from the store and the export summary; `render_card` turns any such dict into YAML
front matter + Markdown, so new figures (e.g. more quality measures) only need a new key in `quality`;
`write_card` puts it beside the data file without overwriting a README.md that localace did not write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localace import __version__
from localace.dialogs.generate import dialog_filter
from localace.dialogs.stage import dialog_report
from localace.quality import QUALITY_ROWS, quality_figures
from localace.errors import UserError
from localace.formats.tool_render import yaml_text
from localace.formats.write import ExportSummary
from localace.model_catalogue import load_catalogue
from localace.report import run_report
from localace.store.db import Store

# Our cards carry this line; a README.md without it is the user's and is never overwritten.
MARKER_PREFIX = "<!-- localace dataset card"
CARD_MARKER = f"{MARKER_PREFIX}: each `localace export` into this folder rewrites it; delete this line to keep your edits -->"
ALTERNATE_NAME = "README.localace.md"
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))
# Catalogue licence names → Hugging Face licence ids; anything else becomes "other" with its name.
_HF_LICENSES = {"apache-2.0": "apache-2.0", "mit": "mit", "llama 3.1 community license": "llama3.1",
                "cc-by-4.0": "cc-by-4.0", "cc0-1.0": "cc0-1.0", "unknown": "unknown", "other": "other"}
_LICENSE_ID_RE = re.compile(r"[a-z0-9][a-z0-9.+-]*")
TOP_DOMAINS = 20
FORMAT_NOTES = {
    "toolace": "ToolACE rows: `system` (tools as a JSON list) and `conversations` (`from`/`value`); calls as "
               "`[Name(arg=value)]`.",
    "openai": "OpenAI chat rows: `messages` with `tool_calls` and `role: tool` messages, and `tools`.",
    "sharegpt": "ShareGPT / LLaMA-Factory rows: `conversations` (human, gpt, function_call, observation) and `tools`.",
    "hermes": "Hermes / Qwen rows: `messages`; tools in `<tools>`, calls in `<tool_call>`, results in `<tool_response>`.",
    "xlam": "xLAM / APIGen rows: `query`, `tools` and `answers` (JSON strings).",
    "bfcl": "BFCL entries (`question`, `function`) with ground truth in the `answers` config.",
    "dpo": "TRL conversational preference rows: `prompt` (system turn with the tools, then the conversation up to "
           "a voted step), `chosen` (the kept assistant turn) and `rejected` (a sample that lost the vote); calls "
           "are written in the system turn's Hermes `<tool_call>` syntax.",
}
_DPO_SNIPPET = """from datasets import load_dataset
from trl import DPOConfig, DPOTrainer
trainer = DPOTrainer(model="YOUR_MODEL", args=DPOConfig(output_dir="dpo"),
                     train_dataset=load_dataset("json", data_files="{path}", split="train"))"""
_LOAD_SNIPPET = """from datasets import load_dataset
dataset = load_dataset("json", data_files="{path}", split="train")"""


@dataclass(frozen=True)
class CardOutcome:
    path: Path
    note: str = ""  # why the card is not README.md


def size_category(n: int) -> str:
    for limit, label in _SIZE_CATEGORIES:
        if n < limit:
            return label
    return "n>100M"


def hf_license(name: str | None) -> tuple[str, str | None]:
    """(license id, license_name) for the YAML header: known names map to Hub ids, an id-like name is kept,
    free text becomes ("other", name)."""
    if not name or not name.strip():
        return "unknown", None
    key = name.strip().lower()
    if key in _HF_LICENSES:
        return _HF_LICENSES[key], None
    return (key, None) if _LICENSE_ID_RE.fullmatch(key) else ("other", name.strip())


# ---------------------------------------------------------------- collecting


def _catalogue_entry(file_name: str) -> dict[str, Any] | None:
    return next((e for e in load_catalogue()["models"] if e["file"] == file_name), None)


def model_info(store: Store, fingerprint: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a reader needs to know of a generating model: name and licence when the file is known, its hash."""
    if not fingerprint:
        return {}
    info: dict[str, Any] = {"backend": fingerprint.get("backend")}
    sha = fingerprint.get("model_sha256")
    if sha:
        info["sha256"] = sha
        # The file-hash cache maps the hash back to the file the run used, hence to its catalogue entry.
        row = store.conn.execute("SELECT path FROM file_hashes WHERE sha256=? LIMIT 1", (sha,)).fetchone()
        if row:
            info["file"] = Path(row[0]).name
            entry = _catalogue_entry(info["file"])
            if entry:
                info["name"], info["license"] = entry["name"], entry.get("license")
    if fingerprint.get("n_ctx"):
        info["n_ctx"] = fingerprint["n_ctx"]
    return {k: v for k, v in info.items() if v is not None}


def _dialog_runs(store: Store, run_id: str | None, status: str | None, kinds: Sequence[str]) -> list[str]:
    where, params = dialog_filter(run_id, status, kinds)
    sql = "SELECT DISTINCT run_id FROM dialogs" + where + " ORDER BY run_id"
    return [r[0] for r in store.conn.execute(sql, params) if r[0]]


def _pipeline_run_of(store: Store, dialog_run: str) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """The `localace run` whose report names this dialog run: (id, config, report)."""
    for rid, config, report in store.conn.execute(
            "SELECT id, config_json, report_json FROM runs WHERE command='run' AND report_json IS NOT NULL"):
        report = json.loads(report)
        if report.get("dialog_run") == dialog_run:
            return rid, json.loads(config), report
    return None


def _run_section(store: Store, dialog_run: str) -> dict[str, Any]:
    pipeline = _pipeline_run_of(store, dialog_run)
    if pipeline is not None:
        rid, config, report = pipeline
        models = config.pop("models", {}) or {}
        return {"id": rid, "command": "localace run", "dialog_run": dialog_run,
                "model": model_info(store, models.get("generator")),
                "judge_model": model_info(store, models.get("judge")),
                "seed": config.pop("seed", None), "options": config, "funnels": report.get("funnels", [])}
    row = store.conn.execute("SELECT command, config_json FROM runs WHERE id=?", (dialog_run,)).fetchone()
    command, config = (row[0], json.loads(row[1])) if row else ("unknown", {})
    model_hash = config.pop("model", None)
    return {"id": dialog_run, "command": f"localace {command}", "dialog_run": dialog_run,
            "model": {"fingerprint_hash": model_hash} if model_hash else {}, "judge_model": {},
            "seed": config.pop("seed", None), "options": config,
            "funnels": run_report(store, None, dialog_run)["funnels"]}


def _quality(store: Store, dialog_runs: Sequence[str]) -> dict[str, Any]:
    """Quality figures per dialog run (self-consistency, complexity); add new measures here as keys."""
    quality: dict[str, Any] = {}
    for dialog_run in dialog_runs:
        report = dialog_report(store, dialog_run)
        prefix = f"run {dialog_run}: " if len(dialog_runs) > 1 else ""
        consistency = report["self_consistency"]
        if consistency.get("steps"):
            quality[prefix + "self-consistency"] = {
                "assistant steps voted": consistency.get("steps", 0),
                "agreed at first vote": consistency.get("agreed_first", 0),
                "agreed after regeneration": consistency.get("regenerated", 0),
                "dropped (no majority)": consistency.get("dropped", 0)}
        if report["complexity"]:
            quality[prefix + "complexity (learner loss) percentiles"] = report["complexity"]
        figures = quality_figures(store, dialog_run)
        quality[prefix + f"grounding, surface forms and voice ({figures['scope']})"] = {
            label: _share(figures[key]) for key, label in QUALITY_ROWS}
        mix = run_report(store, None, dialog_run).get("kinds") or []
        if mix:
            quality[prefix + "kinds: kept of attempted"] = {row["kind"]: f"{row['kept']} of {row['attempts']}"
                                                            for row in mix}
    return quality


def _share(figure: dict[str, Any]) -> str:
    return "—" if figure["share"] is None else f"{figure['share']:.1%} ({figure['count']} of {figure['of']})"


def card_data(store: Store, summary: ExportSummary, *, run_id: str | None = None, status: str | None = "kept",
              kinds: Sequence[str] = (), seed: int = 0, tool_mix: Mapping[str, float] | None = None,
              license: str | None = None) -> dict[str, Any]:
    """Everything the card says about one export, as plain JSON-able data."""
    dialog_runs = _dialog_runs(store, run_id, status, kinds)
    runs = [_run_section(store, r) for r in dialog_runs]
    model_license = next((r["model"]["license"] for r in runs if r["model"].get("license")), None)
    license_id, license_name = hf_license(license or model_license)
    files = [{"config": "default", "split": "train", "path": summary.path.name}]
    files += [{"config": "answers", "split": "train", "path": p.name} for p in summary.extra_files]
    preference = summary.fmt == "dpo"
    return {
        "pretty_name": f"localace {'preference pairs' if preference else 'tool-calling dialogs'} ({summary.fmt})",
        "license": license_id,
        "license_name": license_name,
        "license_source": "--license" if license else ("the generating model's catalogue entry" if model_license
                                                       else None),
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": list(dict.fromkeys(["synthetic", "function-calling", "tool-use", "localace", summary.fmt]
                                   + (["dpo", "preference"] if preference else []))),
        "size_category": size_category(summary.rows),
        "files": files,
        "format": {"name": summary.fmt, "description": FORMAT_NOTES.get(summary.fmt, "")},
        "load_snippet": (_DPO_SNIPPET if preference else _LOAD_SNIPPET).format(path=summary.path.name),
        "counts": {"rows": summary.rows, "dialogs read": summary.dialogs,
                   "dialogs that fit": sum(summary.kinds.values())},
        "skipped": summary.not_applicable,
        "dropped": summary.dropped,
        "selection": {"dialogs": status or "all", "dialog run": run_id or "every run in the database",
                      "kinds": list(kinds) or "all", "seed": seed, "tool_mix": dict(tool_mix) if tool_mix else "json"},
        "runs": runs,
        "kinds": summary.kinds,
        "domains": summary.domains,
        "row_labels": {"title": "Pairs by disagreement", "counts": summary.row_labels} if summary.row_labels else {},
        "quality": _quality(store, dialog_runs),
        "localace_version": __version__,
    }


# ---------------------------------------------------------------- rendering


def _front_matter(data: Mapping[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = {"license": data["license"]}
    if data.get("license_name"):
        header["license_name"] = data["license_name"]
    header.update({
        "language": list(data["language"]),
        "task_categories": list(data["task_categories"]),
        "tags": list(data["tags"]),
        "size_categories": [data["size_category"]],
        "pretty_name": data["pretty_name"],
        "configs": [{"config_name": name,
                     "data_files": [{"split": f["split"], "path": f["path"]} for f in data["files"] if f["config"] == name]}
                    for name in dict.fromkeys(f["config"] for f in data["files"])],
    })
    return header


def _cell(value: Any) -> str:
    if isinstance(value, float):
        value = round(value, 4)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return re.sub(r"\s+", " ", text).replace("|", "\\|")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _counts_table(title: str, counts: Mapping[str, int], label: str, top: int | None = None) -> list[str]:
    if not counts:
        return []
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ordered[:top] if top else ordered
    lines = [f"### {title}", ""] + _table([label, "count"], shown)
    if len(ordered) > len(shown):
        lines[-1:] = [f"... and {len(ordered) - len(shown)} more.", ""]
    return lines


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping) and value:
            rows += _flat(value, f"{prefix}{key} › ")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _run_lines(run: Mapping[str, Any]) -> list[str]:
    lines = [f"### Run `{run['id']}` ({run['command']})", ""]
    rows: list[tuple[str, Any]] = [("dialog run", run["dialog_run"])] if run.get("dialog_run") != run["id"] else []
    rows.append(("seed", run.get("seed")))
    rows += [(f"model › {k}", v) for k, v in run.get("model", {}).items()]
    rows += [(f"judge model › {k}", v) for k, v in run.get("judge_model", {}).items()]
    rows += [(f"option › {k}", v) for k, v in run.get("options", {}).items()]
    lines += _table(["setting", "value"], rows)
    for funnel in run.get("funnels", []):
        lines += [f"**{funnel['stage']}**: {funnel['requested']} requested → {funnel['kept']} kept", ""]
        lines += _table(["check", "rejected", "remaining"],
                        [("requested", "", funnel["requested"])]
                        + [(c["check"], c["rejected"], c["remaining"]) for c in funnel["checks"]])
    return lines


def _flat_section(title: str, counts: Mapping[str, int] | None) -> list[str]:
    return _counts_table(title, counts, "reason") if counts else []


def render_card(data: Mapping[str, Any]) -> str:
    """A dataset card (YAML front matter + Markdown) from card_data's dict; sections with no data are left out."""
    lines = ["---", yaml_text(_front_matter(data)), "---", "", CARD_MARKER, "", f"# {data['pretty_name']}", ""]
    lines += [f"Synthetic tool-calling training data generated offline by localace {data['localace_version']} (ToolACE method: "
              "synthesized APIs, multi-agent dialogs, rule and model verification).", ""]
    lines += ["## Files", ""] + _table(["config", "split", "file"],
                                       [(f["config"], f["split"], f["path"]) for f in data["files"]])
    lines += [data["format"]["description"], "", "```python", data["load_snippet"], "```", ""]
    lines += ["## Contents", ""] + _table(["what", "count"], list(data["counts"].items()))
    lines += _flat_section("Dialogs left out (do not fit the format)", data.get("skipped"))
    lines += _flat_section("Parts of dialogs left out", data.get("dropped"))
    if data.get("row_labels"):
        lines += _counts_table(data["row_labels"]["title"], data["row_labels"]["counts"], "label")
    lines += _counts_table("Dialog kinds", data.get("kinds", {}), "kind")
    lines += _counts_table("Domains", data.get("domains", {}), "domain", top=TOP_DOMAINS)
    lines += ["## How it was made", ""] + _table(["export setting", "value"], list(data["selection"].items()))
    for run in data.get("runs", []):
        lines += _run_lines(run)
    if data.get("quality"):
        lines += ["## Quality", ""] + _table(["figure", "value"], _flat(data["quality"]))
    license_line = f"License: `{data['license']}`" + (f" ({data['license_name']})" if data.get("license_name") else "")
    source = data.get("license_source")
    lines += ["## License", "", license_line + (f", from {source}." if source else ".")
              + " Check the generating model's terms for generated data; `localace export --license ID` sets it.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- writing


def write_card(data_path: Path, text: str) -> CardOutcome:
    """README.md beside the data file; a README.md localace did not write is kept and the card goes beside it."""
    target = data_path.with_name("README.md")
    note = ""
    if target.exists():
        try:
            ours = MARKER_PREFIX in target.read_text(encoding="utf-8", errors="replace")
        except OSError:
            ours = False
        if not ours:
            target = data_path.with_name(ALTERNATE_NAME)
            note = f"{data_path.with_name('README.md')} was not written by localace and is left alone"
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {target}: {e.strerror}") from None
    return CardOutcome(target, note=note)
