"""Run a (cached) model over BFCL entries, decode its answers and score them with the AST checker."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localace import bfcl_package
from localace.backends.base import Output, Sampling
from localace.errors import GenerationError, SchemaError, UserError
from localace.evaluate.ast_checker import base_category, check
from localace.evaluate.bfcl_files import BfclIdError, category_of, load_answers, load_entries
from localace.evaluate.grammar import calls_schema, decode_value
from localace.evaluate.lang_values import language_of
from localace.evaluate.prompting import (
    CONSTRAINED,
    MODES,
    PROMPT,
    TEMPLATE_HASH,
    build_messages,
    offered_functions,
)
from localace.formats.call_syntax import CallSyntaxError, extract_call_list, parse_calls
from localace.formats.write import answers_path as exported_answers_path
from localace.hashing import content_hash
from localace.scheduler import run_tasks
from localace.store.db import Store, utcnow
from localace.tasks import Request, Task, run_task

MAX_TOKENS = 400
# Categories whose verdict does not depend on a ground truth, so their answer line may be absent.
_NO_ANSWER_NEEDED = frozenset({"irrelevance", "relevance"})
_EMPTY_FENCE = re.compile(r"```[ \t]*[\w+.-]*\s*```")


class EvalInputError(UserError):
    """Evaluation input we cannot use: missing files, no answers, bad --limit or --category."""


@dataclass(frozen=True)
class EvalItem:
    """One BFCL entry with the category it is scored as and its ground truth ([] = no call)."""

    entry: dict[str, Any]
    category: str
    ground_truth: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return self.entry["id"]


@dataclass(frozen=True)
class EntryResult:
    id: str
    category: str
    raw_output: str | None
    decoded: list[dict[str, Any]] | None  # None: the output did not decode into calls
    valid: bool
    error_type: str | None
    message: str
    fallback: str | None = None  # why constrained mode fell back to prompt mode for this entry

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "category": self.category, "raw_output": self.raw_output,
            "decoded": jsonable(self.decoded), "valid": self.valid, "error_type": self.error_type,
            "message": self.message, "fallback": self.fallback,
        }


@dataclass
class EvalReport:
    model: str
    mode: str
    results: list[EntryResult] = field(default_factory=list)
    model_calls: int = 0
    cache_hits: int = 0

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per category (in order of first appearance): total, correct, accuracy."""
        counts: dict[str, list[int]] = {}
        for result in self.results:
            tally = counts.setdefault(result.category, [0, 0])
            tally[0] += 1
            tally[1] += int(result.valid)
        return {category: _score(total, correct) for category, (total, correct) in counts.items()}

    def overall(self) -> dict[str, Any]:
        return _score(len(self.results), sum(r.valid for r in self.results))

    def error_types(self) -> dict[str, int]:
        counts = Counter(r.error_type for r in self.results if not r.valid)
        return dict(counts.most_common())

    def fallbacks(self) -> int:
        return sum(r.fallback is not None for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "mode": self.mode, "summary": self.summary(), "overall": self.overall(),
            "error_types": self.error_types(), "fallbacks": self.fallbacks(),
            "calls": {"model_calls": self.model_calls, "cache_hits": self.cache_hits},
            "entries": [r.as_json() for r in self.results],
        }


def _score(total: int, correct: int) -> dict[str, Any]:
    return {"total": total, "correct": correct, "accuracy": round(correct / total, 4) if total else 0.0}


def jsonable(value: Any) -> Any:
    """Decoded call values as JSON: tuples become lists, non-string dict keys their repr."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# ---------------------------------------------------------------- inputs


def find_answers(data_path: str | Path) -> Path:
    """The answers next to a data file: our exporter's `<stem>.answers<suffix>` (or .jsonl), or BFCL's
    `possible_answer/<same name>`; EvalInputError when neither exists."""
    data_path = Path(data_path)
    candidates = list(dict.fromkeys([
        exported_answers_path(data_path), data_path.with_name(data_path.stem + ".answers.jsonl"),
        data_path.parent / "possible_answer" / data_path.name,
    ]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(c) for c in candidates)
    raise EvalInputError(f"no answers found for {data_path} (looked for {looked}); pass --answers")


def _read(loader: Callable[[Path], Any], path: Path, what: str) -> Any:
    if not path.is_file():
        raise EvalInputError(f"{what} file not found: {path}")
    try:
        return loader(path)
    except UnicodeDecodeError:
        raise EvalInputError(f"{what} file {path} is not UTF-8 text") from None
    except OSError as e:
        raise EvalInputError(f"cannot read {what} file {path}: {e.strerror or e}") from None


def _entry_category(entry_id: str, category: str | None) -> str:
    """The id's category; --category only names entries whose id does not carry one."""
    try:
        return category_of(entry_id)
    except BfclIdError:
        if category is None:
            raise EvalInputError(
                f"entry id {entry_id!r} does not name a BFCL category; pass --category"
            ) from None
        return category


def load_eval_set(
    data_path: str | Path,
    answers_path: str | Path | None = None,
    *,
    category: str | None = None,
    limit: int | None = None,
) -> list[EvalItem]:
    """Entries to evaluate with their ground truth, filtered to `category`, first `limit` only.

    Everything is checked before any model call: files, categories, and that every entry that
    needs an answer has one. Irrelevance and relevance entries need none, so a file of them needs
    no answers file (BFCL ships none for them)."""
    if limit is not None and limit < 1:
        raise EvalInputError(f"--limit must be at least 1, got {limit}")
    if category is not None:
        base_category(category)  # unknown category: one-line error now, not mid-run
    data_path = Path(data_path)
    selected: list[tuple[dict, str, str]] = []
    for entry in _read(load_entries, data_path, "data"):
        entry_category = _entry_category(entry["id"], category)
        if category is not None and entry_category != category:
            continue
        selected.append((entry, entry_category, base_category(entry_category)))
        if limit is not None and len(selected) == limit:
            break
    if not selected:
        which = f" of category {category!r}" if category else ""
        raise EvalInputError(f"no entries{which} in {data_path}")
    needs_answers = any(base not in _NO_ANSWER_NEEDED for _, _, base in selected)
    answers_file: Path | None = Path(answers_path) if answers_path is not None else None
    if answers_file is None and needs_answers:
        answers_file = find_answers(data_path)
    answers = _read(load_answers, answers_file, "answers") if answers_file is not None else {}
    items: list[EvalItem] = []
    for entry, entry_category, base in selected:
        truth = answers.get(entry["id"])
        if not truth and base not in _NO_ANSWER_NEEDED:
            raise EvalInputError(f"no ground truth for entry {entry['id']!r} in {answers_file}")
        items.append(EvalItem(entry, entry_category, truth or []))
    return items


def load_bfcl_sets(categories: list[str], *, limit: int | None = None) -> list[EvalItem]:
    """The first `limit` entries of each category, from the installed bfcl-eval package's files."""
    folder = bfcl_package.data_dir()
    items: list[EvalItem] = []
    for category in categories:
        questions, answers = bfcl_package.category_files(category, folder)
        items += load_eval_set(questions, answers, limit=limit)
    return items


# ---------------------------------------------------------------- decoding


def _source_text(value: Any) -> Any:
    """A bare scalar literal as the source text it was written as (true, 5, 2.5); others unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return value


def decode_prompt_output(text: str, category: str | None = None) -> list[dict[str, Any]]:
    """BFCL prompt-mode decoding: after stripping whitespace and one code fence, the whole text
    must be a call list; nothing left (or `[]`) is no call. Raises CallSyntaxError otherwise.

    Java and JavaScript values are source text: BFCL reads `x=5` in those entries as the text "5",
    so bare scalar literals become their text there."""
    body = extract_call_list(text)
    if body is None:
        if text.strip() and not _EMPTY_FENCE.fullmatch(text.strip()):
            # An unclosed fence is not "nothing": it is text that is not a call list.
            raise CallSyntaxError("unclosed code fence", 0)
        return []
    calls = parse_calls(body)
    if language_of(category or "") is not None:
        return [{call.name: {k: _source_text(v) for k, v in call.arguments.items()}} for call in calls]
    return [{call.name: call.arguments} for call in calls]


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class _Attempt:
    raw_output: str | None
    decoded: list[dict[str, Any]] | None
    problem: str = ""


def _prompt_attempt(item: EvalItem, sampling: Sampling) -> Task[_Attempt]:
    try:
        completion = yield Request(build_messages(item.entry, PROMPT, item.category), sampling=sampling,
                                   template_hash=TEMPLATE_HASH)
    except GenerationError as e:
        return _Attempt(None, None, f"{e.kind}: {e}")
    try:
        return _Attempt(completion.text, decode_prompt_output(completion.text, item.category))
    except CallSyntaxError as e:
        return _Attempt(completion.text, None, f"not a call list: {e}")


def _constrained_attempt(item: EvalItem, sampling: Sampling) -> Task[_Attempt]:
    """Raises SchemaError when the functions cannot be constrained (the caller falls back)."""
    output = Output.json(calls_schema(offered_functions(item.entry["function"], item.category)))
    try:
        completion = yield Request(build_messages(item.entry, CONSTRAINED, item.category), output=output,
                                   sampling=sampling, template_hash=TEMPLATE_HASH)
    except GenerationError as e:
        return _Attempt(None, None, f"{e.kind}: {e}")
    return _Attempt(completion.text, decode_value(completion.value))


def evaluate_task(item: EvalItem, *, mode: str = PROMPT, seed: int = 0, max_tokens: int = MAX_TOKENS) -> Task[EntryResult]:
    """Generate (greedy), decode and score one entry, as a task (localace/tasks.py)."""
    sampling = Sampling(temperature=0.0, max_tokens=max_tokens, seed=seed)
    fallback = None
    if mode == CONSTRAINED:
        try:
            attempt = yield from _constrained_attempt(item, sampling)
        except SchemaError as e:
            fallback = str(e)
            attempt = yield from _prompt_attempt(item, sampling)
    else:
        attempt = yield from _prompt_attempt(item, sampling)
    verdict = check(item.category, item.entry["function"], attempt.decoded, item.ground_truth)
    message = "; ".join(part for part in (verdict.message, attempt.problem) if part)
    return EntryResult(item.id, item.category, attempt.raw_output, attempt.decoded, verdict.valid,
                       verdict.error_type, message, fallback)


def evaluate_item(backend: Any, item: EvalItem, *, mode: str = PROMPT, seed: int = 0,
                  max_tokens: int = MAX_TOKENS) -> EntryResult:
    """Generate (greedy), decode and score one entry. `backend` is usually a CachedBackend."""
    return run_task(evaluate_task(item, mode=mode, seed=seed, max_tokens=max_tokens), backend)


def result_id(fingerprint: dict[str, Any], mode: str, entry: dict[str, Any]) -> str:
    """Content hash of what determines a result: model, mode and the entry itself."""
    return content_hash({"model": fingerprint, "mode": mode, "entry_id": entry["id"], "entry": entry})


def _record(store: Store, model: str, mode: str, row_id: str, result: EntryResult) -> None:
    with store.transaction():
        store.db["eval_results"].insert({
            "id": row_id, "model": model, "mode": mode, "entry_id": result.id, "category": result.category,
            "raw_output": result.raw_output,
            "decoded_json": None if result.decoded is None else json.dumps(jsonable(result.decoded), ensure_ascii=False),
            "valid": int(result.valid), "error_type": result.error_type, "message": result.message,
            "created_at": utcnow(), "fallback": result.fallback,
        }, replace=True)


def run_eval(
    backend: Any,
    store: Store,
    items: list[EvalItem],
    *,
    mode: str = PROMPT,
    model: str | None = None,
    seed: int = 0,
    max_tokens: int = MAX_TOKENS,
    on_result: Callable[[EntryResult], None] | None = None,
    parallel: int = 1,
) -> EvalReport:
    """Evaluate every item and store each result in eval_results (replacing an older one).

    `parallel` entries are evaluated at once (their model calls decoded together); results are
    stored and reported in the items' order."""
    if mode not in MODES:
        raise EvalInputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    fingerprint = backend.fingerprint()
    report = EvalReport(model or backend.name, mode)
    misses, hits = getattr(backend, "misses", 0), getattr(backend, "hits", 0)
    tasks = (evaluate_task(item, mode=mode, seed=seed, max_tokens=max_tokens) for item in items)
    with closing(run_tasks(tasks, backend, parallel=parallel)) as outcomes:
        for item, outcome in zip(items, outcomes):
            result = outcome.unwrap()
            _record(store, report.model, mode, result_id(fingerprint, mode, item.entry), result)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
    report.model_calls = getattr(backend, "misses", 0) - misses
    report.cache_hits = getattr(backend, "hits", 0) - hits
    return report
