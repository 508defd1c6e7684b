"""The code behind a kind's data: each family knows its values' schema, how to make one, how people write
one (surface forms) and how to tell that a text states one (normalizing what was said to the canonical value).

A family is a handful of small functions; the catalogue (data) names a family and its options per kind."""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable

from localace.kinds import language as L
from localace.kinds.places import AIRLINES, CRYPTO, CURRENCIES, LANGUAGES, PLACES, TICKERS, Place
from localace.kinds.said import Said, norm_text

# Values are drawn around a fixed anchor, not today: the same seed must give the same dialog on any day.
ANCHOR = dt.date(2026, 1, 1)
STRING_MAX = 200


@dataclass
class Ctx:
    """What one dialog's values share: a seeded rng and Faker, the anchor date, and one place (a city, its
    country, airport and time zone agree)."""

    rng: random.Random
    anchor: dt.date = ANCHOR
    _fake: Any = None
    _place: Place | None = None
    used: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def seeded(cls, seed: int | str, anchor: dt.date = ANCHOR) -> Ctx:
        return cls(random.Random(f"kinds:{seed}"), anchor)

    @property
    def fake(self) -> Any:
        if self._fake is None:
            from faker import Faker  # imported here: only value generation needs it

            self._fake = Faker("en_US")
            self._fake.seed_instance(self.rng.randrange(2**32))
        return self._fake

    @property
    def place(self) -> Place:
        if self._place is None:
            self._place = self.rng.choice(PLACES)
        return self._place

    def move(self) -> None:
        """Another place for what follows (a second call of the same API asks about somewhere else)."""
        self._place = self.other_place()

    def other_place(self) -> Place:
        """A second place, for a destination that is not the origin."""
        return self.rng.choice([p for p in PLACES if p.city != self.place.city])


Options = dict[str, Any]


@dataclass(frozen=True)
class Family:
    schema: Callable[[Options], dict[str, Any]]
    make: Callable[[Options, Ctx, str], Any]  # (options, ctx, kind name)
    forms: Callable[[Options, Any], list[str]]  # ways to write a value; [0] is the canonical display
    states: Callable[[Options, Any, Said], bool]  # does the text state this value (in any of its forms)


def display(value: Any) -> str:
    """A value as text: yes/no for a flag, a float without trailing zeros."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def literal_states(value: Any, said: Said) -> bool:
    """The canonical value itself, case and punctuation aside ("BA 2490" states BA2490)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return float(value) in said.numbers
    text = str(value)
    if said.has_phrase(text):
        return True
    cv = re.sub(r"[\W_]+", "", norm_text(text))
    if len(cv) >= 4 and any(c.isdigit() for c in cv) and cv in said.compact:
        return True
    if re.fullmatch(r"[-+]?\d[\d,]*(?:\.\d+)?", text.strip()):
        return float(text.replace(",", "")) in said.numbers
    return False


def _literal(schema: dict[str, Any], make: Callable[[Options, Ctx, str], Any]) -> Family:
    return Family(lambda o: dict(schema), make, lambda o, v: [display(v)], lambda o, v, s: literal_states(v, s))


# --- time -------------------------------------------------------------------------------------
def _date_make(o: Options, c: Ctx, _: str) -> str:
    return (c.anchor + dt.timedelta(days=c.rng.randint(int(o.get("min_days", 1)), int(o.get("max_days", 300))))).isoformat()


def _date_forms(o: Options, v: Any) -> list[str]:
    day = dt.date.fromisoformat(str(v)[:10])
    # No year-less form ("December 9"): the exported dialog states no date of its own to read the year from,
    # and a model must not learn to invent one.
    return [str(v), L.written_date(day, "long"), L.written_date(day, "medium"), L.written_date(day, "day_first")]


def _date_states(o: Options, v: Any, s: Said) -> bool:
    try:
        return dt.date.fromisoformat(str(v)[:10]) in s.dates
    except ValueError:
        return False


def _datetime_make(o: Options, c: Ctx, k: str) -> str:
    day = _date_make(o, c, k)
    return f"{day}T{c.rng.randint(7, 21):02d}:{c.rng.choice((0, 15, 30, 45)):02d}:00Z"  # RFC 3339 wants the zone


def _datetime_forms(o: Options, v: Any) -> list[str]:
    text = str(v)
    hour, minute = int(text[11:13]), int(text[14:16])
    return [text] + [f"{d} at {t}" for d in _date_forms(o, text[:10])[1:] for t in (L.clock(hour, minute),
                                                                                     f"{hour:02d}:{minute:02d}")]


def _datetime_states(o: Options, v: Any, s: Said) -> bool:
    text = str(v)
    m = re.search(r"T(\d{2}):(\d{2})", text)
    return _date_states(o, text, s) and (m is None or (int(m.group(1)), int(m.group(2))) in s.times)


def _time_make(o: Options, c: Ctx, _: str) -> str:
    return f"{c.rng.randint(7, 21):02d}:{c.rng.choice((0, 15, 30, 45)):02d}"


def _time_forms(o: Options, v: Any) -> list[str]:
    hour, minute = (int(x) for x in str(v).split(":")[:2])
    return [str(v), L.clock(hour, minute)]


def _time_states(o: Options, v: Any, s: Said) -> bool:
    parts = str(v).split(":")
    return len(parts) >= 2 and (int(parts[0]), int(parts[1])) in s.times


def _duration_forms(o: Options, v: Any) -> list[str]:
    n = int(v)
    forms = [str(n), f"{n} minutes"]
    if n % 60 == 0:
        hours = n // 60
        forms.append("an hour" if hours == 1 else f"{hours} hours")
    elif n % 30 == 0 and n > 60:
        forms.append(f"{n / 60:g} hours")
    if n == 90:
        forms.append("an hour and a half")
    if n == 30:
        forms.append("half an hour")
    return forms


def _month_forms(o: Options, v: Any) -> list[str]:
    year, month = (int(x) for x in str(v).split("-")[:2])
    name = dt.date(year, month, 1).strftime("%B")
    return [str(v), f"{name} {year}"]


def _month_states(o: Options, v: Any, s: Said) -> bool:
    if literal_states(v, s):
        return True
    year, month = (int(x) for x in str(v).split("-")[:2])
    name = dt.date(year, month, 1).strftime("%B").lower()
    return bool(re.search(rf"\b(?:{name}|{name[:3]})\.?,?\s+(?:of\s+)?{year}\b", s.text.lower()))


# --- places -----------------------------------------------------------------------------------
def _place_field(attr: str) -> Callable[[Options, Ctx, str], Any]:
    def make(o: Options, c: Ctx, kind: str) -> Any:
        place = c.other_place() if o.get("second") else c.place
        return getattr(place, attr)
    return make


def _by_place(attr: str, value: Any) -> Place | None:
    return next((p for p in PLACES if getattr(p, attr) == value), None)


def _country_code_forms(o: Options, v: Any) -> list[str]:
    place = _by_place("country_code", v)
    return [str(v)] + ([place.country] if place else [])


def _country_code_states(o: Options, v: Any, s: Said) -> bool:
    place = _by_place("country_code", v)
    return (place is not None and s.has_phrase(place.country)) or re.search(rf"\b{re.escape(str(v))}\b", s.text) is not None


def _airport_forms(o: Options, v: Any) -> list[str]:
    place = _by_place("airport", v)
    return [str(v)] + ([f"{place.city} ({v})", f"{place.city}"] if place else [])


def _airport_states(o: Options, v: Any, s: Said) -> bool:
    place = _by_place("airport", v)
    return re.search(rf"\b{re.escape(str(v))}\b", s.text) is not None or (place is not None and s.has_phrase(place.city))


def _timezone_forms(o: Options, v: Any) -> list[str]:
    place = _by_place("timezone", v)
    return [str(v)] + ([f"{place.city} time"] if place else [])


def _timezone_states(o: Options, v: Any, s: Said) -> bool:
    """The zone's name, or a city in it ("Seattle time" for America/Los_Angeles)."""
    cities = [p.city for p in PLACES if p.timezone == v] + [str(v).rsplit("/", 1)[-1].replace("_", " ")]
    return literal_states(v, s) or any(s.has_phrase(city) for city in cities)


def _coord(index: int) -> Callable[[Options, Ctx, str], Any]:
    return lambda o, c, k: round(c.place.lat if index == 0 else c.place.lon, 4)


# --- codes with names -------------------------------------------------------------------------
def _named_code(table: tuple[tuple[str, ...], ...], *, upper: bool = True) -> Family:
    codes = {row[0]: row[1] for row in table}

    def forms(o: Options, v: Any) -> list[str]:
        return [str(v)] + ([codes[v]] if v in codes else [])

    def states(o: Options, v: Any, s: Said) -> bool:
        if re.search(rf"\b{re.escape(str(v))}\b", s.text, 0 if upper else re.I):
            return True
        name = codes.get(v)
        return name is not None and (s.has_phrase(name) or s.has_stemmed(name))

    pattern = "^[A-Z]{1,5}$" if upper else "^[a-z]{2}$"
    return Family(lambda o: {"type": "string", "pattern": pattern},
                  lambda o, c, k: c.rng.choice(table)[0], forms, states)


def _currency_states(o: Options, v: Any, s: Said) -> bool:
    row = next((r for r in CURRENCIES if r[0] == v), None)
    if re.search(rf"\b{re.escape(str(v))}\b", s.text):
        return True
    if row is None:
        return False
    last = row[1].split()[-1]
    return s.has_stemmed(row[1]) or s.has_stemmed(last) or bool(row[2] and row[2] in s.text)


def _language_forms(o: Options, v: Any) -> list[str]:
    name = dict(LANGUAGES).get(v)
    return [str(v)] + ([name] if name else [])


def _language_states(o: Options, v: Any, s: Said) -> bool:
    name = dict(LANGUAGES).get(v)
    return (name is not None and s.has_phrase(name)) or re.search(rf"\b{re.escape(str(v))}\b", s.text) is not None


def _language_name_states(o: Options, v: Any, s: Said) -> bool:
    return s.has_phrase(str(v))


# --- numbers ----------------------------------------------------------------------------------
def _range_schema(type_name: str) -> Callable[[Options], dict[str, Any]]:
    def schema(o: Options) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type_name}
        if "min" in o:
            out["minimum"] = o["min"]
        if "max" in o:
            out["maximum"] = o["max"]
        return out
    return schema


_int_schema = _range_schema("integer")
_num_schema = _range_schema("number")


def _int_make(o: Options, c: Ctx, _: str) -> int:
    low, high = o.get("typical", [o.get("min", 1), o.get("max", 10)])
    return c.rng.randint(int(low), int(high))


def _int_forms(o: Options, v: Any) -> list[str]:
    n = int(v)
    return [str(n)] + ([L.number_words(n)] if 0 < n <= 30 else [])


def _number_states(o: Options, v: Any, s: Said) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) in s.numbers


def _num_make(o: Options, c: Ctx, _: str) -> float:
    low, high = o.get("typical", [o.get("min", 1), o.get("max", 100)])
    value = round(c.rng.uniform(float(low), float(high)), int(o.get("decimals", 1)))
    return float(int(value)) if value.is_integer() and int(o.get("decimals", 1)) == 0 else value


def _num_forms(o: Options, v: Any) -> list[str]:
    text = display(v)
    units = o.get("unit_words") or ([o["unit"]] if o.get("unit") else [])
    return [text] + [f"{text} {u}" if u not in ("%", "°C", "°F") else f"{text}{u}" for u in units]


def _amount_make(o: Options, c: Ctx, _: str) -> float:
    low, high = o.get("typical", [20, 500])
    value = c.rng.uniform(float(low), float(high))
    return float(round(value)) if c.rng.random() < 0.6 else round(value, int(o.get("decimals", 2)))


def _amount_forms(o: Options, v: Any) -> list[str]:
    value = float(v)
    text = display(value)
    return [text, L.money(value), f"{text} dollars" if value.is_integer() else L.money(value)]


def _percent_forms(o: Options, v: Any) -> list[str]:
    text = display(v)
    return [text, f"{text}%", f"{text} percent"]


# --- words ------------------------------------------------------------------------------------
def _choice_values(o: Options) -> list[dict[str, Any]]:
    return [v if isinstance(v, dict) else {"value": v, "say": [str(v).replace("_", " ")]} for v in o.get("values", [])]


def _choice_schema(o: Options) -> dict[str, Any]:
    values = [v["value"] for v in _choice_values(o)]
    kind = "integer" if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else "string"
    return {"type": kind, "enum": values}


def _choice_forms(o: Options, v: Any) -> list[str]:
    for item in _choice_values(o):
        if item["value"] == v:
            return [str(v)] + [s for s in item.get("say", []) if s != str(v)]
    return [str(v)]


def _choice_states(o: Options, v: Any, s: Said) -> bool:
    """A member is stated by its value or by any way of naming it ("coach" for economy, "newest first" for
    desc); a phrase that names another member as well does not count for this one unless it is longer."""
    forms = _choice_forms(o, v)
    if isinstance(v, str):
        forms.append(v.replace("_", " "))
    return any(s.has_phrase(f) for f in forms if f)


def _pick_make(o: Options, c: Ctx, _: str) -> str:
    values = o.get("values") or ["something"]
    return str(c.rng.choice(values))


def _bool_forms(o: Options, v: Any) -> list[str]:
    return list(o.get("on" if v else "off") or (["yes"] if v else ["no"]))


def _bool_states(o: Options, v: Any, s: Said) -> bool:
    """On when an on-phrase is said and no off-phrase; off when an off-phrase is said."""
    off = any(s.has_phrase(p) for p in o.get("off", []))
    if not v:
        return off
    return not off and any(s.has_phrase(p) for p in o.get("on", []))


def _separator(prefix: str) -> str:
    """ORD-482913, but 0x4f… and CVE-2024-12345 (a prefix ending in a digit or x joins as written)."""
    return "" if prefix.lower() == "0x" or prefix.endswith(("-", "_")) else "-"


def _identifier_schema(o: Options) -> dict[str, Any]:
    prefix, digits = o.get("prefix", "ID"), int(o.get("digits", 6))
    return {"type": "string", "pattern": f"^{re.escape(prefix + _separator(prefix))}[0-9]{{{digits}}}$"}


def _identifier_make(o: Options, c: Ctx, _: str) -> str:
    prefix, digits = o.get("prefix", "ID"), int(o.get("digits", 6))
    return f"{prefix}{_separator(prefix)}{c.rng.randint(10 ** (digits - 1), 10 ** digits - 1)}"


def _flight_make(o: Options, c: Ctx, _: str) -> str:
    return f"{c.rng.choice(AIRLINES)[0]}{c.rng.randint(100, 2999)}"


def _flight_forms(o: Options, v: Any) -> list[str]:
    text = str(v)
    return [text, f"{text[:2]} {text[2:]}"]


def _ticker_forms(o: Options, v: Any) -> list[str]:
    name = dict(TICKERS).get(v)
    return [str(v)] + ([f"{name} ({v})"] if name else [])


def _ticker_states(o: Options, v: Any, s: Said) -> bool:
    name = dict(TICKERS).get(v)
    return re.search(rf"\b{re.escape(str(v))}\b", s.text) is not None or (name is not None and s.has_phrase(name))


def _text_schema(o: Options) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": STRING_MAX}


def _f(attr: str) -> Callable[[Options, Ctx, str], Any]:
    return lambda o, c, k: getattr(c.fake, attr)()


_STR = {"type": "string", "minLength": 1, "maxLength": STRING_MAX}
FAMILIES: dict[str, Family] = {
    "date": Family(lambda o: {"type": "string", "format": "date"}, _date_make, _date_forms, _date_states),
    "datetime": Family(lambda o: {"type": "string", "format": "date-time"}, _datetime_make, _datetime_forms,
                       _datetime_states),
    "time": Family(lambda o: {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}, _time_make, _time_forms,
                   _time_states),
    "duration": Family(_int_schema, _int_make, _duration_forms, lambda o, v, s: int(v) in s.minutes or literal_states(v, s)),
    "year": Family(_int_schema, lambda o, c, k: c.rng.randint(int(o.get("min", 2015)), int(o.get("max", 2026))),
                   lambda o, v: [str(v)], _number_states),
    "month": Family(lambda o: {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"},
                    lambda o, c, k: _date_make(o, c, k)[:7], _month_forms, _month_states),
    "timezone": Family(lambda o: dict(_STR), _place_field("timezone"), _timezone_forms, _timezone_states),
    "city": _literal(_STR, _place_field("city")),
    "country": _literal(_STR, _place_field("country")),
    "country_code": Family(lambda o: {"type": "string", "pattern": "^[A-Z]{2}$"}, _place_field("country_code"),
                           _country_code_forms, _country_code_states),
    "region": _literal(_STR, _place_field("region")),
    "address": _literal(_STR, _f("street_address")),
    "postal_code": _literal(_STR, _f("postcode")),
    "latitude": Family(lambda o: {"type": "number", "minimum": -90, "maximum": 90}, _coord(0),
                       lambda o, v: [display(v)], _number_states),
    "longitude": Family(lambda o: {"type": "number", "minimum": -180, "maximum": 180}, _coord(1),
                        lambda o, v: [display(v)], _number_states),
    "airport_code": Family(lambda o: {"type": "string", "pattern": "^[A-Z]{3}$"}, _place_field("airport"),
                           _airport_forms, _airport_states),
    "language_code": Family(lambda o: {"type": "string", "pattern": "^[a-z]{2}$"},
                            lambda o, c, k: c.rng.choice(LANGUAGES)[0], _language_forms, _language_states),
    "language": Family(lambda o: dict(_STR), lambda o, c, k: c.rng.choice(LANGUAGES)[1],
                       lambda o, v: [str(v)], _language_name_states),
    "currency_code": Family(lambda o: {"type": "string", "pattern": "^[A-Z]{3}$"},
                            lambda o, c, k: c.rng.choice(CURRENCIES)[0],
                            lambda o, v: [str(v)] + [r[1] for r in CURRENCIES if r[0] == v], _currency_states),
    "person_name": _literal(_STR, _f("name")),
    "first_name": _literal(_STR, _f("first_name")),
    "email": _literal({"type": "string", "format": "email"}, _f("free_email")),
    "phone": _literal(_STR, lambda o, c, k: c.fake.numerify("+1-###-###-####")),
    "username": _literal(_STR, _f("user_name")),
    "company": _literal(_STR, _f("company")),
    "url": _literal({"type": "string", "format": "uri"}, _f("url")),
    "isbn": _literal({"type": "string", "pattern": "^97[89][0-9]{10}$"},
                     lambda o, c, k: c.fake.isbn13().replace("-", "")),
    "flight_number": Family(lambda o: {"type": "string", "pattern": "^[A-Z0-9]{2}[0-9]{1,4}$"}, _flight_make,
                            _flight_forms, lambda o, v, s: literal_states(v, s)),
    "ticker": Family(lambda o: {"type": "string", "pattern": "^[A-Z]{1,5}$"}, lambda o, c, k: c.rng.choice(TICKERS)[0],
                     _ticker_forms, _ticker_states),
    "crypto_symbol": _named_code(CRYPTO),
    "uuid": _literal({"type": "string", "format": "uuid"}, lambda o, c, k: str(c.fake.uuid4())),
    "ip_address": _literal({"type": "string", "format": "ipv4"}, _f("ipv4_public")),
    "hex_color": _literal({"type": "string", "pattern": "^#[0-9a-f]{6}$"}, lambda o, c, k: c.fake.hex_color()),
    "vin": _literal({"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"},
                    lambda o, c, k: "".join(c.rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(17))),
    "license_plate": _literal(_STR, _f("license_plate")),
    "iban": _literal(_STR, _f("iban")),
    "identifier": Family(_identifier_schema, _identifier_make, lambda o, v: [str(v)], lambda o, v, s: literal_states(v, s)),
    "integer": Family(_int_schema, _int_make, _int_forms, _number_states),
    "number": Family(_num_schema, _num_make, _num_forms, _number_states),
    "amount": Family(lambda o: {"type": "number", "minimum": 0}, _amount_make, _amount_forms, _number_states),
    "percentage": Family(lambda o: {"type": "number", "minimum": 0, "maximum": 100},
                         lambda o, c, k: float(c.rng.randint(*[int(x) for x in o.get("typical", [5, 60])])),
                         _percent_forms, _number_states),
    "choice": Family(_choice_schema, lambda o, c, k: c.rng.choice(_choice_values(o))["value"], _choice_forms,
                     _choice_states),
    "pick": Family(_text_schema, _pick_make, lambda o, v: [str(v)], lambda o, v, s: literal_states(v, s)),
    "text": Family(_text_schema, _pick_make, lambda o, v: [str(v)], lambda o, v, s: literal_states(v, s)),
    "boolean": Family(lambda o: {"type": "boolean"}, lambda o, c, k: c.rng.random() < 0.6, _bool_forms, _bool_states),
}
FAMILY_NAMES = frozenset(FAMILIES)
_ = string  # kept for families that build codes from letters
