"""The three role-played agents (user, assistant, tool) and self-consistency voting."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from localace.apis.spec import ApiSpec
from localace.backends.base import Output, Sampling
from localace.dialogs import constraints as C
from localace.dialogs.model import ToolCall, ToolResult, Turn
from localace.dialogs.transcript import agent_messages
from localace.errors import GenerationError
from localace.hashing import canonical_json, content_hash
from localace.prompts import load_prompt
from localace.store.cache import CachedBackend


class DialogRejected(Exception):
    """The dialog cannot be completed correctly; `check` names why (counted per check)."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check, self.reason = check, reason


@dataclass
class ConsistencyStats:
    """Assistant steps voted on: agreed at once, agreed after regeneration, or dropped."""

    steps: int = 0
    agreed_first: int = 0
    regenerated: int = 0
    dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(steps=self.steps, agreed_first=self.agreed_first, regenerated=self.regenerated,
                    dropped=self.dropped)


def _norm(value: Any) -> Any:
    """Values that mean the same call compare equal: case and surrounding space of strings."""
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


@dataclass
class DialogBuilder:
    gen: CachedBackend
    tools: list[ApiSpec]
    salt: list[Any]
    k: int = 3
    # Low enough that a capable model agrees with itself on what is determined by the request;
    # disagreement at this temperature is the signal self-consistency is there to catch.
    temperature: float = 0.25
    stats: ConsistencyStats = field(default_factory=ConsistencyStats)
    turns: list[Turn] = field(default_factory=list)

    # --- plumbing -----------------------------------------------------------------------------
    def _ask(self, template: str, output: Output, tag: str, *, temperature: float | None = None,
             max_tokens: int = 300, **variables: Any) -> Any:
        prompt = load_prompt(template)
        messages = agent_messages(self.tools, self.turns, prompt.render(**variables))
        seed = int(content_hash([*self.salt, len(self.turns), tag], 8), 16)
        completion = self.gen.generate(
            messages, output=output, template_hash=prompt.hash,
            sampling=Sampling(temperature=self.temperature if temperature is None else temperature, seed=seed,
                              max_tokens=max_tokens),
        )
        return completion.value

    def api(self, name: str) -> ApiSpec:
        return next(t for t in self.tools if t.name == name)

    # --- user ---------------------------------------------------------------------------------
    def user(self, template: str, **variables: Any) -> str:
        try:
            text = self._ask(template, C.USER_TEXT, "user", temperature=0.8, **variables)
        except GenerationError as e:
            raise DialogRejected(f"generation:{e.kind}", f"user turn: {e}") from None
        self.turns.append(Turn(role="user", content=text.strip()))
        return text

    # --- assistant ----------------------------------------------------------------------------
    def assistant(self, actions: tuple[str, ...], hint: str, *, call_apis: list[ApiSpec] | None = None,
                  low: int = 1, high: int = 1, expect: set[str] | None = None, **text_vars: Any) -> Turn:
        """Decide (thought + action) and act; decision and calls are voted on over k samples."""
        self.stats.steps += 1
        for round_ in range(2):
            # With a single allowed action the decision cannot disagree: think once, vote on the calls.
            shared = self._decide(actions, hint, f"{round_}") if len(actions) == 1 else None
            samples = [self._sample(actions, hint, call_apis, low, high, f"{round_}.{i}", shared)
                       for i in range(self.k)]
            counts = Counter(key for key, _, _ in samples if key is not None)
            if counts:
                key, n = counts.most_common(1)[0]
                if n * 2 > self.k:
                    if round_ == 0:
                        self.stats.agreed_first += 1
                    else:
                        self.stats.regenerated += 1
                    _, decision, calls = next(s for s in samples if s[0] == key)
                    return self._act(decision, calls, expect, text_vars)
        self.stats.dropped += 1
        raise DialogRejected("self_consistency", f"no majority among {self.k} samples after one regeneration")

    def _decide(self, actions: tuple[str, ...], hint: str, tag: str) -> dict[str, Any] | None:
        try:
            return self._ask("assistant_decide", C.decision_output(actions), f"decide{tag}", actions=actions, hint=hint)
        except GenerationError:
            return None

    def _sample(self, actions: tuple[str, ...], hint: str, call_apis: list[ApiSpec] | None, low: int, high: int,
                tag: str, decision: dict[str, Any] | None = None
                ) -> tuple[str | None, dict[str, Any], list[dict[str, Any]] | None]:
        try:
            if decision is None:
                decision = self._ask("assistant_decide", C.decision_output(actions), f"decide{tag}",
                                     actions=actions, hint=hint)
            calls = None
            if decision["action"] == "call":
                calls = self._ask("assistant_calls", C.calls_output(call_apis or self.tools, low, high),
                                  f"calls{tag}", max_tokens=500, thought=decision["thought"], low=low, high=high)["calls"]
        except GenerationError:
            return None, {}, None
        return vote_key(decision["action"], calls), decision, calls

    def _act(self, decision: dict[str, Any], calls: list[dict[str, Any]] | None, expect: set[str] | None,
             text_vars: dict[str, Any]) -> Turn:
        action, thought = decision["action"], decision["thought"]
        if action == "call":
            names = {c["name"] for c in calls or []}
            if expect is not None and names != expect:
                raise DialogRejected("wrong_tool", f"called {sorted(names)}, the request needs {sorted(expect)}")
            turn = Turn(role="assistant", tool_calls=[ToolCall(**c) for c in calls or []], action=action,
                        thought=thought)
            self.turns.append(turn)
            self._tool_results(turn.tool_calls or [])
            return turn
        try:
            text = self._ask("assistant_text", C.ASSISTANT_TEXT, f"text.{action}", max_tokens=400, action=action,
                             thought=thought, **{"missing": "", "missing_description": "", **text_vars})
        except GenerationError as e:
            raise DialogRejected(f"generation:{e.kind}", f"assistant text: {e}") from None
        turn = Turn(role="assistant", content=text.strip(), action=action, thought=thought)
        self.turns.append(turn)
        return turn

    # --- tool ---------------------------------------------------------------------------------
    def _tool_results(self, calls: list[ToolCall]) -> None:
        results = []
        for i, call in enumerate(calls):
            api = self.api(call.name)
            try:
                value = self._ask("tool_result", C.result_output(api), f"tool{i}", temperature=0.7, max_tokens=500,
                                  name=api.name, description=api.description,
                                  arguments=json.dumps(call.arguments, ensure_ascii=False))
            except GenerationError as e:
                raise DialogRejected(f"generation:{e.kind}", f"tool result of {call.name}: {e}") from None
            results.append(ToolResult(name=call.name, results=value))
        self.turns.append(Turn(role="tool", tool_results=results))
