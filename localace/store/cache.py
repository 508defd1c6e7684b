"""The generation cache: a request whose content hash is stored never reaches the model again."""

from __future__ import annotations

import json
import time
from typing import Any

from localace.backends.base import Backend, Completion, Message, Output, Sampling
from localace.errors import GENERATION_ERRORS, GenerationError
from localace.hashing import canonical_json, content_hash
from localace.store.db import Store, utcnow


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
        row = self._lookup(key)
        if row is not None:
            if not row["ok"]:
                raise GENERATION_ERRORS.get(row["error_kind"], GenerationError)(row["error_message"])
            return Completion(text=row["text"], value=json.loads(row["value_json"]) if row["value_json"] else None,
                              prompt_tokens=row["prompt_tokens"], cached_tokens=row["cached_tokens"],
                              completion_tokens=row["completion_tokens"], seconds=row["seconds"],
                              finish_reason=row["finish_reason"] or "stop", cache_hit=True)
        request = {"messages": messages, "output": output.key() if output else None,
                   "sampling": sampling.model_dump(mode="json")}
        try:
            completion = self.backend.generate(messages, output=output, sampling=sampling)
        except GenerationError as e:
            # Failures are cached too: the same request would fail the same way (same seed).
            self._commit(key, template_hash, request, ok=False, error_kind=e.kind, error_message=str(e),
                         **(e.usage or {}))
            raise
        self._commit(key, template_hash, request, ok=True, text=completion.text,
                     value_json=None if completion.value is None else json.dumps(completion.value, ensure_ascii=False),
                     prompt_tokens=completion.prompt_tokens, cached_tokens=completion.cached_tokens,
                     completion_tokens=completion.completion_tokens, seconds=completion.seconds,
                     finish_reason=completion.finish_reason)
        return completion

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
