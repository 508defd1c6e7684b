"""The generation cache: a request whose content hash is stored never reaches the model again."""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from localace.backends.base import Backend, Completion, Message, Output, Sampling
from localace.backends.batching import BatchSession, open_session, run_all
from localace.errors import GENERATION_ERRORS, GenerationError, SchemaError
from localace.hashing import canonical_json, content_hash
from localace.store.db import Store, utcnow

if TYPE_CHECKING:
    from localace.tasks import Request


def request_key(fingerprint: dict[str, Any], template_hash: str, messages: list[Message],
                output: Output | None, sampling: Sampling) -> str:
    return content_hash({
        "fingerprint": fingerprint,
        "template": template_hash,
        "messages": messages,
        "output": output.key() if output else None,
        "sampling": sampling.model_dump(mode="json"),
    })


class CachedBackend:
    """Wraps any Backend; every call is looked up, and every result (or failure) is committed."""

    def __init__(self, backend: Backend, store: Store, session_id: int | None = None) -> None:
        self.backend = backend
        self.store = store
        self.session_id = session_id
        self.name = backend.name
        self._fingerprint: dict[str, Any] | None = None
        self.hits = 0
        self.misses = 0

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = self.backend.fingerprint()
        return self._fingerprint

    def generate(self, messages: list[Message], *, output: Output | None = None,
                 sampling: Sampling = Sampling(), template_hash: str = "") -> Completion:
        key = request_key(self.fingerprint(), template_hash, messages, output, sampling)
        cached = self._cached(key)
        if cached is not None:
            if isinstance(cached, GenerationError):
                raise cached
            return cached
        try:
            completion = self.backend.generate(messages, output=output, sampling=sampling)
        except GenerationError as e:
            # Failures are cached too: the same request would fail the same way (same seed).
            self._record(key, template_hash, messages, output, sampling, e)
            raise
        self._record(key, template_hash, messages, output, sampling, completion)
        return completion

    def generate_many(self, requests: Sequence["Request"]) -> list[Any]:
        """Cached requests are served from SQLite; only the misses reach the backend, together; each
        result is committed on its own as it finishes. Failures come back in place."""
        return run_all(self.open_batch(), requests)

    def open_batch(self) -> "CachedSession":
        return CachedSession(self)

    def _cached(self, key: str) -> Completion | GenerationError | None:
        """A stored result (a Completion, or the failure to re-raise), or None when the request is new."""
        row = self._lookup(key)
        if row is None:
            return None
        if not row["ok"]:
            return GENERATION_ERRORS.get(row["error_kind"], GenerationError)(row["error_message"])
        return Completion(text=row["text"], value=json.loads(row["value_json"]) if row["value_json"] else None,
                          prompt_tokens=row["prompt_tokens"], cached_tokens=row["cached_tokens"],
                          completion_tokens=row["completion_tokens"], seconds=row["seconds"],
                          finish_reason=row["finish_reason"] or "stop", cache_hit=True)

    def _record(self, key: str, template_hash: str, messages: list[Message], output: Output | None,
                sampling: Sampling, result: Completion | GenerationError) -> None:
        request = {"messages": messages, "output": output.key() if output else None,
                   "sampling": sampling.model_dump(mode="json")}
        if isinstance(result, GenerationError):
            self._commit(key, template_hash, request, ok=False, error_kind=result.kind, error_message=str(result),
                         **(result.usage or {}))
            return
        self._commit(key, template_hash, request, ok=True, text=result.text,
                     value_json=None if result.value is None else json.dumps(result.value, ensure_ascii=False),
                     prompt_tokens=result.prompt_tokens, cached_tokens=result.cached_tokens,
                     completion_tokens=result.completion_tokens, seconds=result.seconds,
                     finish_reason=result.finish_reason)

    def score(self, messages: list[Message], target: str, template_hash: str = "score") -> tuple[float, int]:
        """Cached log-likelihood of `target` after `messages` (complexity scoring)."""
        key = request_key(self.fingerprint(), template_hash, [*messages, {"role": "score", "content": target}],
                          None, Sampling())
        row = self._lookup(key)
        if row is not None and row["ok"]:
            total, n = json.loads(row["value_json"])
            return float(total), int(n)
        start = time.perf_counter()
        total, n = self.backend.score(messages, target)  # type: ignore[attr-defined]
        self._commit(key, template_hash, {"messages": messages, "score": target}, ok=True,
                     value_json=json.dumps([total, n]), finish_reason="score", seconds=time.perf_counter() - start)
        return total, n

    def _lookup(self, key: str) -> dict[str, Any] | None:
        """The cached row of a request (counted and logged as a hit), or None (a miss)."""
        cur = self.store.conn.execute("SELECT * FROM generations WHERE key=?", (key,))
        row = cur.fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        record = dict(zip((c[0] for c in cur.description), row))
        self._log(key, hit=True, ok=bool(record["ok"]), pt=0, ct=0, gt=0, secs=0.0)
        return record

    def _commit(self, key: str, template_hash: str, request: dict[str, Any], *, ok: bool, **fields: Any) -> None:
        """Store one result (or failure) and its call-log line in one transaction."""
        row = {"key": key, "backend": self.backend.name, "fingerprint": content_hash(self.fingerprint()),
               "template_hash": template_hash, "request_json": canonical_json(request), "created_at": utcnow(),
               "ok": int(ok), **fields}
        with self.store.transaction():
            self.store.db["generations"].insert(row, replace=True)
            self._log(key, hit=False, ok=ok, pt=fields.get("prompt_tokens", 0), ct=fields.get("cached_tokens", 0),
                      gt=fields.get("completion_tokens", 0), secs=fields.get("seconds", 0.0))

    def _log(self, key: str, *, hit: bool, ok: bool, pt: int, ct: int, gt: int, secs: float) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO call_log (session_id, key, hit, ok, prompt_tokens, cached_tokens,"
                " completion_tokens, seconds, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (self.session_id, key, int(hit), int(ok), pt, ct, gt, secs, utcnow()),
            )


class CachedSession:
    """A batch session through the cache: hits (and score requests, which run one at a time on the
    single-request path) are ready at the next step without touching the batch; misses go to the
    backend's session, opened on the first miss so that a fully cached run never loads the model.
    A request identical to one already decoding waits for that one and is counted as a cache hit."""

    def __init__(self, cached: CachedBackend) -> None:
        self.cached = cached
        self.inner: BatchSession | None = None
        self.ready: list[tuple[Hashable, Any]] = []
        self.decoding: dict[str, tuple[Request, list[Hashable]]] = {}  # key -> request, tickets waiting on it

    def add(self, ticket: Hashable, request: "Request") -> None:
        from localace.tasks import serve

        gen = self.cached
        if request.op == "score":
            self.ready.append((ticket, serve(gen, request)))
            return
        key = request_key(gen.fingerprint(), request.template_hash, request.messages, request.output, request.sampling)
        if key in self.decoding:
            self.decoding[key][1].append(ticket)
            return
        cached = gen._cached(key)
        if cached is not None:
            self.ready.append((ticket, cached))
            return
        if self.inner is None:
            self.inner = open_session(gen.backend)
        self.decoding[key] = (request, [ticket])
        self.inner.add(key, request)

    def step(self) -> list[tuple[Hashable, Any]]:
        out, self.ready = self.ready, []
        if self.inner is None or not self.inner.busy:
            return out
        for key, result in self.inner.step():
            request, tickets = self.decoding.pop(key)  # type: ignore[arg-type]
            # A SchemaError is about the request, not the model: not cached (as on the single path).
            stored = not isinstance(result, SchemaError)
            if stored:
                self.cached._record(key, request.template_hash, request.messages, request.output,  # type: ignore[arg-type]
                                    request.sampling, result)
            out.append((tickets[0], result))
            for ticket in tickets[1:]:
                if stored:
                    self.cached._cached(key)  # counted and logged as the hit it is on the one-at-a-time path
                out.append((ticket, _again(result)))
        return out

    @property
    def busy(self) -> bool:
        return bool(self.ready or self.decoding)

    def close(self) -> None:
        self.ready.clear()
        self.decoding.clear()
        if self.inner is not None:
            self.inner.close()


def _again(result: Any) -> Any:
    """The result a duplicate request gets: a cache hit, or a fresh copy of the failure."""
    if isinstance(result, Completion):
        return result.model_copy(update={"cache_hit": True})
    return type(result)(str(result))
