"""Typed errors. User errors map to exit code 2 in the CLI; generation errors are counted."""

from __future__ import annotations

import re


class LocalaceError(Exception):
    """Base of every error localace raises on purpose."""


class UserError(LocalaceError):
    """Bad input from the user (file, flag, model, database): one line, exit code 2."""


class ModelNotFoundError(UserError):
    pass


class ModelLoadError(UserError):
    pass


class SchemaError(UserError):
    """A JSON schema that is not valid JSON Schema or uses something we cannot constrain."""


class StoreError(UserError):
    """The database cannot be opened, is corrupt, or belongs to another program."""


class GenerationError(LocalaceError):
    """A model call produced no usable output; callers count these as rejections."""

    kind = "generation_error"
    # What the failed call cost (prompt_tokens, cached_tokens, completion_tokens, seconds), when it reached the
    # model: a truncated output is often the most expensive call of all and must count in the stats.
    usage: dict[str, float] | None = None


class ConstraintViolation(GenerationError):
    """The output does not validate against its constraint (constraint failed silently)."""

    kind = "constraint_violation"


class TruncatedOutput(GenerationError):
    """Generation hit max_tokens before the constrained output was complete."""

    kind = "truncated"


class ScriptExhausted(GenerationError):
    """The fake backend's scripted queue is empty and it was told not to improvise."""

    kind = "script_exhausted"


GENERATION_ERRORS: dict[str, type[GenerationError]] = {
    cls.kind: cls for cls in (GenerationError, ConstraintViolation, TruncatedOutput, ScriptExhausted)
}


# A request that cannot produce output: the model failed (GenerationError) or its constraint cannot be
# built (SchemaError). Either fails that request alone; batch sessions return it in place of a Completion.
REQUEST_FAILURES: tuple[type[LocalaceError], ...] = (GenerationError, SchemaError)


_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|«[^»]*»""")
_PATH = re.compile(r"\b(parameters|returns)((?:\.[\w$-]+|\[\d+\])+)")
_INDEX = re.compile(r"\[\d+\]")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def reason_kind(reason: str) -> str:
    """A skip or rejection reason without what names one case (quoted names and values, schema paths, indexes,
    numbers): 'name: invalid characters '/' in 'news/list'' and the same for another name count as one kind."""
    kind = _QUOTED.sub("…", reason)
    kind = _PATH.sub(lambda m: m.group(1) + ".…", kind)
    kind = _INDEX.sub("[…]", kind)
    kind = _NUMBER.sub("N", kind)
    return " ".join(kind.split())[:160]
