"""The backend contract: messages in, one completion out, optionally under a constraint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

# The call's types live below the backends and the tasks (localace/model_io.py); re-exported here, where the
# rest of the code has always taken them.
from localace.model_io import Completion, Message, Output, Sampling

if TYPE_CHECKING:
    from localace.errors import GenerationError, SchemaError
    from localace.tasks import Request

__all__ = ["Backend", "Completion", "Message", "Output", "Sampling"]


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(
        self, messages: list[Message], *, output: Output | None = None, sampling: Sampling = Sampling()
    ) -> Completion:
        """Generate one completion; raise GenerationError subclasses for unusable output."""
        ...

    def generate_many(
        self, requests: Sequence["Request"]
    ) -> list[Union[Completion, "GenerationError", "SchemaError"]]:
        """Generate the requests together (one batch); each failure is returned in its place and
        concerns that request alone. `open_batch()`, when a backend has it, is the incremental form
        (see backends/batching.py)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """Everything that changes outputs: model file hash, context size, library versions."""
        ...
