"""Resolve `--model` (a catalogue name or a .gguf path) to a checked local file."""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localace.errors import ModelLoadError, ModelNotFoundError
from localace.resources import data_dir

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelRef:
    name: str
    path: Path
    chat_format: str
    context_length: int
    license: str = "unknown"


def load_catalogue() -> dict[str, Any]:
    with open(data_dir("models") / "catalogue.json", encoding="utf-8") as f:
        return json.load(f)


def search_dirs() -> list[Path]:
    """Where catalogue files are looked for, first match wins."""
    dirs = []
    if env := os.environ.get("LOCALACE_MODELS_DIR"):
        dirs.append(Path(env).expanduser())
    dirs.append(Path.home() / ".cache" / "localace" / "models")
    dirs.append(Path.cwd() / "models")
    return dirs


def _embedded_path(package: str, filename: str) -> Path | None:
    # find_spec locates the package without running its __init__ (which imports the `llm` CLI).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    return None


def locate_entry(entry: dict[str, Any]) -> Path | None:
    """The local file of a catalogue entry, or None when it is not on this machine."""
    if pkg := entry.get("embedded_package"):
        return _embedded_path(pkg, entry["file"])
    for folder in search_dirs():
        candidate = folder / entry["file"]
        if candidate.is_file():
            return candidate
    return None


def check_gguf(path: Path) -> None:
    """Refuse early what llama.cpp would refuse with pages of log output."""
    if not path.exists():
        raise ModelNotFoundError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelLoadError(f"model path is a directory, not a .gguf file: {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelLoadError(f"cannot read model file {path}: {e.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"not a GGUF model file (bad header): {path}")


def resolve_model(spec: str | None) -> ModelRef:
    catalogue = load_catalogue()
    entries = {e["name"]: e for e in catalogue["models"]}
    name = spec or catalogue["default"]
    if name in entries:
        entry = entries[name]
        path = locate_entry(entry)
        if path is None:
            where = ", ".join(str(d) for d in search_dirs())
            raise ModelNotFoundError(
                f"model '{name}' is in the catalogue but {entry['file']} is not on this machine "
                f"(looked in {where}); get it from {entry['source']} or pass --model PATH.gguf"
            )
        check_gguf(path)
        return ModelRef(name, path, entry["chat_format"], entry["context_length"], entry["license"])
    path = Path(name).expanduser()
    looks_like_path = name.endswith(".gguf") or os.sep in name or path.exists()
    if not looks_like_path:
        raise ModelNotFoundError(
            f"unknown model '{name}': not a catalogue name (see `localace models`) nor a .gguf path"
        )
    check_gguf(path)
    return ModelRef(path.stem, path.resolve(), "from GGUF", 0)


def list_models() -> list[dict[str, Any]]:
    """Catalogue entries with their local availability, for `localace models`."""
    catalogue = load_catalogue()
    rows = []
    for entry in catalogue["models"]:
        path = locate_entry(entry)
        rows.append({**entry, "path": str(path) if path else None, "available": path is not None,
                     "default": entry["name"] == catalogue["default"]})
    return rows
