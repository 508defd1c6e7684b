"""Sample a small value that is valid against a JSON Schema, deterministically from a seeded RNG."""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import random
import re
import string
import uuid
from fractions import Fraction
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Callable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsSchemaError
from jsonschema.exceptions import best_match

from localace.errors import SchemaError
from localace.string_formats import FORMAT_CHECKER

MAX_STRING = 12  # default upper length of free strings
MAX_ITEMS = 3  # default upper size of arrays
SOFT_DEPTH = 6  # past this nesting, produce the smallest value the schema allows
HARD_DEPTH = 40  # past this, a required recursion can never bottom out
LOCAL_TRIES = 4  # samples tried per subschema before giving up on it
PATTERN_TRIES = 24
UNIQUE_TRIES = 8
BUDGET = 3000  # subschema samples per call: bounds the work on hopeless schemas

_ALNUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase
_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
_NON_ASCII = [chr(c) for c in range(0xC0, 0x180)] + ["\u4e2d", "\u6587"]
_LOWER_BOUNDS = {"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"}
_UPPER_BOUNDS = {"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"}
_SUBSCHEMA_KEYS = {"items", "propertyNames", "contains", "unevaluatedItems", "unevaluatedProperties"}
_SCALARS = ("null", "boolean", "integer", "number", "string")


class UnsatisfiableSchemaError(SchemaError):
    """No instance could be sampled: the schema is contradictory or beyond this sampler's subset."""


def sample_instance(schema: dict[str, Any] | bool, rng: random.Random) -> Any:
    """A small JSON value valid against `schema` (Draft 2020-12, formats checked); same rng state,
    same value."""
    try:
        Draft202012Validator.check_schema(schema)
    except JsSchemaError as exc:
        raise SchemaError(f"not a valid JSON Schema: {exc.message}") from None
    return _Sampler(schema, rng).gen(schema, 0)


def _unsat(message: str) -> UnsatisfiableSchemaError:
    return UnsatisfiableSchemaError(" ".join(message.split())[:300])


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _as_list(types: str | list[str]) -> list[str]:
    return [types] if isinstance(types, str) else list(types)


def _bound(schema: dict[str, Any], key: str) -> int | float | None:
    value = schema.get(key)
    # bool is an int subclass: a draft-4 style `exclusiveMinimum: true` is not a bound here
    return None if value is None or isinstance(value, bool) else value


class _Sampler:
    def __init__(self, root: dict[str, Any] | bool, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.validator = Draft202012Validator(root, format_checker=FORMAT_CHECKER)
        self.budget = BUDGET

    # -- driver ---------------------------------------------------------------------------------

    def gen(self, schema: dict[str, Any] | bool, depth: int) -> Any:
        """Sample, then check against the exact subschema; the builders below only approximate
        some keywords (merged allOf, oneOf exclusivity), so the check is what guarantees validity."""
        check = self.validator.evolve(schema=schema)
        error = None
        for _ in range(LOCAL_TRIES):
            self.budget -= 1
            if self.budget < 0:
                raise _unsat(f"gave up after {BUDGET} sampling attempts")
            value = self._gen_raw(schema, depth)
            error = best_match(check.iter_errors(value))
            if error is None:
                return value
        assert error is not None
        raise _unsat(f"no valid value after {LOCAL_TRIES} tries: {error.message}")

    def _valid(self, value: Any, schema: dict[str, Any] | bool) -> bool:
        return self.validator.evolve(schema=schema).is_valid(value)

    def _gen_raw(self, schema: dict[str, Any] | bool, depth: int) -> Any:
        if depth > HARD_DEPTH:
            raise _unsat(f"schema recursion deeper than {HARD_DEPTH} levels (a required $ref cycle?)")
        if "$ref" in (schema if isinstance(schema, dict) else {}):
            return self._gen_raw(self._deref(schema), depth + 1)
        schema = self._deref(schema)
        if "allOf" in schema:
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                merged = self._merge(merged, self._deref(part))
            return self._gen_raw(merged, depth + 1)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if "enum" in schema:
            return self._enum(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._branch(schema, key, depth)
        return self._typed(schema, depth)

    # -- references and merging -----------------------------------------------------------------

    def _deref(self, schema: dict[str, Any] | bool) -> dict[str, Any]:
        """The schema as a dict with any top-level $ref replaced by its target merged with siblings."""
        for _ in range(64):
            if schema is True:
                return {}
            if schema is False:
                raise _unsat("schema is false: no value is allowed")
            if "$ref" not in schema:
                return schema
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            target = self._resolve(schema["$ref"])
            schema = self._merge(self._deref(target), siblings) if siblings else target
        raise _unsat("$ref chain does not end (cyclic references)")

    def _resolve(self, ref: str) -> dict[str, Any] | bool:
        if not ref.startswith("#") or (len(ref) > 1 and not ref.startswith("#/")):
            raise _unsat(f"only local JSON-pointer $ref is supported, got {ref!r}")
        node: Any = self.root
        for raw in ref[2:].split("/") if len(ref) > 1 else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise _unsat(f"unresolvable $ref {ref!r}")
        return node

    def _merge(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        """Conjunction of two schemas as one, for the keywords that combine simply; on other
        clashes `a` wins and the caller's validity check enforces `b`."""
        out = dict(a)
        for key, vb in b.items():
            if key not in out:
                out[key] = vb
                continue
            va = out[key]
            if _same(va, vb):
                continue
            if key in _LOWER_BOUNDS and not isinstance(va, bool):
                out[key] = max(va, vb)
            elif key in _UPPER_BOUNDS and not isinstance(va, bool):
                out[key] = min(va, vb)
            elif key == "type":
                out[key] = _intersect_types(va, vb)
            elif key == "required":
                out[key] = va + [name for name in vb if name not in va]
            elif key == "enum":
                out[key] = [x for x in va if any(_same(x, y) for y in vb)]
                if not out[key]:
                    raise _unsat("allOf branches share no enum value")
            elif key == "const":
                raise _unsat(f"allOf branches need different constants {va!r} and {vb!r}")
            elif key in ("properties", "patternProperties"):
                out[key] = {**va, **{n: ({"allOf": [va[n], s]} if n in va else s) for n, s in vb.items()}}
            elif key == "allOf":
                out[key] = va + vb
            elif key == "additionalProperties":
                out[key] = False if va is False or vb is False else {"allOf": [va, vb]}
            elif key == "not":
                out[key] = {"anyOf": [va, vb]}
            elif key in _SUBSCHEMA_KEYS:
                out[key] = {"allOf": [va, vb]}
            elif key == "uniqueItems":
                out[key] = bool(va or vb)
            elif key == "multipleOf" and isinstance(va, int) and isinstance(vb, int):
                out[key] = math.lcm(va, vb)
        # additionalProperties: false on one side forbids the other side's extra properties
        for side in (a, b):
            if side.get("additionalProperties") is False and "properties" in out:
                allowed = side.get("properties", {})
                patterns = list(side.get("patternProperties", {}))
                out["properties"] = {
                    n: s for n, s in out["properties"].items()
                    if n in allowed or any(re.search(p, n) for p in patterns)
                }
        return out

    # -- keyword families -----------------------------------------------------------------------

    def _enum(self, schema: dict[str, Any]) -> Any:
        if not schema["enum"]:
            raise _unsat("enum is empty")
        ok = [v for v in schema["enum"] if self._valid(v, schema)]
        if not ok:
            raise _unsat("no enum value satisfies the rest of its schema")
        return copy.deepcopy(self.rng.choice(ok))

    def _branch(self, schema: dict[str, Any], key: str, depth: int) -> Any:
        rest = {k: v for k, v in schema.items() if k != key}
        branches = list(schema[key])
        self.rng.shuffle(branches)
        if depth >= SOFT_DEPTH:
            branches.sort(key=self._branch_cost)
        last: UnsatisfiableSchemaError | None = None
        for branch in branches:
            try:
                return self.gen(self._merge(rest, self._deref(branch)), depth + 1)
            except UnsatisfiableSchemaError as exc:
                last = exc
        raise _unsat(f"no {key} branch can be satisfied ({last})")

    def _branch_cost(self, branch: dict[str, Any] | bool) -> int:
        """Deep in a recursive schema, prefer branches that end the recursion."""
        try:
            target = self._deref(branch)
        except UnsatisfiableSchemaError:
            return 3
        if '"$ref"' in json.dumps(target, default=str):
            return 2
        return 1 if set(_as_list(target.get("type", []))) & {"object", "array"} else 0

    def _typed(self, schema: dict[str, Any], depth: int) -> Any:
        types = _as_list(schema["type"]) if "type" in schema else _infer_types(schema)
        if not types:
            return self._any(depth)
        self.rng.shuffle(types)
        if depth >= SOFT_DEPTH:
            types.sort(key=lambda t: t not in _SCALARS)
        builders: dict[str, Callable[[dict[str, Any], int], Any]] = {
            "null": lambda s, d: None,
            "boolean": lambda s, d: self.rng.random() < 0.5,
            "integer": lambda s, d: self._integer(s),
            "number": lambda s, d: self._number(s),
            "string": lambda s, d: self._string(s),
            "array": self._array,
            "object": self._object,
        }
        last: UnsatisfiableSchemaError | None = None
        for t in types:
            try:
                return builders[t](schema, depth)
            except UnsatisfiableSchemaError as exc:
                last = exc
        assert last is not None
        raise last

    def _any(self, depth: int) -> Any:
        kinds = list(_SCALARS) + (["array", "object"] if depth < SOFT_DEPTH else [])
        kind = self.rng.choice(kinds)
        if kind in ("array", "object"):
            size = self.rng.randint(0, 2)
            if kind == "array":
                return [self._any(depth + 1) for _ in range(size)]
            return {self._word(): self._any(depth + 1) for _ in range(size)}
        return self._typed({"type": kind}, depth)

    def _word(self, low: int = 1, high: int = 6) -> str:
        return "".join(self.rng.choice(_LOWER) for _ in range(self.rng.randint(low, high)))

    # -- numbers ----------------------------------------------------------------------------------

    def _integer(self, schema: dict[str, Any]) -> int:
        lows = [math.ceil(v) for v in [_bound(schema, "minimum")] if v is not None]
        lows += [math.floor(v) + 1 for v in [_bound(schema, "exclusiveMinimum")] if v is not None]
        highs = [math.floor(v) for v in [_bound(schema, "maximum")] if v is not None]
        highs += [math.ceil(v) - 1 for v in [_bound(schema, "exclusiveMaximum")] if v is not None]
        lo, hi = (max(lows) if lows else None), (min(highs) if highs else None)
        if lo is not None and hi is not None and lo > hi:
            raise _unsat(f"no integer within the bounds of {_describe_bounds(schema)}")
        step = 1
        if (m := _bound(schema, "multipleOf")) is not None:
            # integer multiples of p/q (lowest terms) are exactly the multiples of p
            step = Fraction(str(m)).numerator if isinstance(m, float) else m
        kmin = None if lo is None else -(-lo // step)
        kmax = None if hi is None else hi // step
        kmin, kmax = _window(kmin, kmax, 100 if step == 1 else 10)
        if kmin > kmax:
            raise _unsat(f"no multiple of {m} within the bounds of {_describe_bounds(schema)}")
        for k in self._ks(kmin, kmax):
            if m is None or self._valid(k * step, {"multipleOf": m}):
                return k * step
        raise _unsat(f"no integer passes multipleOf {m} within {_describe_bounds(schema)}")

    def _number(self, schema: dict[str, Any]) -> int | float:
        lo, lo_strict, hi, hi_strict = _float_bounds(schema)
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_strict or hi_strict))):
            raise _unsat(f"empty number range: {_describe_bounds(schema)}")
        if (m := _bound(schema, "multipleOf")) is not None:
            return self._number_multiple(schema, Fraction(str(m)), lo, lo_strict, hi, hi_strict)
        a, b = _window(lo, hi, 1000)

        def inside(v: float) -> bool:
            return (lo is None or v > lo or (v == lo and not lo_strict)) and (
                hi is None or v < hi or (v == hi and not hi_strict)
            )

        if self.rng.random() < 0.3:
            whole = self.rng.randint(math.ceil(a), math.floor(b)) if math.ceil(a) <= math.floor(b) else None
            if whole is not None and inside(whole):
                return whole
        raw = self.rng.uniform(a, b)
        for v in (round(raw, 2), round(raw, 6), raw, (a + b) / 2):
            if inside(v):
                return v
        raise _unsat(f"number range too narrow to sample: {_describe_bounds(schema)}")

    def _number_multiple(
        self, schema: dict[str, Any], step: Fraction, lo: Any, lo_strict: bool, hi: Any, hi_strict: bool
    ) -> int | float:
        kmin = None if lo is None else math.ceil(Fraction(lo) / step)
        if lo is not None and lo_strict and kmin * step == lo:
            kmin += 1
        kmax = None if hi is None else math.floor(Fraction(hi) / step)
        if hi is not None and hi_strict and kmax * step == hi:
            kmax -= 1
        kmin, kmax = _window(kmin, kmax, 10)
        if kmin > kmax:
            raise _unsat(f"no multiple of {schema['multipleOf']} within {_describe_bounds(schema)}")
        for k in self._ks(kmin, kmax):
            exact = k * step
            value = int(exact) if exact.denominator == 1 else float(exact)
            # float division inside the validator's multipleOf check rejects some true multiples
            if self._valid(value, {"multipleOf": schema["multipleOf"]}):
                return value
        raise _unsat(f"no number passes multipleOf {schema['multipleOf']} within {_describe_bounds(schema)}")

    def _ks(self, kmin: int, kmax: int) -> list[int]:
        """Candidate multipliers: a few random ones first, then the ends and zero."""
        picks = [self.rng.randint(kmin, kmax) for _ in range(12)]
        return picks + [k for k in (kmin, kmax, 0) if kmin <= k <= kmax]

    # -- strings ----------------------------------------------------------------------------------

    def _string(self, schema: dict[str, Any]) -> str:
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        if hi is not None and lo > hi:
            raise _unsat(f"minLength {lo} > maxLength {hi}")
        pattern = schema.get("pattern")
        make = _FORMATS.get(schema.get("format", ""))
        if make is not None:
            for _ in range(PATTERN_TRIES):
                text = make(self)
                if lo <= len(text) <= (hi if hi is not None else len(text)) and (
                    pattern is None or re.search(pattern, text)
                ):
                    return text
            also = f" matching {pattern!r}" if pattern is not None else ""
            raise _unsat(f"format {schema['format']!r} gives no string of length {lo}..{hi}{also}")
        if pattern is not None:
            return self._pattern_string(pattern, lo, hi)
        top = max(lo, MAX_STRING) if hi is None else min(hi, max(lo, MAX_STRING))
        return "".join(self.rng.choice(_ALNUM) for _ in range(self.rng.randint(lo, top)))

    def _pattern_string(self, pattern: str, lo: int, hi: int | None) -> str:
        try:
            parsed = sre_parse.parse(pattern)
            compiled = re.compile(pattern)
        except re.error as exc:
            raise _unsat(f"invalid pattern {pattern!r}: {exc}") from None
        greedy_cap = max(lo, 1)
        for attempt in range(PATTERN_TRIES):
            # random short tries first; then every other try repeats greedily with a cap steered
            # towards the length bounds
            greedy = attempt >= 8 and attempt % 2 == 0
            if greedy:
                cap = greedy_cap
            else:
                cap = (3, 1, 2, 0, 3, 5, 1, 8)[attempt] if attempt < 8 else self.rng.randint(0, max(lo, 8))
            text = _RegexWriter(self.rng, cap, greedy).seq(parsed)
            if greedy and len(text) < lo:
                greedy_cap += lo - len(text)
            elif greedy and hi is not None and len(text) > hi:
                greedy_cap = max(0, greedy_cap - (len(text) - hi))
            if not compiled.search(text) or (hi is not None and len(text) > hi):
                continue
            if len(text) >= lo:
                return text
            pad = "".join(self.rng.choice(_ALNUM) for _ in range(lo - len(text)))
            # patterns are unanchored searches, so padding outside the match may still match
            for padded in (text + pad, pad + text):
                if compiled.search(padded):
                    return padded
        limits = f" with length {lo}..{'' if hi is None else hi}" if lo or hi is not None else ""
        raise _unsat(f"found no string matching pattern {pattern!r}{limits} in {PATTERN_TRIES} tries")

    # -- arrays -----------------------------------------------------------------------------------

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        if hi is not None and lo > hi:
            raise _unsat(f"minItems {lo} > maxItems {hi}")
        prefix, items = schema.get("prefixItems", []), schema.get("items", True)
        cap = len(prefix) if items is False else math.inf
        if lo > cap:
            raise _unsat(f"minItems {lo} but items: false allows only {cap} prefixItems")
        contains = schema.get("contains")
        if contains is not None and schema.get("minContains", 1) > 0:
            lo = max(lo, 1)
        top = min(hi if hi is not None else math.inf, cap, max(lo, MAX_ITEMS))
        size = lo if depth >= SOFT_DEPTH else self.rng.randint(lo, int(top))
        at = self.rng.randrange(size) if contains is not None and size else -1
        unique = schema.get("uniqueItems", False)
        out: list[Any] = []
        for i in range(size):
            sub = prefix[i] if i < len(prefix) else items
            if i == at:
                sub = {"allOf": [sub, contains]}
            for _ in range(UNIQUE_TRIES if unique else 1):
                value = self.gen(sub, depth + 1)
                if not unique or self._valid(out + [value], {"uniqueItems": True}):
                    break
            else:
                if len(out) >= lo:
                    break
                raise _unsat(f"uniqueItems: cannot find {lo} distinct items")
            out.append(value)
        return out

    # -- objects ----------------------------------------------------------------------------------

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        lo, hi = schema.get("minProperties", 0), schema.get("maxProperties", math.inf)
        if lo > hi:
            raise _unsat(f"minProperties {lo} > maxProperties {hi}")
        names = list(dict.fromkeys(schema.get("required", [])))
        if len(names) > hi:
            raise _unsat(f"{len(names)} required properties > maxProperties {hi}")
        optional = [n for n in props if n not in names]
        if depth < SOFT_DEPTH:
            for name in optional:
                if len(names) < hi and self.rng.random() < 0.5:
                    names.append(name)
        spare = [n for n in optional if n not in names]
        while len(names) < lo and spare:
            names.append(spare.pop(self.rng.randrange(len(spare))))
        names = self._dependencies(schema, names)
        out: dict[str, Any] = {}
        for name in names:
            value_schema = self._property_schema(schema, name)
            try:
                out[name] = self.gen(value_schema, depth + 1)
            except UnsatisfiableSchemaError:
                if name in optional:  # an optional property we cannot fill is simply left out
                    continue
                raise
        for _ in range(4 * lo):
            if len(out) >= lo or schema.get("additionalProperties", True) is False:
                break
            name = self._extra_name(schema, depth)
            if name not in out and name not in props:
                out[name] = self.gen(self._property_schema(schema, name), depth + 1)
        if len(out) < lo:
            raise _unsat(f"minProperties {lo} cannot be met with the allowed properties")
        return out

    def _dependencies(self, schema: dict[str, Any], names: list[str]) -> list[str]:
        needs = schema.get("dependentRequired", {})
        for name in names:  # grows while iterating: pulls in dependencies of dependencies
            names.extend(n for n in needs.get(name, []) if n not in names)
        return names

    def _property_schema(self, schema: dict[str, Any], name: str) -> dict[str, Any] | bool:
        parts = [schema["properties"][name]] if name in schema.get("properties", {}) else []
        parts += [s for p, s in schema.get("patternProperties", {}).items() if re.search(p, name)]
        if not parts:
            extra = schema.get("additionalProperties", True)
            if extra is False:
                raise _unsat(f"property {name!r} is required but additionalProperties is false")
            parts = [extra]
        return parts[0] if len(parts) == 1 else {"allOf": parts}

    def _extra_name(self, schema: dict[str, Any], depth: int) -> str:
        if "propertyNames" in schema:
            return self.gen({"allOf": [{"type": "string"}, schema["propertyNames"]]}, depth + 1)
        return self._word(3, 8)


def _intersect_types(va: str | list[str], vb: str | list[str]) -> list[str]:
    la, lb = _as_list(va), _as_list(vb)

    def fits(t: str, other: list[str]) -> bool:
        return t in other or (t == "integer" and "number" in other)

    both = [t for t in la if fits(t, lb)] + [t for t in lb if fits(t, la) and t not in la]
    if not both:
        raise _unsat(f"allOf branches have disjoint types {va!r} and {vb!r}")
    return list(dict.fromkeys(both))


def _infer_types(schema: dict[str, Any]) -> list[str]:
    """Types implied by the keywords of a schema without `type`; [] means anything goes."""
    hints = {
        "object": ("properties", "required", "additionalProperties", "minProperties", "maxProperties",
                   "patternProperties", "propertyNames", "dependentRequired"),
        "array": ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"),
        "string": ("minLength", "maxLength", "pattern", "format"),
        "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    }
    return [t for t, keys in hints.items() if any(k in schema for k in keys)]


def _window(lo: Any, hi: Any, width: int) -> tuple[Any, Any]:
    """Close an open range with a small default width so values stay small."""
    if lo is None and hi is None:
        return -width, width
    if lo is None:
        return hi - width, hi
    if hi is None:
        return lo, lo + width
    return lo, hi


def _float_bounds(schema: dict[str, Any]) -> tuple[Any, bool, Any, bool]:
    """(low, low is strict, high, high is strict), taking the tighter of inclusive and exclusive."""
    lo, lo_strict = _bound(schema, "minimum"), False
    if (x := _bound(schema, "exclusiveMinimum")) is not None and (lo is None or x >= lo):
        lo, lo_strict = x, True
    hi, hi_strict = _bound(schema, "maximum"), False
    if (x := _bound(schema, "exclusiveMaximum")) is not None and (hi is None or x <= hi):
        hi, hi_strict = x, True
    return lo, lo_strict, hi, hi_strict


def _describe_bounds(schema: dict[str, Any]) -> str:
    keys = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
    return ", ".join(f"{k}={schema[k]}" for k in keys if k in schema) or "no bounds"


def _date(s: _Sampler) -> str:
    return f"{s.rng.randint(1970, 2035):04d}-{s.rng.randint(1, 12):02d}-{s.rng.randint(1, 28):02d}"


def _time(s: _Sampler) -> str:
    return f"{s.rng.randint(0, 23):02d}:{s.rng.randint(0, 59):02d}:{s.rng.randint(0, 59):02d}Z"


_FORMATS: dict[str, Callable[[_Sampler], str]] = {
    "date": _date,
    "time": _time,
    "date-time": lambda s: f"{_date(s)}T{_time(s)}",
    "email": lambda s: f"{s._word()}@{s._word()}.com",
    "idn-email": lambda s: f"{s._word()}@{s._word()}.com",
    "uri": lambda s: f"https://{s._word()}.example.com/{s._word()}",
    "iri": lambda s: f"https://{s._word()}.example.com/{s._word()}",
    "uri-reference": lambda s: f"/{s._word()}/{s._word()}",
    "iri-reference": lambda s: f"/{s._word()}/{s._word()}",
    "uuid": lambda s: str(uuid.UUID(int=s.rng.getrandbits(128), version=4)),
    "ipv4": lambda s: ".".join(str(s.rng.randint(0, 255)) for _ in range(4)),
    "ipv6": lambda s: str(ipaddress.IPv6Address(s.rng.getrandbits(128))),
    "hostname": lambda s: f"{s._word()}.example.com",
    "idn-hostname": lambda s: f"{s._word()}.example.com",
    "json-pointer": lambda s: f"/{s._word()}/{s.rng.randint(0, 9)}",
    "regex": lambda s: f"^[a-z]{{{s.rng.randint(1, 5)}}}$",
}


# -- regex -> matching string --------------------------------------------------------------------

_CATEGORY_TESTS: dict[str, Callable[[str], bool]] = {
    "DIGIT": str.isdecimal,
    "SPACE": str.isspace,
    "WORD": lambda c: c.isalnum() or c == "_",
    "LINEBREAK": lambda c: c == "\n",
}


def _category_test(code: Any) -> Callable[[str], bool]:
    name = str(code).removeprefix("CATEGORY_").replace("UNI_", "").replace("LOC_", "")
    negate = name.startswith("NOT_")
    test = _CATEGORY_TESTS[name.removeprefix("NOT_")]
    return (lambda c: not test(c)) if negate else test


def _in_item(c: str, op: Any, av: Any) -> bool:
    if op is sre.LITERAL:
        return ord(c) == av
    if op is sre.RANGE:
        return av[0] <= ord(c) <= av[1]
    if op is sre.CATEGORY:
        return _category_test(av)(c)
    return False


class _RegexWriter:
    """Writes one string by walking a parsed regex; the caller confirms the match with re.search
    (anchors and lookarounds are skipped here, so they are only checked there)."""

    def __init__(self, rng: random.Random, cap: int, greedy: bool = False) -> None:
        self.rng = rng
        self.cap = cap  # extra repetitions allowed beyond a repeat's minimum
        self.greedy = greedy  # always take the most repetitions allowed
        self.groups: dict[int, str] = {}

    def seq(self, items: Any) -> str:
        return "".join(self.node(op, av) for op, av in items)

    def node(self, op: Any, av: Any) -> str:
        if op is sre.LITERAL:
            return chr(av)
        if op is sre.NOT_LITERAL:
            return self.rng.choice([c for c in _ALNUM if ord(c) != av])
        if op is sre.ANY:
            return self.rng.choice(_ALNUM)
        if op is sre.IN:
            return self.charset(av)
        if op is sre.BRANCH:
            return self.seq(self.rng.choice(av[1]))
        if op is sre.SUBPATTERN:
            group, _, _, sub = av
            text = self.seq(sub)
            if group is not None:
                self.groups[group] = text
            return text
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, sub = av
            top = low + self.cap if high is sre.MAXREPEAT else min(high, low + self.cap)
            count = top if self.greedy else self.rng.randint(low, top)
            return "".join(self.seq(sub) for _ in range(count))
        if op is sre.ATOMIC_GROUP:
            return self.seq(av)
        if op is sre.GROUPREF:
            return self.groups.get(av, "")
        if op is sre.GROUPREF_EXISTS:
            group, yes, no = av
            return self.seq(yes if group in self.groups else (no or []))
        return ""  # AT anchors, ASSERT / ASSERT_NOT lookarounds

    def charset(self, items: list[tuple[Any, Any]]) -> str:
        if items and items[0][0] is sre.NEGATE:
            rest = items[1:]
            allowed = [c for c in _PRINTABLE if not any(_in_item(c, op, av) for op, av in rest)]
            if not allowed:  # the set excludes all of ASCII: look further afield
                allowed = [c for c in _NON_ASCII if not any(_in_item(c, op, av) for op, av in rest)]
            # prefer readable characters when the negated set leaves some
            readable = [c for c in allowed if c.isalnum()] or allowed
            return self.rng.choice(readable) if readable else ""
        op, av = self.rng.choice(items)
        if op is sre.LITERAL:
            return chr(av)
        if op is sre.RANGE:
            printable = [c for c in _PRINTABLE if av[0] <= ord(c) <= av[1]]
            return self.rng.choice(printable) if printable else chr(self.rng.randint(av[0], av[1]))
        if op is sre.CATEGORY:
            test = _category_test(av)
            pool = [c for c in _PRINTABLE if test(c)] or ["\n"]
            return self.rng.choice(pool)
        return ""
