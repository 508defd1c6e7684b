"""Readers for BFCL's JSON Lines files: question entries and possible-answer files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from localace.errors import UserError

# "simple_12", "parallel_multiple_3", "live_simple_4-2-1": category, then a numeric index.
_ID_RE = re.compile(r"^(?P<category>[A-Za-z][A-Za-z_]*?)_(?P<index>\d+(?:-\d+)*)$")


class BfclFileError(UserError):
    """A malformed line in a BFCL file; the message names the file and the line."""

    def __init__(self, path: str | Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = str(path)
        self.line = line
        self.reason = reason


class BfclIdError(UserError):
    """An entry id that does not look like '<category>_<index>'."""


def category_of(entry_id: str) -> str:
    """Category part of a BFCL id: 'live_simple_4-2-1' -> 'live_simple'."""
    match = _ID_RE.match(entry_id)
    if match is None:
        raise BfclIdError(f"not a BFCL entry id: {entry_id!r}")
    return match.group("category")


def _records(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; OSError from opening propagates."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise BfclFileError(path, number, f"invalid JSON: {e.msg}") from None
            if not isinstance(record, dict):
                raise BfclFileError(path, number, "expected a JSON object")
            entry_id = record.get("id")
            if not isinstance(entry_id, str) or not entry_id:
                raise BfclFileError(path, number, "missing or non-string 'id'")
            yield number, record


def _has_fields(value: Any, **types: type) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), t) for k, t in types.items())


def _question_problem(question: Any) -> str | None:
    if not isinstance(question, list) or not question:
        return "'question' must be a non-empty list of turns"
    for turn in question:
        if not isinstance(turn, list):
            return "each turn in 'question' must be a list of messages"
        for message in turn:
            if not _has_fields(message, role=str, content=str):
                return "each message needs string 'role' and 'content'"
    return None


def _functions_problem(functions: Any) -> str | None:
    if not isinstance(functions, list):
        return "'function' must be a list of function documents"
    for function in functions:
        if not _has_fields(function, name=str, parameters=dict):
            return "each function needs a string 'name' and an object 'parameters'"
    return None


def _ground_truth_problem(ground_truth: Any) -> str | None:
    if not isinstance(ground_truth, list):
        return "'ground_truth' must be a list of calls"
    for call in ground_truth:
        if not (isinstance(call, dict) and len(call) == 1):
            return "each ground-truth call must be an object with exactly one function name"
        (params,) = call.values()
        if not isinstance(params, dict):
            return "each ground-truth call must map its name to an object of parameters"
        if not all(isinstance(values, list) for values in params.values()):
            return "each ground-truth parameter must list its acceptable values"
    return None


def _load(path: str | Path, check: Callable[[dict], str | None]) -> dict[str, dict]:
    by_id: dict[str, dict] = {}
    for number, record in _records(path):
        problem = check(record)
        if problem is not None:
            raise BfclFileError(path, number, problem)
        if record["id"] in by_id:
            raise BfclFileError(path, number, f"duplicate id {record['id']!r}")
        by_id[record["id"]] = record
    return by_id


def load_entries(path: str | Path) -> list[dict]:
    """Question entries ({"id", "question", "function", ...}) in file order."""
    return list(
        _load(
            path,
            lambda r: _question_problem(r.get("question")) or _functions_problem(r.get("function")),
        ).values()
    )


def load_answers(path: str | Path) -> dict[str, list]:
    """Map entry id -> ground truth ([{"func_name": {"param": [acceptable values]}}])."""
    records = _load(path, lambda r: _ground_truth_problem(r.get("ground_truth")))
    return {entry_id: record["ground_truth"] for entry_id, record in records.items()}
