"""Outlines (llguidance backend) logits processors: compiled once per constraint, reset per call."""

from __future__ import annotations

import json
import re
from typing import Any

from localace.backends.base import Output
from localace.backends.validation import check_schema_supported
from localace.errors import SchemaError

# Whitespace inside JSON is the commonest way a small model rambles until max_tokens; a fixed
# layout removes that degree of freedom while staying readable.
JSON_LAYOUT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


class GuardedProcessor:
    """Wraps an Outlines llguidance processor so it is reusable and never fails silently.

    llama.cpp swallows exceptions raised inside a logits processor and keeps generating
    unconstrained; we record the error instead and force end-of-sequence so the caller can
    raise a typed error after the call."""

    def __init__(self, inner: Any, eos_token: int) -> None:
        self.inner = inner
        self.eos_token = eos_token
        self.error: str | None = None
        self._fresh = True

    def reset(self) -> None:
        self.error = None
        matchers = getattr(self.inner, "ll_matchers", None)
        if matchers:
            # Reuse the compiled matcher: rolling it back is far cheaper than rebuilding it.
            for m in matchers:
                m.reset()
            self._fresh = True
        else:
            self.inner.reset()
            self._fresh = False

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        if self.error is not None:
            return self._only_eos(logits)
        try:
            if self._fresh and getattr(self.inner, "ll_matchers", None):
                # First step after a reset: nothing generated yet, so nothing to consume.
                self._fresh = False
                out = self.inner.tensor_adapter.squeeze(
                    self.inner._bias_logits(input_ids.reshape(1, -1), logits.reshape(1, -1))
                )
            else:
                self._fresh = False
                out = self.inner(input_ids, logits)
            # Checked on every step, the first included: a matcher in error leaves only end-of-sequence open,
            # which would otherwise end the output at once with no error recorded.
            for m in self.inner.ll_matchers:
                if m.is_error():
                    self.error = m.get_error() or "matcher error"
                    return self._only_eos(logits)
            return out
        except Exception as e:  # noqa: BLE001 - must not escape into llama.cpp's callback
            self.error = f"{type(e).__name__}: {e}"
            return self._only_eos(logits)

    def _only_eos(self, logits: Any) -> Any:
        logits[:] = float("-inf")
        logits[self.eos_token] = 0.0
        return logits


def _close_objects(schema: Any) -> Any:
    """Forbid undeclared keys where the schema is silent: JSON Schema allows them, and a small
    model uses that freedom to append keys until max_tokens. Outputs stay valid for the original."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in ("properties", "$defs", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _close_objects(sub) for name, sub in out[key].items()}
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [_close_objects(sub) for sub in out[key]]
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _close_objects(out[key])
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def grammar_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {**_close_objects(schema), "x-guidance": JSON_LAYOUT}


def choice_regex(choices: tuple[str, ...]) -> str:
    return "|".join(re.escape(c) for c in choices)


class ConstraintCache:
    """One compiled processor per distinct Output for the single-request path, and one compiled
    matcher per distinct Output that the batched path copies for each of its sequences; both for
    the lifetime of the model and from the same grammar."""

    def __init__(self, outlines_model: Any, eos_token: int) -> None:
        import warnings

        from outlines.backends.llguidance import LLGuidanceBackend

        with warnings.catch_warnings():
            # llguidance reads the vocab through a deprecated llama.cpp call, once per token.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.backend = LLGuidanceBackend(outlines_model)
        self.eos_token = eos_token
        self._processors: dict[str, GuardedProcessor] = {}
        self._matchers: dict[str, Any] = {}  # never advanced: each sequence gets a deep copy

    def processor(self, output: Output) -> GuardedProcessor:
        key = output.key()
        if key not in self._processors:
            self._processors[key] = GuardedProcessor(self._build(output), self.eos_token)
        proc = self._processors[key]
        proc.reset()
        return proc

    def discard(self, output: Output) -> None:
        """Forget a processor whose output broke its constraint: the next call compiles a fresh one.

        A compiled matcher keeps state between calls (reset only rolls tokens back); once it has let one
        invalid output through we do not trust it again. A long dialog run showed why: after half an
        hour of use, the user-turn matcher failed every later call until the process was restarted,
        while the same requests succeeded with a freshly compiled one."""
        self._processors.pop(output.key(), None)

    def matcher(self, output: Output) -> Any:
        """A fresh llguidance matcher for one sequence: a copy of the compiled one (copying is far
        cheaper than compiling; the batched path needs one per sequence, as each holds its own state)."""
        key = output.key()
        if key not in self._matchers:
            import llguidance

            self._matchers[key] = llguidance.LLMatcher(self.backend.llg_tokenizer, self._grammar(output), log_level=0)
        return self._matchers[key].deep_copy()

    def _grammar(self, output: Output) -> str:
        """The llguidance grammar of an Output; SchemaError when it cannot be constrained faithfully."""
        import llguidance

        if output.kind == "json":
            check_schema_supported(output.json_schema)
            grammar = llguidance.grammar_from("json_schema", json.dumps(grammar_schema(output.json_schema or {})))
        else:
            grammar = llguidance.grammar_from("regex", _regex(output))
        is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
            grammar, self.backend.llg_tokenizer
        )
        if is_error:
            raise SchemaError(f"cannot build a constraint from this {output.kind}: {messages[0][:300]}")
        return grammar

    def _build(self, output: Output) -> Any:
        self._grammar(output)  # validates
        if output.kind == "json":
            return self.backend.get_json_schema_logits_processor(json.dumps(grammar_schema(output.json_schema or {})))
        return self.backend.get_regex_logits_processor(_regex(output))


def _regex(output: Output) -> str:
    return (output.pattern or "") if output.kind == "regex" else choice_regex(output.choices or ())
