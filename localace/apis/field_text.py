"""Field descriptions a reader can trust: a model's phrase is kept when it reads as one sentence about its
field; otherwise the field gets a plain one written from its name.

A 135M model describes `status` as "Flight Status (Flight_Code (IATA-II, IAA, IAA, IAA…" and gives four
fields of one API the same sentence about an animal's diseases. Every exported row carries these texts, so a
trainee learns them; "The flight status." teaches less but nothing false."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.text_norm import stem

MAX_CHARS = 100
_WORD = re.compile(r"[a-z0-9]+")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)")
_JUNK = re.compile(r"[{}\[\]<>|\\]|https?:|www\.|\d+\.\d+\.\d+")
_SMALL = frozenset("a an and the of for to in on by with from or is are be will it its this that as at".split())
_EXPAND = {"max": "maximum", "min": "minimum", "num": "number of", "qty": "quantity", "desc": "description",
           "id": "ID", "ids": "IDs", "url": "URL", "iso": "ISO", "api": "API", "utc": "UTC", "km": "km"}
_FORMAT_HINT = {"date": " (YYYY-MM-DD)", "date-time": " (ISO 8601 date and time)", "time": " (HH:MM)",
                "email": " (an email address)", "uri": " (a URL)"}
# A description may name its field by another word: `limit` as "maximum number of results", `lat` as "latitude".
_SYNONYMS = {"limit": ("maximum", "max", "most"), "max": ("maximum", "most"), "min": ("minimum", "least"),
             "lat": ("latitude",), "lon": ("longitude",), "lng": ("longitude",), "q": ("query", "search"),
             "qty": ("quantity",), "num": ("number",), "id": ("identifier",), "desc": ("description",),
             "offset": ("skip",), "tz": ("timezone", "time zone"), "dob": ("birth",), "lang": ("language",)}
_KNOBS = {"sort_by": "The field to sort the results by", "limit": "The maximum number of results to return",
          "page": "The page of results to return", "offset": "The number of results to skip",
          "units": "The units to use in the results", "include_details": "Whether to include the full details",
          "language": "The language of the results", "order": "The sort order of the results"}
_VERB_FIRST = frozenset("include show use enable return exclude notify send save record sort group filter "
                        "allow skip apply round convert".split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("_", " "))


def first_sentence(text: str) -> str:
    text = " ".join(text.split())
    m = _FIRST_SENTENCE.match(text)
    return m.group(1) if m else text


def description_problem(name: str, text: str, api: ApiSpec | None = None) -> str | None:
    """Why `text` does not describe the field `name` of `api` (None if it does)."""
    sentence = first_sentence(text)
    if len(sentence) > MAX_CHARS:
        return "too long for one field"
    if _JUNK.search(sentence):
        return "holds template, markup, a link or a version number"
    if sentence.count("(") != sentence.count(")"):
        return "unbalanced parentheses"
    words = _words(sentence)
    content = [w for w in words if w not in _SMALL]
    pairs = list(zip(words, words[1:]))
    if len(pairs) != len(set(pairs)) or any(n >= 3 for n in Counter(content).values()):
        return "repeats itself"
    stems = {stem(w) for w in words}
    named = {stem(w) for w in _words(name)}
    named |= {stem(x) for w in _words(name) for x in _SYNONYMS.get(w, ())}
    if not named & stems:
        return "does not name the field"
    if re.search(r"\bnot (supported|available|implemented)\b", sentence, re.I):
        return "says the field does not work"
    if api is not None and stems == {stem(w) for w in _words(api.description)}:
        return "repeats the API's description"
    return None


def written_description(name: str, schema: dict[str, Any]) -> str:
    """A plain description from the field's name and type: 'The maximum number of results.'"""
    words = _words(name)
    if name in _KNOBS:
        return _KNOBS[name] + "."
    if words[:1] in (["max"], ["min"]) and len(words) > 1 and words[-1].endswith("s"):
        words = [f"{_EXPAND[words[0]]} number of", *words[1:]]
    if words[:1] in (["is"], ["has"]):
        phrase = f"Whether it {words[0]} {' '.join(words[1:]) or 'set'}"
    elif schema.get("type") == "boolean":
        phrase = ("Whether to " if words[:1] and words[0] in _VERB_FIRST else "Whether to use ") + " ".join(words)
    else:
        spelled = " ".join(_EXPAND.get(w, w) for w in words)
        phrase = f"{'The list of' if schema.get('type') == 'array' else 'The'} {spelled}"
    return phrase[0].upper() + phrase[1:] + _FORMAT_HINT.get(str(schema.get("format", "")), "") + "."


def _described(props: dict[str, Any], counts: Counter[str], api: ApiSpec) -> dict[str, Any]:
    """The properties with each description checked (nested objects and array items too)."""
    seen = Counter(first_sentence(str(s.get("description", ""))).lower() for s in props.values() if isinstance(s, dict))
    out: dict[str, Any] = {}
    for name, schema in props.items():
        if not isinstance(schema, dict):
            out[name] = schema
            continue
        schema = dict(schema)
        text = str(schema.get("description", ""))
        sentence = first_sentence(text)
        # One sentence given to two fields describes at most one of them; neither keeps it.
        problem = description_problem(name, text, api) or ("shared with another field" if seen[sentence.lower()] > 1 else None)
        if problem:
            counts[problem] += 1
            schema["description"] = written_description(name, schema)
        else:
            schema["description"] = sentence[0].upper() + sentence[1:]
        if isinstance(schema.get("properties"), dict):
            schema["properties"] = _described(schema["properties"], counts, api)
        items = schema.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            schema["items"] = {**items, "properties": _described(items["properties"], counts, api)}
        out[name] = schema
    return out


def clean_descriptions(spec: ApiSpec) -> tuple[ApiSpec, Counter[str]]:
    """The API with every field description checked, and how many were rewritten for which reason."""
    counts: Counter[str] = Counter()
    blocks = {}
    for key in ("parameters", "returns"):
        block = getattr(spec, key)
        if isinstance(block.get("properties"), dict):
            block = {**block, "properties": _described(block["properties"], counts, spec)}
        blocks[key] = block
    return spec.replace(**blocks), counts
