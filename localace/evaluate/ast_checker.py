"""BFCL-compatible AST check of decoded function calls against BFCL possible answers.

Shapes (BFCL's own):
- ``functions``: ``[{"name", "description", "parameters": {"type": "dict", "properties", "required"}}]``
  with gorilla type names (string, integer, float, boolean, array, tuple, dict, any), or Java /
  JavaScript type names in the java and javascript categories;
- ``decoded``: ``[{"func_name": {"param": value}}]``, or ``None`` when the output did not decode;
- ``ground_truth``: ``[{"func_name": {"param": [acceptable values]}}]`` where ``""`` among the
  acceptable values means the parameter may be omitted. Dicts inside answers are themselves in
  answer form: ``{"key": [acceptable values]}``.

The verdict of every entry is meant to equal BFCL's own checker's on the same decoded output
(tests/test_bfcl_agreement.py runs both side by side), so the rules below follow BFCL where it is
loose too: names compare exactly (a prompt-mode model sees BFCL's names, dots included); `any` wants
a string; an answer whose type differs from the declared type is a variable name, compared as it is;
strings are compared after removing spaces and ``,./-_*^`` and lower-casing; lists keep their order;
dict answers are checked one level deep with no type check of their keys; parallel calls are paired
greedily, each expected call taking the first remaining output that passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localace.errors import UserError
from localace.evaluate import lang_values

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

# The rule sets; every category below is scored by one of them.
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance", "relevance")
# BFCL's single-turn AST categories, v3 and v4 spellings; "live_" + any of them is live data.
_CATEGORY_RULES = {
    "simple": "simple", "simple_python": "simple", "simple_java": "simple", "simple_javascript": "simple",
    "java": "simple", "javascript": "simple",
    "multiple": "multiple", "parallel": "parallel", "parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance", "relevance": "relevance",
}  # fmt: skip

# When no parallel pairing works we report the unmatched call that came closest to an answer:
# a wrong value means name, parameters and types were all right.
_CLOSENESS: dict[str | None, int] = {
    WRONG_NAME: 0, MISSING_REQUIRED: 1, UNEXPECTED_PARAM: 2, TYPE_ERROR: 3, VALUE_ERROR: 4,
}

# The Python type each gorilla type must have (BFCL's table: a tuple arrives as a list, `any` as text).
_PY_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}  # fmt: skip
# JSON Schema spellings that our own synthesized tool lists use (BFCL itself never writes them).
_TYPE_ALIASES = {"number": "float", "object": "dict"}
_PY_SEQUENCES = frozenset({"array", "tuple"})

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


def base_category(category: str) -> str:
    """Map a BFCL category (v3 or v4 name, live_* included) to the rule set that checks it."""
    base = _CATEGORY_RULES.get(category.removeprefix("live_"))
    if base is None:
        raise AstCheckerError(f"unsupported BFCL category {category!r}")
    return base


def _is_omit_marker(value: Any) -> bool:
    return isinstance(value, str) and value == ""


# ---------------------------------------------------------------- declared types


@dataclass(frozen=True)
class _Expected:
    """What a parameter's value must be once read: its Python type and, for lists, the items' type."""

    declared: str
    type: type
    item_type: type | None
    item_declared: str | None


def _declared(schema: Any, where: str) -> str:
    raw = schema.get("type") if isinstance(schema, dict) else None
    if not isinstance(raw, str):
        raise AstCheckerError(f"missing or non-string parameter type for {where}")
    return raw


def _expected(schema: dict, language: str | None, where: str) -> _Expected:
    declared = _declared(schema, where)
    if language is None:
        declared = _TYPE_ALIASES.get(declared, declared)
        if declared not in _PY_TYPES:
            raise AstCheckerError(f"unknown parameter type {declared!r} for {where}")
        item = None
        if declared in _PY_SEQUENCES and isinstance(schema.get("items"), dict):
            item = _TYPE_ALIASES.get(schema["items"].get("type"), schema["items"].get("type"))
            if item not in _PY_TYPES:
                raise AstCheckerError(f"unknown item type {item!r} for {where}")
        return _Expected(declared, _PY_TYPES[declared], _PY_TYPES[item] if item else None, item)
    try:
        python_type = lang_values.python_type(language, declared)
        item = None
        if declared in lang_values.SEQUENCE_TYPES and isinstance(schema.get("items"), dict):
            item = _declared(schema["items"], f"items of {where}")
        item_type = lang_values.python_type(language, item) if item else None
    except lang_values.UnconvertibleTypeError as error:
        raise AstCheckerError(f"{where}: {error}") from None
    return _Expected(declared, python_type, item_type, item)


def _read_value(value: Any, expected: _Expected, language: str | None, param: str) -> tuple[Any, str | None]:
    """The value as BFCL compares it, or a type problem (Java/JS values must be source text)."""
    if language is not None:
        if type(value) is not str:
            return value, (f"parameter {param!r}: a {language} value must be written as a string, "
                           f"got {type(value).__name__} {value!r}")
        try:
            value = lang_values.convert(language, value, expected.declared, expected.item_declared)
        except lang_values.UnconvertibleTypeError as error:
            raise AstCheckerError(f"parameter {param!r}: {error}") from None
    if expected.declared == "tuple" and type(value) is tuple:
        value = list(value)
    if language is None and expected.declared == "float" and type(value) is int:
        value = float(value)  # Python would convert it
    return value, None


def _answer_type(acceptable: Any) -> type | None:
    """The type of the first acceptable value that is not the omit marker."""
    for option in acceptable if isinstance(acceptable, (list, tuple, str)) else ():
        if option != "":
            return type(option)
    return None


def _item_ok(item: Any, option: Any, item_type: type) -> bool:
    # An item passes with the declared item type or with the type of the answer's own items.
    return type(item) is item_type or type(item) is _answer_type(option)


def _type_check(param: str, value: Any, acceptable: list, expected: _Expected) -> tuple[bool, str | None]:
    """(value is a variable reference, problem or None).

    BFCL reads an answer whose type differs from the declared type as a variable name: then a value
    of the answer's type passes, and it is compared as it is, not normalized."""
    answer_type = _answer_type(acceptable)
    variable = answer_type is not None and answer_type is not expected.type
    if type(value) is expected.type:
        if expected.item_type is None:
            return variable, None
        for option in acceptable:
            # An option that is not a list (the omit marker) leaves the items unchecked.
            if type(option) is not list or all(_item_ok(item, option, expected.item_type) for item in value):
                return variable, None
        bad = next((item for item in value if type(item) is not expected.item_type), None)
        got = f"; got {type(bad).__name__} {bad!r}" if bad is not None else ""
        return variable, f"parameter {param!r}: items must be {expected.item_declared}{got}"
    if answer_type is not None and type(value) is answer_type:
        return True, None
    return variable, (f"parameter {param!r}: expected {expected.declared}, "
                      f"got {type(value).__name__} {value!r}")


# ---------------------------------------------------------------- values


def _normalized(value: Any) -> Any:
    return normalize_string(value) if type(value) is str else value


def _each(option: Any) -> list:
    """Elements of an acceptable value as BFCL walks them (a string is walked character by character)."""
    return list(option) if isinstance(option, (list, tuple, str)) else []


def _string_ok(value: str, acceptable: list) -> bool:
    return normalize_string(value) in [normalize_string(a) for a in acceptable if type(a) is str]


def _list_ok(value: list, acceptable: list) -> bool:
    # Only the list's own string items are normalized; nested lists and dicts compare as they are.
    normalized = [_normalized(item) for item in value]
    return any(normalized == [_normalized(item) for item in _each(option)] for option in acceptable)


def _may_omit(options: Any) -> bool:
    return isinstance(options, (list, tuple, str)) and "" in options


def _dict_ok(value: dict, acceptable: list) -> bool:
    for option in acceptable:
        if option == "" or not isinstance(option, dict):
            continue
        keys_ok = all(
            key in option and _normalized(item) in [_normalized(o) for o in _each(option[key])]
            for key, item in value.items()
        )
        if keys_ok and all(key in value or _may_omit(options) for key, options in option.items()):
            return True
    return False


def _dict_list_ok(value: list, acceptable: list) -> bool:
    for option in acceptable:
        items = _each(option)
        if len(items) == len(value) and all(
            isinstance(item, dict) and _dict_ok(item, [expected]) for item, expected in zip(value, items)
        ):
            return True
    return False


def _value_ok(value: Any, acceptable: list, expected: _Expected, variable: bool) -> bool:
    if not variable:
        if expected.type is dict:
            return _dict_ok(value, acceptable)
        if expected.type is list and expected.item_type is dict:
            return _dict_list_ok(value, acceptable)
        if expected.type is str:
            return _string_ok(value, acceptable)
        if expected.type is list:
            return _list_ok(value, acceptable)
    return value in acceptable  # Python equality, as BFCL compares (so 1 == 1.0 == True)


# ---------------------------------------------------------------- calls


def _decoded_parts(call: Any) -> tuple[str, dict] | None:
    """(name, arguments) of one decoded call, or None when it is not in BFCL's decoded form."""
    if not isinstance(call, dict) or len(call) != 1:
        return None
    ((name, args),) = call.items()
    if not isinstance(name, str) or not isinstance(args, dict):
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
    found = next((f for f in functions if f.get("name") == name), None)
    if found is None:
        raise AstCheckerError(f"ground truth names function {name!r} that is not in the function list")
    return found


def _schema_parts(function: dict) -> tuple[dict, list]:
    parameters = function.get("parameters")
    if not isinstance(parameters, dict):
        raise AstCheckerError(f"function {function.get('name')!r} has no parameters object")
    properties = parameters.get("properties") or {}
    required = parameters.get("required") or []
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise AstCheckerError(f"function {function.get('name')!r}: bad properties or required list")
    return properties, required


def check_call(function: dict, call: dict, answer: dict, language: str | None = None) -> Verdict:
    """Check one decoded call against one ground-truth call and its function document.

    `language` is "java" or "javascript" for entries whose values are written in that language."""
    _, expected_params = _answer_parts(answer)
    parts = _decoded_parts(call)
    if parts is None:
        return _fail(DECODE_FAILURE, f"not a decoded call: {call!r}")
    name, args = parts
    expected_name = function.get("name")
    if name != expected_name:
        return _fail(WRONG_NAME, f"called {name!r}, expected {expected_name!r}")

    properties, required = _schema_parts(function)
    for param in required:
        if param not in args:
            return _fail(MISSING_REQUIRED, f"required parameter {param!r} is missing")
    for param, value in args.items():
        if param not in properties:
            return _fail(UNEXPECTED_PARAM, f"parameter {param!r} is not in the function's schema")
        if param not in expected_params:
            return _fail(UNEXPECTED_PARAM, f"parameter {param!r} is not in the answer")
        acceptable = expected_params[param]
        expected = _expected(properties[param], language, repr(param))
        value, problem = _read_value(value, expected, language, param)
        if problem is None:
            variable, problem = _type_check(param, value, acceptable, expected)
        if problem is not None:
            return _fail(TYPE_ERROR, problem)
        if not _value_ok(value, acceptable, expected, variable):
            return _fail(VALUE_ERROR, f"parameter {param!r}: {value!r} is not one of {acceptable!r}")

    for param, acceptable in expected_params.items():
        if param not in args and "" not in acceptable:
            # Not required by the schema, but the answer needs a value (BFCL: missing_optional).
            return _fail(MISSING_REQUIRED, f"parameter {param!r} is omitted but the answer needs it")
    return _OK


def _check_single(functions: list[dict], decoded: list, ground_truth: list, language: str | None) -> Verdict:
    if len(ground_truth) != 1:
        raise AstCheckerError(f"expected one ground-truth call, got {len(ground_truth)}")
    if not functions:
        raise AstCheckerError("entry offers no function")
    if len(decoded) != 1:
        return _fail(WRONG_COUNT, f"expected 1 call, got {len(decoded)}")
    # BFCL checks a simple entry against its (only) function, not the one the answer names.
    return check_call(functions[0], decoded[0], ground_truth[0], language)


def _check_multiple(functions: list[dict], decoded: list, ground_truth: list, language: str | None) -> Verdict:
    if not ground_truth:
        raise AstCheckerError("expected a ground-truth call, got none")
    if len(decoded) != len(ground_truth):
        return _fail(WRONG_COUNT, f"expected {len(ground_truth)} call(s), got {len(decoded)}")
    function = _find_function(functions, _answer_parts(ground_truth[0])[0])
    return check_call(function, decoded[0], ground_truth[0], language)


def _check_parallel(functions: list[dict], decoded: list, ground_truth: list, language: str | None) -> Verdict:
    if len(decoded) != len(ground_truth):
        return _fail(WRONG_COUNT, f"expected {len(ground_truth)} calls, got {len(decoded)}")
    used: set[int] = set()
    for j, answer in enumerate(ground_truth):
        expected_name = _answer_parts(answer)[0]
        function = _find_function(functions, expected_name)
        tried: list[tuple[int, Verdict]] = []
        for i, call in enumerate(decoded):
            if i in used:
                continue
            verdict = check_call(function, call, answer, language)
            if verdict.valid:
                used.add(i)
                break
            tried.append((i, verdict))
        else:
            best, closest = max(tried, key=lambda t: (_CLOSENESS.get(t[1].error_type, -1), -t[0]))
            message = f"no call matches expected call #{j} ({expected_name}); closest is call #{best}: "
            return Verdict(False, closest.error_type, message + closest.message)
    return _OK


_RULES = {
    "simple": _check_single, "multiple": _check_multiple,
    "parallel": _check_parallel, "parallel_multiple": _check_parallel,
}  # fmt: skip


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
    calls = decoded if shape_ok else []
    if base == "irrelevance":
        return _fail(UNEXPECTED_CALL, f"expected no call, got {len(calls)}") if calls else _OK
    if not shape_ok:
        return _fail(DECODE_FAILURE, "the output did not decode into function calls")
    if base == "relevance":
        return _OK if calls else _fail(NO_CALL, "expected at least one call, got none")
    return _RULES[base](functions, decoded, ground_truth, lang_values.language_of(category))
