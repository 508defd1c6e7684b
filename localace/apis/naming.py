"""Names an API and its fields may use: words of its own functionality and domain, plus a small generic vocabulary.

A small model asked for "a snake_case name" writes `https_api_1_2_3` or copies the example's fields
(`temperature` in a news API). The functionality the tree picked already names what a real API has
("Get live status of a flight by carrier code, number and date"), so names are generated under a
constraint that allows only those words (and a few generic ones), and checked afterwards for odd
shapes and for fields leaked from the example API."""

from __future__ import annotations

import re
from collections.abc import Iterable

from localace.apis.spec import ApiSpec
from localace.apis.text_norm import stem

VERBS = ("get list search find create update delete cancel book reserve check track calculate convert compare "
         "send schedule estimate validate verify analyze recommend translate generate submit register subscribe "
         "upload download share rate review add remove set start stop monitor predict detect lookup fetch "
         "retrieve report summarize filter sort rank plan order pay transfer apply renew request export import "
         "record log count measure scan").split()
# Enough to name the usual knobs of any API, too generic to carry another API's domain along.
# Knobs any API may have, and nothing that carries a domain: `price`, `city` or `email` must come from the
# functionality or its document, or a small model copies them from the example into unrelated APIs.
GENERIC_PARAMS = ("id ids date time start end from to limit type include code number name query min max sort "
                  "order page size language format units year month day days count status level mode filter "
                  "keyword keywords category label title description notes quantity").split()
GENERIC_RESULTS = ("id name status total count date time url description title results items message success "
                   "created updated type value code summary details list start end level text number "
                   "next last first result records").split()
_STOP = frozenset(("a an and the of for to in on by with from or into onto via per at as is are be its it their "
                   "this that these those all any each every some such than then using use used based over under "
                   "about across within without between out up down one two new more most less can may will "
                   "your you our get api apis data info information etc e g i").split())
_WORD = re.compile(r"[a-z]+")
MAX_WORDS = 60  # a constraint's alternation stays small enough to compile in milliseconds
ODD_DIGITS = re.compile(r"\d{3,}")


def content_words(text: str) -> list[str]:
    """Lower-case words of 3+ letters that carry meaning, in order of first appearance."""
    out: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if len(w) >= 3 and w not in _STOP:
            out.setdefault(w, None)
    return list(out)


def vocabulary(texts: Iterable[str], generic: Iterable[str], limit: int = MAX_WORDS) -> list[str]:
    """The words of `texts` (most specific first) followed by the generic ones, at most `limit`."""
    words: dict[str, None] = {}
    for text in texts:
        for w in content_words(text):
            words.setdefault(w, None)
    own = list(words)[: max(0, limit - 20)]
    merged = dict.fromkeys(own + [g for g in generic if g not in words])
    return list(merged)[:limit]


def _alternation(words: Iterable[str]) -> str:
    # Longest first: regex alternation is ordered, and llguidance matches the full language either way,
    # but a stable order keeps the constraint's text (its cache key) stable.
    return "(?:" + "|".join(sorted({re.escape(w) for w in words}, key=lambda w: (-len(w), w))) + ")"


def api_name_pattern(words: Iterable[str], verbs: Iterable[str] = VERBS) -> str:
    """verb_object: a verb, then one to three words of the vocabulary (at most 4 parts)."""
    return f"^{_alternation(verbs)}(?:_{_alternation(words)}){{1,3}}$"


def field_name_pattern(words: Iterable[str]) -> str:
    """One to three words of the vocabulary joined by underscores."""
    alt = _alternation(words)
    return f"^{alt}(?:_{alt}){{0,2}}$"


def odd_name_reason(name: str) -> str | None:
    """Why an API name does not read as a readable verb_object name, or None."""
    parts = name.split("_")
    if ODD_DIGITS.search(name):
        return f"'{name}' has a run of 3+ digits"
    if "http" in name.lower():
        return f"'{name}' contains 'http'"
    if len(parts) > 6:
        return f"'{name}' has {len(parts)} parts (at most 6)"
    if len(parts) != len(set(parts)):
        return f"'{name}' repeats a word"
    return None


def is_odd_name(name: str) -> bool:
    """The quality measure of issue 13: a digit run of 3+, `http`, or more than 6 parts."""
    return bool(ODD_DIGITS.search(name)) or "http" in name.lower() or len(re.split(r"[_\s.]+", name)) > 6


def field_names(schema: dict) -> set[str]:
    """Every property name in a schema, nested ones included."""
    out: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        props = node.get("properties")
        if isinstance(props, dict):
            out.update(props)
            stack.extend(props.values())
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                stack.append(node[key])
    return out


def _stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP}


def example_leaks(spec: ApiSpec, example: ApiSpec, context: str) -> list[str]:
    """Fields of `spec` copied from `example` that have nothing to do with the spec's own functionality.

    A field counts as leaked when the example has a field of the same name and none of the field's
    words occur in `context` (functionality, domain, document) or in the spec's own description."""
    if example.name == spec.name:
        return []
    own = _stems(f"{context} {spec.description}")
    shared = (field_names(spec.parameters) | field_names(spec.returns)) & (
        field_names(example.parameters) | field_names(example.returns))
    generic = {stem(g) for g in GENERIC_PARAMS + GENERIC_RESULTS}
    return sorted(f for f in shared if not (_stems(f) & own) and not (_stems(f) <= generic))


GENERIC_NAME_NOUNS = ("status details list summary history report price prices availability options results "
                      "info schedule").split()


def functionality_verb(functionality: str) -> str | None:
    """The verb a functionality starts with ("Track price changes..." → "track"), when it is one we know."""
    words = _WORD.findall(functionality.lower())
    if not words:
        return None
    first = {"retrieve": "get", "show": "get", "fetch": "get", "look": "lookup"}.get(words[0], words[0])
    return first if first in VERBS else None


def describe_functionality(functionalities: list[str]) -> str:
    """An API description from the tree's phrases: the main functionality, then what its children add."""
    main = functionalities[0].strip().rstrip(".")
    extra = [f.strip().rstrip(".") for f in functionalities[1:]]
    text = main + (" (" + "; ".join(e[:1].lower() + e[1:] for e in extra) + ")" if extra else "")
    return text[:1].upper() + text[1:] + "."


_PREPOSITIONS = frozenset("of for by from to in with within between on at across near into per via under over "
                          "about around after before during".split())
# Verbs whose direct object is what the caller hands over ("Convert an address", "Add items"); for the rest
# the object is what comes back ("Get the latest version", "Estimate crop yield").
_GIVES_OBJECT = frozenset("convert translate send add create update delete remove cancel book reserve submit "
                          "register upload share rate review set validate verify check analyze schedule order pay "
                          "transfer apply renew request record log scan compare subscribe import export".split())


def functionality_roles(functionality: str) -> tuple[list[str], list[str]]:
    """(words of what the caller gives, words of what comes back) of a functionality phrase.

    "Find a match for a player by region, skill and mode" gives (player, region, skill, mode) and returns
    (match); "Convert an address into geographic coordinates" gives (address), returns (geographic,
    coordinates). Prepositions mark the inputs; the verb decides where its object goes."""
    words = _WORD.findall(functionality.lower())
    if not words:
        return [], []
    verb, rest = words[0], words[1:]
    segments: list[tuple[str | None, list[str]]] = [(None, [])]
    for w in rest:
        if w in _PREPOSITIONS:
            segments.append((w, []))
        else:
            segments[-1][1].append(w)
    inputs: list[str] = []
    outputs: list[str] = []
    for prep, seg in segments:
        content = [w for w in seg if len(w) >= 3 and w not in _STOP]
        if prep is None:
            (inputs if verb in _GIVES_OBJECT else outputs).extend(content)
        elif prep == "into":  # "Convert an address into coordinates": what it becomes comes back
            outputs.extend(content)
        else:
            inputs.extend(content)
    return list(dict.fromkeys(inputs)), list(dict.fromkeys(outputs))


class Vocab:
    """The words one API slot may build names from.

    Parameters are named from what the functionality says the caller gives (plus a few generic knobs),
    returned fields from what it says comes back; the document's words may name returned fields. Verbs name
    the API, never a field: a parameter called `convert_address` is the API's name again."""

    def __init__(self, functionalities: Iterable[str], context: Iterable[str] = (), document: str = "",
                 *, doc_limit: int = 12) -> None:
        gives: list[str] = []
        gets: list[str] = []
        for f in functionalities:
            i, o = functionality_roles(f)
            gives += i
            gets += o
        context_words = [w for w in vocabulary(context, (), limit=20) if w not in VERBS]
        gives = [w for w in dict.fromkeys(gives) if w not in VERBS] or context_words
        gets = [w for w in dict.fromkeys(gets) if w not in VERBS]
        doc_words = [w for w in content_words(document) if w not in VERBS][:doc_limit]
        self.name = list(dict.fromkeys(gets + gives + [w for w in context_words if w not in gets + gives]
                                       + GENERIC_NAME_NOUNS))
        self.params = list(dict.fromkeys(gives + GENERIC_PARAMS))
        self.returns = list(dict.fromkeys(gets + gives + doc_words + GENERIC_RESULTS))

    def name_pattern(self, verb: str | None = None) -> str:
        """verb_object; the functionality's own verb when it has one, so "Track shipments" is not `create_order`."""
        return api_name_pattern(self.name, [verb] if verb else VERBS)

    def param_pattern(self) -> str:
        return field_name_pattern(self.params)

    def return_pattern(self) -> str:
        return field_name_pattern(self.returns)
