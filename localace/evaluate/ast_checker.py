"""BFCL-compatible AST check of decoded function calls against BFCL possible answers.

Shapes (BFCL's own):
- ``functions``: ``[{"name", "description", "parameters": {"type": "dict", "properties", "required"}}]``
  with gorilla type names (string, integer, float, boolean, array, tuple, dict, any);
- ``decoded``: ``[{"func_name": {"param": value}}]``, or ``None`` when the output did not decode;
- ``ground_truth``: ``[{"func_name": {"param": [acceptable values]}}]`` where ``""`` among the
  acceptable values means the parameter may be omitted. Dicts inside answers are themselves in
  answer form: ``{"key": [acceptable values]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localace.errors import UserError

WRONG_NAME = "wrong_name"
MISSING_REQUIRED = "missing_required"
UNEXPECTED_PARAM = "unexpected_param"
TYPE_ERROR = "type_error"
VALUE_ERROR = "value_error"
WRONG_COUNT = "wrong_count"
DECODE_FAILURE = "decode_failure"
UNEXPECTED_CALL = "unexpected_call"
NO_CALL = "no_call"
ERROR_TYPES = (
    WRONG_NAME, MISSING_REQUIRED, UNEXPECTED_PARAM, TYPE_ERROR, VALUE_ERROR,
    WRONG_COUNT, DECODE_FAILURE, UNEXPECTED_CALL, NO_CALL,
)

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance", "relevance")

# When no parallel pairing works we report the unmatched call that came closest to an answer:
# a wrong value means name, parameters and types were all right.
_CLOSENESS: dict[str | None, int] = {
    WRONG_NAME: 0, MISSING_REQUIRED: 1, UNEXPECTED_PARAM: 2, TYPE_ERROR: 3, VALUE_ERROR: 4,
}

# Exact Python types per gorilla type; int passes for float (Python would convert it).
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "float": (float, int),
    "boolean": (bool,),
    "array": (list,),
    "tuple": (list, tuple),
    "dict": (dict,),
}
# JSON Schema spellings that our own synthesized tool lists use.
_TYPE_ALIASES = {"number": "float", "object": "dict"}

# BFCL: remove spaces and ,./-_*^ then lower-case; it also treats ' and " alike.
_STRIP = str.maketrans("", "", " ,./-_*^")


class AstCheckerError(UserError):
    """Benchmark data the checker cannot use (bad ground truth, unknown category or type)."""


@dataclass(frozen=True)
class Verdict:
    valid: bool
    error_type: str | None = None
    message: str = ""


def _fail(error_type: str, message: str) -> Verdict:
    return Verdict(False, error_type, message)


_OK = Verdict(True)


def normalize_string(text: str) -> str:
    """BFCL string normalization applied to both sides before comparing."""
    return text.translate(_STRIP).lower().replace("'", '"')


def normalize_name(name: str) -> str:
    """Some providers cannot send dots in function names; BFCL accepts them as underscores."""
    return name.replace(".", "_")


def base_category(category: str) -> str:
    """Map a BFCL category (live_* included) to the rule set that checks it."""
    base = category.removeprefix("live_")
    if base not in CATEGORIES:
        raise AstCheckerError(f"unsupported BFCL category {category!r}")
    return base


def _is_omit_marker(value: Any) -> bool:
    return isinstance(value, str) and value == ""


def _gorilla_type(schema: dict, where: str) -> str:
    raw = schema.get("type", "any")
    name = _TYPE_ALIASES.get(raw, raw) if isinstance(raw, str) else None
    if name != "any" and name not in _PY_TYPES:
        raise AstCheckerError(f"unknown parameter type {raw!r} for {where}")
    return name


def _type_matches(value: Any, gorilla_type: str) -> bool:
    if gorilla_type == "any":
        return True
    # Exact type() rather than isinstance: bool is an int subclass but not an integer here.
    return type(value) in _PY_TYPES[gorilla_type]


def _type_problem(param: str, value: Any, schema: dict, acceptable: list) -> str | None:
    """Describe why value does not have the declared type (one level of nesting), or None."""
    expected = _gorilla_type(schema, repr(param))
    if not _type_matches(value, expected):
        # BFCL lets a value through when it has the type of the answer itself, which is how
        # answers spell variable references (e.g. a string where the schema says integer).
        answer_type = next((type(a) for a in acceptable if not _is_omit_marker(a)), None)
        if answer_type is not None and type(value) is answer_type:
            return None
        return f"parameter {param!r}: expected {expected}, got {type(value).__name__} {value!r}"
    items = schema.get("items")
    if expected in ("array", "tuple") and isinstance(items, dict):
        item_type = _gorilla_type(items, f"items of {param!r}")
        for index, item in enumerate(value):
            if not _type_matches(item, item_type):
                return (
                    f"parameter {param!r} item {index}: expected {item_type}, "
                    f"got {type(item).__name__} {item!r}"
                )
    properties = schema.get("properties")
    if expected == "dict" and isinstance(properties, dict):
        for key, sub_value in value.items():
            sub_schema = properties.get(key)
            if not isinstance(sub_schema, dict):
                continue  # unknown keys are judged by the value check against the answer
            sub_type = _gorilla_type(sub_schema, f"{param!r}.{key!r}")
            if not _type_matches(sub_value, sub_type):
                return (
                    f"parameter {param!r} key {key!r}: expected {sub_type}, "
                    f"got {type(sub_value).__name__} {sub_value!r}"
                )
    return None


def _scalar_equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, str):
        return isinstance(value, str) and normalize_string(value) == normalize_string(expected)
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    if isinstance(value, (int, float)) and isinstance(expected, (int, float)):
        return value == expected
    return type(value) is type(expected) and value == expected


def _matches(value: Any, expected: Any, answer_form: bool) -> bool:
    """Compare one value with one acceptable value.

    With answer_form, a dict in ``expected`` maps keys to lists of acceptable values (BFCL's
    possible-answer form, used for dict parameters and lists of dicts); dicts nested inside such a
    dict are compared literally, which is BFCL's "one level".
    """
    if isinstance(expected, dict):
        if not isinstance(value, dict):
            return False
        if answer_form:
            return _dict_matches(value, expected)
        return value.keys() == expected.keys() and all(
            _matches(value[k], expected[k], False) for k in expected
        )
    if isinstance(expected, list):
        return (
            isinstance(value, (list, tuple))
            and len(value) == len(expected)
            and all(_matches(v, e, answer_form) for v, e in zip(value, expected))
        )
    return _scalar_equal(value, expected)


def _options(acceptable: Any) -> list:
    # Answers always list acceptable values; a bare value is taken as the only option.
    return acceptable if isinstance(acceptable, list) else [acceptable]


def _dict_matches(value: dict, expected: dict) -> bool:
    for key, sub_value in value.items():
        if key not in expected:
            return False
        if not any(_matches(sub_value, option, False) for option in _options(expected[key])):
            return False
    return all(
        key in value or any(_is_omit_marker(o) for o in _options(opts))
        for key, opts in expected.items()
    )


def _value_ok(value: Any, acceptable: list) -> bool:
    return any(_matches(value, option, True) for option in acceptable)


def _decoded_parts(call: Any) -> tuple[str, dict] | None:
    """(name, arguments) of one decoded call, or None when it is not in BFCL's decoded form."""
    if not isinstance(call, dict) or len(call) != 1:
        return None
    ((name, args),) = call.items()
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    if not all(isinstance(key, str) for key in args):
        return None
    return name, args


def _answer_parts(answer: Any) -> tuple[str, dict[str, list]]:
    if not isinstance(answer, dict) or len(answer) != 1:
        raise AstCheckerError(f"ground-truth call must be a one-key object, got {answer!r}")
    ((name, params),) = answer.items()
    if not isinstance(name, str) or not isinstance(params, dict):
        raise AstCheckerError(f"ground-truth call {answer!r} must map a name to an object")
    for param, acceptable in params.items():
        if not isinstance(acceptable, list):
            raise AstCheckerError(
                f"ground truth for {name}.{param} must be a list of acceptable values"
            )
    return name, params


def _find_function(functions: list[dict], name: str) -> dict:
    # An exact name wins over one that only matches once dots become underscores.
    for same in (lambda other: other == name, lambda other: normalize_name(other) == normalize_name(name)):
        found = next((f for f in functions if same(str(f.get("name")))), None)
        if found is not None:
            return found
    raise AstCheckerError(f"ground truth names function {name!r} that is not in the function list")


def check_call(function: dict, call: dict, answer: dict) -> Verdict:
    """Check one decoded call against one ground-truth call and its function document."""
    expected_name, expected_params = _answer_parts(answer)
    parts = _decoded_parts(call)
    if parts is None:
        return _fail(DECODE_FAILURE, f"not a decoded call: {call!r}")
    name, args = parts
    if normalize_name(name) != normalize_name(expected_name):
        return _fail(WRONG_NAME, f"called {name!r}, expected {expected_name!r}")

    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    for param in parameters.get("required") or []:
        if param not in args:
            return _fail(MISSING_REQUIRED, f"required parameter {param!r} is missing")
    for param in args:
        if param not in properties:
            return _fail(UNEXPECTED_PARAM, f"parameter {param!r} is not in the function's schema")
        if param not in expected_params:
            return _fail(UNEXPECTED_PARAM, f"parameter {param!r} is not in the answer")

    for param, value in args.items():
        acceptable = expected_params[param]
        problem = _type_problem(param, value, properties[param], acceptable)
        if problem is not None:
            return _fail(TYPE_ERROR, problem)
        if not _value_ok(value, acceptable):
            return _fail(VALUE_ERROR, f"parameter {param!r}: {value!r} is not one of {acceptable!r}")

    for param, acceptable in expected_params.items():
        if param not in args and not any(_is_omit_marker(a) for a in acceptable):
            # Not required by the schema, but the answer needs a value (BFCL: missing_optional).
            return _fail(MISSING_REQUIRED, f"parameter {param!r} is omitted but the answer needs it")
    return _OK


def _check_single(functions: list[dict], decoded: list, ground_truth: list) -> Verdict:
    if len(ground_truth) != 1:
        raise AstCheckerError(f"expected one ground-truth call, got {len(ground_truth)}")
    if len(decoded) != 1:
        return _fail(WRONG_COUNT, f"expected 1 call, got {len(decoded)}")
    name, _ = _answer_parts(ground_truth[0])
    return check_call(_find_function(functions, name), decoded[0], ground_truth[0])


def _check_parallel(functions: list[dict], decoded: list, ground_truth: list) -> Verdict:
    if len(decoded) != len(ground_truth):
        return _fail(WRONG_COUNT, f"expected {len(ground_truth)} calls, got {len(decoded)}")
    schemas = [_find_function(functions, _answer_parts(a)[0]) for a in ground_truth]
    # verdicts[j][i]: decoded call i against ground-truth call j
    verdicts = [
        [check_call(schema, call, answer) for call in decoded]
        for schema, answer in zip(schemas, ground_truth)
    ]
    owner: list[int | None] = [None] * len(decoded)

    def assign(j: int, seen: set[int]) -> bool:
        # Kuhn's augmenting path: take a free call, or move its owner to another call.
        for i, verdict in enumerate(verdicts[j]):
            if verdict.valid and i not in seen:
                seen.add(i)
                if owner[i] is None or assign(owner[i], seen):
                    owner[i] = j
                    return True
        return False

    unmatched = [j for j in range(len(ground_truth)) if not assign(j, set())]
    if not unmatched:
        return _OK
    j = unmatched[0]
    free = [i for i in range(len(decoded)) if owner[i] is None]
    best = max(free, key=lambda i: (_CLOSENESS.get(verdicts[j][i].error_type, -1), -i))
    closest = verdicts[j][best]
    expected_name = _answer_parts(ground_truth[j])[0]
    message = f"no call matches expected call #{j} ({expected_name}); closest is call #{best}: "
    return Verdict(False, closest.error_type, message + closest.message)


def check(
    category: str,
    functions: list[dict],
    decoded: list[dict] | None,
    ground_truth: list[dict],
) -> Verdict:
    """Judge one BFCL entry the way BFCL's AST checker does; decoded=None means decoding failed."""
    base = base_category(category)
    # Anything that is not a list of {name: {param: value}} did not decode, like None.
    shape_ok = isinstance(decoded, list) and all(_decoded_parts(c) is not None for c in decoded)
    if base == "irrelevance":
        if shape_ok and decoded:
            return _fail(UNEXPECTED_CALL, f"expected no call, got {len(decoded)}")
        return _OK
    if not shape_ok:
        return _fail(DECODE_FAILURE, "the output did not decode into function calls")
    if base == "relevance":
        return _OK if decoded else _fail(NO_CALL, "expected at least one call, got none")
    if base in ("simple", "multiple"):
        return _check_single(functions, decoded, ground_truth)
    return _check_parallel(functions, decoded, ground_truth)
