"""Rule layer of verification: deterministic checks of one dialog, without a model or execution."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from localace.apis.spec import ApiSpec, check_definition
from localace.backends.validation import schema_errors
from localace.dialogs.model import ACTIONS, KINDS, Dialog, ToolCall, Turn
from localace.hashing import canonical_json
from localace.kinds.grounding import Sources, leaves, ungrounded_values
from localace.voice import assistant_voice_problem, voice_problem

TEXT_ACTIONS = tuple(action for action in ACTIONS if action != "call")
NO_CALL_KINDS = ("non_tool", "irrelevance")
CALL_KINDS = tuple(kind for kind in KINDS if kind not in NO_CALL_KINDS)
MIXED_SHARE = 0.2  # a text mixes languages when letters outside its main script pass this share
# One CJK character carries about a short word, so Latin names inside Chinese text stay below the share.
CJK_WEIGHT = 3
MAX_MESSAGE = 200

_TURN_FIELDS = ("content", "tool_calls", "tool_results")
_ROLE_FIELDS = {"user": ("content",), "assistant": ("content", "tool_calls"), "tool": ("tool_results",)}
_SENTENCE_END = frozenset(".!?…。！？)]}\"'”’»」』）】")
_SYMBOL_END = ("So", "Sk")  # emoji and their modifiers close a sentence too
_SCRIPTS = frozenset(
    "LATIN GREEK CYRILLIC ARMENIAN HEBREW ARABIC SYRIAC THAANA DEVANAGARI BENGALI GURMUKHI GUJARATI ORIYA "
    "TAMIL TELUGU KANNADA MALAYALAM SINHALA THAI LAO TIBETAN MYANMAR GEORGIAN ETHIOPIC KHMER MONGOLIAN".split()
)
# Japanese mixes kanji and kana, Korean may mix Hangul and hanja: one bucket, so neither counts as mixing.
_CJK = frozenset("CJK HIRAGANA KATAKANA KATAKANA-HIRAGANA HANGUL IDEOGRAPHIC BOPOMOFO".split())
_CHAR_RULES: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = (
    (re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"), lambda hit: f"control character U+{ord(hit):04X}"),
    (re.compile("\ufffd"), lambda hit: "replacement character U+FFFD"),
    (re.compile(r"[\ud800-\udfff]"), lambda hit: f"unpaired surrogate U+{ord(hit):04X}"),
    (re.compile(r"[\u200b-\u200d\u2060\ufeff]{2,}"), lambda hit: f"run of {len(hit)} zero-width characters"),
    (re.compile(r"<[|｜][^\s<>]{0,40}>?"), lambda hit: f"chat-template token {hit!r}"),
)


@dataclass(frozen=True)
class Finding:
    """One broken rule; turn is the index in dialog.turns, None for the dialog as a whole."""

    check: str
    message: str
    turn: int | None = None

    def __str__(self) -> str:
        where = "" if self.turn is None else f" (turn {self.turn})"
        return f"{self.check}{where}: {self.message}"


# text_length: how long a text turn may be, per role. Learned from real answers, not guessed: in 100 rows of the
# published ToolACE data (tests/fixtures/toolace_real) assistant texts have a median of 599 characters, a 99th
# percentile of 2,439 and a maximum of 3,434 (a multi-item summary of tool results); user turns a median of 134 and
# a maximum of 361. A fixed 2,000 rejected 12 good answers of such data. The limits sit well above the longest real
# turn (assistant ≈ 2.3×, user ≈ 11×: users paste a text, a list or a code snippet to work on) and still reject an
# absurd length: a model looping on a phrase writes tens of thousands of characters before max_tokens stops it.
MAX_CHARS_BY_ROLE: dict[str, int] = {"assistant": 8000, "user": 4000}


@dataclass(frozen=True)
class _Subject:
    dialog: Dialog
    max_chars: int | None  # one limit for every role (a caller's choice), None: MAX_CHARS_BY_ROLE
    tools: dict[str, ApiSpec]  # offered tools with a valid definition, by name (first one wins)


Hits = Iterator[tuple[int | None, str]]
_CHECKS: dict[str, Callable[[_Subject], Hits]] = {}


def _rule(name: str) -> Callable[[Callable[[_Subject], Hits]], Callable[[_Subject], Hits]]:
    def register(check: Callable[[_Subject], Hits]) -> Callable[[_Subject], Hits]:
        _CHECKS[name] = check
        return check

    return register


# -- helpers --------------------------------------------------------------------------------------


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_call(turn: Turn) -> bool:
    return turn.role == "assistant" and bool(turn.tool_calls)


def _is_text(turn: Turn) -> bool:
    return turn.role == "assistant" and not turn.tool_calls


def _shape(turn: Turn, article: bool = False) -> str:
    """What the turn is, for messages: "assistant call turn", "user turn", ..."""
    shape = f"{turn.role} turn"
    if turn.role == "assistant":
        shape = f"assistant {'call' if turn.tool_calls else 'text'} turn"
    return f"{'an' if shape.startswith('assistant') else 'a'} {shape}" if article else shape  # "a user turn"


def _present(value: Any) -> bool:
    return value is not None and value != []


def _texts(dialog: Dialog) -> Iterator[tuple[int, Turn, str]]:
    for i, turn in enumerate(dialog.turns):
        if isinstance(turn.content, str):
            yield i, turn, turn.content


def _calls(s: _Subject) -> Iterator[tuple[int, ToolCall]]:
    for i, turn in enumerate(s.dialog.turns):
        for call in turn.tool_calls or ():
            yield i, call


def _known_calls(s: _Subject) -> Iterator[tuple[int, ToolCall, ApiSpec]]:
    """Calls of offered tools whose definition is valid, so their schemas are safe to use."""
    for i, call in _calls(s):
        if call.name in s.tools:
            yield i, call, s.tools[call.name]


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its path in schema_errors' notation."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from _leaves(child, f"{path}[{index}]")


def _strings(dialog: Dialog) -> Iterator[tuple[int, str, str]]:
    """(turn, where, string) for every text, string argument and string inside a tool result."""
    for i, turn in enumerate(dialog.turns):
        if isinstance(turn.content, str):
            yield i, f"{turn.role} text", turn.content
        for call in turn.tool_calls or ():
            yield from ((i, f"call {call.name!r} argument {p}", v) for p, v in _leaves(call.arguments, "$"))
        for result in turn.tool_results or ():
            yield from ((i, f"result of {result.name!r} at {p}", v) for p, v in _leaves(result.results, "$"))


@lru_cache(maxsize=8192)
def _script(char: str) -> str | None:
    """Script bucket of a letter, from the first word of its Unicode name; None for non-letters."""
    if not char.isalpha():
        return None
    words = unicodedata.name(char, "").split()
    if words and words[0] in ("FULLWIDTH", "HALFWIDTH"):
        words = words[1:]
    first = words[0] if words else ""
    if first in _CJK:
        return "CJK"
    return first if first in _SCRIPTS else None


def _script_weights(text: str) -> Counter[str]:
    weights: Counter[str] = Counter()
    for char in text:
        script = _script(char)
        if script is not None:
            weights[script] += CJK_WEIGHT if script == "CJK" else 1
    return weights


def _has_two_words(text: str) -> bool:
    # CJK text has no spaces between words; count its characters instead
    return len(text.split()) >= 2 or sum(_script(char) == "CJK" for char in text) >= 2


def _ends_sentence(text: str) -> bool:
    last = text.rstrip().rstrip("\ufe0f")[-1:]
    return bool(last) and (last in _SENTENCE_END or unicodedata.category(last) in _SYMBOL_END)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


# -- the checks, in the order they run --------------------------------------------------------------


@_rule("api_definition")
def _tool_definitions(s: _Subject) -> Hits:
    tools = s.dialog.tools
    for tool in tools:
        for reason in check_definition(tool):
            yield None, f"tool {tool.name!r}: {reason}"
    if not tools and s.dialog.kind != "non_tool":
        yield None, f"no tools offered for a {s.dialog.kind!r} dialog"
    for name, count in Counter(tool.name for tool in tools).items():
        if count > 1:
            yield None, f"{count} offered tools share the name {name!r}"


def _turn_field_problems(turn: Turn) -> Iterator[str]:
    allowed = _ROLE_FIELDS[turn.role]
    present = [field for field in _TURN_FIELDS if _present(getattr(turn, field))]
    yield from (f"{turn.role} turn must not have {field}" for field in present if field not in allowed)
    if isinstance(turn.content, str) and not turn.content.strip():
        yield f"{turn.role} turn has empty text"
    if turn.role != "assistant":
        yield from (f"{turn.role} turn has no {field}" for field in allowed if field not in present)
        return
    has_text, has_calls = "content" in present, "tool_calls" in present
    if has_text == has_calls:
        yield "assistant turn must have exactly one of text and tool calls, has " + ("both" if has_text else "neither")
        return
    expected = ("call",) if has_calls else TEXT_ACTIONS
    if turn.action is not None and turn.action not in expected:
        yield f"{_shape(turn)} has action {turn.action!r}; expected {' / '.join(expected)}"


@_rule("fields_present")
def _fields_present(s: _Subject) -> Hits:
    dialog = s.dialog
    if dialog.kind not in KINDS:
        yield None, f"unknown kind {dialog.kind!r}; expected one of {', '.join(KINDS)}"
    if len(dialog.turns) < 2:
        yield None, f"dialog has {len(dialog.turns)} turn(s); needs at least 2"
    for i, turn in enumerate(dialog.turns):
        yield from ((i, problem) for problem in _turn_field_problems(turn))


def _order_problem(prev: Turn, turn: Turn) -> str | None:
    if turn.role == "tool" and not _is_call(prev):
        return f"tool turn follows {_shape(prev, article=True)}, not an assistant call turn"
    if prev.role == "tool" and turn.role != "assistant":
        return f"{_shape(turn)} follows a tool turn; expected an assistant turn"
    if prev.role == turn.role == "user":
        return "two user turns in a row"
    if _is_text(prev) and _is_text(turn):
        return "two assistant text turns in a row"
    return None


@_rule("role_order")
def _role_order(s: _Subject) -> Hits:
    turns = s.dialog.turns
    if not turns:
        return
    if turns[0].role != "user":
        yield 0, f"dialog starts with {_shape(turns[0], article=True)}, not a user turn"
    # Ending on a call is complete: the call is the sample's last target (ToolACE and BFCL-style rows).
    if turns[-1].role != "assistant":
        yield len(turns) - 1, f"dialog ends with {_shape(turns[-1], article=True)}, not an assistant turn"
    for i in range(1, len(turns)):
        problem = _order_problem(turns[i - 1], turns[i])
        if problem:
            yield i, problem


@_rule("call_name_known")
def _call_name_known(s: _Subject) -> Hits:
    offered = sorted({tool.name for tool in s.dialog.tools})
    for i, call in _calls(s):
        if call.name not in offered:
            yield i, f"call {call.name!r} names no offered tool (offered: {', '.join(offered) or 'none'})"


@_rule("required_params")
def _required_params(s: _Subject) -> Hits:
    for i, call, tool in _known_calls(s):
        for name in tool.parameters.get("required", []):
            if name not in call.arguments:
                yield i, f"call {call.name!r} is missing required parameter {name!r}"


@_rule("unknown_params")
def _unknown_params(s: _Subject) -> Hits:
    for i, call, tool in _known_calls(s):
        properties = tool.parameters.get("properties", {})
        for name in call.arguments:
            if name not in properties:
                yield i, f"call {call.name!r} has unknown parameter {name!r}"


@_rule("param_values")
def _param_values(s: _Subject) -> Hits:
    for i, call, tool in _known_calls(s):
        for path, keyword, message in schema_errors(tool.parameters, call.arguments):
            # missing and unknown top-level arguments have their own checks above
            if path == "$" and keyword in ("required", "additionalProperties"):
                continue
            yield i, _clip(f"call {call.name!r} argument {path}: {message} ({keyword})")


def argument_grounding(dialog: Dialog, tools: dict[str, ApiSpec]) -> Iterator[tuple[int, ToolCall, list[tuple[str, Any]], int]]:
    """(turn, call, ungrounded (path, value) pairs, number of values) for every call of an offered tool."""
    sources = Sources()
    for i, turn in enumerate(dialog.turns):
        if turn.role == "user" and isinstance(turn.content, str):
            sources.add(turn.content)
        for result in turn.tool_results or ():
            sources.add(canonical_json(result.results))
        for call in turn.tool_calls or ():
            tool = tools.get(call.name)
            if tool is not None:
                missing = ungrounded_values(call.arguments, tool.parameters, sources)
                yield i, call, missing, sum(1 for _ in leaves(call.arguments))


@_rule("grounded_arguments")
def _grounded_arguments(s: _Subject) -> Hits:
    for i, call, missing, _ in argument_grounding(s.dialog, s.tools):
        for path, value in missing:
            yield i, _clip(f"call {call.name!r} argument {path}={canonical_json(value)} is stated in no earlier user "
                           f"turn or tool result, and is not an enum member or the default")


@_rule("tool_result_follows")
def _tool_result_follows(s: _Subject) -> Hits:
    turns = s.dialog.turns
    for i, turn in enumerate(turns):
        if not _is_call(turn):
            continue
        if i + 1 == len(turns):
            continue  # the dialog's final call: its result is not part of the sample
        after = turns[i + 1]
        if after.role != "tool":
            yield i, f"call turn is followed by {_shape(after, article=True)}, not a tool turn"
            continue
        calls = [call.name for call in turn.tool_calls or ()]
        results = [result.name for result in after.tool_results or ()]
        if len(calls) != len(results):
            yield i + 1, f"{len(calls)} call(s) {calls} but {len(results)} result(s) {results}"
        elif calls != results:
            yield i + 1, f"result names {results} do not match the call names {calls} in order"


@_rule("result_schema")
def _result_schema(s: _Subject) -> Hits:
    for i, turn in enumerate(s.dialog.turns):
        for result in turn.tool_results or ():
            tool = s.tools.get(result.name)
            if tool is None:  # unknown or invalid tools are reported by earlier checks
                continue
            for path, keyword, message in schema_errors(tool.returns, result.results):
                yield i, _clip(f"result of {result.name!r} at {path}: {message} ({keyword})")


@_rule("no_call_expected")
def _no_call_expected(s: _Subject) -> Hits:
    if s.dialog.kind in NO_CALL_KINDS:
        for i, call in _calls(s):
            yield i, f"{s.dialog.kind} dialog must not call a tool, but calls {call.name!r}"


def _kind_problem(dialog: Dialog, call_turns: list[int]) -> str | None:
    """What a call-bearing kind needs beyond one call."""
    turns, kind = dialog.turns, dialog.kind
    if kind == "parallel" and not any(len(turns[i].tool_calls or ()) >= 2 for i in call_turns):
        return "parallel dialog has no assistant turn with 2 or more calls"
    if kind == "dependent" and len(call_turns) < 2:
        return f"dependent dialog has {len(call_turns)} call turn; needs at least 2"
    if kind == "multiple" and len(dialog.tools) < 2:
        return f"multiple dialog offers {len(dialog.tools)} tool; needs at least 2 to choose from"
    if kind == "multi_turn" and sum(turn.role == "user" for turn in turns) < 2:
        return "multi_turn dialog has fewer than 2 user turns"
    if kind == "ask_missing" and not any(_is_text(t) and t.action == "ask_missing" for t in turns[: call_turns[0]]):
        return "ask_missing dialog has no assistant ask_missing turn before its first call"
    return None


@_rule("call_expected")
def _call_expected(s: _Subject) -> Hits:
    if s.dialog.kind not in CALL_KINDS:
        return
    call_turns = [i for i, turn in enumerate(s.dialog.turns) if _is_call(turn)]
    problem = f"{s.dialog.kind} dialog contains no tool call" if not call_turns else _kind_problem(s.dialog, call_turns)
    if problem:
        yield None, problem


@_rule("text_length")
def _text_length(s: _Subject) -> Hits:
    for i, turn, text in _texts(s.dialog):
        limit = s.max_chars if s.max_chars is not None else MAX_CHARS_BY_ROLE.get(turn.role, MAX_CHARS_BY_ROLE["user"])
        if len(text) > limit:
            yield i, f"{turn.role} text has {len(text)} characters; the limit is {limit}"
        if turn.role == "assistant" and not _has_two_words(text):
            yield i, _clip(f"assistant text {text!r} has fewer than 2 words")
    turns = s.dialog.turns
    last = turns[-1].content if turns and _is_text(turns[-1]) else None
    if last and last.strip() and not _ends_sentence(last):
        yield len(turns) - 1, f"final assistant text is cut mid-sentence: …{last.rstrip()[-40:]!r}"


@_rule("user_voice")
def _user_voice(s: _Subject) -> Hits:
    for i, turn, text in _texts(s.dialog):
        if turn.role == "user" and (problem := voice_problem(text)):
            yield i, _clip(f"user turn {problem}, instead of speaking as the user")


@_rule("assistant_voice")
def _assistant_voice(s: _Subject) -> Hits:
    """The check generation puts every assistant text through (dialogs/agents.py), for imported data too."""
    for i, turn, text in _texts(s.dialog):
        if turn.role == "assistant" and (problem := assistant_voice_problem(text)):
            yield i, _clip(f"assistant text {problem}, instead of speaking to the user")


@_rule("invalid_characters")
def _invalid_characters(s: _Subject) -> Hits:
    for i, where, text in _strings(s.dialog):
        problems = [describe(hit.group()) for pattern, describe in _CHAR_RULES if (hit := pattern.search(text))]
        if problems:
            yield i, _clip(f"{where} has {'; '.join(problems)}")


@_rule("mixed_languages")
def _mixed_languages(s: _Subject) -> Hits:
    for i, turn, text in _texts(s.dialog):
        weights = _script_weights(text)
        total = sum(weights.values())
        if len(weights) > 1 and 1 - max(weights.values()) / total > MIXED_SHARE:
            shares = ", ".join(f"{script} {weight / total:.0%}" for script, weight in weights.most_common())
            yield i, f"{turn.role} text mixes scripts ({shares})"


@_rule("duplicate_turns")
def _duplicate_turns(s: _Subject) -> Hits:
    first_seen: dict[tuple[str, str], int] = {}
    previous_calls: list[ToolCall] | None = None
    for i, turn in enumerate(s.dialog.turns):
        if isinstance(turn.content, str) and turn.role in ("user", "assistant"):
            seen = first_seen.setdefault((turn.role, _norm(turn.content)), i)
            if seen != i:
                yield i, f"{turn.role} text repeats turn {seen}"
        if not _is_call(turn):
            continue
        if turn.tool_calls == previous_calls:
            yield i, "call turn repeats the previous call turn"
        previous_calls = turn.tool_calls
        counts = Counter(canonical_json(call.model_dump()) for call in turn.tool_calls or ())
        if max(counts.values()) > 1:
            yield i, "call turn makes the same call (name and arguments) twice"


RULE_CHECKS: tuple[str, ...] = tuple(_CHECKS)


# -- public API -----------------------------------------------------------------------------------


def check_dialog(dialog: Dialog, *, max_chars: int | None = None) -> list[Finding]:
    """Run every rule check in RULE_CHECKS order; all findings, empty when the dialog passes.
    max_chars: one text length limit for every role instead of MAX_CHARS_BY_ROLE."""
    tools: dict[str, ApiSpec] = {}
    for tool in dialog.tools:
        if not check_definition(tool):
            tools.setdefault(tool.name, tool)
    subject = _Subject(dialog, max_chars, tools)
    return [Finding(name, message, turn) for name, check in _CHECKS.items() for turn, message in check(subject)]


def first_failure(findings: list[Finding]) -> str | None:
    """The check a rejected dialog is counted under: its earliest failing check in RULE_CHECKS order."""
    if not findings:
        return None
    rank = {name: index for index, name in enumerate(RULE_CHECKS)}
    return min(findings, key=lambda finding: rank.get(finding.check, len(rank))).check
