"""BFCL's question and possible-answer files as the `bfcl-eval` package ships them.

`pip install --no-deps bfcl-eval` brings the data (and BFCL's own checker) without its model
clients; we only read files, so nothing of the package is imported here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

from localace.errors import UserError

# The single-turn categories `localace eval` scores (BFCL v4 names), in BFCL's order.
CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "irrelevance", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
    "live_irrelevance", "live_relevance",
)  # fmt: skip
ALL = "all"
INSTALL_HINT = "pip install --no-deps bfcl-eval"
_VERSIONED = re.compile(r"^BFCL_v(\d+)_(.+)\.json$")


class BfclPackageError(UserError):
    """bfcl-eval is not installed, or a category it does not ship was asked for."""


def data_dir() -> Path:
    """The `data` folder inside the installed bfcl_eval package."""
    spec = importlib.util.find_spec("bfcl_eval")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "data"
        if folder.is_dir():
            return folder
    raise BfclPackageError(f"--bfcl needs BFCL's data files: {INSTALL_HINT} (or pass --data FILE)")


def parse_categories(text: str) -> list[str]:
    """'all' or a comma-separated list of categories, each checked against CATEGORIES."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise BfclPackageError("--bfcl needs a category or 'all'")
    if ALL in names:
        return list(CATEGORIES)
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown:
        raise BfclPackageError(
            f"unknown BFCL category {unknown[0]!r}; choose from {ALL}, {', '.join(CATEGORIES)}"
        )
    return list(dict.fromkeys(names))


def category_files(category: str, folder: Path | None = None) -> tuple[Path, Path | None]:
    """(questions, possible answers or None) of a category: the newest BFCL version shipped."""
    folder = folder or data_dir()
    versions = []
    for path in folder.glob(f"BFCL_v*_{category}.json"):
        match = _VERSIONED.match(path.name)
        if match and match.group(2) == category:
            versions.append((int(match.group(1)), path))
    if not versions:
        raise BfclPackageError(f"the installed bfcl-eval has no {category} file in {folder}")
    _, questions = max(versions)
    answers = folder / "possible_answer" / questions.name
    return questions, answers if answers.is_file() else None


def _function_key(name: object, description: object) -> str:
    text = description if isinstance(description, str) else ""
    return f"{name}\x00{' '.join(text.split()).casefold()}"


def _functions_in(path: Path) -> list[dict]:
    """Function documents of one data file: entries' "function" lists, or one document per line."""
    found: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # not JSON Lines (a few auxiliary files): nothing to collect there
        if isinstance(record, dict):
            functions = record.get("function") if isinstance(record.get("function"), list) else [record]
            found.extend(f for f in functions if isinstance(f, dict) and "name" in f)
    return found


@lru_cache(maxsize=1)
def _benchmark_keys() -> frozenset[str]:
    try:
        folder = data_dir()
    except BfclPackageError:
        return frozenset()
    paths = [*folder.glob("BFCL_v*_*.json"), *folder.glob("multi_turn_func_doc/*.json")]
    return frozenset(_function_key(f.get("name"), f.get("description")) for p in paths for f in _functions_in(p))


def is_benchmark_function(name: object, description: object) -> bool:
    """Whether BFCL's shipped data offers this function (same name and description).

    BFCL is our yardstick: its functions must not reach the API pool, examples, prompts or
    training data, or the score would measure memory. Always False without bfcl-eval installed."""
    return _function_key(name, description) in _benchmark_keys()


YARDSTICK_REASON = "a BFCL benchmark function: BFCL is the evaluation yardstick, never training data"
