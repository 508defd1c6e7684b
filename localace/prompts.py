"""Jinja prompt templates from prompts/; a template's hash is part of every cache key."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from localace.backends.base import Message
from localace.hashing import content_hash
from localace.resources import data_dir


@dataclass(frozen=True)
class Prompt:
    name: str
    source: str

    @property
    def hash(self) -> str:
        return content_hash([self.name, self.source], 16)

    def render(self, **variables: Any) -> str:
        return _environment().from_string(self.source).render(**variables).strip()

    def messages(self, system: str | None = None, **variables: Any) -> list[Message]:
        """Render as a chat: an optional system message then the template as the user turn."""
        out: list[Message] = [{"role": "system", "content": system}] if system else []
        out.append({"role": "user", "content": self.render(**variables)})
        return out


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # StrictUndefined: a missing variable is a bug, not an empty string silently sent to the model.
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    path = data_dir("prompts") / f"{name}.j2"
    return Prompt(name, path.read_text(encoding="utf-8"))
