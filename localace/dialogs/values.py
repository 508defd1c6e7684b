"""Realistic argument values for a blueprint call, chosen by parameter type, constraints and name.

A small model asked to invent arguments writes `{"city": [1, 2, 3, 4]}`; the dialog's correctness
should not depend on that. Values come from typed generators (Faker, seeded per dialog), shaped by the
parameter's schema (enum, pattern, format, range, items) and its name (`email`, `departure_date`,
`flight_number`, `currency`...). Whatever is generated is validated against the parameter's schema;
a value that does not fit falls back to the schema sampler, so a blueprint is always schema-valid."""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Callable
from typing import Any

import jsonschema

from localace.apis.spec import ApiSpec, strip_vendor_keys
from localace.hashing import canonical_json
from localace.kinds import KIND_KEY, Ctx, kind_of
from localace.kinds.language import singular
from localace.kinds.said import words
from localace.string_formats import FORMAT_CHECKER

# Dates are drawn around a fixed anchor, not today: the same seed must give the same dialog on any day.
ANCHOR = dt.date(2026, 1, 1)
AIRPORTS = ("JFK", "LHR", "CDG", "FRA", "AMS", "MAD", "FCO", "LIS", "DXB", "SIN", "HND", "SYD", "YYZ", "SFO",
            "LAX", "ORD", "BCN", "MUC", "ZRH", "IST", "DEL", "GRU", "MEX", "ICN")
AIRLINES = ("BA", "LH", "AF", "KL", "IB", "TP", "EK", "SQ", "NH", "QF", "AC", "UA", "DL", "AA", "LX", "TK")
def _words(name: str) -> list[str]:
    return [w for w in words(name) if w.isalpha()]


def _has(words: list[str], *keys: str) -> bool:
    return any(k in words for k in keys)


class ValueMaker:
    """Seeded generator of argument values; one per dialog attempt."""

    def __init__(self, seed: int | str) -> None:
        from faker import Faker  # imported here: only dialog generation needs it

        self.rng = random.Random(f"values:{seed}")
        self.fake = Faker("en_US")
        self.fake.seed_instance(self.rng.randrange(2**32))
        self._place: tuple[str, str, str, str, str] | None = None
        self.ctx = Ctx(self.rng, _fake=self.fake)
        self.echo: dict[str, Any] = {}  # kind name → the argument value a result field of that kind reports

    # --- places are drawn once per dialog, so a city, its country and coordinates agree ---------
    @property
    def place(self) -> tuple[str, str, str, str, str]:
        if self._place is None:
            self._place = self.fake.location_on_land()  # (lat, lon, place, country code, timezone)
        return self._place

    def arguments(self, api: ApiSpec, *, optional: int = 1, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """Values for every required parameter and up to `optional` optional non-boolean ones."""
        params = api.parameters  # with the kinds' annotations: they choose the values
        props: dict[str, Any] = params.get("properties", {})
        required = [n for n in params.get("required", []) if n in props]
        extra = [n for n in props if n not in required and props[n].get("type") != "boolean"]
        # People name a knob now and then, not in every request; each one is one more value to get right.
        optional = optional if self.rng.random() < OPTIONAL_SHARE else 0
        chosen = required + self.rng.sample(extra, min(optional, len(extra)))
        out: dict[str, Any] = {}
        for n in props:
            if n in chosen and n not in skip:
                out[n] = self.distinct(n, props[n], api, taken=out.values())
        return ordered_ranges(out, props)

    def distinct(self, name: str, schema: dict[str, Any], api: ApiSpec | None, taken: Any) -> Any:
        """A value unlike the ones already `taken`: two parameters holding the same value make the request
        ambiguous (which 8 was the limit?), and a value left out must not be stated by another."""
        taken = [canonical_json(t) for t in taken]
        value = self.value(name, schema, api)
        for _ in range(6):
            if canonical_json(value) not in taken:
                break
            value = self.value(name, schema, api)
        return value

    def result(self, api: ApiSpec, fixed: dict[str, Any], arguments: dict[str, Any]) -> Any:
        """A simulated tool result under the API's return schema: `fixed` fields as given, every other field from
        the typed generators (a 135M model writes `"results": ") - I'm ready to do it"`)."""
        schema = api.returns  # with the kinds' annotations: every field is filled by its kind
        props = schema.get("properties")
        if schema.get("type") != "object" or not isinstance(props, dict):
            return self.value("result", schema, api)
        # A field of the same kind as an argument reports it (the showtimes of the date asked for, the workout's
        # activity as logged), at any depth.
        self.echo = {k.name: v for n, v in arguments.items() if isinstance(v, (str, int, float))
                     and (k := kind_of(n, api.parameters.get("properties", {}).get(n, {}))) is not None}
        days = [v for n, v in arguments.items() if isinstance(v, str)
                and (k := kind_of(n, api.parameters.get("properties", {}).get(n, {}))) is not None and k.family == "date"]
        if days:
            self.echo["@date"] = days[0]
        try:
            return {n: fixed[n] if n in fixed else self._result_field(n, field_schema, api, arguments)
                    for n, field_schema in props.items()}
        finally:
            self.echo = {}

    def _result_field(self, name: str, schema: dict[str, Any], api: ApiSpec, arguments: dict[str, Any]) -> Any:
        if KIND_KEY in schema or schema.get("type") in ("object", "array"):
            return self.value(name, schema, api)
        words = _words(name)
        if schema.get("type") == "string" and "enum" not in schema and "pattern" not in schema and not schema.get(
                "format") and _has(words, "status", "state"):
            return self.rng.choice(_statuses(api))
        return self.value(name, schema, api)

    def value(self, name: str, schema: dict[str, Any], api: ApiSpec | None = None) -> Any:
        """A value for one parameter (or nested field) that validates against its schema: made by its kind
        when it has one, else by the schema's type and constraints."""
        candidate = None
        kind = kind_of(name, schema) if schema.get("type") not in ("object", "array") else None
        if kind is not None and kind.name in self.echo and _valid(self.echo[kind.name], schema):
            return self.echo[kind.name]
        if kind is not None and kind.family == "datetime" and (day := self.echo.get("@date")):
            at = f"{day}T{self.rng.randint(9, 22):02d}:{self.rng.choice((0, 15, 30, 45)):02d}:00Z"
            if _valid(at, schema):
                return at  # the showtimes of the day asked for start on that day
        if kind is not None:
            try:
                candidate = kind.make(self.ctx)
            except (ValueError, KeyError, TypeError, IndexError):
                candidate = None
            if candidate is not None and _valid(candidate, schema):
                return candidate
            if "enum" in schema and kind.family == "choice":
                candidate = None  # the API narrowed the kind's members: fall through to its own enum
        try:
            candidate = self._typed(name, schema, api)
        except (ValueError, KeyError, TypeError, IndexError):
            candidate = None
        if candidate is not None and _valid(candidate, schema):
            return candidate
        from localace.backends.schema_sample import sample_instance

        return sample_instance(strip_vendor_keys(schema), self.rng)

    # --- by schema --------------------------------------------------------------------------
    def _typed(self, name: str, schema: dict[str, Any], api: ApiSpec | None) -> Any:
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type", "string")
        if kind == "string":
            return self._string(name, schema, api)
        if kind == "integer":
            return self._integer(name, schema)
        if kind == "number":
            return self._number(name, schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "array":
            items = schema.get("items") or {"type": "string"}
            low = max(1, int(schema.get("minItems", 1)))
            high = max(low, min(int(schema.get("maxItems", 3)), 3))
            single = singular(name)  # one item of `organizations_mentioned` is an organization
            values: list[Any] = []
            echo = self.echo
            for _ in range(self.rng.randint(low, high) * 3):  # retries: array items are often expected distinct
                if len(values) >= high:
                    break
                v = self.value(single, items, api)
                if v not in values:
                    values.append(v)
                # The first item reports the arguments' values; the others are other things found (three
                # companies named like the one asked for read as one company three times).
                self.echo = {k: v for k, v in echo.items() if k == "@date"}
            self.echo = echo
            values = values[: max(low, min(len(values), self.rng.randint(low, high)))]
            if isinstance(items, dict) and items.get("type") == "array" and items.get("maxItems") == 2:
                values = [sorted(v) if all(isinstance(x, (int, float)) for x in v) else v for v in values]  # [low, high]
            return values
        if kind == "object":
            props = schema.get("properties", {})
            required = [n for n in schema.get("required", []) if n in props] or list(props)[:1]
            return {n: self.value(n, props[n], api) for n in props if n in required}
        return None

    def _string(self, name: str, schema: dict[str, Any], api: ApiSpec | None) -> str | None:
        fmt = schema.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt](self)
        if "pattern" in schema:
            return None  # the schema sampler writes strings of a pattern exactly
        words = _words(name)
        for keys, make in _STRING_RULES:
            if _has(words, *keys):
                return make(self, words)
        if api is not None and (topic := _topic(api, self.rng)):
            return topic
        return " ".join(self.fake.words(2)).capitalize()

    def _integer(self, name: str, schema: dict[str, Any]) -> int:
        words = _words(name)
        low, high = _bounds(schema, *_int_range(words))
        return self.rng.randint(int(low), int(high))

    def _number(self, name: str, schema: dict[str, Any]) -> float:
        words = _words(name)
        if _has(words, "latitude", "lat"):
            return round(float(self.place[0]), 4)
        if _has(words, "longitude", "lon", "lng"):
            return round(float(self.place[1]), 4)
        low, high = _bounds(schema, *_num_range(words))
        return round(self.rng.uniform(low, high), 2)

    # --- helpers used by the rules -----------------------------------------------------------
    def date(self, days: int = 540) -> dt.date:
        return ANCHOR + dt.timedelta(days=self.rng.randint(0, days))

    def code(self, words: list[str]) -> str:
        prefix = "".join(w[0] for w in words if w not in ("id", "code", "number", "no"))[:3].upper() or "REF"
        return f"{prefix}-{self.rng.randint(10000, 99999)}"


OPTIONAL_SHARE = 0.35
_STARTS = ("start", "from", "check_in", "departure", "begin", "min")
_ENDS = ("end", "to", "until", "check_out", "return", "finish", "max")


def ordered_ranges(arguments: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """A range's two ends in order: a start date before its end date, a minimum below its maximum (values are
    drawn one by one, so `check_out` could fall before `check_in`)."""
    def stem(name: str) -> str:
        for word in _STARTS + _ENDS:
            if name.startswith(word + "_") or name.endswith("_" + word):
                return name.replace(word, "", 1).strip("_")
        return ""

    starts = {stem(n): n for n in arguments if n.startswith(_STARTS) or n.endswith(tuple("_" + w for w in _STARTS))}
    for n in list(arguments):
        if not (n.startswith(_ENDS) or n.endswith(tuple("_" + w for w in _ENDS))):
            continue
        first = starts.get(stem(n))
        if first is None and len(starts) == 1:
            first = next(iter(starts.values()))
        if first is None or first == n:
            continue
        a, b = arguments[first], arguments[n]
        if type(a) is type(b) and not isinstance(a, (bool, dict, list)) and a > b \
                and _valid(b, props.get(first, {})) and _valid(a, props.get(n, {})):
            arguments[first], arguments[n] = b, a
    return arguments


def echo_value(value: Any, schema: dict[str, Any]) -> Any:
    """An argument as a result field of the same name reports it: as given, or as text when the field is a
    string and the argument a number (`product_variants` 8 comes back as "8", not as unrelated words)."""
    if _valid(value, schema):
        return value
    if schema.get("type") == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
        return text if _valid(text, schema) else None
    return None


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    try:
        jsonschema.validate(value, schema, format_checker=FORMAT_CHECKER)
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return False
    return True


def _bounds(schema: dict[str, Any], low: float, high: float) -> tuple[float, float]:
    lo = schema.get("minimum", schema.get("exclusiveMinimum", None))
    hi = schema.get("maximum", schema.get("exclusiveMaximum", None))
    if lo is not None:
        low = max(low, lo + (1 if "exclusiveMinimum" in schema else 0))
    if hi is not None:
        high = min(high, hi - (1 if "exclusiveMaximum" in schema else 0))
    if low > high:  # the name's usual range does not fit the declared one: use the declared one
        low = lo if lo is not None else high - 10
        high = hi if hi is not None else low + 10
    return low, high


def _int_range(words: list[str]) -> tuple[int, int]:
    if _has(words, "year"):
        return 2018, 2026
    if _has(words, "month"):
        return 1, 12
    if _has(words, "day") and not _has(words, "days"):
        return 1, 28
    if _has(words, "hour", "hours"):
        return 1, 12
    if _has(words, "minutes", "minute"):
        return 5, 90
    if _has(words, "rating", "stars"):
        return 1, 5
    if _has(words, "percent", "percentage"):
        return 5, 95
    if _has(words, "age"):
        return 18, 80
    if _has(words, "page"):
        return 1, 5
    if _has(words, "limit", "max", "top", "size", "results"):
        return 5, 20
    if _has(words, "id", "number", "code"):
        return 1000, 99999
    if _has(words, "amount", "price", "budget", "salary", "cost", "income"):
        return 20, 5000
    return 1, 10


def _num_range(words: list[str]) -> tuple[float, float]:
    if _has(words, "amount", "price", "budget", "cost", "fee", "balance", "total", "salary", "income", "value"):
        return 10.0, 2500.0
    if _has(words, "rate", "interest"):
        return 0.5, 9.5
    if _has(words, "percent", "percentage", "discount"):
        return 5.0, 60.0
    if _has(words, "rating", "score"):
        return 1.0, 5.0
    if _has(words, "weight", "kg"):
        return 0.5, 90.0
    if _has(words, "distance", "radius", "km", "miles"):
        return 1.0, 50.0
    if _has(words, "temperature", "temp"):
        return -5.0, 35.0
    return 1.0, 100.0


# A status says what the API's thing can be: a body-fat log is not "on time", a flight is not "completed".
_STATUS_BY_TOPIC: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("flight", "flights", "train", "trains", "bus", "ferry", "departure", "arrival"),
     ("on time", "delayed", "boarding", "departed", "landed", "cancelled")),
    (("order", "orders", "shipment", "parcel", "package", "delivery", "tracking"),
     ("processing", "shipped", "in transit", "out for delivery", "delivered")),
    (("booking", "reservation", "appointment", "ticket", "tickets", "table", "room"),
     ("confirmed", "pending", "waitlisted", "cancelled")),
    (("payment", "invoice", "transfer", "refund", "transaction", "bill"),
     ("paid", "pending", "processing", "failed", "refunded")),
    (("task", "job", "build", "report", "export", "upload", "request", "ticket"),
     ("queued", "running", "completed", "failed")),
)
_STATUS_DEFAULT = ("active", "pending", "completed", "recorded", "available")


def _statuses(api: ApiSpec) -> tuple[str, ...]:
    words = _words(f"{api.name} {api.description}")
    for keys, statuses in _STATUS_BY_TOPIC:
        if _has(words, *keys):
            return statuses
    return _STATUS_DEFAULT


def _topic(api: ApiSpec, rng: random.Random) -> str | None:
    """A short phrase of the API's own description, for free-text parameters (query, keyword, topic)."""
    from localace.apis.naming import content_words

    words = [w for w in content_words(api.description) if len(w) > 3]
    if not words:
        return None
    start = rng.randrange(len(words))
    return " ".join(words[start: start + rng.randint(1, 2)])


_FORMATS: dict[str, Callable[[ValueMaker], str]] = {
    "date": lambda v: v.date().isoformat(),
    "date-time": lambda v: dt.datetime.combine(v.date(), dt.time(v.rng.randint(7, 21), v.rng.choice((0, 15, 30, 45))))
    .isoformat(),
    "time": lambda v: f"{v.rng.randint(7, 21):02d}:{v.rng.choice((0, 15, 30, 45)):02d}",
    "email": lambda v: v.fake.free_email(),
    "uri": lambda v: v.fake.url(),
    "uuid": lambda v: str(v.fake.uuid4()),
    "ipv4": lambda v: v.fake.ipv4_public(),
    "ipv6": lambda v: v.fake.ipv6(),
    "hostname": lambda v: v.fake.domain_name(),
}
Rule = tuple[tuple[str, ...], Callable[[ValueMaker, list[str]], str]]
# First match wins: specific words before generic ones (`flight_number` before `number`).
_STRING_RULES: tuple[Rule, ...] = (
    (("email", "mail"), lambda v, w: v.fake.free_email()),
    (("phone", "mobile"), lambda v, w: v.fake.numerify("+1-###-###-####")),
    (("url", "link", "website", "uri"), lambda v, w: v.fake.url()),
    (("airport", "origin", "destination"), lambda v, w: v.rng.choice(AIRPORTS)),
    (("flight",), lambda v, w: f"{v.rng.choice(AIRLINES)}{v.rng.randint(100, 2999)}"),
    (("carrier", "airline"), lambda v, w: v.rng.choice(AIRLINES)),
    (("at", "timestamp", "updated", "created", "modified"), lambda v, w: dt.datetime.combine(
        v.date(), dt.time(v.rng.randint(7, 21), v.rng.choice((0, 15, 30, 45)))).isoformat()),
    (("date", "day", "birthday", "checkin", "checkout", "departure", "arrival", "deadline", "due"),
     lambda v, w: v.date().isoformat()),
    (("time", "hour"), lambda v, w: f"{v.rng.randint(7, 21):02d}:{v.rng.choice((0, 15, 30, 45)):02d}"),
    (("year",), lambda v, w: str(v.rng.randint(2018, 2026))),
    (("month",), lambda v, w: v.date().strftime("%Y-%m")),
    (("currency",), lambda v, w: v.fake.currency_code()),
    (("country",), lambda v, w: v.place[3] if _has(w, "code") else v.fake.country()),
    (("city", "town", "location", "place", "destination", "region"), lambda v, w: v.place[2]),
    (("timezone", "tz"), lambda v, w: v.place[4]),
    (("address", "street"), lambda v, w: v.fake.street_address()),
    (("zip", "postal", "postcode"), lambda v, w: v.fake.postcode()),
    (("language", "lang", "locale"), lambda v, w: v.rng.choice(("en", "es", "fr", "de", "pt", "it", "ja"))
     if _has(w, "code") else v.fake.language_name()),
    (("company", "employer", "brand", "organization", "merchant", "vendor"), lambda v, w: v.fake.company()),
    (("username", "handle"), lambda v, w: v.fake.user_name()),
    (("name", "customer", "passenger", "guest", "author", "patient", "owner", "contact", "recipient", "person"),
     lambda v, w: v.fake.name()),
    (("color", "colour"), lambda v, w: v.fake.color_name()),
    (("people", "persons", "attendees", "members", "participants", "speakers", "authors", "contacts", "players",
      "employees", "candidates", "guests"), lambda v, w: ", ".join(v.fake.name() for _ in range(v.rng.randint(2, 3)))),
    (("places", "locations", "cities", "venues", "destinations"),
     lambda v, w: ", ".join(v.fake.city() for _ in range(v.rng.randint(2, 3)))),
    (("organizations", "organisations", "companies", "brands", "sponsors", "vendors"),
     lambda v, w: ", ".join(v.fake.company() for _ in range(v.rng.randint(2, 3)))),
    (("text", "message", "content", "body", "comment", "review", "sentence", "note", "notes", "feedback"),
     lambda v, w: v.fake.sentence(nb_words=7).rstrip(".")),
    (("title", "headline", "subject"), lambda v, w: v.fake.catch_phrase()),
    (("job", "position", "occupation"), lambda v, w: v.fake.job()),
    (("isbn",), lambda v, w: v.fake.isbn13()),
    (("iban",), lambda v, w: v.fake.iban()),
    (("ticker", "symbol", "stock"), lambda v, w: "".join(v.rng.choice(string.ascii_uppercase) for _ in range(4))),
    (("plate", "license"), lambda v, w: v.fake.license_plate()),
    (("sku", "barcode", "ean"), lambda v, w: v.fake.ean13()),
    (("password", "token", "key", "secret"), lambda v, w: v.fake.password(length=12, special_chars=False)),
    (("id", "code", "number", "reference", "ref", "identifier", "account", "order", "booking", "ticket",
      "invoice", "tracking"), lambda v, w: v.code(w)),
)
