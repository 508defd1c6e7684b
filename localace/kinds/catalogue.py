"""The catalogue of parameter kinds (data: catalogue.json) and the ways to find a kind: by a parameter's
name and schema (imported APIs), by the words of a functionality (synthesized APIs), by name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib.resources import files
from typing import Any

from localace.errors import LocalaceError
from localace.kinds.families import FAMILIES, Ctx, Family
from localace.kinds.said import Said, words


def stem(word: str) -> str:
    """Plurals only: cues and functionality words meet as "showtimes"/"showtime", but "listing" is no "list"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word

KIND_KEY = "x-kind"  # the schema annotation that records a parameter's kind (a vendor key: constraints drop it)
_SECOND_PLACE = ("destination", "to_", "dropoff", "arrival", "return")


class CatalogueError(LocalaceError):
    """The catalogue data is inconsistent (a programming error, caught by the tests)."""


@dataclass(frozen=True)
class Kind:
    name: str
    family: str
    param: str
    label: str
    description: str
    group: str = ""
    aliases: tuple[str, ...] = ()
    cues: tuple[str, ...] = ()
    say: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @cached_property
    def phrasings(self) -> tuple[str, ...]:
        """The kind's ways to say a value that read well around any of its forms ("on {v}", not "for the {v}")."""
        return tuple(p for p in self.say if p.count("{v}") == 1 and not re.search(r"\bthe \{v\}", p)
                     and not re.search(r"\{v\}[A-Za-z]", p) and p.strip() != "{v}")  # no "{v}s": "introductorys"

    @property
    def fam(self) -> Family:
        return FAMILIES[self.family]

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema: type and constraints from the family, description, and the kind."""
        return {**self.fam.schema(self.options), "description": self.description, KIND_KEY: self.name}

    def make(self, ctx: Ctx) -> Any:
        return self.fam.make(self.options, ctx, self.name)

    def forms(self, value: Any) -> list[str]:
        """How people write the value; [0] is the canonical text."""
        try:
            return list(dict.fromkeys(self.fam.forms(self.options, value)))
        except (ValueError, TypeError, KeyError, IndexError):
            return [str(value)]

    def states(self, value: Any, said: Said) -> bool:
        """Whether the text states the value in any surface form that normalizes to it."""
        try:
            return bool(self.fam.states(self.options, value, said))
        except (ValueError, TypeError, KeyError, IndexError):
            return False

    @cached_property
    def type(self) -> str:
        return str(self.fam.schema(self.options).get("type", "string"))


@dataclass(frozen=True)
class Record:
    """What a result holds: an object of fields, each of a kind (a showtime: cinema, title, starts_at)."""

    name: str
    plural: str
    fields: dict[str, str]
    cues: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass
class Catalogue:
    kinds: dict[str, Kind]
    records: dict[str, Record]

    @cached_property
    def by_param(self) -> dict[str, Kind]:
        out: dict[str, Kind] = {}
        for kind in self.kinds.values():
            out.setdefault(kind.param, kind)
        for kind in self.kinds.values():
            for alias in kind.aliases:
                out.setdefault(alias, kind)
        return out

    def kind(self, name: str) -> Kind | None:
        return self.kinds.get(name)

    def for_param(self, name: str, schema: dict[str, Any] | None = None) -> Kind | None:
        """The kind of a parameter: its annotation, else its name (or alias), else its format, else the kind
        whose parameter name ends its name (`user_email` → email); None when nothing fits its type."""
        schema = schema or {}
        named = schema.get(KIND_KEY)
        if isinstance(named, str) and named in self.kinds:
            return self.kinds[named]
        key = "_".join(words(name))
        candidates = []
        if key in self.by_param:
            candidates.append(self.by_param[key])
        fmt = schema.get("format")
        if fmt in _FORMAT_KINDS and _FORMAT_KINDS[fmt] in self.kinds:
            candidates.append(self.kinds[_FORMAT_KINDS[fmt]])
        parts = key.split("_")
        for i in range(1, len(parts)):
            tail = "_".join(parts[i:])
            if tail in self.by_param:
                candidates.append(self.by_param[tail])
        for kind in candidates:
            if _fits_type(kind, schema):
                return kind
        return None

    def for_text(self, text: str, domain: str = "", limit: int = 4) -> list[Kind]:
        """Kinds a functionality's words call for, in the order the text names them: each cue a whole-word
        (stemmed) phrase, longer cues first, a word used by one kind only."""
        domain = domain_slug(domain)
        tokens = [stem(w) for w in words(text)]
        taken = [False] * len(tokens)
        found: list[tuple[int, Kind]] = []
        for cue_tokens, kind in self._cues:
            if kind.domains and domain and domain not in kind.domains:
                continue  # "from" is an origin airport in flights, a sender in email
            n = len(cue_tokens)
            for i in range(len(tokens) - n + 1):
                if tokens[i:i + n] == list(cue_tokens) and not any(taken[i:i + n]):
                    if all(k.name != kind.name for _, k in found) and all(k.param != kind.param for _, k in found):
                        found.append((i, kind))
                        for j in range(i, i + n):
                            taken[j] = True
                    break
        ordered = [k for _, k in sorted(found, key=lambda x: x[0])]
        while len(ordered) > limit:  # over the limit, generic knobs and free text give way to the domain's kinds
            generic = [k for k in ordered if not k.domains and k.group in ("knobs", "text")]
            ordered.remove(generic[-1] if generic else ordered[-1])
        return ordered

    @cached_property
    def _cues(self) -> list[tuple[tuple[str, ...], Kind]]:
        out = [(tuple(stem(w) for w in words(cue)), kind) for kind in self.kinds.values() for cue in kind.cues]
        return sorted((c for c in out if c[0]), key=lambda c: (-len(c[0]), c[1].domains == (), c[1].name))

    def records_for_text(self, text: str, domain: str = "") -> list[Record]:
        domain = domain_slug(domain)
        tokens = [stem(w) for w in words(text)]
        out = []
        for record in self.records.values():
            if record.domains and domain and domain not in record.domains:
                continue
            for cue in record.cues:
                cue_tokens = [stem(w) for w in words(cue)]
                n = len(cue_tokens)
                if n and any(tokens[i:i + n] == cue_tokens for i in range(len(tokens) - n + 1)):
                    out.append((min(i for i in range(len(tokens) - n + 1) if tokens[i:i + n] == cue_tokens), record))
                    break
        out.sort(key=lambda x: (-(domain in x[1].domains), x[0]))
        return [r for _, r in out]

    def in_domain(self, domain: str) -> list[Kind]:
        domain = domain_slug(domain)
        return [k for k in self.kinds.values() if domain in k.domains]

    def records_in(self, domain: str) -> list[Record]:
        domain = domain_slug(domain)
        return [r for r in self.records.values() if domain in r.domains]

    def knobs(self) -> list[Kind]:
        """Kinds any API may take (no domain of their own): max results, page, sort order, language…"""
        return [k for k in self.kinds.values() if not k.domains]


def domain_slug(domain: str) -> str:
    """A tree's top domain as the catalogue names domains ("Energy and Utilities" → energy-and-utilities)."""
    return "-".join(words(domain.replace("&", " and ")))


_FORMAT_KINDS = {"date": "date", "date-time": "datetime", "email": "email", "uri": "url", "url": "url",
                 "uuid": "uuid", "ipv4": "ip_address", "time": "time"}


def _fits_type(kind: Kind, schema: dict[str, Any]) -> bool:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if declared in (None, "any"):
        return True
    mine = kind.type
    fmt = schema.get("format")
    if fmt in _FORMAT_KINDS and kind.fam.schema(kind.options).get("format") != fmt:
        return False  # `start` with format date is a date, not a journey's starting place
    if declared == mine or {declared, mine} <= {"integer", "number", "float"}:
        if "enum" in schema and mine != "boolean":
            return all(isinstance(v, (str, int, float)) for v in schema["enum"])
        return True
    return False


def _kind(raw: dict[str, Any]) -> Kind:
    options = dict(raw.get("options") or {})
    name = raw["name"]
    if raw["family"] in ("city", "country", "country_code", "airport_code", "region", "timezone") and \
            name.startswith(_SECOND_PLACE):
        options.setdefault("second", True)
    return Kind(name=name, family=raw["family"], param=raw.get("param") or name, label=raw.get("label") or
                name.replace("_", " "), description=raw.get("description") or name.replace("_", " ").capitalize() + ".",
                group=raw.get("group", ""), aliases=tuple(raw.get("aliases", ())), cues=tuple(raw.get("cues", ())),
                say=tuple(raw.get("say", ())), results=tuple(raw.get("results", ())),
                domains=tuple(raw.get("domains", ())), options=options)


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    kinds: dict[str, Kind] = {}
    for raw in data.get("kinds", []):
        kind = _kind(raw)
        if kind.family not in FAMILIES:
            raise CatalogueError(f"kind {kind.name}: unknown family {kind.family!r}")
        if kind.name in kinds:
            raise CatalogueError(f"kind {kind.name} defined twice")
        kinds[kind.name] = kind
    records = {}
    for raw in data.get("records", []):
        record = Record(name=raw["name"], plural=raw.get("plural") or raw["name"] + "s", fields=dict(raw["fields"]),
                        cues=tuple(raw.get("cues", ())), domains=tuple(raw.get("domains", ())))
        missing = [k for k in record.fields.values() if k not in kinds]
        if missing:
            raise CatalogueError(f"record {record.name}: unknown kinds {missing}")
        records[record.name] = record
    return Catalogue(kinds, records)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The catalogue shipped with the package."""
    text = files("localace.kinds").joinpath("catalogue.json").read_text(encoding="utf-8")
    return parse_catalogue(json.loads(text))


def kind_of(name: str, schema: dict[str, Any] | None = None) -> Kind | None:
    return catalogue().for_param(name, schema)


