"""Names an API and its fields may use: words of its own functionality and domain, plus a small generic vocabulary.

A small model asked for "a snake_case name" writes `https_api_1_2_3` or copies the example's fields
(`temperature` in a news API). The functionality the tree picked already names what a real API has
("Get live status of a flight by carrier code, number and date"), so names are generated under a
constraint that allows only those words (and a few generic ones), and checked afterwards for odd
shapes and for fields leaked from the example API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from localace.apis.draft import draft_schema
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


# Where the object of a functionality's verb ends: "Track body measurements like weight…" names body_measurements.
_OBJECT_ENDS = _PREPOSITIONS | frozenset("like such including toward towards than while so that which "
                                         "whose when where if".split())
_NAME_STOP = _STOP | frozenset("live several given selected specific certain current possible multiple various "
                               "other own next latest recent".split())
_MORE_VERBS = frozenset("build compute move manage edit play open close find identify classify extract parse "
                        "format merge split simulate optimize locate map draft write compose suggest match assign "
                        "notify remind approve reject publish archive restore sync backup authenticate encode "
                        "decode compress resize crop render forecast quote price assess evaluate test diagnose".split())
_ALL_VERBS = frozenset(VERBS) | _MORE_VERBS
_VERB_SYNONYMS = {"retrieve": "get", "show": "get", "fetch": "get", "look": "lookup", "obtain": "get", "view": "get"}


def api_name_choices(functionality: str) -> list[str]:
    """The names an API doing `functionality` may have: its verb and the object that verb acts on, with the
    thing that object belongs to when one is named ("Estimate the total cost of a trip" → estimate_trip_total_cost,
    estimate_total_cost). Empty when the phrase does not start with a verb and an object.

    The name is decided here, not by the model: given a vocabulary, a 135M model wrote `create_training_price`
    for "Create a training plan" and `translate_travel_availability_info` for "Build an itinerary"."""
    first, phrases = _phrases(functionality, ends=_OBJECT_ENDS, stop=_NAME_STOP, verbs=_ALL_VERBS, breaks=",;:(")
    verb = _VERB_SYNONYMS.get(first or "", first or "")
    if verb not in _ALL_VERBS or not phrases or phrases[0][0] is not None:
        return []  # "Weather forecast for a city" names no action; "Get for…" no object
    obj = phrases[0][1][-3:]
    owner = phrases[1][1][-1:] if len(phrases) > 1 and phrases[1][0] == "of" else []
    names = []
    if owner and len(owner + obj) <= 3:
        names.append("_".join([verb, *owner, *obj]))
    if not (names and all(w in GENERIC_NAME_NOUNS for w in obj)):  # `get_status` names nothing once the owner is known
        names.append("_".join([verb, *obj]))
    return [n for n in dict.fromkeys(names) if re.fullmatch(r"[a-z]+(_[a-z]+){1,4}", n) and odd_name_reason(n) is None]


_GENERIC_TAIL = frozenset({"number", "code", "id", "name", "type", "status", "level"})
# Nouns that are values, not things with an id of their own.
_NOT_ENTITIES = _GENERIC_TAIL | frozenset("date time text mode skill region language address amount price season "
                                          "location city country currency query keyword duration distance".split())
_RESULT_OF_VERB = {"translate": "translated", "convert": "converted", "summarize": "summarized",
                   "generate": "generated", "calculate": "calculated", "estimate": "estimated"}
_FIELD_STOP = _STOP | {"several", "given", "selected", "specific", "certain", "new", "current", "live", "possible",
                       "multiple", "various", "other", "its", "their", "own", "free", "s"}
PARAM_KNOBS = ("limit", "page", "sort_by", "start_date", "end_date", "language", "units", "include_details",
               "max_results", "query")
RESULT_FIELDS = ("id", "status", "total", "results", "message", "updated_at", "url", "name", "description")


def _phrases(text: str, *, ends: frozenset[str] = _PREPOSITIONS, stop: frozenset[str] = _FIELD_STOP,
             verbs: frozenset[str] | tuple[str, ...] = VERBS, breaks: str = ",;") -> tuple[str | None, list[tuple[str | None, list[str]]]]:
    """(verb, [(preposition or None, words of one noun phrase)]) of a functionality phrase.

    `ends`: words that open the next phrase (and become its preposition); "and", "or" and the `breaks`
    characters close a phrase too. `stop`: words left out of phrases. `verbs`: words that, in a list of verbs
    at the start ("Add, update or remove items"), are more of the verb rather than the object."""
    tokens = re.findall(r"[a-z]+|[,;:(]", text.lower())
    if not tokens:
        return None, []
    verb, out = tokens[0], []
    prep: str | None = None
    current: list[str] = []
    rest = tokens[1:]
    in_verb_list = False
    for i, tok in enumerate(rest):
        if tok in ",;:(" and tok not in breaks:
            continue
        if tok in ends or tok in breaks or tok in ("and", "or"):
            if current:
                out.append((prep, current))
            current = []
            if tok in ends:
                prep = tok
            in_verb_list = in_verb_list or (prep is None and not out)
            continue
        # A verb before the first noun is more of the verb only in a list ("Add, update or remove items");
        # "Get order status" keeps `order`, a noun there.
        nxt = rest[i + 1] if i + 1 < len(rest) else ""
        if tok in verbs and prep is None and not out and not current and (in_verb_list or nxt in (",", "and", "or")):
            in_verb_list = True
            continue
        if tok not in stop and len(tok) > 1:
            current.append(tok)
    if current:
        out.append((prep, current))
    return verb, out


def field_candidates(functionalities: Iterable[str]) -> tuple[list[str], list[str]]:
    """Whole parameter and return-field names a functionality implies, in order.

    "Get live status of a flight by carrier code, number and date" → parameters flight_id, carrier_code,
    flight_number, date; returns status. One name per noun phrase: a generic noun after the thing it belongs
    to (`flight_number`), `<entity>_id` for a single thing the caller names, a date range as its two ends."""
    params: list[str] = []
    results: list[str] = []
    for text in functionalities:
        verb, phrases = _phrases(text)
        entity: str | None = None
        object_words: list[str] = []
        returned_before = len(results)
        for prep, words in phrases:
            words = words[-3:]
            if len(words) == 1 and words[0] in _GENERIC_TAIL and entity:
                names = [f"{entity}_{words[0]}"]
            elif words[-1] == "range" and len(words) > 1:
                names = [f"start_{words[0]}", f"end_{words[0]}"]
            elif words == ["coordinates"] or words[-1] == "coordinates":
                names = ["latitude", "longitude"]
            else:
                names = ["_".join(words)]
                if not words[-1].endswith("s") and words[-1] not in _NOT_ENTITIES:
                    entity = words[-1]  # "a chemical compound by name" → compound_name
            gives = prep is not None and prep != "into" or (prep is None and verb in _GIVES_OBJECT)
            if gives and prep in ("of", "for", "in") and entity == words[-1] and len(words) == 1:
                names = [f"{entity}_id"]  # "of an order": the caller names the thing by its id ("by name" is a filter)
            (params if gives else results).extend(names)
            if gives and prep is None:
                object_words = object_words or words
        if len(results) == returned_before and object_words and verb in _RESULT_OF_VERB:
            results.append(f"{_RESULT_OF_VERB[verb]}_{object_words[-1]}")  # "Translate text" gives translated_text
    return list(dict.fromkeys(params)), list(dict.fromkeys(results))


class Vocab:
    """The names one API slot may use: whole field names its functionality implies, plus generic knobs.

    A small model given words composes `text_to_text` or `units_include`; given whole names it can only choose
    among fields that belong to the functionality (or a few knobs any API may have)."""

    def __init__(self, functionalities: Iterable[str], context: Iterable[str] = (), document: str = "",
                 *, extra_params: Iterable[str] = (), taken: Callable[[str], bool] = lambda name: False) -> None:
        """taken(name): a name already used, so not one to settle on (a duplicate would only be rejected)."""
        functionalities = list(functionalities)
        params, results = field_candidates(functionalities)
        gives: list[str] = []
        gets: list[str] = []
        for f in functionalities:
            i, o = functionality_roles(f)
            gives += i
            gets += o
        context_words = [w for w in vocabulary(context, (), limit=20) if w not in VERBS]
        words = [w for w in dict.fromkeys(gets + gives + context_words) if w not in VERBS]
        self.name = list(dict.fromkeys(words + GENERIC_NAME_NOUNS))
        self.name_choices = [n for n in api_name_choices(functionalities[0]) if not taken(n)] if functionalities else []
        # What the functionality names is the API's core (at most 4 each); knobs and echoes are extras.
        self.core_params = params[:4]
        self.core_returns = results[:4]
        self.param_names = list(dict.fromkeys([*params, *extra_params, *PARAM_KNOBS]))
        self.return_names = list(dict.fromkeys([*results, *params, *RESULT_FIELDS]))
        self.extra_params = [n for n in dict.fromkeys([*extra_params, *PARAM_KNOBS]) if n not in self.core_params]
        self.extra_returns = [n for n in dict.fromkeys([*params, *RESULT_FIELDS]) if n not in self.core_returns]

    def draft_schema(self, verb: str | None) -> dict[str, Any]:
        return draft_schema(self.name_pattern(verb), self.core_params, self.core_returns,
                            f"^{_alternation(self.extra_params)}$", f"^{_alternation(self.extra_returns)}$")

    def param_pattern(self) -> str:
        return f"^{_alternation(self.param_names)}$"

    def nested_pattern(self) -> str:
        """Fields inside an object parameter: words of the functionality and a few generic ones."""
        words = [w for n in self.param_names + self.return_names for w in n.split("_")]
        return field_name_pattern(dict.fromkeys(words + ["name", "id", "type", "value", "code", "count", "label"]))

    def return_pattern(self) -> str:
        return f"^{_alternation(self.return_names)}$"

    def name_pattern(self, verb: str | None = None) -> str:
        """The names the functionality settles (api_name_choices) when it does; else verb_object from the
        vocabulary, with the functionality's own verb when it has one, so "Track shipments" is not `create_order`."""
        if self.name_choices:
            return f"^{_alternation(self.name_choices)}$"
        return api_name_pattern(self.name, [verb] if verb else VERBS)

