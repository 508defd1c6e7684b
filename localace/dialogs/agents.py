"""The three role-played agents (user, assistant, tool), written as tasks that yield model requests.

The plan has already decided what is correct (which calls, with which values); the agents put it into
words, and the assistant's samples verify it: a call step is kept only when most of the assistant's
samples, reading nothing but the tools and the conversation, reproduce the planned calls."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from localace.apis.spec import ApiSpec
from localace.backends.base import Output, Sampling
from localace.dialogs import constraints as C
from localace.dialogs.model import ToolCall, ToolResult, Turn
from localace.dialogs.plans import Link, PlannedCall
from localace.dialogs.preferences import pair_record
from localace.dialogs.statements import Statement, unstated
from localace.dialogs.transcript import agent_messages
from localace.dialogs.values import ValueMaker, echo_value
from localace.errors import GenerationError
from localace.hashing import canonical_json, content_hash
from localace.kinds import catalogue
from localace.prompts import load_prompt
from localace.tasks import Request, Task
from localace.kinds.grounding import Sources, leaves, ungrounded_values
from localace.voice import assistant_voice_problem, voice_problem


class DialogRejected(Exception):
    """The dialog cannot be completed correctly; `check` names why (counted per check)."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check, self.reason = check, reason


@dataclass
class ConsistencyStats:
    """Assistant call steps voted on: reproduced within the first wave of samples, after more samples, or not."""

    steps: int = 0
    agreed_first: int = 0
    regenerated: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(steps=self.steps, agreed_first=self.agreed_first, regenerated=self.regenerated,
                    dropped=self.dropped)


def _norm(value: Any) -> Any:
    """Values that mean the same call compare equal: case, punctuation and spacing of strings, 2.0 and 2."""
    if isinstance(value, str):
        return " ".join(re.sub(r"[^\w\s]", " ", value.lower()).split())
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def vote_key(action: str, calls: list[dict[str, Any]] | None) -> str:
    canon = sorted(canonical_json([c["name"], _norm(c["arguments"])]) for c in calls or [])
    return canonical_json([action, canon])


def disagreement(sample: list[dict[str, Any]], planned: list[dict[str, Any]], turns: list[Turn],
                 tools: list[ApiSpec]) -> str:
    """How a losing sample differs from the planned calls (preference-pair label): another tool, or values
    the conversation never stated (invented), or other stated values put in the wrong place."""
    if sorted(c["name"] for c in sample) != sorted(c["name"] for c in planned):
        return "wrong_tool"
    sources = Sources()
    for turn in turns:
        if turn.role == "user" and turn.content:
            sources.add(turn.content)
        for result in turn.tool_results or ():
            sources.add(canonical_json(result.results))
    params = {t.name: t.parameters for t in tools}
    if any(ungrounded_values(c["arguments"], params.get(c["name"], {}), sources) for c in sample):
        return "ungrounded_arguments"
    return "different_arguments"


@dataclass
class DialogBuilder:
    tools: list[ApiSpec]
    salt: list[Any]
    k: int = 3
    # Low enough that a capable model agrees with itself on what the conversation determines;
    # disagreement at this temperature is the signal the round trip is there to catch.
    temperature: float = 0.25
    stats: ConsistencyStats = field(default_factory=ConsistencyStats)
    turns: list[Turn] = field(default_factory=list)
    preference_pairs: list[dict[str, Any]] = field(default_factory=list)
    persona: str = ""
    style: str = ""
    stated: list[Any] = field(default_factory=list)  # values the conversation has stated so far (user, tool results)
    families: dict[str, set[str]] = field(default_factory=dict)  # how the user stated each value: its kind's family
    values: ValueMaker = field(default_factory=lambda: ValueMaker(0))
    tool_model: bool = False  # tool results written by the model instead of the typed value generators
    free_text: bool = True  # try free text before the grammar (off: the grammar only)

    # --- plumbing -----------------------------------------------------------------------------
    def _request(self, template: str, output: Output, tag: str, *, temperature: float | None = None,
                 max_tokens: int = 300, **variables: Any) -> Request:
        prompt = load_prompt(template)
        messages = agent_messages(self.tools, self.turns, prompt.render(**variables))
        seed = int(content_hash([*self.salt, len(self.turns), tag], 8), 16)
        return Request(messages, output=output, template_hash=prompt.hash,
                       sampling=Sampling(temperature=self.temperature if temperature is None else temperature,
                                         seed=seed, max_tokens=max_tokens))

    def _attempts(self, free: Output, grammar: Output) -> list[tuple[int, Output]]:
        """Free text, then the grammar; the grammar alone when free text is off (same attempt numbers, so a
        turn's seed does not depend on the setting)."""
        return [(0, free), (1, grammar)] if self.free_text else [(1, grammar)]

    def api(self, name: str) -> ApiSpec:
        return next(t for t in self.tools if t.name == name)

    # --- user ---------------------------------------------------------------------------------
    def user(self, template: str, state: Iterable[Statement] = (), *, grammar: Output,
             avoid: Iterable[Statement] = (), check: Any = None, **variables: Any) -> Task[str]:
        """A user turn in the plan's persona and style that states every value in `state` (and none in `avoid`).

        The first attempt is free text; when it misses a value or does not read as a user, the second is
        generated under `grammar`, which fixes the goal and the values and leaves the phrasing to the model.
        `check(text)` names anything else wrong with a turn (None when nothing is)."""
        state, avoid = list(state), list(avoid)
        problem = ("", "")
        for attempt, output in self._attempts(C.USER_REQUEST, grammar):
            try:
                completion = yield self._request(template, output, f"user.{attempt}", temperature=0.8,
                                                 state=state, persona=self.persona, style=self.style, **variables)
            except GenerationError as e:
                problem = (f"generation:{e.kind}", f"user turn: {e}")
                continue
            text = completion.value.strip()
            if voice := voice_problem(text):
                problem = ("user_voice", f"user turn {voice}: {text[:120]!r}")
            elif missing := unstated(text, state):
                problem = ("request_ungrounded", f"user turn does not state {', '.join(missing)}: {text[:120]!r}")
            elif leaked := [s.label for s in avoid if not unstated(text, [s])]:
                problem = ("request_ungrounded", f"user turn states {', '.join(leaked)}, which it must leave out")
            elif check is not None and (issue := check(text)):
                problem = ("user_off_topic", f"user turn {issue}: {text[:120]!r}")
            else:
                self.turns.append(Turn(role="user", content=text))
                self.stated += [st.value for st in state]
                for st in state:
                    if st.kind and (kind := catalogue().kinds.get(st.kind)) is not None:
                        self.families.setdefault(canonical_json(st.value), set()).add(kind.family)
                return text
        raise DialogRejected(*problem)

    # --- assistant ----------------------------------------------------------------------------
    def call(self, planned: list[PlannedCall], thought: str, *, callable_apis: list[ApiSpec] | None = None,
             link: Link | None = None) -> Task[Turn]:
        """The planned call(s), kept when most of k samples reproduce them from the conversation alone.

        Samples are drawn in waves, the smallest that could still reach a majority, so sampling stops as
        soon as the majority is reached or can no longer be."""
        self.stats.steps += 1
        apis = callable_apis or self.tools
        expected = [c.as_dict() for c in planned]
        target = vote_key("call", expected)
        only = {c.api.name: list(c.arguments) for c in planned}
        n = len(planned)
        output = C.calls_output(apis, n, n, only=only, candidates=self.stated, expected=expected,
                                families=self.families)
        need = self.k // 2 + 1
        matches = misses = drawn = 0
        losers: list[list[dict[str, Any]]] = []
        while matches < need and misses <= self.k - need:
            wave = [self._request("assistant_calls", output, f"calls.{drawn + i}", max_tokens=500, count=n)
                    for i in range(need - matches)]
            drawn += len(wave)
            for result in (yield wave):
                if isinstance(result, GenerationError):
                    misses += 1
                    continue
                calls = result.value["calls"]
                if vote_key("call", calls) == target:
                    matches += 1
                else:
                    misses += 1
                    losers.append(calls)
        if matches < need:
            self.stats.dropped += 1
            raise DialogRejected("roundtrip", f"{matches} of {drawn} assistant samples reproduced the planned call(s) "
                                              f"{canonical_json(expected)[:200]}")
        if drawn == need:
            self.stats.agreed_first += 1
        else:
            self.stats.regenerated += 1
        turn = Turn(role="assistant", tool_calls=[ToolCall(**c) for c in expected], action="call", thought=thought)
        for calls in losers[:1]:  # one pair per step: the first sample that lost
            rejected = Turn(role="assistant", tool_calls=[ToolCall(**c) for c in calls], action="call")
            self.preference_pairs.append(pair_record(len(self.turns), rejected,
                                                     disagreement(calls, expected, self.turns, self.tools)))
        self.turns.append(turn)
        yield from self._tool_results(planned, link)
        return turn

    def say(self, action: str, thought: str, *, grammar: Output, check: Any = None, **text_vars: Any) -> Task[Turn]:
        """An assistant text turn for a decided action (ask_missing, answer, refuse_no_tool, summarize): free text
        first, kept when it speaks to the user and `check(text)` finds nothing wrong; else under `grammar`."""
        problem = ("", "")
        for attempt, output in self._attempts(C.ASSISTANT_TEXT, grammar):
            try:
                completion = yield self._request("assistant_text", output, f"text.{action}.{attempt}", max_tokens=400,
                                                 action=action, thought=thought,
                                                 **{"missing": "", "missing_description": "", **text_vars})
            except GenerationError as e:
                problem = (f"generation:{e.kind}", f"assistant text: {e}")
                continue
            text = completion.value.strip()
            issue = assistant_voice_problem(text) or (check(text) if check else None)
            if issue:
                problem = ("assistant_text", f"{action}: {issue}: {text[:120]!r}")
                continue
            turn = Turn(role="assistant", content=text, action=action, thought=thought)
            self.turns.append(turn)
            return turn
        raise DialogRejected(*problem)

    # --- tool ---------------------------------------------------------------------------------
    def _tool_results(self, planned: list[PlannedCall], link: Link | None) -> Task[None]:
        """Simulated results under each API's return schema; fields named like an argument echo it, and a
        dependent call's feeding field carries the planned value. The other fields come from the typed value
        generators, or from the model when `tool_model` is set (a larger model writes richer results)."""
        fixed_by_call = []
        for i, call in enumerate(planned):
            fields = call.api.returns.get("properties", {})
            fixed = {n: echoed for n, v in call.arguments.items() if n in fields
                     and (echoed := echo_value(v, fields[n])) is not None}
            if link is not None and i == 0 and link.field in fields:
                fixed[link.field] = link.value
            fixed_by_call.append(fixed)
        if self.tool_model:
            replies = yield [self._request("tool_result", C.result_output(call.api, fixed), f"tool{i}",
                                           temperature=0.7, max_tokens=500, name=call.api.name,
                                           description=call.api.description,
                                           arguments=json.dumps(call.arguments, ensure_ascii=False))
                             for i, (call, fixed) in enumerate(zip(planned, fixed_by_call))]
        else:
            replies = [self.values.result(call.api, fixed, call.arguments) for call, fixed in zip(planned, fixed_by_call)]
        results = []
        for call, reply in zip(planned, replies):
            if isinstance(reply, GenerationError):
                raise DialogRejected(f"generation:{reply.kind}", f"tool result of {call.api.name}: {reply}")
            value = reply.value if self.tool_model else reply
            results.append(ToolResult(name=call.api.name, results=value))
            self.stated += [v for _, v in leaves(value)]
        self.turns.append(Turn(role="tool", tool_results=results))
