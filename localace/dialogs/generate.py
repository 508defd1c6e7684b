"""Stage B loop: one dialog per slot, kinds scheduled by the mix, resumable and deterministic."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from localace.apis.spec import STORED, ApiSpec
from localace.dialogs.agents import ConsistencyStats, DialogBuilder, DialogRejected
from localace.dialogs.complexity import Band, mean_loss_task
from localace.dialogs.flows import run_flow
from localace.dialogs.model import KINDS, Dialog
from localace.dialogs.plans import Plan, PlanImpossible, PlanSampler, plan_summary
from localace.dialogs.values import ValueMaker
from localace.errors import LocalaceError, UserError
from localace.gc_pause import gc_paused
from localace.hashing import content_hash
from localace.runs import Shard, StallGuard, mark_item, open_slots, record_rejection
from localace.store.cache import CachedBackend
from localace.store.db import Store, utcnow
from localace.scheduler import run_slots
from localace.tasks import Task

STAGE = "dialogs"
# Tool use is the majority, but >= 15% non-tool/irrelevance and >= 10% ask-missing (DESIGN §1B).
DEFAULT_MIX = {"single": 0.18, "parallel": 0.1, "multiple": 0.15, "dependent": 0.1, "non_tool": 0.08,
               "irrelevance": 0.12, "ask_missing": 0.12, "multi_turn": 0.15}
NEXT_DIFFICULTY = {"easy": "harder", "hard": "simpler"}


class DialogsStalled(LocalaceError):
    """Too many slots in a row failed."""


def parse_mix(text: str | None) -> dict[str, float]:
    """`kind=share,...` → normalized shares; kinds not named get 0. None → the default mix."""
    if not text:
        return dict(DEFAULT_MIX)
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in KINDS:
            raise UserError(f"unknown dialog kind {name!r} in --mix (kinds: {', '.join(KINDS)})")
        try:
            mix[name] = float(value)
        except ValueError:
            raise UserError(f"--mix {part!r}: the share must be a number, like {name}=0.2") from None
        if mix[name] < 0:
            raise UserError(f"--mix {part!r}: shares cannot be negative")
    total = sum(mix.values())
    if total <= 0:
        raise UserError("--mix needs at least one kind with a positive share")
    return {k: round(v / total, 6) for k, v in mix.items() if v > 0}


def schedule(mix: dict[str, float], n_slots: int) -> list[str]:
    """Smooth weighted round-robin: every prefix of the schedule follows the mix closely."""
    current = {k: 0.0 for k in mix}
    out = []
    for _ in range(n_slots):
        for k in mix:
            current[k] += mix[k]
        best = max(sorted(mix), key=lambda k: current[k])
        current[best] -= 1.0
        out.append(best)
    return out


@dataclass(frozen=True)
class DialogConfig:
    n: int
    seed: int = 0
    k: int = 3
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    band: tuple[float, float] = (10.0, 90.0)
    complexity: bool = True
    max_attempts: int = 3
    tool_results: str = "values"  # values: typed value generators | model: the generation model writes them
    # Free text first, grammar as the fallback; off, every turn comes from its grammar. A model under 1 GiB
    # almost never passes the free attempt (SmolLM2-135M: 0 of 75 user turns), so it only costs a call.
    free_text: bool = True
    shard: Shard | None = None  # only this shard's slots, n counting this shard's dialogs; not part of the identity

    def identity(self, api_ids: list[str], fingerprint: dict[str, Any]) -> dict[str, Any]:
        return {"seed": self.seed, "k": self.k, "mix": self.mix, "band": list(self.band),
                "complexity": self.complexity, "tool_results": self.tool_results, "free_text": self.free_text,
                "apis": content_hash(sorted(api_ids), 16), "model": content_hash(fingerprint, 16)}


@dataclass(frozen=True)
class DialogEvent:
    slot: int
    kind: str
    dialog: Dialog | None = None
    check: str | None = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.dialog is not None


def load_pool(store: Store) -> list[ApiSpec]:
    with gc_paused():
        return [ApiSpec.from_stored(*r) for r in store.conn.execute("SELECT id, data_json FROM apis ORDER BY id")]


def dialog_filter(run_id: str | None = None, status: str | None = None,
                  kinds: Sequence[str] = ()) -> tuple[str, list[str]]:
    """(" WHERE ..." or "", parameters) selecting dialogs of one run, one status and some kinds."""
    where, params = [], []
    for clause, value in (("run_id=?", run_id), ("status=?", status)):
        if value is not None:
            where.append(clause)
            params.append(value)
    if kinds:
        where.append(f"kind IN ({','.join('?' * len(kinds))})")
        params += list(kinds)
    return (f" WHERE {' AND '.join(where)}" if where else ""), params


def iter_dialogs(store: Store, run_id: str | None = None, *, status: str | None = None,
                 kinds: tuple[str, ...] = ()) -> Iterator[Dialog]:
    """Dialogs in (run, slot) order, optionally of one run, one status and some kinds, parsed one at a time."""
    where, params = dialog_filter(run_id, status, kinds)
    sql = "SELECT data_json FROM dialogs" + where + " ORDER BY run_id, seq"
    # A cursor of its own, so a 100k-dialog export holds one dialog in memory, not all of them.
    for (data,) in store.conn.execute(sql, params):
        yield Dialog.model_validate_json(data, context=STORED)


def load_dialogs(store: Store, run_id: str | None = None, *, status: str | None = None,
                 kinds: tuple[str, ...] = ()) -> list[Dialog]:
    """All of iter_dialogs as a list."""
    with gc_paused():
        return list(iter_dialogs(store, run_id, status=status, kinds=kinds))


def insert_dialog(store: Store, dialog: Dialog, run_id: str, seq: int, status: str = "generated") -> None:
    """One dialog row plus its API links; call inside the work item's transaction."""
    store.db["dialogs"].insert({
        "id": dialog.id, "run_id": run_id, "kind": dialog.kind, "domains": json.dumps(dialog.domains),
        "complexity": dialog.complexity, "status": status, "data_json": dialog.model_dump_json(),
        "created_at": utcnow(), "seq": seq, "api_ids": json.dumps(dialog.api_ids), "n_turns": len(dialog.turns),
    })
    for api_id in dict.fromkeys(dialog.api_ids):
        store.conn.execute("INSERT OR IGNORE INTO dialog_apis VALUES (?, ?)", (dialog.id, api_id))


Gate = Callable[[Dialog], Task["tuple[str, str] | None"]]
# A kind whose slots keep failing is topped up this many times its quota (at least GIVE_UP_MIN slots, each of
# max_attempts attempts) before it is given up: a pool that cannot serve it (no two linkable APIs for `dependent`) must not stall the whole run.
GIVE_UP_FACTOR = 2
GIVE_UP_MIN = 4


FREE_TEXT_MIN_BYTES = 1 << 30


def free_text_for_size(model_bytes: int | None) -> bool:
    """Whether free-text attempts are worth their call: not for a GGUF under 1 GiB (None: not a GGUF)."""
    return model_bytes is None or model_bytes >= FREE_TEXT_MIN_BYTES


def quotas(mix: dict[str, float], n: int) -> dict[str, int]:
    """How many kept dialogs each kind must have: the first n slots of the schedule, counted."""
    counts = Counter(schedule(mix, n))
    return {k: counts.get(k, 0) for k in mix}


def _first_user(dialog: Dialog) -> str:
    from localace.kinds.said import norm_text

    text = next((t.content for t in dialog.turns if t.role == "user" and t.content), "")
    return norm_text(text).strip()


class DialogGenerator:
    def __init__(self, gen: CachedBackend, store: Store, run_id: str, cfg: DialogConfig,
                 pool: list[ApiSpec] | Callable[[], list[ApiSpec]], learner: CachedBackend | None = None,
                 gate: Gate | None = None, backends: dict[str, CachedBackend] | None = None) -> None:
        """pool: the APIs, or a function returning them (called only once a dialog has to be generated).
        gate: the checks a dialog must pass before it counts (the rule layer, enforcing judges): a dialog that
        fails one is a rejected attempt, so the run tops its kind up and `n` means n kept dialogs."""
        self.gen, self.store, self.run_id, self.cfg = gen, store, run_id, cfg
        self.gate = gate
        self.extra_backends = backends or {}
        self.quota = quotas(cfg.mix, cfg.n)
        self._openings: set[str] | None = None
        self.in_flight: Counter[str] = Counter()
        # Failed slots per kind, from the database (a failed slot records its kind), so a resumed run gives up on
        # the same kinds at the same slots as an uninterrupted one.
        self.failed_slots: Counter[str] = Counter(dict(store.conn.execute(
            "SELECT substr(result_id, 6), COUNT(*) FROM work_items WHERE run_id=? AND stage=? AND status='failed'"
            " AND result_id LIKE 'kind:%' GROUP BY 1", (run_id, STAGE)).fetchall()))
        self._pool = pool
        self._sampler: PlanSampler | None = None
        self.learner = learner or gen
        self._kinds: list[str] = []
        self.band = Band(*cfg.band)
        self._scores: dict[str, list[float]] | None = None
        # Resume counts rows; the scores are read only when a new dialog needs the band (a finished run never does).
        self.accepted = store.conn.execute("SELECT COUNT(*) FROM dialogs WHERE run_id=?", (run_id,)).fetchone()[0]

    @property
    def sampler(self) -> PlanSampler:
        if self._sampler is None:
            self._sampler = PlanSampler(self._pool() if callable(self._pool) else self._pool)
        return self._sampler

    @property
    def scores(self) -> dict[str, list[float]]:
        """Complexity scores of this run's dialogs so far, per kind (the band's reference)."""
        if self._scores is None:
            self._scores = {}
            for kind, complexity in self.store.conn.execute(
                    "SELECT kind, complexity FROM dialogs WHERE run_id=? AND complexity IS NOT NULL ORDER BY seq",
                    (self.run_id,)):
                self._scores.setdefault(kind, []).append(complexity)
        return self._scores

    def run(self, parallel: int = 1) -> Iterator[DialogEvent]:
        """Dialogs slot by slot until the run holds n; `parallel` slots in flight, their calls decoded together."""
        guard = StallGuard(30, DialogsStalled, "dialog")
        backends = {"": self.gen, "learner": self.learner, **self.extra_backends}

        def room(in_flight: int) -> bool:
            if self.accepted + in_flight >= self.cfg.n:
                return False
            if self.cfg.shard is None and self._next_is_top_up() and self._deficit() is None:
                return False  # every kind still short of its quota is in flight or has been given up
            self.sampler  # noqa: B018 -- an unusable pool fails the stage here, not slot by slot as rejections
            return True

        slots = open_slots(self.store, self.run_id, STAGE, self.cfg.shard)
        for event in run_slots(slots, self.slot_task, backends, parallel=parallel, room=room):
            yield event
            guard.record(event.accepted, event.check, event.reason)

    def kind_of(self, slot: int) -> str:
        """The first n slots follow the mix's schedule; a slot after them tops up the kind furthest below its
        quota (kept plus in flight), so the kept dialogs follow the mix whatever the checks reject."""
        if self.cfg.shard is None and slot >= self.cfg.n:
            kind = self._deficit()
            if kind is not None:
                return kind
        if len(self._kinds) <= slot:
            self._kinds = schedule(self.cfg.mix, max(2 * len(self._kinds), self.cfg.n, slot + 1))
        return self._kinds[slot]

    def kept_by_kind(self) -> Counter[str]:
        return Counter(dict(self.store.conn.execute(
            "SELECT kind, COUNT(*) FROM dialogs WHERE run_id=? GROUP BY kind", (self.run_id,)).fetchall()))

    def _deficit(self) -> str | None:
        """The kind to top up: the one furthest below its quota; when the only kinds short of theirs were given
        up, the kind furthest below its share of what is left (n kept still means n, in the nearest mix)."""
        kept = self.kept_by_kind()
        live = {k: q for k, q in self.quota.items() if self.failed_slots.get(k, 0) < max(GIVE_UP_MIN, GIVE_UP_FACTOR * q)}
        have = {k: kept.get(k, 0) + self.in_flight.get(k, 0) for k in self.quota}
        short = {k: q - have[k] for k, q in live.items()}
        best = max(sorted(short), key=lambda k: short[k], default=None)
        if best is not None and short[best] > 0:
            return best
        if sum(have.values()) >= self.cfg.n or not live:
            return None
        return min(sorted(live), key=lambda k: have[k] / self.cfg.mix[k] if self.cfg.mix.get(k) else float("inf"))

    def _next_is_top_up(self) -> bool:
        done = self.store.conn.execute("SELECT COUNT(*) FROM work_items WHERE run_id=? AND stage=?",
                                       (self.run_id, STAGE)).fetchone()[0]
        return done + sum(self.in_flight.values()) >= self.cfg.n

    def slot_task(self, slot: int) -> Task[DialogEvent]:
        """Attempts (each a fresh plan) until a dialog is committed for the slot, or the slot is marked failed."""
        kind = self.kind_of(slot)
        self.in_flight[kind] += 1
        try:
            event = yield from self._slot(slot, kind)
        finally:
            self.in_flight[kind] -= 1
        if not event.accepted and event.check != "target_reached":
            self.failed_slots[kind] += 1
        return event

    def _slot(self, slot: int, kind: str) -> Task[DialogEvent]:
        last = ("", "")
        for attempt in range(self.cfg.max_attempts):
            rng = random.Random(content_hash([self.cfg.seed, slot, attempt], 16))
            stats = ConsistencyStats()
            try:
                plan = self.sampler.sample(kind, rng)
            except PlanImpossible as e:
                record_rejection(self.store, self.run_id, STAGE, slot, attempt, "plan", str(e), {"plan": {"kind": kind}})
                last = ("plan", str(e))
                continue
            try:
                dialog = yield from self._dialog(plan, slot, attempt, stats)
                if self.gate is not None and (failed := (yield from self.gate(dialog))) is not None:
                    raise DialogRejected(*failed)
            except DialogRejected as r:
                record_rejection(self.store, self.run_id, STAGE, slot, attempt, r.check, r.reason,
                                 {"plan": plan_summary(plan), "consistency": stats.as_dict(),
                                  "turns": [t.model_dump(mode="json") for t in getattr(r, "turns", [])]})
                last = (r.check, r.reason)
                continue
            if self.store.conn.execute("SELECT 1 FROM dialogs WHERE id=?", (dialog.id,)).fetchone():
                record_rejection(self.store, self.run_id, STAGE, slot, attempt, "duplicate", "identical dialog exists")
                last = ("duplicate", "identical dialog exists")
                continue
            if self.accepted >= self.cfg.n:  # other slots in flight reached the target first
                return DialogEvent(slot, kind, None, "target_reached", "the run already has its dialogs")
            if self._duplicate_request(dialog):
                record_rejection(self.store, self.run_id, STAGE, slot, attempt, "duplicate_request",
                                 "another kept dialog opens with the same user turn")
                last = ("duplicate_request", "another kept dialog opens with the same user turn")
                continue
            self._commit(dialog, slot, attempt)
            return DialogEvent(slot, kind, dialog)
        with self.store.transaction():
            mark_item(self.store, self.run_id, STAGE, slot, "failed", self.cfg.max_attempts, f"kind:{kind}")
        return DialogEvent(slot, kind, None, *last)

    def _duplicate_request(self, dialog: Dialog) -> bool:
        """Whether a dialog of this run already opens with the same user turn (normalized)."""
        first = _first_user(dialog)
        if not first:
            return False
        if self._openings is None:
            self._openings = {_first_user(d) for d in iter_dialogs(self.store, self.run_id)}
        return first in self._openings

    def _build(self, plan: Plan, slot: int, attempt: int, stats: ConsistencyStats, difficulty: str) -> Task[Dialog]:
        salt = [self.cfg.seed, slot, attempt, difficulty]
        b = DialogBuilder(plan.offered, salt, k=self.cfg.k, stats=stats, persona=plan.persona, style=plan.style,
                          values=ValueMaker(content_hash([*salt, "results"], 16)),
                          tool_model=self.cfg.tool_results == "model", free_text=self.cfg.free_text)
        try:
            yield from run_flow(b, plan, difficulty)
        except DialogRejected as r:
            r.turns = b.turns  # type: ignore[attr-defined]  # kept with the rejection: nothing is lost
            raise
        return Dialog(kind=plan.kind, tools=plan.offered, turns=b.turns, domains=plan.domains,
                      seed=self.cfg.seed, meta={"run_id": self.run_id, "slot": slot, "attempt": attempt,
                                                "difficulty": difficulty, "plan": plan_summary(plan),
                                                "preference_pairs": b.preference_pairs})

    def _dialog(self, plan: Plan, slot: int, attempt: int, stats: ConsistencyStats) -> Task[Dialog]:
        dialog = yield from self._build(plan, slot, attempt, stats, "normal")
        if not self.cfg.complexity:
            return self._finish(dialog, stats, None, "ok")
        score = yield from mean_loss_task(dialog, "learner")
        seen = self.scores.get(plan.kind, [])
        verdict = self.band.classify(score, seen)
        if verdict == "ok":
            return self._finish(dialog, stats, score, verdict)
        # Too easy → the user agent makes the request harder (further from the API wording);
        # too hard → simpler. One adjustment; still out of band → rejected, with both scores.
        retry = yield from self._build(plan, slot, attempt, stats, NEXT_DIFFICULTY[verdict])
        score2 = yield from mean_loss_task(retry, "learner")
        verdict2 = self.band.classify(score2, seen)
        if verdict2 != "ok":
            raise DialogRejected("complexity", f"{verdict} ({score}) then {verdict2} ({score2}) "
                                               f"outside the {self.cfg.band} percentile band")
        return self._finish(retry, stats, score2, f"adjusted from {verdict}")

    def _finish(self, dialog: Dialog, stats: ConsistencyStats, score: float | None, band: str) -> Dialog:
        meta = {**dialog.meta, "consistency": stats.as_dict(), "band": band}
        return dialog.model_copy(update={"complexity": score, "meta": meta})

    def _commit(self, dialog: Dialog, slot: int, attempt: int) -> None:
        with self.store.transaction():
            insert_dialog(self.store, dialog, self.run_id, slot)
            mark_item(self.store, self.run_id, STAGE, slot, "done", attempt + 1, dialog.id)
        self.accepted += 1
        if self._openings is not None:
            self._openings.add(_first_user(dialog))
        if dialog.complexity is not None:
            self.scores.setdefault(dialog.kind, []).append(dialog.complexity)
