"""Typed errors. User errors map to exit code 2 in the CLI; generation errors are counted."""

from __future__ import annotations


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
