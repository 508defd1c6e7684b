"""The generation cache: a request whose content hash is stored never reaches the model again."""

from __future__ import annotations

import json
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
        row = self.store.conn.execute(
            "SELECT ok, text, value_json, error_kind, error_message, prompt_tokens, cached_tokens,"
            " completion_tokens, seconds, finish_reason FROM generations WHERE key=?", (key,)
        ).fetchone()
        if row is not None:
            self.hits += 1
            ok, text, value_json, kind, message, pt, ct, gt, secs, finish = row
            self._log(key, hit=True, ok=bool(ok), pt=0, ct=0, gt=0, secs=0.0)
            if not ok:
                raise GENERATION_ERRORS.get(kind, GenerationError)(message)
            return Completion(text=text, value=json.loads(value_json) if value_json else None,
                              prompt_tokens=pt, cached_tokens=ct, completion_tokens=gt,
                              seconds=secs, finish_reason=finish or "stop", cache_hit=True)
        self.misses += 1
        request = canonical_json({"messages": messages, "output": output.key() if output else None,
                                  "sampling": sampling.model_dump(mode="json")})
        base = {"key": key, "backend": self.backend.name, "fingerprint": content_hash(self.fingerprint()),
                "template_hash": template_hash, "request_json": request, "created_at": utcnow()}
        try:
            completion = self.backend.generate(messages, output=output, sampling=sampling)
        except GenerationError as e:
            # Failures are cached too: the same request would fail the same way (same seed).
            with self.store.transaction():
                self.store.db["generations"].insert({**base, "ok": 0, "error_kind": e.kind,
                                                      "error_message": str(e)}, replace=True)
                self._log(key, hit=False, ok=False, pt=0, ct=0, gt=0, secs=0.0)
            raise
        with self.store.transaction():
            self.store.db["generations"].insert({
                **base, "ok": 1, "text": completion.text,
                "value_json": None if completion.value is None else json.dumps(completion.value, ensure_ascii=False),
                "prompt_tokens": completion.prompt_tokens, "cached_tokens": completion.cached_tokens,
                "completion_tokens": completion.completion_tokens, "seconds": completion.seconds,
                "finish_reason": completion.finish_reason,
            }, replace=True)
            self._log(key, hit=False, ok=True, pt=completion.prompt_tokens, ct=completion.cached_tokens,
                      gt=completion.completion_tokens, secs=completion.seconds)
        return completion

    def score(self, messages: list[Message], target: str, template_hash: str = "score") -> tuple[float, int]:
        """Cached log-likelihood of `target` after `messages` (complexity scoring)."""
        key = request_key(self.fingerprint(), template_hash, [*messages, {"role": "score", "content": target}],
                          None, Sampling())
        row = self.store.conn.execute("SELECT value_json FROM generations WHERE key=? AND ok=1", (key,)).fetchone()
        if row is not None:
            self.hits += 1
            self._log(key, hit=True, ok=True, pt=0, ct=0, gt=0, secs=0.0)
            total, n = json.loads(row[0])
            return float(total), int(n)
        self.misses += 1
        total, n = self.backend.score(messages, target)  # type: ignore[attr-defined]
        with self.store.transaction():
            self.store.db["generations"].insert({
                "key": key, "backend": self.backend.name, "fingerprint": content_hash(self.fingerprint()),
                "template_hash": template_hash, "request_json": canonical_json({"messages": messages, "score": target}),
                "ok": 1, "text": None, "value_json": json.dumps([total, n]), "finish_reason": "score",
                "created_at": utcnow(),
            }, replace=True)
            self._log(key, hit=False, ok=True, pt=0, ct=0, gt=0, secs=0.0)
        return total, n

    def _log(self, key: str, *, hit: bool, ok: bool, pt: int, ct: int, gt: int, secs: float) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO call_log (session_id, key, hit, ok, prompt_tokens, cached_tokens,"
                " completion_tokens, seconds, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (self.session_id, key, int(hit), int(ok), pt, ct, gt, secs, utcnow()),
            )
