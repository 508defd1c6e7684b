"""API sampling per dialog kind: which tools are offered, which the user needs, what is missing."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from localace.apis.spec import ApiSpec

STYLES = ("terse", "chatty and friendly", "a domain expert using precise terms",
          "a non-native English speaker with simple grammar", "polite and formal", "in a hurry")
CHITCHAT = ("how their day is going", "a fun fact about space", "how to stay focused while studying",
            "a good name for a new pet cat", "what the assistant is able to help with",
            "thanks for the help earlier", "an idea for a weekend hobby", "why the sky is blue",
            "a short joke", "how to say good morning in Spanish")


class PlanImpossible(Exception):
    """The API pool cannot support this kind (e.g. no API with a required parameter)."""


@dataclass
class Plan:
    kind: str
    offered: list[ApiSpec]
    targets: list[ApiSpec] = field(default_factory=list)
    missing: str | None = None
    topic: str | None = None
    style: str = STYLES[0]

    @property
    def domains(self) -> list[str]:
        return sorted({t.domain[0] for t in self.offered if t.domain})


def top(api: ApiSpec) -> str:
    return api.domain[0] if api.domain else ""


def details(api: ApiSpec, *, skip: str | None = None, limit: int = 4) -> str:
    """The parameters a user should give values for: required ones, then optional ones."""
    props = api.parameters.get("properties", {})
    required = [n for n in api.parameters.get("required", []) if n != skip]
    optional = [n for n in props if n not in required and n != skip]
    chosen = (required + optional[:1])[:limit] or list(props)[:1]
    return ", ".join(f"{n} ({props[n].get('description', '').rstrip('.')})" for n in chosen) or "the request"


class PlanSampler:
    def __init__(self, pool: list[ApiSpec]) -> None:
        if not pool:
            raise PlanImpossible("no APIs to build dialogs from; run `localace apis synth` or `apis import` first")
        self.pool = pool
        self.by_domain: dict[str, list[ApiSpec]] = {}
        for api in pool:
            self.by_domain.setdefault(top(api), []).append(api)
        self.by_id = {a.id: a for a in pool}

    def _others(self, rng: random.Random, exclude: list[ApiSpec], n: int, *, same_domain: str | None = None) -> list[ApiSpec]:
        names = {a.name for a in exclude}
        if same_domain is not None:
            cands = [a for a in self.by_domain.get(same_domain, []) if a.name not in names]
        else:
            domains = {top(a) for a in exclude}
            cands = [a for a in self.pool if a.name not in names and top(a) not in domains]
        return rng.sample(cands, min(n, len(cands)))

    def _offer(self, rng: random.Random, targets: list[ApiSpec], extra: list[ApiSpec]) -> list[ApiSpec]:
        offered = list({a.name: a for a in targets + extra}.values())
        rng.shuffle(offered)
        return offered

    def sample(self, kind: str, rng: random.Random) -> Plan:
        style = rng.choice(STYLES)
        target = rng.choice(self.pool)
        if kind == "single":
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], rng.randint(0, 2))), [target],
                        style=style)
        if kind == "multiple":
            extra = self._others(rng, [target], 3, same_domain=top(target))
            extra += self._others(rng, [target], max(0, 2 - len(extra)))
            return Plan(kind, self._offer(rng, [target], extra), [target], style=style)
        if kind == "parallel":
            if rng.random() < 0.3:
                pair = [target] + self._others(rng, [target], 1, same_domain=top(target))
                if len(pair) == 2:
                    return Plan(kind, self._offer(rng, pair, []), pair, style=style)
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], 1)), [target], style=style)
        if kind in ("dependent", "multi_turn"):
            first, second = self._pair(rng, target)
            return Plan(kind, self._offer(rng, [first, second], self._others(rng, [first, second], 1)),
                        [first, second], style=style)
        if kind == "non_tool":
            offered = self._offer(rng, [target], self._others(rng, [target], rng.randint(0, 2)))
            return Plan(kind, offered, [], topic=rng.choice(CHITCHAT), style=style)
        if kind == "irrelevance":
            offered = self._offer(rng, [target], self._others(rng, [target], 2, same_domain=top(target)))
            unrelated = self._others(rng, offered, 1)
            if not unrelated:
                raise PlanImpossible("irrelevance needs APIs from at least two top-level domains")
            u = unrelated[0]
            topic = u.description.rstrip(".")
            return Plan(kind, offered, [], topic=topic[0].lower() + topic[1:], style=style)
        if kind == "ask_missing":
            askable = [a for a in self.pool if _askable(a)]
            if not askable:
                raise PlanImpossible("ask_missing needs an API with a required string or number parameter")
            target = rng.choice(askable)
            missing = rng.choice(_askable(target))
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], rng.randint(0, 1))), [target],
                        missing=missing, style=style)
        raise PlanImpossible(f"unknown dialog kind {kind!r}")

    def _pair(self, rng: random.Random, target: ApiSpec) -> tuple[ApiSpec, ApiSpec]:
        """Related APIs: lineage (add_related) first, then the same domain, then anything."""
        children = [a for a in self.pool if a.parent_id == target.id and a.name != target.name]
        if children:
            return target, rng.choice(children)
        parent = self.by_id.get(target.parent_id or "")
        if parent is not None and parent.name != target.name:
            return parent, target
        same = self._others(rng, [target], 1, same_domain=top(target)) or self._others(rng, [target], 1)
        if not same:
            raise PlanImpossible("this kind needs at least two APIs")
        return target, same[0]


def _askable(api: ApiSpec) -> list[str]:
    props = api.parameters.get("properties", {})
    return [n for n in api.parameters.get("required", [])
            if props.get(n, {}).get("type") in ("string", "integer", "number") and "enum" not in props.get(n, {})]


def plan_summary(plan: Plan) -> dict[str, Any]:
    return {"kind": plan.kind, "offered": [a.name for a in plan.offered], "targets": [a.name for a in plan.targets],
            "missing": plan.missing, "topic": plan.topic, "style": plan.style}
