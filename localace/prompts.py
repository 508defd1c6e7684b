"""Jinja prompt templates from prompts/; a template's hash is part of every cache key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from localace.backends.base import Message
from localace.hashing import content_hash
from localace.resources import data_dir

_INCLUDE = re.compile(r"""{%-?\s*include\s+["']([^"']+)["']""")


@dataclass(frozen=True)
class Prompt:
    name: str
    source: str
    hash: str  # covers the template and every partial it includes

    def render(self, **variables: Any) -> str:
        return _environment().get_template(f"{self.name}.j2").render(**variables).strip()

    def messages(self, system: str | None = None, **variables: Any) -> list[Message]:
        """Render as a chat: an optional system message then the template as the user turn."""
        out: list[Message] = [{"role": "system", "content": system}] if system else []
        out.append({"role": "user", "content": self.render(**variables)})
        return out


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # StrictUndefined: a missing variable is a bug, not an empty string silently sent to the model.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("prompts"))),
                              undefined=jinja2.StrictUndefined, autoescape=False)


def _sources(name: str, seen: set[str]) -> list[str]:
    source = (data_dir("prompts") / name).read_text(encoding="utf-8")
    out = [name, source]
    for partial in _INCLUDE.findall(source):
        if partial not in seen:
            seen.add(partial)
            out += _sources(partial, seen)
    return out


@lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    parts = _sources(f"{name}.j2", set())
    return Prompt(name, parts[1], content_hash(parts, 16))
