"""A dialog's blueprint, decided before any model call: which tools are offered, which calls the
assistant must make with which concrete values, which result feeds which call, what the user leaves
out, what an off-topic request asks. The agents only put it into words."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from localace.apis.spec import ApiSpec
from localace.apis.text_norm import stem
from localace.dialogs.values import ValueMaker, _valid
from localace.kinds import kind_of

STYLES = ("terse", "chatty and friendly", "precise, using the domain's own terms",
          "simple, with short sentences", "polite and formal", "in a hurry")
# ToolACE's multi-mode prompting: the same request asked by different people reads differently.
PERSONAS = ("a small-business owner", "a university student", "a retired teacher", "a software developer",
            "a parent of two young children", "a freelance photographer", "a nurse working night shifts",
            "a travel blogger", "an accountant", "a journalist on a deadline", "a hobby gardener",
            "an operations manager", "a high-school coach", "a first-time home buyer", "a data analyst")
CHITCHAT = ("how their day is going", "a fun fact about space", "how to stay focused while studying",
            "a good name for a new pet cat", "what the assistant is able to help with",
            "thanks for the help earlier", "an idea for a weekend hobby", "why the sky is blue",
            "a short joke", "how to say good morning in Spanish")


@dataclass(frozen=True)
class ChatTopic:
    """A chit-chat subject with how a person asks it and a real answer (no tool can or should serve it)."""

    topic: str
    question: str = ""
    answer: str = ""


def chat_topics() -> list[ChatTopic]:
    """The chit-chat pool shipped with the package (hundreds of topics, each with an answer), else CHITCHAT."""
    import json
    from importlib.resources import files

    try:
        rows = json.loads(files("localace.dialogs").joinpath("chat_topics.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        rows = []
    return [ChatTopic(r["topic"], r.get("question", ""), r.get("answer", "")) for r in rows] or \
        [ChatTopic(t) for t in CHITCHAT]
_IDENTIFIER = frozenset({"id", "code", "number", "reference", "ref", "key", "token", "slug", "sku"})


class PlanImpossible(Exception):
    """The API pool cannot support this kind (e.g. no API with a required parameter)."""


@dataclass(frozen=True)
class PlannedCall:
    """One call the assistant must make, with the values it must make it with."""

    api: ApiSpec
    arguments: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.api.name, "arguments": self.arguments}


@dataclass(frozen=True)
class Link:
    """dependent: the first call's result field `field` carries `value`, which the second call passes as `param`."""

    field: str
    param: str
    value: Any


@dataclass
class Plan:
    kind: str
    offered: list[ApiSpec]
    targets: list[ApiSpec] = field(default_factory=list)
    missing: str | None = None
    topic: str | None = None
    style: str = STYLES[0]
    persona: str = PERSONAS[0]
    steps: list[list[PlannedCall]] = field(default_factory=list)  # per assistant call turn, the calls made together
    link: Link | None = None
    off_topic: PlannedCall | None = None  # irrelevance: the request no offered tool can serve
    chat: ChatTopic | None = None  # non_tool: the subject, its question and answer

    @property
    def domains(self) -> list[str]:
        return sorted({t.domain[0] for t in self.offered if t.domain})


def top(api: ApiSpec) -> str:
    return api.domain[0] if api.domain else ""


def _stems(name: str) -> set[str]:
    return {stem(w) for w in name.lower().replace("-", "_").split("_") if w}


def find_link(first: ApiSpec, second: ApiSpec, values: ValueMaker) -> Link | None:
    """A result field of `first` that can feed a parameter of `second`: the same kind (an order id returned, an
    order id taken), or failing kinds the same scalar type and names that share a word (`flight_number` →
    `flight_number`, `order_id` → `id`) or are both identifiers."""
    fields = first.returns.get("properties", {})
    params = second.parameters.get("properties", {})
    required = second.parameters.get("required", [])
    best: tuple[int, str, str] | None = None
    for p in sorted(params, key=lambda n: (n not in required, n)):
        ps = params[p]
        if ps.get("type") not in ("string", "integer", "number") or "enum" in ps:
            continue
        pk = kind_of(p, ps)
        for f, fs in fields.items():
            if fs.get("type") != ps.get("type"):
                continue
            fk = kind_of(f, fs)
            if pk is not None and fk is not None:
                # Both have kinds: only the same linkable kind feeds (a fare's `price` is no percentage change).
                score = 4 if pk.name == fk.name and pk.group in _LINKABLE else 0
            else:
                score = 2 * len(_stems(f) & _stems(p)) + (1 if _stems(f) & _IDENTIFIER and _stems(p) & _IDENTIFIER else 0)
            if score and (best is None or score > best[0]):
                best = (score, f, p)
    if best is None:
        return None
    _, f, p = best
    for _ in range(5):
        value = values.value(p, params[p], second)
        if _valid(value, fields[f]):
            return Link(f, p, value)
    return None


# Kinds whose value one call returns and the next takes: ids and codes, places, people, titles. A date or a
# count returned is rarely what the next call is about.
_LINKABLE = frozenset({"identifiers", "places", "people", "contact", "text", "web"})


class PlanSampler:
    def __init__(self, pool: list[ApiSpec]) -> None:
        if not pool:
            raise PlanImpossible("no APIs to build dialogs from; run `localace apis synth` or `apis import` first")
        self.pool = pool
        self.by_domain: dict[str, list[ApiSpec]] = {}
        for api in pool:
            self.by_domain.setdefault(top(api), []).append(api)
        self.by_id = {a.id: a for a in pool}
        self.chats = chat_topics()

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
        """The plan of one dialog attempt: tools, targets and every call's values."""
        style, persona = rng.choice(STYLES), rng.choice(PERSONAS)
        values = ValueMaker(rng.randrange(2**31))
        plan = self._apis(kind, rng)
        plan.style, plan.persona = style, persona
        if kind in ("single", "multiple"):
            plan.steps = [[PlannedCall(plan.targets[0], values.arguments(plan.targets[0]))]]
        elif kind == "parallel":
            apis = plan.targets if len(plan.targets) == 2 else plan.targets * 2
            first = PlannedCall(apis[0], values.arguments(apis[0]))
            for _ in range(5):  # the same API twice needs two different sets of values
                values.ctx.move()
                second = PlannedCall(apis[1], values.arguments(apis[1]))
                if second.as_dict() != first.as_dict():
                    break
            else:
                raise PlanImpossible(f"{apis[0].name} offers too few values for two different parallel calls")
            plan.steps = [[first, second]]
        elif kind == "dependent":
            first, second, link = self._linked_pair(rng, plan.targets[0], plan.targets[1], values)
            if (first.name, second.name) != (plan.targets[0].name, plan.targets[1].name):
                plan.targets = [first, second]
                plan.offered = self._offer(rng, [first, second], self._others(rng, [first, second], 1))
            args = values.arguments(second, skip=(link.param,))
            plan.link = link
            plan.steps = [[PlannedCall(first, values.arguments(first))],
                          [PlannedCall(second, {link.param: link.value, **args})]]
        elif kind == "multi_turn":
            plan.steps = [[PlannedCall(a, values.arguments(a))] for a in plan.targets]
        elif kind == "ask_missing":
            api = plan.targets[0]
            missing = plan.missing or ""
            others = values.arguments(api, skip=(missing,))
            asked = values.distinct(missing, api.parameters["properties"][missing], api, taken=others.values())
            plan.steps = [[PlannedCall(api, {missing: asked, **others})]]
        elif kind == "irrelevance":
            unrelated = self._others(rng, plan.offered, 1)
            if not unrelated:
                raise PlanImpossible("irrelevance needs APIs from at least two top-level domains")
            plan.off_topic = PlannedCall(unrelated[0], values.arguments(unrelated[0], optional=0))
            topic = unrelated[0].description.rstrip(".")
            plan.topic = topic[0].lower() + topic[1:]
        elif kind == "non_tool":
            plan.chat = rng.choice(self.chats)
            plan.topic = plan.chat.topic
        return plan

    def _apis(self, kind: str, rng: random.Random) -> Plan:
        target = rng.choice(self.pool)
        if kind == "single":
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], rng.randint(0, 2))), [target])
        if kind == "multiple":
            extra = self._others(rng, [target], 3, same_domain=top(target))
            extra += self._others(rng, [target], max(0, 2 - len(extra)))
            return Plan(kind, self._offer(rng, [target], extra), [target])
        if kind == "parallel":
            if rng.random() < 0.3:
                pair = [target] + self._others(rng, [target], 1, same_domain=top(target))
                if len(pair) == 2:
                    return Plan(kind, self._offer(rng, pair, []), pair)
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], 1)), [target])
        if kind in ("dependent", "multi_turn"):
            first, second = self._pair(rng, target)
            return Plan(kind, self._offer(rng, [first, second], self._others(rng, [first, second], 1)), [first, second])
        if kind == "non_tool":
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], rng.randint(0, 2))), [])
        if kind == "irrelevance":
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], 2, same_domain=top(target))), [])
        if kind == "ask_missing":
            askable = [a for a in self.pool if _askable(a)]
            if not askable:
                raise PlanImpossible("ask_missing needs an API with a required string or number parameter")
            target = rng.choice(askable)
            return Plan(kind, self._offer(rng, [target], self._others(rng, [target], rng.randint(0, 1))), [target],
                        missing=rng.choice(_askable(target)))
        raise PlanImpossible(f"unknown dialog kind {kind!r}")

    def _linked_pair(self, rng: random.Random, first: ApiSpec, second: ApiSpec,
                     values: ValueMaker) -> tuple[ApiSpec, ApiSpec, Link]:
        """The sampled pair when one's result can feed the other; else another pair that can (same domain first)."""
        if (link := find_link(first, second, values)) is not None:
            return first, second, link
        firsts = [first] + rng.sample(self.pool, min(20, len(self.pool)))
        for a in firsts:
            for b in self._others(rng, [a], 40, same_domain=top(a)) + self._others(rng, [a], 40):
                if (link := find_link(a, b, values)) is not None:
                    return a, b, link
        raise PlanImpossible("dependent needs two APIs where a result field of one can feed a parameter of the other")

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
            "missing": plan.missing, "topic": plan.topic, "style": plan.style, "persona": plan.persona,
            "blueprint": [[c.as_dict() for c in step] for step in plan.steps],
            "link": None if plan.link is None else {"field": plan.link.field, "param": plan.link.param,
                                                    "value": plan.link.value},
            "off_topic": None if plan.off_topic is None else plan.off_topic.as_dict()}
