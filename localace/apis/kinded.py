"""APIs built from parameter kinds: the functionality's words choose the kinds, and names, types, ranges,
descriptions and returned fields follow from them (`list_showtimes(city, date, max_results) → showtimes:
[{cinema, title, starts_at}]`). Evolution operators act on kinds too, so a mutated API still means something."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from localace.apis.naming import api_name_choices, functionality_verb
from localace.kinds import KIND_KEY, Kind, Record, catalogue
from localace.kinds.language import plural
from localace.kinds.said import words



@dataclass(frozen=True)
class Step:
    """One step of an API's lineage: the operator applied and what it did."""

    operator: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"operator": self.operator, "detail": self.detail}
_LISTING_VERBS = frozenset("list search find browse recommend suggest compare rank filter show discover".split())
MAX_ITEMS = 5


def param_kinds(functionalities: list[str], domain: str) -> list[Kind]:
    """The kinds the functionality's words call for (at most four), in the order it names them."""
    return catalogue().for_text(" ".join(functionalities), domain)


# Families an API takes once: a second city beside `location`, a second date beside `date`, reads as noise
# (a range's two ends are cued by the functionality, not added).
_ONCE = frozenset("city country country_code region address postal_code date datetime time timezone airport_code "
                  "language_code language currency_code person_name email phone latitude longitude year".split())


def option_kinds(domain: str, chosen: list[Kind]) -> list[Kind]:
    """Kinds an API of `domain` may take beside its own: the domain's kinds, then the generic knobs."""
    taken = {k.param for k in chosen}
    families = {k.family for k in chosen} & _ONCE
    out = [k for k in catalogue().in_domain(domain) + catalogue().knobs()
           if k.param not in taken and k.family not in families]
    return list({k.name: k for k in out}.values())


def name_choices(functionality: str, kinds: list[Kind], domain: str) -> list[str]:
    """Names the API may have: its verb and object (naming.api_name_choices), else verb + the domain's word."""
    names = api_name_choices(functionality)
    if not names:
        names = [_verb_object(functionality, domain)]
    # Another API of the same functionality (a second tree node phrased alike) is told apart by what it takes.
    variants = [f"{base}_by_{kind.param}" for base in names[:1] for kind in kinds
                if len(base.split("_")) + 1 + len(kind.param.split("_")) <= 5 and kind.param not in base]
    return list(dict.fromkeys(names + variants))


_FILLER = frozenset("a an the of for to in on by with from and or its their your my our all any some".split())


def _verb_object(functionality: str, domain: str) -> str:
    """`place_order` for "Place an order with…": the first word as the verb and the first word after it that
    is not filler; a phrase that opens with no word gives the domain's."""
    tokens = words(functionality)
    verb = functionality_verb(functionality) or (tokens[0] if tokens and tokens[0].isalpha() else "get")
    nouns = [t for t in tokens[1:] if t not in _FILLER and t.isalpha()]
    noun = nouns[0] if nouns else "_".join(words(domain)[:2]) or "data"
    return f"{verb}_{noun}"


def record_schema(record: Record) -> dict[str, Any]:
    """A record as an object schema whose fields carry their kinds (filled by kind, never by their name)."""
    kinds = catalogue().kinds
    props = {}
    for field_name, kind_name in record.fields.items():
        schema = kinds[kind_name].schema()
        schema["description"] = kinds[kind_name].label.capitalize() + "."
        props[field_name] = schema
    return {"type": "object", "description": f"One {record.name.replace('_', ' ')}.", "properties": props,
            "required": list(props)}


def returns_for(functionality: str, domain: str, kinds: list[Kind], rng: random.Random) -> dict[str, Any]:
    """What the API returns: the record its functionality names (a list of them for a listing verb), else one
    of its domain's records; plus what its parameters' kinds usually come back with."""
    cat = catalogue()
    records = cat.records_for_text(functionality, domain)
    if not records:
        own = cat.records_in(domain)
        records = [rng.choice(own)] if own else []
    props: dict[str, Any] = {}
    verb = (functionality.split() or ["get"])[0].lower()
    if records:
        record = records[0]
        if verb in _LISTING_VERBS or any(functionality.lower().count(c) for c in (record.plural.replace("_", " "),)):
            props[record.plural] = {"type": "array", "description": f"The {record.plural.replace('_', ' ')} found.",
                                    "items": record_schema(record), "maxItems": MAX_ITEMS}
        else:
            props.update(record_schema(record)["properties"])
    for kind in kinds:
        for name in kind.results:
            extra = cat.kinds.get(name)
            if extra is not None and extra.param not in props and len(props) < 6:
                schema = extra.schema()
                schema["description"] = extra.label.capitalize() + "."
                props[extra.param] = schema
    if not props:
        props["status"] = {"type": "string", "description": "Outcome of the request."}
    return {"type": "object", "properties": props, "required": list(props)}


def parameters_for(required: list[Kind], optional: list[Kind]) -> dict[str, Any]:
    props = {k.param: k.schema() for k in required + optional}
    return {"type": "object", "properties": props, "required": [k.param for k in required]}


# --- evolution on kinds ------------------------------------------------------------------------
# The diversity operators of the method, as moves on kinds. Each names the parameter-type category it adds,
# so synthesis can steer toward the least covered one (see synth.TARGETS).
MOVES: dict[str, tuple[str, str]] = {
    "enum": ("add_constraint", "enum"), "format": ("add_constraint", "format"),
    "pattern": ("add_constraint", "pattern"), "range": ("add_constraint", "range"),
    "object": ("change_type", "object"), "nested_object": ("change_type", "nested_object"),
    "array_of_objects": ("change_type", "array_of_objects"),
    "array_of_arrays": ("change_type", "array_of_arrays"), "array": ("change_type", "array"),
    "boolean": ("add_parameter", "boolean"), "number": ("add_parameter", "number"),
    "integer": ("add_parameter", "integer"), "returns": ("change_returns", "records"),
}
_HAS = {"enum": lambda s: "enum" in s, "format": lambda s: "format" in s, "pattern": lambda s: "pattern" in s,
        "range": lambda s: "minimum" in s or "maximum" in s}


def _kinds_of(props: dict[str, Any]) -> list[Kind]:
    cat = catalogue()
    return [cat.kinds[s[KIND_KEY]] for s in props.values() if isinstance(s, dict) and s.get(KIND_KEY) in cat.kinds]


def _add_kind(params: dict[str, Any], kind: Kind, detail: str, operator: str) -> tuple[dict[str, Any], Step]:
    props = {**params.get("properties", {}), kind.param: kind.schema()}
    return {**params, "properties": props}, Step(operator, f"{detail}: {kind.param} ({kind.name})")


_KNOBS = ("knobs", "flags")


def _measured(kind: Kind) -> bool:
    """A quantity worth a range (a price, a distance), not a knob (a page size) or a coordinate."""
    return kind.type in ("integer", "number") and kind.group not in _KNOBS and \
        kind.family not in ("year", "latitude", "longitude", "choice") and not kind.param.startswith(("min_", "max_"))


def _returned_kinds(props: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for schema in props.values():
        if isinstance(schema, dict):
            out.add(schema.get(KIND_KEY, ""))
            items = schema.get("items") or {}
            out |= {s.get(KIND_KEY, "") for s in (items.get("properties") or {}).values() if isinstance(s, dict)}
    return out - {""}


def _scalar(schema: dict[str, Any]) -> bool:
    return schema.get("type") in ("string", "integer", "number") and KIND_KEY in schema


def evolve(params: dict[str, Any], returns: dict[str, Any], domain: str, rng: random.Random,
           target: str) -> tuple[dict[str, Any], dict[str, Any], Step] | None:
    """One diversity operator toward `target` (a key of MOVES), applied to kinds; None when it does not apply.

    add_parameter: another kind of the domain (of the target's type); add_constraint: a free list becomes an
    enum, a count gets its usual range, or a kind that carries the constraint joins; change_type: a kind becomes
    a list of it, a list of objects, a list of ranges, or knobs group into an object; change_returns: a record."""
    operator, arg = MOVES[target]
    props = dict(params.get("properties", {}))
    required = list(params.get("required", []))
    options = [k for k in option_kinds(domain, _kinds_of(props)) if k.param not in props]
    if operator == "add_parameter":
        fitting = [k for k in options if k.type == arg]
        if not fitting:
            return None
        new, step = _add_kind(params, rng.choice(fitting), f"a {arg}", operator)
        return new, returns, step
    if operator == "add_constraint":
        for name in rng.sample(list(props), len(props)):
            schema = props[name]
            kind = catalogue().kinds.get(schema.get(KIND_KEY, "")) if isinstance(schema, dict) else None
            if kind is None:
                continue
            if arg == "enum" and kind.family == "pick" and kind.group == "enums" and len(kind.options.get("values", [])) >= 3:
                props[name] = {**schema, "enum": list(kind.options["values"])[:12]}
                return {**params, "properties": props}, returns, Step(operator, f"enum on {name}")
            if arg == "range" and kind.family == "integer" and "typical" in kind.options and "minimum" not in schema:
                low, high = kind.options["typical"]
                props[name] = {**schema, "minimum": int(low), "maximum": int(high)}
                return {**params, "properties": props}, returns, Step(operator, f"range on {name}")
        fitting = [k for k in options if _HAS[arg](k.schema())]
        if not fitting:
            return None
        new, step = _add_kind(params, rng.choice(fitting), f"{arg} by a kind", operator)
        return new, returns, step
    if operator == "change_type":
        scalars = [n for n in props if _scalar(props[n]) and "enum" not in props[n]]
        if arg == "array":
            listable = [n for n in scalars if n in required and catalogue().kinds[props[n][KIND_KEY]].family
                        not in ("date", "datetime", "time", "boolean", "duration", "amount")]
            if not listable:
                return None
            name = rng.choice(listable)
            many = plural(name)
            if many in props or many == name:
                return None
            item = props.pop(name)
            kind = catalogue().kinds[item[KIND_KEY]]
            props[many] = {"type": "array", "description": f"One or more {plural(kind.label)}.", "items": item,
                           "minItems": 1, "maxItems": 3}
            required = [many if r == name else r for r in required]
            return ({**params, "properties": props, "required": required}, returns,
                    Step(operator, f"{name} → {many}[]"))
        if arg == "nested_object":
            numeric = [k for k in _kinds_of(props) + options if _measured(k)]
            if not numeric or "filters" in props:
                return None
            kind = rng.choice(numeric)
            bound = {n: {**kind.schema(), "description": f"{word.capitalize()} {kind.label}."}
                     for n, word in (("min", "lowest"), ("max", "highest"))}
            props["filters"] = {"type": "object", "description": "Filters on the results.", "properties": {
                f"{kind.param}_range": {"type": "object", "description": f"Range of {kind.label}.", "properties": bound,
                                        "required": ["min", "max"]}}, "required": [f"{kind.param}_range"]}
            return {**params, "properties": props}, returns, Step(operator, f"+filters.{kind.param}_range{{min, max}}")
        if arg == "object":
            if "options" in props:
                return None
            group = [n for n in props if n not in required] or [n for n in props if n in required][1:]
            if not group:
                if not options:
                    return None
                extra = rng.choice(options)
                props[extra.param] = extra.schema()
                group = [extra.param]
            inner = {n: props.pop(n) for n in group[:3]}
            inner_required = [n for n in inner if n in required]
            props["options"] = {"type": "object", "description": "Settings of the request.", "properties": inner,
                                "required": inner_required}
            required = [r for r in required if r not in inner] + (["options"] if inner_required else [])
            return ({**params, "properties": props, "required": required}, returns,
                    Step(operator, f"{', '.join(inner)} grouped into options"))
        if arg == "array_of_objects":
            pair = [n for n in scalars if n in required][:2]
            if len(pair) < 2:
                return None
            kind = catalogue().kinds[props[pair[0]][KIND_KEY]]
            many = plural(pair[0])
            if many in props:
                return None
            inner = {n: props.pop(n) for n in pair}
            props[many] = {"type": "array", "description": f"One or more {plural(kind.label)}, each with its details.",
                           "items": {"type": "object", "properties": inner, "required": list(inner)},
                           "minItems": 1, "maxItems": 3}
            required = [r for r in required if r not in inner] + [many]
            return ({**params, "properties": props, "required": required}, returns,
                    Step(operator, f"{' + '.join(inner)} → {many}[{{}}]"))
        if arg == "array_of_arrays":
            numeric = [k for k in _kinds_of(props) + options if _measured(k)]
            if not numeric:
                return None
            kind = rng.choice(numeric)
            name = f"{kind.param}_ranges"
            if name in props:
                return None
            props[name] = {"type": "array", "description": f"Ranges of {kind.label}, each a [low, high] pair.",
                           "items": {"type": "array", "items": kind.schema(), "minItems": 2, "maxItems": 2},
                           "minItems": 1, "maxItems": 3}
            return {**params, "properties": props}, returns, Step(operator, f"+{name}[[low, high]]")
        return None
    if operator == "change_returns":
        rprops = dict(returns.get("properties", {}))
        # A record that shares a kind with what the API takes or returns: a journey planner may add its legs,
        # not a course's deadlines.
        have = {s.get(KIND_KEY) for s in props.values() if isinstance(s, dict)} | _returned_kinds(rprops)
        own = [r for r in catalogue().records_in(domain) if r.plural not in rprops and have & set(r.fields.values())]
        if not own:
            return None
        record = rng.choice(own)
        rprops[record.plural] = {"type": "array", "description": f"Related {record.plural.replace('_', ' ')}.",
                                 "items": record_schema(record), "maxItems": MAX_ITEMS}
        return params, {**returns, "properties": rprops, "required": list(rprops)}, Step(operator, f"+{record.plural}")
    return None
