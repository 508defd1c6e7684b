"""Shared fixtures. Tests marked `model` use the real embedded GGUF; the rest use the fake backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from localace.store import open_store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "t.db")
    yield s
    s.close()


@pytest.fixture
def refuse_stored_api_parsing(monkeypatch):
    """Make parsing a stored API row fail: a finished run must resume without it."""
    from localace.apis.spec import ApiSpec

    def refuse(*_args):
        raise AssertionError("a finished run needs no parsed APIs")

    monkeypatch.setattr(ApiSpec, "from_stored", refuse)


@pytest.fixture(scope="session")
def embedded_model():
    """The real default model, loaded once for the whole test session."""
    from localace.backends.llamacpp import LlamaCppBackend
    from localace.model_catalogue import resolve_model

    return LlamaCppBackend(resolve_model(None), n_ctx=4096)
