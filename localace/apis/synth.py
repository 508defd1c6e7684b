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

from localace.apis import operators as ops
from localace.apis.draft import DraftError, describe_api, draft_to_spec, spec_to_draft
from localace.apis.field_text import clean_descriptions
from localace.apis.naming import (
    Vocab, describe_functionality, example_leaks, field_names, functionality_verb, odd_name_reason,
)
from localace.apis.spec import STORED, ApiSpec, InvalidApiSpecError, param_types
from localace.apis.text_norm import norm_key, similar
from localace.apis.tree import TreeNode, load_tree
from localace.backends.base import Output, Sampling
from localace.errors import GenerationError, LocalaceError
from localace.gc_pause import gc_paused
from localace.hashing import content_hash
from localace.prompts import load_prompt
from localace.runs import Shard, StallGuard, mark_item, open_slots, record_rejection
from localace.store.cache import CachedBackend
from localace.store.db import Store, utcnow
from localace.scheduler import run_slots
from localace.tasks import Request, Task

STAGE = "apis"
SYSTEM = "You are an expert API designer. Answer only with the requested JSON."
# Operator targets: parameter-type categories the steering tries to keep covered.
TARGETS: dict[str, tuple[str, str | None]] = {
    "enum": ("add_constraint", "enum"), "format": ("add_constraint", "format"),
    "pattern": ("add_constraint", "pattern"), "range": ("add_constraint", "range"),
    "object": ("change_type", "object"), "nested_object": ("change_type", "nested_object"),
    "array_of_objects": ("change_type", "array_of_objects"), "array_of_arrays": ("change_type", "array_of_arrays"),
    "array": ("add_parameter", "array"), "boolean": ("add_parameter", "boolean"),
    "number": ("add_parameter", "number"), "integer": ("add_parameter", "integer"),
}
EXTRA_MOVES: list[tuple[str, str | None]] = [("change_returns", None), ("add_constraint", "length"),
                                             ("add_constraint", "items"), ("change_type", "typed_array"),
                                             ("add_parameter", None)]


class SynthesisStalled(LocalaceError):
    """Too many slots failed in a row: the model cannot produce valid APIs with this setup."""


@dataclass(frozen=True)
class SynthConfig:
    n: int
    seed: int = 0
    generations: int = 2
    max_attempts: int = 4
    related_share: float = 0.2
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
                    raise _Reject("duplicate", problem, spec_to_draft(spec))
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

    def _candidate(self, rng: random.Random, slot: int, attempt: int) -> Task[tuple[ApiSpec, list[ops.Step]]]:
        salt = [self.cfg.seed, slot, attempt]
        top = self._pick_domain(rng)
        same_domain = [a for a in self.state.accepted if a.domain and a.domain[0] == top]
        document = self.documents.get(top, "")
        path, functionalities = self._subtree(rng, top)
        # The functionality the tree picked is the API's description: a small model's own descriptions drift
        # ("a one-line solution in Python"), the document's phrase does not.
        description = describe_functionality(functionalities)
        context = " ".join([*functionalities, *path])
        if same_domain and rng.random() < self.cfg.related_share:
            # A related API: another functionality of the same domain, written with an accepted API of that domain
            # as its example, whose returned fields it may take as inputs (the next step of a workflow).
            example = rng.choice(same_domain)
            vocab = Vocab(functionalities, path, document, extra_params=sorted(field_names(example.returns)),
                          taken=self._name_taken)
            template, operator = "api_related", "add_related"
        else:
            example = self._example(rng, top)
            vocab = Vocab(functionalities, path, document, taken=self._name_taken)
            template, operator = "api_write", "write"
        verb = functionality_verb(functionalities[0])
        schema = vocab.draft_schema(verb)
        try:
            draft = yield from self._ask(salt, template, Output.json(schema), "draft", 700, domain=top,
                                         functionalities=functionalities, description=description, verb=verb,
                                         inputs=vocab.core_params, outputs=vocab.core_returns,
                                         example=describe_api(example))
            spec = draft_to_spec({**draft, "description": description}, path).replace(parent_id=example.id,
                                                                                      operator=operator)
        except GenerationError as e:
            raise _Reject(f"generation:{e.kind}", str(e)) from None
        except (DraftError, InvalidApiSpecError) as e:
            raise _Reject("definition", str(e), draft) from None
        detail = f"related to {example.name}" if operator == "add_related" else f"from example {example.name}"
        steps = [ops.Step(operator, f"{detail}; {len(functionalities)} functionalities")]
        if reason := odd_name_reason(spec.name):
            raise _Reject("odd_name", reason, spec_to_draft(spec))
        for g in range(self.cfg.generations):
            operator, arg = self._pick_move(rng, spec)

            def ask(name: str, output: Output, s: str, _g: int = g, **v: Any) -> Task[Any]:
                return self._ask([*salt, _g], name, output, s, **v)

            try:
                if operator == "add_parameter":
                    spec, step = yield from ops.add_parameter(ask, spec, rng, arg, vocab.param_pattern())
                elif operator == "add_constraint":
                    spec, step = yield from ops.add_constraint(ask, spec, rng, arg or "enum")
                elif operator == "change_type":
                    spec, step = yield from ops.change_type(ask, spec, rng, arg or "object", vocab.nested_pattern())
                else:
                    spec, step = yield from ops.change_returns(ask, spec, rng, vocab.return_pattern())
            except (ops.OperatorFailed, GenerationError, InvalidApiSpecError) as e:
                record_rejection(self.store, self.run_id, STAGE, slot, attempt, f"operator:{operator}",
                                 f"{arg or ''} {e}".strip())
                continue
            steps.append(step)
        if leaks := example_leaks(spec, example, f"{context} {document}"):
            raise _Reject("example_leak", f"fields {', '.join(leaks)} come from the example {example.name} and have "
                                          f"nothing to do with this API's functionality", spec_to_draft(spec))
        names = "+".join(s.operator for s in steps)
        spec, _ = clean_descriptions(spec)  # last: the operators write descriptions too
        return spec.replace(operator=names), steps

    def _example(self, rng: random.Random, top: str) -> ApiSpec:
        """An example of form: an accepted API of the same domain when there is one (its content fits), else
        any example; the name constraint keeps the model from copying another domain's fields."""
        same = [a for a in self.state.buffer if a.domain and a.domain[0] == top]
        return rng.choice(same or self.state.buffer)

    def _pick_domain(self, rng: random.Random) -> str:
        if not self.tops:
            raise _Reject("tree", "the API context tree is empty")
        fewest = min(self.state.domains.get(t, 0) for t in self.tops)
        return rng.choice([t for t in self.tops if self.state.domains.get(t, 0) == fewest])

    def _subtree(self, rng: random.Random, top: str) -> tuple[list[str], list[str]]:
        nodes = [n for n in self.tree if n.top_domain == top and n.depth > 0]
        if not nodes:
            return [top], [top]
        by_id = {n.id: n for n in self.tree}
        if rng.random() < 0.5:  # simple API: one functionality
            node = rng.choice(nodes)
            return _path(node, by_id), [node.name]
        level1 = [n for n in nodes if n.depth == 1] or nodes
        node = rng.choice(level1)
        children = [n for n in nodes if n.parent_id == node.id]
        picked = rng.sample(children, min(len(children), rng.randint(1, 3))) if children else []
        return _path(node, by_id), [node.name] + [c.name for c in picked]

    def _pick_move(self, rng: random.Random, spec: ApiSpec) -> tuple[str, str | None]:
        """Mostly steer toward the least-covered parameter-type category; sometimes explore."""
        present = {s.get("type") for s in spec.parameters.get("properties", {}).values()}
        usable = {t: move for t, move in TARGETS.items() if _applicable(move, present)}
        if usable and rng.random() < 0.6:
            fewest = min(self.state.types.get(t, 0) for t in usable)
            return usable[rng.choice(sorted(t for t in usable if self.state.types.get(t, 0) == fewest))]
        return rng.choice([m for m in list(TARGETS.values()) + EXTRA_MOVES if _applicable(m, present)])

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
        for other in self.state.accepted:
            if similar(text, f"{other.name} {other.description}", 0.85):
                return f"near-duplicate of {other.name}"
        return None


class _Reject(Exception):
    def __init__(self, check: str, reason: str, payload: Any = None) -> None:
        super().__init__(reason)
        self.check, self.reason, self.payload = check, reason, payload


_NEEDS: dict[str, set[str]] = {
    "range": {"integer", "number"}, "items": {"array"}, "enum": {"string"}, "format": {"string"},
    "pattern": {"string"}, "length": {"string"},
}


def _applicable(move: tuple[str, str | None], present: set[str | None]) -> bool:
    operator, arg = move
    if operator == "add_constraint":
        return bool(_NEEDS.get(arg or "enum", set()) & present)
    if operator == "change_type":
        return bool({"string", "array", "integer", "number"} & present)
    return True


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
