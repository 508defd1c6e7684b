"""One flow per dialog kind, read top to bottom like the method: the plan has fixed what is correct;
the user states it, the assistant reproduces it from the conversation, the tool answers."""

from __future__ import annotations

import re

from localace.dialogs import constraints as C
from localace.dialogs.agents import DialogBuilder, DialogRejected
from localace.dialogs.plans import Plan, PlannedCall
from localace.dialogs.statements import Statement, statements
from localace.tasks import Task
from localace.verify.grounding import Sources

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


def _state(step: list[PlannedCall], skip: tuple[str, ...] = ()) -> list[Statement]:
    return [s for c in step for s in statements(c, skip=skip)]


def ask(b: DialogBuilder, state: list[Statement], goal_text: str, *, then: str | None = None, followup: bool = False,
        **variables: object) -> Task[str]:
    """The user asks for `goal_text` (and `then`), stating `state`: free text first, the request grammar next."""
    grammar = C.user_request_grammar(goal_text, state, style=b.style, then=then, followup=followup)
    return (yield from b.user("user_request", state, grammar=grammar, goal=goal_text, then=then or "",
                              followup=followup, **variables))


def summarize(b: DialogBuilder) -> Task[object]:
    """The assistant restates what the tool results say (at least one of their values)."""
    # Clipped once, for the grammar and the check alike: a check on the full value rejected every summary
    # of a result whose values were all longer than the grammar lets the model write.
    facts = [(label, C.clip_display(value)) for label, value in b.result_facts()]
    if not facts:
        raise DialogRejected("assistant_text", "the tool results hold no value to summarize")
    # An array's items share a label: "the people is A, B", not "the people was A, the people was B".
    grouped: dict[str, list[str]] = {}
    for label, value in facts:
        grouped.setdefault(label, []).append(value)
    said = [(label, _whole_items(values)) for label, values in grouped.items()]

    def check(text: str) -> str | None:
        sources = Sources([text])
        return None if any(sources.states(v) for _, v in facts) else "restates no value of the tool results"

    return (yield from b.say("summarize", THOUGHT_SUMMARY, grammar=C.summary_grammar(said), check=check))


def _whole_items(values: list[str], limit: int = 60) -> str:
    """Up to three items that fit in `limit` characters, whole: clipping the joined text cut "English Inc" to
    "English" in a summary of companies."""
    kept = values[:1]
    for value in values[1:3]:
        if len(", ".join([*kept, value])) > limit:
            break
        kept.append(value)
    return C.clip_display(", ".join(kept), limit)


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
        yield from ask(b, _state(step), goal(step), difficulty=difficulty)
        yield from b.call(step, thought_call(step))
        yield from summarize(b)
    elif kind == "dependent":
        first, second = plan.steps
        link = plan.link
        assert link is not None
        yield from ask(b, _state(first) + _state(second, skip=(link.param,)), goal(first), then=goal(second),
                       difficulty=difficulty)
        yield from b.call(first, thought_call(first), link=link)
        yield from b.call(second, f"The {first[0].api.name} result gives the {link.field.replace('_', ' ')} that "
                                  f"{second[0].api.name} needs as {link.param}, so I call it next.")
        yield from summarize(b)
    elif kind == "ask_missing":
        step, missing = plan.steps[0], plan.missing or ""
        asked = [s for s in _state(step) if s.path == missing or s.path.startswith(f"{missing}.")
                 or s.path.startswith(f"{missing}[")]
        label = missing.replace("_", " ")
        description = step[0].api.parameters["properties"][missing].get("description", label)
        yield from ask(b, _state(step, skip=(missing,)), goal(step), avoid=asked, leave_out=label,
                       difficulty=difficulty)
        yield from b.say("ask_missing", f"{step[0].api.name} needs the {label}, which the request does not give, so I "
                                        "ask for it before calling.", grammar=C.ask_grammar(label),
                         check=_mentions(label), missing=label, missing_description=description)
        yield from b.user("user_supply_missing", asked, grammar=C.supply_grammar(asked), missing=label)
        yield from b.call(step, thought_call(step))
        yield from summarize(b)
    elif kind == "multi_turn":
        first, second = plan.steps
        yield from ask(b, _state(first), goal(first), difficulty=difficulty)
        yield from b.call(first, thought_call(first))
        yield from summarize(b)
        yield from ask(b, _state(second), goal(second), followup=True)
        # The tool just used stays in the tool list but not in this call's constraint: a small model copies the
        # previous call, and the follow-up asks for something else by construction.
        used = first[0].api.name
        yield from b.call(second, thought_call(second), callable_apis=[a for a in plan.offered if a.name != used])
        yield from summarize(b)
    elif kind == "non_tool":
        # Both turns are about the plan's topic: free text once asked about a beach day in Barcelona and was
        # answered about saying good morning in Spanish.
        on_topic = _about(plan.topic or "")
        yield from b.user("user_non_tool", grammar=C.chitchat_grammar(plan.topic or "", b.style), topic=plan.topic,
                          check=on_topic)
        yield from b.say("answer", THOUGHT_CHAT, grammar=C.chat_grammar(plan.topic or ""), check=on_topic)
    elif kind == "irrelevance":
        assert plan.off_topic is not None
        yield from ask(b, _state([plan.off_topic]), plan.topic or "", difficulty=difficulty)
        yield from b.say("refuse_no_tool", f"None of the offered tools can {plan.topic}, so I must not call one.",
                         grammar=C.refuse_grammar(plan.topic or ""), check=_refuses)
    else:
        raise ValueError(f"unknown dialog kind {kind!r}")
