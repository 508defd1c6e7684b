"""Load API-related documents: the built-in seed corpus or a user folder of .md/.txt files."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from localace.errors import UserError

DOCUMENT_SUFFIXES = (".md", ".txt")
_PACKAGE = "localace.apis"
_FOLDER = "seed_corpus"


class DocumentFolderError(UserError, ValueError):
    """A document folder is missing or yields no readable .md/.txt documents."""


@dataclass(frozen=True)
class SeedDocument:
    """One source document for speciation: a stable name, a title and the full text."""

    name: str
    title: str
    text: str


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass
class DocumentSet:
    """Documents read from a folder, plus the files passed over and why."""

    documents: list[SeedDocument] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _title(text: str, fallback: str) -> str:
    """The first Markdown heading, else the fallback."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            heading = stripped.lstrip("#").strip()
            if heading:
                return heading
        elif stripped:
            break  # a heading only counts before the first paragraph
    return fallback


def _document(name: str, text: str) -> SeedDocument:
    text = text.strip()
    return SeedDocument(name=name, title=_title(text, name.replace("-", " ").replace("_", " ")), text=text)


def load_seed_documents() -> list[SeedDocument]:
    """The built-in seed corpus, one document per top-level domain, sorted by name."""
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    entries = sorted((entry for entry in folder.iterdir() if entry.name.endswith(".md")), key=lambda e: e.name)
    return [_document(entry.name.removesuffix(".md"), entry.read_text(encoding="utf-8")) for entry in entries]


def _read_text(path: Path) -> tuple[str | None, str]:
    """(text, "") or (None, reason why the file is not usable)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return None, f"unreadable ({err.strerror or err})"
    if b"\x00" in data:
        return None, "binary file"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    if not text.strip():
        return None, "empty file"
    return text, ""


def _is_hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def load_documents(folder: Path) -> DocumentSet:
    """Read every .md/.txt file below folder (recursively, hidden ones excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DocumentFolderError(f"document folder not found: {folder}")
    paths = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in DOCUMENT_SUFFIXES and path.is_file() and not _is_hidden(path, folder)
    )
    if not paths:
        raise DocumentFolderError(f"no .md or .txt files in {folder}")
    result = DocumentSet()
    for path in paths:
        text, reason = _read_text(path)
        if text is None:
            result.skipped.append(SkippedFile(path, reason))
            continue
        name = path.relative_to(folder).with_suffix("").as_posix()
        result.documents.append(_document(name, text))
    if not result.documents:
        reasons = "; ".join(f"{item.path.name}: {item.reason}" for item in result.skipped[:3])
        raise DocumentFolderError(f"no readable documents in {folder} ({reasons})")
    return result
