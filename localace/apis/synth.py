"""Adaptation + evolution: sample a subtree and an example, let the model write an API, mutate it
with diversity operators, and keep it when it is valid and new. Resumable slot by slot."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from localace.apis import kinded
from localace.apis.naming import describe_functionality, odd_name_reason
from localace.apis.spec import STORED, ApiSpec, InvalidApiSpecError, param_types
from localace.apis.text_norm import norm_key, similar
from localace.apis.tree import TreeNode, load_tree
from localace.backends.base import Output, Sampling
from localace.errors import GenerationError, LocalaceError
from localace.gc_pause import gc_paused
from localace.hashing import content_hash
from localace.kinds import Kind, catalogue
from localace.prompts import load_prompt
from localace.runs import Shard, StallGuard, mark_item, open_slots, record_rejection
from localace.store.cache import CachedBackend
from localace.store.db import Store, utcnow
from localace.scheduler import run_slots
from localace.tasks import Request, Task

STAGE = "apis"
SYSTEM = "You are an expert API designer. Answer only with the requested JSON."
# Parameter-type categories the steering keeps covered (the kinds' evolution moves, see apis/kinded.py).
TARGETS = {t: move for t, move in kinded.MOVES.items() if t != "returns"}


class SynthesisStalled(LocalaceError):
    """Too many slots failed in a row: the model cannot produce valid APIs with this setup."""


@dataclass(frozen=True)
class SynthConfig:
    n: int
    seed: int = 0
    generations: int = 2
    max_attempts: int = 4
    related_share: float = 0.4  # the next step of a workflow: what makes `dependent` dialogs possible
    shard: Shard | None = None  # only this shard's slots, n counting this shard's APIs (localace.scale)


@dataclass(frozen=True)
class SynthEvent:
    slot: int
    accepted: bool
    api: ApiSpec | None = None
    check: str | None = None
    reason: str | None = None


@dataclass
class _State:
    buffer: list[ApiSpec]
    accepted: list[ApiSpec] = field(default_factory=list)
    domains: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)

    @property
    def used(self) -> set[str]:
        """The functionalities accepted APIs were built from (the first phrase of their descriptions)."""
        return {_main_phrase(a.description) for a in self.accepted}

    def add(self, spec: ApiSpec) -> None:
        self.accepted.append(spec)
        self.buffer.append(spec)
        self.domains[spec.domain[0] if spec.domain else ""] += 1
        self.types.update(param_types(spec))


def builtin_examples() -> list[ApiSpec]:
    data = json.loads(files("localace.apis").joinpath("builtin_examples.json").read_text(encoding="utf-8"))
    return [ApiSpec(**d) for d in data]


def insert_api(store: Store, spec: ApiSpec, *, run_id: str | None = None, steps: list[dict] | None = None,
               seq: int | None = None) -> None:
    """One API row (synthesized, or imported with run_id None); call inside a transaction."""
    store.db["apis"].insert({
        "id": spec.id, "run_id": run_id, "name": spec.name, "top_domain": spec.domain[0] if spec.domain else None,
        "data_json": spec.model_dump_json(), "created_at": utcnow(), "parent_id": spec.parent_id,
        "operators": json.dumps(steps or []), "source": spec.source, "norm_key": norm_key(spec.name), "seq": seq,
    })


def load_run_apis(store: Store, run_id: str) -> list[ApiSpec]:
    rows = store.conn.execute("SELECT id, data_json FROM apis WHERE run_id=? ORDER BY seq", (run_id,))
    with gc_paused():
        return [ApiSpec.from_stored(*r) for r in rows]


def imported_before(store: Store, created_at: str) -> list[ApiSpec]:
    rows = store.conn.execute(
        "SELECT id, data_json FROM apis WHERE run_id IS NULL AND created_at <= ? ORDER BY created_at, id", (created_at,))
    with gc_paused():
        return [ApiSpec.from_stored(*r) for r in rows]


class ApiSynthesizer:
    def __init__(self, gen: CachedBackend, store: Store, run_id: str, tree_id: str, cfg: SynthConfig,
                 documents: dict[str, str] | None = None, taken_names: Iterable[str] = ()) -> None:
        """documents: text of each top-level domain's source document (its words may name fields);
        taken_names: API names made elsewhere (other shards) that this database does not hold."""
        self.gen, self.store, self.run_id, self.cfg = gen, store, run_id, cfg
        self.taken = {norm_key(n) for n in taken_names}
        self.documents = documents or {}
        self.tree = load_tree(store, tree_id)
        self.tops = sorted({n.top_domain for n in self.tree})
        # Resume counts rows; the accepted specs (dedup, coverage, examples) are parsed only when a new API is
        # made, so resuming a finished 26k-API run costs a COUNT, not a full load.
        self.accepted = store.conn.execute("SELECT COUNT(*) FROM apis WHERE run_id=?", (run_id,)).fetchone()[0]
        self._state: _State | None = None

    @property
    def state(self) -> _State:
        if self._state is None:
            created = self.store.conn.execute("SELECT created_at FROM runs WHERE id=?", (self.run_id,)).fetchone()[0]
            self._state = _State(buffer=builtin_examples() + imported_before(self.store, created))
            for spec in load_run_apis(self.store, self.run_id):
                self._state.add(spec)
        return self._state

    def run(self, parallel: int = 1) -> Iterator[SynthEvent]:
        """APIs slot by slot until the run holds n; `parallel` slots in flight, their calls decoded together."""
        guard = StallGuard(25, SynthesisStalled, "API")
        slots = open_slots(self.store, self.run_id, STAGE, self.cfg.shard)
        for event in run_slots(slots, self.slot_task, self.gen, parallel=parallel,
                               room=lambda in_flight: self.accepted + in_flight < self.cfg.n):
            yield event
            guard.record(event.accepted, event.check, event.reason)

    # --- one slot -----------------------------------------------------------------------------
    def slot_task(self, slot: int) -> Task[SynthEvent]:
        """Attempts until one API is accepted and committed (or the slot is marked failed)."""
        last: tuple[str, str] = ("", "")
        for attempt in range(self.cfg.max_attempts):
            rng = random.Random(content_hash([self.cfg.seed, slot, attempt], 16))
            try:
                spec, steps = yield from self._candidate(rng, slot, attempt)
                problem = self._duplicate_of(spec)
                if problem:
                    raise _Reject("duplicate", problem, spec.definition())
            except _Reject as r:
                record_rejection(self.store, self.run_id, STAGE, slot, attempt, r.check, r.reason, r.payload)
                last = (r.check, r.reason)
                continue
            if self.accepted >= self.cfg.n:  # other slots in flight reached the target first
                return SynthEvent(slot, False, None, "target_reached", "the run already has its APIs")
            state = self.state  # loaded before the insert, so the new spec is added exactly once
            with self.store.transaction():
                insert_api(self.store, spec, run_id=self.run_id, steps=[s.as_dict() for s in steps], seq=slot)
                mark_item(self.store, self.run_id, STAGE, slot, "done", attempt + 1, spec.id)
            state.add(spec)
            self.accepted += 1
            return SynthEvent(slot, True, spec)
        with self.store.transaction():
            mark_item(self.store, self.run_id, STAGE, slot, "failed", self.cfg.max_attempts)
        return SynthEvent(slot, False, None, *last)

    def _ask(self, rng_salt: list[Any], name: str, output: Output, salt: str, max_tokens: int = 400,
             **variables: Any) -> Task[Any]:
        prompt = load_prompt(name)
        completion = yield Request(
            prompt.messages(system=SYSTEM, **variables), output=output, template_hash=prompt.hash,
            sampling=Sampling(temperature=0.8, seed=int(content_hash([*rng_salt, salt], 8), 16), max_tokens=max_tokens),
        )
        return completion.value

    def _candidate(self, rng: random.Random, slot: int, attempt: int) -> Task[tuple[ApiSpec, list[kinded.Step]]]:
        """An API built from kinds: the functionality's words choose its parameters' kinds, the model adds one
        kind of the domain and picks the name among those the functionality allows, the kinds settle names,
        types, ranges, descriptions and returned fields; evolution operators then act on kinds."""
        salt = [self.cfg.seed, slot, attempt]
        top = self._pick_domain(rng, slot, attempt)
        path, functionalities = self._subtree(rng, top, slot if attempt == 0 else None)
        # The functionality the tree picked is the API's description: a small model's own descriptions drift
        # ("a one-line solution in Python"), the document's phrase does not.
        description = describe_functionality(functionalities)
        required = kinded.param_kinds(functionalities, top)
        steps: list[kinded.Step] = []
        parent: ApiSpec | None = None
        same_domain = [a for a in self.state.accepted if a.domain and a.domain[0] == top]
        if same_domain and rng.random() < self.cfg.related_share:
            # A related API: it takes what an accepted API of the domain returns (the next step of a workflow).
            parent = rng.choice(same_domain)
            fed = _returned_kind(parent, {k.param for k in required})
            if fed is not None:
                required = [fed, *required][:4]
        options = kinded.option_kinds(top, required)
        optional: list[Kind] = []
        if options:
            shown = _sample_options(rng, options)
            choices = [k.param for k in shown] + ["nothing"]
            picked = yield from self._choose(salt, "api_kinds", choices, domain=top, description=description,
                                             taken=[k.label for k in required])
            by_param = {k.param: k for k in shown}
            if picked in by_param:
                (optional if required else required).append(by_param[picked])
        if not required:
            raise _Reject("kinds", f"no parameter kind fits {description!r}")
        names = [n for n in kinded.name_choices(functionalities[0], required + optional, top)
                 if not self._name_taken(n)]
        names = [n for n in names if "_by_" not in n] or names  # a "_by_" variant only when the plain names are taken
        if not names:
            raise _Reject("duplicate", f"every name for {description!r} is taken")
        name = names[0]
        if len(names) > 1:
            name = yield from self._choose(salt, "api_name", names, domain=top, description=description,
                                           inputs=[k.label for k in required])
        params = kinded.parameters_for(required, optional)
        returns = kinded.returns_for(functionalities[0], top, required, rng)
        operator = "add_related" if parent is not None else "write"
        steps.append(kinded.Step(operator, f"kinds {', '.join(k.name for k in required + optional)}"
                                        + (f"; related to {parent.name}" if parent is not None else "")))
        for _ in range(self.cfg.generations):
            evolved = None
            for target in self._targets(rng):  # the least covered category first, the others if it cannot apply
                evolved = kinded.evolve(params, returns, top, rng, target)
                if evolved is not None:
                    break
            if evolved is not None:
                params, returns, step = evolved
                steps.append(step)
        try:
            spec = ApiSpec(name=name, description=description, domain=path, parameters=params, returns=returns,
                           parent_id=parent.id if parent is not None else None,
                           operator="+".join(s.operator for s in steps))
        except InvalidApiSpecError as e:
            raise _Reject("definition", str(e)) from None
        if reason := odd_name_reason(spec.name):
            raise _Reject("odd_name", reason, spec.definition())
        return spec, steps

    def _choose(self, salt: list[Any], template: str, choices: list[str], **variables: Any) -> Task[str]:
        """One of `choices`, picked by the model under a choice constraint (a multiple choice a 135M model can make)."""
        try:
            return (yield from self._ask(salt, template, Output.choice(choices), template, 30, choices=choices,
                                         **variables))
        except GenerationError as e:
            raise _Reject(f"generation:{e.kind}", str(e)) from None

    def _pick_domain(self, rng: random.Random, slot: int = 0, attempt: int = 1) -> str:
        """A slot's first attempt takes the domains in turn (slot k, k + len(domains)… share one), so slots in
        flight together never pick the same functionality; a retry takes the least covered fresh domain."""
        if not self.tops:
            raise _Reject("tree", "the API context tree is empty")
        if attempt == 0:
            return self.tops[(slot + self.cfg.seed) % len(self.tops)]
        # Least covered first, among the domains that still have a functionality no API was built from.
        used = self.state.used
        fresh = {n.top_domain for n in self.tree if n.depth > 0 and _main_phrase(n.name) not in used}
        tops = [t for t in self.tops if t in fresh] or self.tops
        fewest = min(self.state.domains.get(t, 0) for t in tops)
        return rng.choice([t for t in tops if self.state.domains.get(t, 0) == fewest])

    def _subtree(self, rng: random.Random, top: str, slot: int | None = None) -> tuple[list[str], list[str]]:
        nodes = [n for n in self.tree if n.top_domain == top and n.depth > 0]
        if not nodes:
            return [top], [top]
        by_id = {n.id: n for n in self.tree}
        if slot is not None:  # the domain's functionalities in turn, in the tree's order: distinct in flight too
            node = sorted(nodes, key=lambda n: (n.depth, n.id))[(slot // len(self.tops)) % len(nodes)]
            children = [n for n in nodes if n.parent_id == node.id]
            picked = rng.sample(children, min(len(children), rng.randint(1, 3))) if children and rng.random() < 0.5 else []
            return _path(node, by_id), [node.name] + [c.name for c in picked]  # simple, or rich with its children
        # Functionalities no API was built from yet come first: built from kinds, the same phrase makes the same API.
        used = self.state.used
        nodes = [n for n in nodes if _main_phrase(n.name) not in used] or nodes
        if rng.random() < 0.5:  # simple API: one functionality
            node = rng.choice(nodes)
            return _path(node, by_id), [node.name]
        level1 = [n for n in nodes if n.depth == 1] or nodes
        node = rng.choice(level1)
        children = [n for n in nodes if n.parent_id == node.id]
        picked = rng.sample(children, min(len(children), rng.randint(1, 3))) if children else []
        return _path(node, by_id), [node.name] + [c.name for c in picked]

    def _targets(self, rng: random.Random) -> list[str]:
        """Evolution targets in the order to try them: mostly the least-covered parameter-type category first
        (ToolACE steers the API pool toward diverse types), sometimes a random one."""
        targets = list(kinded.MOVES)
        rng.shuffle(targets)
        if rng.random() < 0.6:
            targets.sort(key=lambda t: self.state.types.get(t, 0))
        return targets

    def _name_taken(self, name: str) -> bool:
        if norm_key(name) in self.taken:
            return True
        return self.store.conn.execute("SELECT 1 FROM apis WHERE norm_key=? LIMIT 1", (norm_key(name),)).fetchone() is not None

    def _duplicate_of(self, spec: ApiSpec) -> str | None:
        row = self.store.conn.execute("SELECT name FROM apis WHERE norm_key=? OR id=? LIMIT 1",
                                      (norm_key(spec.name), spec.id)).fetchone()
        if row:
            return f"same name as existing API {row[0]}"
        text = f"{spec.name} {spec.description}"
        params = set(spec.parameters.get("properties", {}))
        for other in self.state.accepted:
            # Two APIs of one functionality are variants when they take different parameters (the tree is used
            # up before the pool is full); alike in words and parameters, they are one API.
            if similar(text, f"{other.name} {other.description}", 0.85) and \
                    set(other.parameters.get("properties", {})) == params:
                return f"near-duplicate of {other.name}"
        return None


def _returned_kind(api: ApiSpec, taken: set[str]) -> Kind | None:
    """A kind `api` returns at its top level that another API could take as its input (an id, a code, a place)."""
    for name, schema in api.returns.get("properties", {}).items():
        kind = catalogue().for_param(name, schema)
        if kind is not None and kind.param not in taken and kind.family not in ("boolean", "text", "pick", "choice"):
            return kind
    return None


def _sample_options(rng: random.Random, options: list[Kind]) -> list[Kind]:
    """At most six candidate kinds for the model to choose from: the domain's own first."""
    return rng.sample(options, min(6, len(options)))


class _Reject(Exception):
    def __init__(self, check: str, reason: str, payload: Any = None) -> None:
        super().__init__(reason)
        self.check, self.reason, self.payload = check, reason, payload


def _main_phrase(text: str) -> str:
    return text.split(" (")[0].strip().rstrip(".").lower()


def _path(node: TreeNode, by_id: dict[str, TreeNode]) -> list[str]:
    out = []
    cur: TreeNode | None = node
    while cur is not None:
        out.append(cur.name)
        cur = by_id.get(cur.parent_id) if cur.parent_id else None
    return list(reversed(out))


def coverage(store: Store, run_id: str | None = None) -> dict[str, Counter[str]]:
    """Distribution of top-level domains and parameter-type categories."""
    sql = "SELECT data_json FROM apis" + (" WHERE run_id=?" if run_id else "")
    domains: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for (data,) in store.conn.execute(sql, (run_id,) if run_id else ()):
        spec = ApiSpec.model_validate_json(data, context=STORED)
        domains[spec.domain[0] if spec.domain else "(none)"] += 1
        types.update(param_types(spec))
    return {"domains": domains, "types": types}
