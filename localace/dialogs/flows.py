"""One flow per dialog kind, read top to bottom like the method: the plan has fixed what is correct;
the user states it, the assistant reproduces it from the conversation, the tool answers."""

from __future__ import annotations

import dataclasses
import random
import re

from localace.dialogs import constraints as C
from localace.dialogs.agents import DialogBuilder, DialogRejected
from localace.dialogs.answers import answer_options
from localace.dialogs.plans import Plan, PlannedCall
from localace.dialogs.statements import Statement, statements
from localace.hashing import content_hash
from localace.kinds import kind_of
from localace.tasks import Task
from localace.kinds.grounding import Sources

THOUGHT_SUMMARY = "The tool results are in, so I summarize them for the user with their exact values."
THOUGHT_CHAT = "This is general conversation; no tool is needed, so I answer directly."


def goal(step: list[PlannedCall]) -> str:
    """What the user wants, in the words of the API descriptions."""
    def one(call: PlannedCall) -> str:
        text = call.api.description.strip().rstrip(".")
        return text[:1].lower() + text[1:]

    if len(step) == 2 and step[0].api.name == step[1].api.name:
        return f"{one(step[0])}, done twice with the two sets of details below"
    return ", and also ".join(one(c) for c in step)


def thought_call(step: list[PlannedCall]) -> str:
    names = " and ".join(c.api.name for c in step)
    together = " at the same time" if len(step) > 1 else ""
    return f"The request gives every value {names} needs, so I call {'them' if len(step) > 1 else 'it'}{together}."


def _state(step: list[PlannedCall], skip: tuple[str, ...] = (), seed: object = 0, first: int = 0) -> list[Statement]:
    """Each call's statements, tagged with the call (counted from `first`)."""
    return [dataclasses.replace(s, call=first + i) for i, c in enumerate(step)
            for s in statements(c, skip=skip, seed=seed)]


def ask(b: DialogBuilder, state: list[Statement], goal_text: str, *, then: str | None = None, followup: bool = False,
        **variables: object) -> Task[str]:
    """The user asks for `goal_text` (and `then`), stating `state`: free text first, the request grammar next."""
    # People name details in no fixed order, but each call's together (two lookups' details interleaved cannot be
    # told apart): the order within a call is drawn per dialog, for the prompt and grammar alike.
    rng = random.Random(content_hash([*b.salt, len(b.turns), "order"], 8))
    groups: dict[int, list[Statement]] = {}
    for s in state:
        groups.setdefault(s.call, []).append(s)
    for group in groups.values():
        rng.shuffle(group)
    state = [s for call in sorted(groups) for s in groups[call]]
    grammar = C.user_request_grammar(goal_text, state, style=b.style, then=then, followup=followup)
    return (yield from b.user("user_request", state, grammar=grammar, goal=goal_text, then=then or "",
                              followup=followup, **variables))


def summarize(b: DialogBuilder) -> Task[object]:
    """The assistant reports what the tool results say, as an assistant would: a count and the first items of
    a list, a sentence of the values that matter (free text first, checked to restate one; a grammar next)."""
    results = b.turns[-1].tool_results or [] if b.turns else []
    said, values = answer_options(results, {t.name: t for t in b.tools})
    if not said:
        raise DialogRejected("assistant_text", "the tool results hold no value to summarize")

    def check(text: str) -> str | None:
        sources = Sources([text])
        return None if any(sources.states(v) for v in values) else "restates no value of the tool results"

    rng = random.Random(content_hash([*b.salt, len(b.turns), "answer"], 8))
    return (yield from b.say("summarize", THOUGHT_SUMMARY, grammar=C.answer_grammar(said, rng), check=check))


def _mentions(words: str) -> object:
    def check(text: str) -> str | None:
        # Whole words: "Did you mean…" does not ask for the `id`.
        said = set(re.findall(r"[a-z0-9]+", text.lower()))
        return None if all(w in said for w in re.findall(r"[a-z0-9]+", words.lower())) else f"does not mention the {words}"
    return check


def _about(topic: str) -> object:
    """A check that a text speaks of `topic`: each of its content words (stemmed) occurs."""
    from localace.apis.naming import content_words
    from localace.apis.text_norm import stem

    wanted = {stem(w) for w in content_words(topic) if len(w) > 3}

    def check(text: str) -> str | None:
        said = {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())}
        return None if wanted <= said else f"is not about {topic!r}"
    return check


def _refuses(text: str) -> str | None:
    return None if re.search(r"\b(can't|cannot|can not|unable|not able|no tool|don't have|do not have|sorry|"
                             r"unfortunately)\b", text, re.I) else "does not say it cannot do this"


def run_flow(b: DialogBuilder, plan: Plan, difficulty: str = "normal") -> Task[None]:
    """Fill `b.turns` for `plan.kind`; raises DialogRejected when a step cannot be done right."""
    kind = plan.kind
    if kind in ("single", "multiple", "parallel"):
        step = plan.steps[0]
        yield from ask(b, _state(step, seed=b.salt), goal(step), difficulty=difficulty)
        yield from b.call(step, thought_call(step))
        yield from summarize(b)
    elif kind == "dependent":
        first, second = plan.steps
        link = plan.link
        assert link is not None
        yield from ask(b, _state(first, seed=b.salt) + _state(second, skip=(link.param,), seed=b.salt, first=1),
                       goal(first), then=goal(second),
                       difficulty=difficulty)
        yield from b.call(first, thought_call(first), link=link)
        yield from b.call(second, f"The {first[0].api.name} result gives the {link.field.replace('_', ' ')} that "
                                  f"{second[0].api.name} needs as {link.param}, so I call it next.")
        yield from summarize(b)
    elif kind == "ask_missing":
        step, missing = plan.steps[0], plan.missing or ""
        asked = [s for s in _state(step, seed=b.salt) if s.path == missing or s.path.startswith(f"{missing}.")
                 or s.path.startswith(f"{missing}[")]
        schema = step[0].api.parameters["properties"][missing]
        kind = kind_of(missing, schema)
        label = kind.label if kind is not None else missing.replace("_", " ")
        description = schema.get("description", label)
        yield from ask(b, _state(step, skip=(missing,), seed=b.salt), goal(step), avoid=asked, leave_out=label,
                       difficulty=difficulty)
        yield from b.say("ask_missing", f"{step[0].api.name} needs the {label}, which the request does not give, so I "
                                        "ask for it before calling.", grammar=C.ask_grammar(label),
                         check=_mentions(label), missing=label, missing_description=description)
        yield from b.user("user_supply_missing", asked, grammar=C.supply_grammar(asked), missing=label)
        yield from b.call(step, thought_call(step))
        yield from summarize(b)
    elif kind == "multi_turn":
        first, second = plan.steps
        yield from ask(b, _state(first, seed=b.salt), goal(first), difficulty=difficulty)
        yield from b.call(first, thought_call(first))
        yield from summarize(b)
        yield from ask(b, _state(second, seed=b.salt), goal(second), followup=True)
        # The tool just used stays in the tool list but not in this call's constraint: a small model copies the
        # previous call, and the follow-up asks for something else by construction.
        used = first[0].api.name
        yield from b.call(second, thought_call(second), callable_apis=[a for a in plan.offered if a.name != used])
        yield from summarize(b)
    elif kind == "non_tool":
        # Both turns are about the plan's topic: free text once asked about a beach day in Barcelona and was
        # answered about saying good morning in Spanish. The answer says something: the pool's own answer.
        chat = plan.chat
        on_topic = _about(plan.topic or "")
        question = chat.question if chat is not None else ""
        answer = chat.answer if chat is not None else ""
        yield from b.user("user_non_tool", grammar=C.chitchat_grammar(plan.topic or "", b.style, question),
                          topic=plan.topic, check=on_topic)
        yield from b.say("answer", THOUGHT_CHAT, grammar=C.chat_grammar(plan.topic or "", answer), check=on_topic)
    elif kind == "irrelevance":
        assert plan.off_topic is not None
        yield from ask(b, _state([plan.off_topic], seed=b.salt), plan.topic or "", difficulty=difficulty)
        yield from b.say("refuse_no_tool", f"None of the offered tools can {plan.topic}, so I must not call one.",
                         grammar=C.refuse_grammar(plan.topic or ""), check=_refuses)
    else:
        raise ValueError(f"unknown dialog kind {kind!r}")
