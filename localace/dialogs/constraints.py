"""Output constraints of the dialog agents, built from the offered APIs' own schemas."""

from __future__ import annotations

import copy
import re
from typing import Any

from localace.apis.spec import ApiSpec, strip_vendor_keys
from localace.backends.base import Output
from localace.hashing import canonical_json

MAX_ARG_CHARS = 80
MAX_RESULT_CHARS = 60
MAX_ITEMS = 4
# One paragraph, no chat-template markers, bounded: a small model must stop within max_tokens.
_TEXT_CHAR = r"[^\x00-\x1f\x7f<>|{}\ufffd]"  # no control characters, template markers or braces
# At least two words (a space after the first few characters), ending like a sentence.
USER_TEXT = Output.regex(rf"[A-Za-z0-9\"'(]{_TEXT_CHAR}{{1,60}} {_TEXT_CHAR}{{4,220}}[.?!]")
ASSISTANT_TEXT = Output.regex(rf"[A-Za-z0-9\"'(]{_TEXT_CHAR}{{1,60}} {_TEXT_CHAR}{{4,320}}[.?!]")
# A user message opens the way people open a request to an assistant, which leaves no room for the
# narration a small model drifts into ("The user wants ...") at the very start.
USER_OPENERS = ("I", "I'm", "I'd", "I need", "I want", "Can you", "Could you", "Please", "Hi", "Hello", "Hey",
                "What", "Which", "How", "When", "Where", "Is", "Are", "Do", "Find", "Show", "Get", "Check", "Book",
                "Help", "My", "We", "Tell", "Thanks", "Thank you", "Good morning", "Quick question")
_OPENER = "(?:" + "|".join(re.escape(o) for o in sorted(USER_OPENERS, key=len, reverse=True)) + ")"
USER_REQUEST = Output.regex(rf"{_OPENER}[ ,!]{_TEXT_CHAR}{{8,260}}[.?!]")


# A user request as a grammar: the model chooses the opening, the way it asks and how it links the values; the
# goal and every value are fixed. A small model's free text drifts (other languages, placeholders, the
# assistant's voice); this always reads as a user and states what the plan needs. Larger models pass the free
# attempt first and never get here.
_OPENERS = {
    "terse": ("", "Hi. ", "Quick one: "),
    "chatty and friendly": ("Hi there! ", "Hey! ", "Hello! ", "Hi, hope you're well! "),
    "precise, using the domain's own terms": ("", "Hello. ", "Request: "),
    "simple, with short sentences": ("Hi. ", "Hello. ", ""),
    "polite and formal": ("Good morning. ", "Hello. ", "Good afternoon. ", "Dear assistant, "),
    "in a hurry": ("Quick: ", "Fast please: ", "Need this now: ", ""),
}
_FOLLOWUP_OPENERS = ("Thanks! ", "Great, thank you. ", "Perfect. ", "Thanks. One more thing: ", "Got it. ")
_ASKS = ("Could you ", "Can you ", "Please ", "I need you to ", "I'd like you to ", "Would you ")
_SUPPLY = ("", "Sure, ", "Of course. ", "Oh, right: ", "Yes, ", "Sorry, ")


def _alt(options: tuple[str, ...] | list[str]) -> str:
    return "(?:" + "|".join(re.escape(o) for o in options) + ")"


def _value_part(label: str, display: str, is_flag: bool, value: Any) -> str:
    if is_flag:
        return ("with " if value else "without ") + re.escape(label)
    return f"{_alt(('the ', 'The ', 'my ', 'My ', ''))}{re.escape(label)} {_alt(('is ', 'should be ', '= ', ': '))}{re.escape(display)}"


def _phrased(s: Any) -> list[str]:
    """The ways a kinded statement may be said: its kind's phrasings around the value as the user writes it."""
    if getattr(s, "kind", None) is None:
        return []
    if isinstance(s.value, bool):
        return [s.display]
    return [p.replace("{v}", _around(p, s.display)) for p in s.phrasings if "{v}" in p and p.count("{v}") == 1]


def _around(phrasing: str, shown: str) -> str:
    """The value as written inside a phrasing: a phrasing that names the unit itself ("{v} minutes long",
    "{v}% moisture") takes the bare number ("39", not "39 minutes minutes long"; "41", not "41%%")."""
    after = phrasing.split("{v}", 1)[1]
    number = re.match(r"[-+]?\d[\d.,]*", shown)
    unit = shown[number.end():] if number else ""
    if number and unit.strip() and _UNIT.match(after):
        return number.group(0)
    return shown


_UNIT = re.compile(r"\s*(?:%|°|(?:percent|minutes?|mins?|hours?|days?|weeks?|km|kilomet(?:re|er)s?|miles?|kg|"
                   r"kilograms?|lbs?|pounds?|cm|met(?:re|er)s?|millimet(?:re|er)s?|mm|degrees?|dollars?|euros?)\b)", re.I)


def _join(parts: list[str]) -> str:
    joined = parts[0]
    for i, part in enumerate(parts[1:], 1):
        joined += (_alt((" and ", ", and ")) if i == len(parts) - 1 else _alt((", ", "; "))) + part
    return joined


def values_regex(state: list[Any]) -> str:
    """'the city is Lisbon, the date is 2026-12-03 and ...' over statements (label, display, value)."""
    parts = [_value_part(s.label, s.display, isinstance(s.value, bool), s.value) for s in state]
    return _join(parts) if parts else ""


def phrased_regex(state: list[Any]) -> str | None:
    """'in Lisbon, on December 9, 2026 and just the first seven': each value in one of its kind's phrasings,
    each call's values together ("…; and for the second one, …"); None when a value has no phrasing (then
    values_regex names them one by one)."""
    parts = [_phrased(s) for s in state]
    if not parts or not all(parts):
        return None
    groups: dict[int, list[str]] = {}
    for s, p in zip(state, parts):
        groups.setdefault(getattr(s, "call", 0), []).append(_alt(p))
    joined = [_join(g) for _, g in sorted(groups.items())]
    out = joined[0]
    for later in joined[1:]:
        out += _alt(("; and for the second one, ", ". For the other one: ", "; the second is ")) + later
    return out


# Leads that any phrasing can follow ("That's their income statement, at Wolf Inc"); "I need it" cannot.
_FRAGMENT_LEADS = ("Make it ", "That's ", "Details: ", "For reference: ")


def user_request_grammar(goal: str, state: list[Any], *, style: str = "", then: str | None = None,
                         followup: bool = False) -> Output:
    """A request for `goal` (then `then`) that states every value of `state`, phrased by the model's choices."""
    openers = _FOLLOWUP_OPENERS if followup else _OPENERS.get(style, ("", "Hi. ", "Hello. "))
    request = f"{_alt(openers)}{_alt(_ASKS)}{re.escape(goal)}"
    if then:
        request += f"{_alt((', then ', ', and then ', ' and after that '))}{re.escape(then)}"
    if not state:
        return Output.regex(request + "[?.]")
    phrased = phrased_regex(state)
    if phrased is not None:
        return Output.regex(f"{request}{_alt(('? ', '. '))}{_alt(_FRAGMENT_LEADS)}{phrased}[.!]")
    lead = _alt(("? ", ". ")) + _alt(("", "Details: ", "Here you go: ", "For reference, "))
    return Output.regex(f"{request}{lead}{values_regex(state)}[.!]")


def supply_grammar(state: list[Any]) -> Output:
    """The user's answer to a question for a missing value."""
    phrased = phrased_regex(state)
    if phrased is not None:
        return Output.regex(f"{_alt(_SUPPLY[1:])}{_alt(('', 'it is ', 'make it '))}{phrased}[.!]")
    return Output.regex(f"{_alt(_SUPPLY)}{values_regex(state)}[.!]")


def chitchat_grammar(topic: str, style: str = "", question: str = "") -> Output:
    asks = ("Can you tell me ", "Could you tell me ", "I'm curious about ", "Tell me ", "What do you know about ")
    opener = _alt(_OPENERS.get(style, ('', 'Hi. ')))
    about = f"{_alt(asks)}{re.escape(topic)}[?.!]"
    if question:
        return Output.regex(f"{opener}(?:{about}|{re.escape(question)})")
    return Output.regex(f"{opener}{about}")


def answer_grammar(sentences: list[str], rng: Any = None) -> Output:
    """The closing answer: an opener the model picks, the result sentences as written, an optional closing.

    `rng` draws the openers on offer (three of thirteen): a small model takes the first alternative it is given,
    and a dataset whose answers all open alike teaches a tic."""
    from localace.dialogs.answers import LEAD_INS, OPENERS, capitalize

    openers, lead_ins = list(OPENERS), list(LEAD_INS)
    if rng is not None:
        offered = rng.sample(openers + lead_ins, 3)
        openers = [o for o in offered if o in OPENERS] or [""]
        lead_ins = [o for o in offered if o in LEAD_INS]
    rest = "".join(r"\. " + re.escape(capitalize(e)) for e in sentences[1:])
    first = f"{_alt(openers)}{re.escape(capitalize(sentences[0]))}"
    if lead_ins:
        first = f"(?:{first}|{_alt(lead_ins)}{re.escape(sentences[0])})"
    start = f"{first}{rest}"
    closing = _alt(("", " Anything else?", " Let me know if you need more.", " Want me to look into anything else?",
                    " Hope that helps!"))
    return Output.regex(f"{start}[.!]{closing}")


def ask_grammar(label: str) -> Output:
    return Output.regex(f"{_alt(('Could you tell me the ', 'What is the ', 'Which ', 'Please give me the ', 'I need the '))}"
                        f"{re.escape(label)}{_alt(('', ' you want', ' you mean', ' for this'))}[?.]")


def refuse_grammar(topic: str) -> Output:
    return Output.regex(f"{_alt(('Sorry, ', 'I am sorry, but ', 'Unfortunately, '))}"
                        f"{_alt(('none of my tools can ', 'I cannot ', 'I have no tool that can '))}{re.escape(topic)}"
                        f"{_alt(('.', '. I can help with something else.', '. Is there anything else I can do?'))}")


def chat_grammar(topic: str, answer: str = "") -> Output:
    """A chit-chat reply: the topic's own answer when there is one (it says something), after an opener."""
    if answer:
        return Output.regex(f"{_alt(('', 'Sure! ', 'Good question! ', 'Happy to help. ', 'Great question. '))}"
                            f"{re.escape(answer)}")
    return Output.regex(f"{_alt(('Sure! ', 'Good question! ', 'Happy to chat. '))}"
                        f"{_alt(('Let me tell you about ', 'Here is a thought on ', 'About '))}{re.escape(topic)}[.!]")


THOUGHT = {"type": "string", "pattern": "^[A-Z][^\\x00-\\x1f<>|]{5,200}$"}


def bounded(schema: Any, max_chars: int) -> Any:
    """Cap free strings and arrays so generation terminates; the result is still valid for `schema`."""
    if not isinstance(schema, dict):
        return schema
    out = copy.deepcopy(schema)
    t = out.get("type")
    if t == "string" and not ({"enum", "const", "pattern", "format"} & out.keys()):
        out["maxLength"] = min(out.get("maxLength", max_chars), max_chars)
        out.setdefault("minLength", 1)
    if t == "array":
        out["maxItems"] = min(out.get("maxItems", MAX_ITEMS), MAX_ITEMS)
        out["minItems"] = min(out.get("minItems", 0), out["maxItems"])
        if isinstance(out.get("items"), dict):
            out["items"] = bounded(out["items"], max_chars)
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: bounded(v, max_chars) for k, v in out["properties"].items()}
        out["additionalProperties"] = False
    return out


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    from localace.dialogs.values import _valid

    return _valid(value, schema)


def narrowed(schema: Any, candidates: list[Any], families: dict[str, set[str]] | None = None) -> Any:
    """`schema` with every scalar limited to the candidate values that fit it: the values the conversation has
    stated, so the assistant chooses which stated value goes where instead of inventing one. Where the parameter
    has a kind and `families` says how each value was stated, only values stated as that kind of thing fit (a
    place for a place, an amount for a price; two amounts are still the model's to tell apart). An enum keeps
    the members the conversation stated ("my bike ride" states `ride`; a small model otherwise takes the first
    member). A scalar with no fitting candidate keeps its schema (the sample then disagrees with the plan)."""
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind in ("string", "integer", "number") and "const" not in schema:
        plain = strip_vendor_keys(schema)
        fitting = [c for c in dict.fromkeys(candidates) if not isinstance(c, bool) and _fits(c, plain)
                   and (kind != "string" or isinstance(c, str))]
        family = _family(schema)
        if family and families:
            same = [c for c in fitting if family in families.get(canonical_json(c), {family})]
            fitting = same or fitting
        return {**schema, "enum": fitting} if fitting else schema
    if kind == "array" and isinstance(schema.get("items"), dict):
        return {**schema, "items": narrowed(schema["items"], candidates, families)}
    if kind == "object" and isinstance(schema.get("properties"), dict):
        return {**schema, "properties": {k: narrowed(v, candidates, families)
                                         for k, v in schema["properties"].items()}}
    return schema


def _family(schema: dict[str, Any]) -> str | None:
    from localace.kinds import KIND_KEY, catalogue

    kind = catalogue().kinds.get(str(schema.get(KIND_KEY, "")))
    return kind.family if kind is not None else None


def _lengths(schema: Any, value: Any) -> Any:
    """Arrays as long as the planned ones: a small model does not stop a list by itself (it wrote a city three
    times for one), and how many items the user named is not what the round trip checks."""
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "array" and isinstance(value, list):
        items = schema.get("items")
        inner = _lengths(items, value[0]) if value and isinstance(items, dict) else items
        return {**schema, "minItems": len(value), "maxItems": len(value), "items": inner}
    if schema.get("type") == "object" and isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        return {**schema, "properties": {k: _lengths(v, value.get(k)) for k, v in schema["properties"].items()}}
    return schema


def call_item(api: ApiSpec, only: list[str] | None = None, candidates: list[Any] | None = None,
              families: dict[str, set[str]] | None = None, planned: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call of `api`; `only` narrows the arguments to exactly these parameters (the plan's), `candidates` their
    values to those stated in the conversation (`families`: the kind each was stated as), `planned` the lengths
    of its arrays."""
    params = api.parameters
    if only is not None:
        props = params.get("properties", {})
        params = {**params, "properties": {n: props[n] for n in only if n in props}, "required": list(only)}
    if planned is not None:
        params = _lengths(params, planned)
    if candidates is not None:
        params = narrowed(params, candidates, families)
    params = strip_vendor_keys(params)
    return {
        "type": "object",
        "properties": {"name": {"const": api.name}, "arguments": bounded(params, MAX_ARG_CHARS)},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def calls_output(apis: list[ApiSpec], low: int = 1, high: int = 1, *, only: dict[str, list[str]] | None = None,
                 candidates: list[Any] | None = None, expected: list[dict[str, Any]] | None = None,
                 families: dict[str, set[str]] | None = None) -> Output:
    """Tool calls that are schema-valid by construction: name from the offered list, typed arguments.

    only: per API name, the parameters its call must have (the blueprint's), so that a sample is judged on
    the values it read from the conversation, not on which optional knobs it happened to add."""
    only = only or {}
    planned = {c["name"]: c["arguments"] for c in expected or []}
    items = [call_item(a, only.get(a.name), candidates, families, planned.get(a.name)) for a in apis]
    return Output.json({
        "type": "object",
        "properties": {"calls": {"type": "array", "minItems": low, "maxItems": high,
                                 "items": items[0] if len(items) == 1 else {"anyOf": items}}},
        "required": ["calls"],
        "additionalProperties": False,
    }, expected=None if expected is None else {"calls": expected})


def result_output(api: ApiSpec, fixed: dict[str, Any] | None = None) -> Output:
    """A tool result under the API's return schema; `fixed` top-level fields are set to the given values
    (a field named like an argument echoes it; a dependent call's feeding field carries the planned value)."""
    schema = bounded(strip_vendor_keys(api.returns), MAX_RESULT_CHARS)
    props = schema.get("properties")
    if fixed and isinstance(props, dict):
        schema["properties"] = {n: ({"const": fixed[n]} if n in fixed else s) for n, s in props.items()}
        schema["required"] = list(dict.fromkeys([*schema.get("required", []), *(n for n in fixed if n in props)]))
    return Output.json(schema)


def decision_output(actions: tuple[str, ...]) -> Output:
    return Output.json({
        "type": "object",
        "properties": {"thought": THOUGHT, "action": {"type": "string", "enum": list(actions)}},
        "required": ["thought", "action"],
        "additionalProperties": False,
    })
