"""Locate data shipped with the package (model catalogue, prompt templates)."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """`models` or `prompts`: inside the installed wheel, else the source checkout's top level."""
    for candidate in (_PKG / "_data" / kind, _PKG.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"localace data folder '{kind}' is missing from the installation")
