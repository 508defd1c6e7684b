"""An API's name, from the functionality the tree picked: its verb and the object that verb acts on.

A small model asked for "a snake_case name" writes `https_api_1_2_3`; the functionality already names what a
real API does ("Get live status of a flight by carrier code, number and date" → get_live_status), so the
name is decided from it, and checked for odd shapes. (Parameters and results are named by their kinds.)"""

from __future__ import annotations

import re

VERBS = ("get list search find create update delete cancel book reserve check track calculate convert compare "
         "send schedule estimate validate verify analyze recommend translate generate submit register subscribe "
         "upload download share rate review add remove set start stop monitor predict detect lookup fetch "
         "retrieve report summarize filter sort rank plan order pay transfer apply renew request export import "
         "record log count measure scan").split()
_STOP = frozenset(("a an and the of for to in on by with from or into onto via per at as is are be its it their "
                   "this that these those all any each every some such than then using use used based over under "
                   "about across within without between out up down one two new more most less can may will "
                   "your you our get api apis data info information etc e g i").split())
_WORD = re.compile(r"[a-z]+")
ODD_DIGITS = re.compile(r"\d{3,}")


def content_words(text: str) -> list[str]:
    """Lower-case words of 3+ letters that carry meaning, in order of first appearance."""
    out: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if len(w) >= 3 and w not in _STOP:
            out.setdefault(w, None)
    return list(out)


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



# Nouns that are values, not things with an id of their own.
_FIELD_STOP = _STOP | {"several", "given", "selected", "specific", "certain", "new", "current", "live", "possible",
                       "multiple", "various", "other", "its", "their", "own", "free", "s"}
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
