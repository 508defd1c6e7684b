"""Our AST checker against BFCL's own, side by side, on BFCL v4's shipped entries.

For every entry of every single-turn AST category, outputs are generated from its possible answers:
the answers themselves (first and random acceptable values, shuffled calls), and mutations of them
(missing, extra and renamed parameters, wrong types, changed strings, numbers, lists and dicts,
wrong call counts, Java/JavaScript text that is not the declared type). Both checkers judge each
output; their verdicts must be equal. Needs `pip install --no-deps bfcl-eval`; skipped without it.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import random
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localace.evaluate.ast_checker import check
from localace.evaluate.bfcl_files import category_of, load_answers, load_entries
from localace.evaluate.lang_values import JAVA, JAVASCRIPT, language_of

AST_CATEGORIES = (
    "simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
    "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
)  # fmt: skip
_MODEL = "localace-prompt"  # a prompt-mode model: BFCL compares function names as they are
FIXTURES = Path(__file__).parent / "fixtures" / "bfcl"


@dataclass(frozen=True)
class _Bfcl:
    checker: Callable[..., dict]
    languages: dict[str | None, Any]

    def verdict(self, category: str, functions: list, decoded: list, ground_truth: list) -> bool | None:
        """BFCL's verdict, or None when its checker raises on this output (no verdict to compare)."""
        language = self.languages[language_of(category)]
        try:
            result = self.checker(functions, copy.deepcopy(decoded), ground_truth, language, category, _MODEL)
        except Exception:  # noqa: BLE001 - BFCL's checker crashes on some malformed outputs
            return None
        return bool(result["valid"])


@pytest.fixture(scope="module")
def bfcl() -> Iterator[_Bfcl]:
    if importlib.util.find_spec("bfcl_eval") is None:
        pytest.skip("bfcl-eval is not installed (pip install --no-deps bfcl-eval)")
    # The checker module imports BFCL's model registry only to ask whether a model turns dots in
    # names into underscores; that registry imports every vendor SDK. A one-entry stand-in answers
    # the question for a prompt-mode model, so the checker itself runs unmodified without those SDKs.
    registry = types.ModuleType("bfcl_eval.constants.model_config")
    registry.MODEL_CONFIG_MAPPING = {_MODEL.replace("_", "/"): types.SimpleNamespace(underscore_to_dot=False)}
    before = set(sys.modules)
    saved = sys.modules.get(registry.__name__)
    sys.modules[registry.__name__] = registry
    try:
        checker = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
        enums = importlib.import_module("bfcl_eval.constants.enums")
    finally:
        if saved is None:
            sys.modules.pop(registry.__name__, None)
        else:
            sys.modules[registry.__name__] = saved
    Language = enums.Language
    yield _Bfcl(checker.ast_checker, {None: Language.PYTHON, JAVA: Language.JAVA, JAVASCRIPT: Language.JAVASCRIPT})
    for name in set(sys.modules) - before:  # nothing else in the session sees the stand-in's checker
        sys.modules.pop(name, None)


def _v4_files(category: str) -> tuple[Path, Path]:
    from localace.bfcl_package import category_files

    questions, answers = category_files(category)
    assert answers is not None
    return questions, answers


# ---------------------------------------------------------------- picking answers


def _pick(options: list, rng: random.Random, first: bool) -> tuple[bool, Any]:
    """(present, value) for one parameter: an acceptable value, or omitted when "" is chosen."""
    if not options:  # nothing is acceptable: any value fails, so give one
        return True, "x"
    option = options[0] if first else rng.choice(options)
    if option == "":
        return False, None
    return True, _from_answer(option, rng, first)


def _from_answer(option: Any, rng: random.Random, first: bool) -> Any:
    if isinstance(option, dict):  # answer form: each key lists its acceptable values
        picked = {key: _pick(values, rng, first) if isinstance(values, list) and values else (True, values)
                  for key, values in option.items()}
        return {key: value for key, (present, value) in picked.items() if present}
    if isinstance(option, list):
        return [_from_answer(item, rng, first) for item in option]
    return option


def _java_text(value: Any, declared: str, item: str | None = None) -> str:
    if isinstance(value, str) and declared not in ("Array", "ArrayList", "HashMap"):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if declared == "long" and isinstance(value, int):
        return f"{value}L"
    if declared == "float" and isinstance(value, (int, float)):
        return f"{value}f"
    if declared == "Array" and isinstance(value, list):
        return f"new {item or 'Object'}[]{{" + ", ".join(_java_text(v, item or "any") for v in value) + "}"
    if declared == "ArrayList" and isinstance(value, list):
        quoted = [json.dumps(v) if isinstance(v, str) else _java_text(v, item or "any") for v in value]
        return "new ArrayList<>(Arrays.asList(" + ", ".join(quoted) + "))"
    if declared == "HashMap" and isinstance(value, dict):
        puts = "".join(f'put("{k}", {json.dumps(v) if isinstance(v, str) else _java_text(v, "any")}); '
                       for k, v in value.items())
        return "new HashMap<String, Object>() {{ " + puts + "}}"
    return str(value)


def _js_text(value: Any, declared: str) -> str:
    if isinstance(value, str) and declared not in ("array", "dict"):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if declared == "Bigint" and isinstance(value, int):
        return f"{value}n"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _as_language(call: dict, function: dict | None, language: str | None) -> dict:
    """The call with each value written as source text of the entry's language (Java/JS entries)."""
    if language is None or function is None:
        return call
    ((name, args),) = call.items()
    properties = function["parameters"]["properties"]
    written = {}
    for param, value in args.items():
        schema = properties.get(param, {})
        declared = schema.get("type", "any")
        item = (schema.get("items") or {}).get("type")
        written[param] = _java_text(value, declared, item) if language == JAVA else _js_text(value, declared)
    return {name: written}


def _truth(entry: dict, ground_truth: list, category: str, rng: random.Random, first: bool) -> list[dict]:
    functions = {f["name"]: f for f in entry["function"]}
    calls = []
    for answer in ground_truth:
        ((name, params),) = answer.items()
        args = {p: v for p, options in params.items() for present, v in [_pick(options, rng, first)] if present}
        calls.append(_as_language({name: args}, functions.get(name), language_of(category)))
    return calls


# ---------------------------------------------------------------- mutations


def _mutate_value(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return rng.choice([int(value), str(value).lower(), not value, None])
    if isinstance(value, int):
        return rng.choice([value + 1, float(value), str(value), True, [value]])
    if isinstance(value, float):
        return rng.choice([value + 0.5, int(value), str(value), (value,)])
    if isinstance(value, str):
        return rng.choice([value.upper(), f" {value}, ", value[:-1], value + "x", 1, [value],
                           value.replace(" ", "_"), "new int[]{1, 2}", "[1, 2]", "{a: 1}", "true"])
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            inner = dict(value[0])
            if inner:
                key = rng.choice(list(inner))
                inner[key] = _mutate_value(inner[key], rng)
            return rng.choice([[inner, *value[1:]], value[:-1], [*value, value[0]], "x"])
        return rng.choice([value[::-1], value[:-1], tuple(value), [*value, value[-1] if value else 1],
                           [str(v) for v in value], {"a": value}])
    if isinstance(value, dict):
        if not value:
            return rng.choice([{"k": 1}, [], "x"])
        key = rng.choice(list(value))
        return rng.choice([
            {k: v for k, v in value.items() if k != key},
            {**value, "zz_extra": 1},
            {**value, key: _mutate_value(value[key], rng)},
            list(value.items()),
        ])
    return rng.choice(["x", 0, [None]])


def _mutate_call(call: dict, functions: list[dict], rng: random.Random) -> dict:
    ((name, args),) = call.items()
    args = dict(args)
    kind = rng.choice(["drop", "extra", "rename", "value", "value", "value", "value"])
    if kind == "drop" and args:
        args.pop(rng.choice(list(args)))
    elif kind == "extra":
        args["zz_extra"] = "x"
    elif kind == "rename":
        others = [f["name"] for f in functions if f["name"] != name]
        name = rng.choice([name.replace(".", "_"), name + "_v2", name.upper(), *others[:2]])
    elif args:
        param = rng.choice(list(args))
        args[param] = _mutate_value(args[param], rng)
    return {name: args}


def _outputs(entry: dict, ground_truth: list, category: str, rng: random.Random) -> Iterator[list[dict]]:
    first = _truth(entry, ground_truth, category, rng, first=True)
    yield first
    for _ in range(2):
        picked = _truth(entry, ground_truth, category, rng, first=False)
        yield picked
        shuffled = list(picked)
        rng.shuffle(shuffled)
        yield shuffled
    functions = entry["function"]
    for _ in range(6):
        calls = [copy.deepcopy(c) for c in rng.choice([first, picked])]
        index = rng.randrange(len(calls))
        calls[index] = _mutate_call(calls[index], functions, rng)
        yield calls
    yield first + first[:1]
    yield first[:-1]
    language = language_of(category)
    if language is not None:  # Python values where source text is expected
        yield _truth(entry, ground_truth, "simple_python", rng, first=True)


# ---------------------------------------------------------------- the comparison


def _compare(bfcl: _Bfcl, category: str, functions: list, decoded: list, truth: list) -> tuple[bool | None, bool]:
    ours = check(category, functions, copy.deepcopy(decoded), truth).valid
    return bfcl.verdict(category, functions, decoded, truth), ours


@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_verdicts_agree_with_bfcl_on_generated_outputs(bfcl: _Bfcl, category: str) -> None:
    questions, answers_file = _v4_files(category)
    entries = load_entries(questions)
    answers = load_answers(answers_file)
    compared = crashed = passed = truth_passed = 0
    disagreements = []
    for entry in entries:
        truth = answers[entry["id"]]
        rng = random.Random(entry["id"])
        for number, decoded in enumerate(_outputs(entry, truth, category, rng)):
            theirs, ours = _compare(bfcl, category, entry["function"], decoded, truth)
            if theirs is None:
                crashed += 1
                continue
            compared += 1
            passed += ours
            truth_passed += ours and number == 0
            if theirs != ours:
                disagreements.append((entry["id"], decoded, theirs))
    assert not disagreements, f"{len(disagreements)} of {compared} verdicts differ, e.g. {disagreements[:3]}"
    # The generated outputs exercise both verdicts: the answers themselves pass, mutations mostly fail.
    assert truth_passed >= 0.9 * len(entries), f"only {truth_passed} of {len(entries)} answers pass"
    assert passed < compared
    assert crashed <= compared // 50, f"BFCL's checker raised on {crashed} of {compared + crashed} outputs"


CASES = [json.loads(line) for line in (FIXTURES / "cases.jsonl").read_text().splitlines() if line]
SAMPLE = {e["id"]: e for e in load_entries(FIXTURES / "BFCL_v3_sample.json")}
SAMPLE_ANSWERS = load_answers(FIXTURES / "possible_answer_sample.json")


def _is_calls(decoded: object) -> bool:
    """Outputs BFCL's checker sees: its decoder rejects anything else before checking."""
    return isinstance(decoded, list) and all(
        isinstance(c, dict) and len(c) == 1 and isinstance(next(iter(c.values())), dict) for c in decoded)


@pytest.mark.parametrize("case", [c for c in CASES if SAMPLE_ANSWERS.get(c["id"]) and _is_calls(c["decoded"])],
                         ids=lambda c: f"{c['id']}:{c['note']}")
def test_hand_written_cases_agree_with_bfcl(bfcl: _Bfcl, case: dict) -> None:
    theirs = bfcl.verdict(category_of(case["id"]), SAMPLE[case["id"]]["function"], case["decoded"],
                          SAMPLE_ANSWERS[case["id"]])
    assert theirs == case["valid"]
