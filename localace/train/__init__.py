"""Offline LoRA fine-tuning of a GGUF model on localace's dialogs (`localace train`).

Needs the optional extra `localace[train]` (torch, gguf, numpy); every module here imports them lazily or is
imported only after `require_train_extra()` succeeded."""

from __future__ import annotations

import importlib.util

from localace.errors import UserError

EXTRA_PACKAGES = ("torch", "gguf", "numpy")
INSTALL_HINT = (
    "pip install 'localace[train]' (CPU-only machine: first pip install torch "
    "--index-url https://download.pytorch.org/whl/cpu, see the README's Training section)"
)


class TrainExtraMissing(UserError):
    """The optional training dependencies are not installed."""


def missing_train_packages() -> list[str]:
    return [name for name in EXTRA_PACKAGES if importlib.util.find_spec(name) is None]


def require_train_extra() -> None:
    """Raise TrainExtraMissing (one line, with the install command) unless torch, gguf and numpy import."""
    missing = missing_train_packages()
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise TrainExtraMissing(f"training needs {', '.join(missing)}, which {verb} not installed: {INSTALL_HINT}")
