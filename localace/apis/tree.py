"""Speciation: documents → API context tree (domain → functionalities → sub-functionalities)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from localace.apis.seed_corpus import SeedDocument
from localace.apis.text_norm import norm_key, similar
from localace.backends.base import Output, Sampling
from localace.errors import GenerationError
from localace.hashing import content_hash
from localace.prompts import load_prompt
from localace.store.cache import CachedBackend
from localace.store.db import Store, utcnow

# A capitalized phrase of 2+ words; code, identifiers and placeholders are filtered after.
LABEL = {"type": "string", "pattern": "^[A-Z][a-z]+ [A-Za-z0-9 ,'/()-]{3,70}$"}
_PLACEHOLDER_WORDS = frozenset({"functionality", "functionalities", "subfunctionality", "subfunctionalities",
                                "subfunction", "api", "apis", "endpoint", "endpoints", "example"})


def is_placeholder(label: str) -> bool:
    """Labels that name the task instead of a capability."""
    return bool(_PLACEHOLDER_WORDS & set(label.lower().replace("-", " ").split()))


@dataclass(frozen=True)
class TreeNode:
    id: str
    parent_id: str | None
    name: str
    depth: int
    top_domain: str


@dataclass(frozen=True)
class TreeEvent:
    """One document done (for progress display)."""

    document: str
    nodes_added: int
    merged: int
    failed_calls: int


def list_schema(key: str, low: int, high: int, items: dict[str, Any] = LABEL) -> dict[str, Any]:
    return {"type": "object", "properties": {key: {"type": "array", "minItems": low, "maxItems": high,
                                                   "items": items}}, "required": [key]}


def candidate_phrases(text: str, limit: int = 24) -> list[str]:
    """Phrases a document offers as functionalities: its bullet items, else its sentences."""
    bullets = [m.group(1).strip() for m in re.finditer(r"^\s*[-*+]\s+(.{6,100})$", text, re.M)]
    if not bullets:
        body = " ".join(line for line in text.splitlines() if not line.startswith("#"))
        bullets = [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if 6 <= len(s.strip()) <= 100]
    seen: dict[str, str] = {}
    for b in bullets:
        seen.setdefault(norm_key(b), b.rstrip("."))
    return list(seen.values())[:limit]


def load_tree(store: Store, tree_id: str) -> list[TreeNode]:
    rows = store.conn.execute(
        "SELECT id, parent_id, name, depth, top_domain FROM tree_nodes WHERE tree=? ORDER BY depth, rowid", (tree_id,)
    )
    return [TreeNode(*r) for r in rows]


class TreeBuilder:
    def __init__(self, gen: CachedBackend, store: Store, tree_id: str, *, depth: int, breadth: int, seed: int) -> None:
        self.gen, self.store, self.tree_id = gen, store, tree_id
        self.depth, self.breadth, self.seed = depth, breadth, seed
        self.extract = load_prompt("tree_extract")
        self.expand = load_prompt("tree_expand")
        # Phrases quoted in the few-shot examples: a small model likes to copy them verbatim.
        self.leaks = re.findall(r'"([A-Z][^"]{5,})"', self.expand.source)

    def build(self, documents: list[SeedDocument]) -> Iterator[TreeEvent]:
        """Add each document's subtree in one transaction; documents already in the tree are skipped."""
        done = {r[0] for r in self.store.conn.execute(
            "SELECT source_doc FROM tree_nodes WHERE tree=? AND depth=0", (self.tree_id,))}
        for doc in documents:
            if doc.name in done:
                continue
            yield self._add_document(doc)

    def _ask(self, prompt: Any, schema: dict[str, Any], key: str, salt: str, **variables: Any) -> list[str]:
        messages = prompt.messages(**variables)
        completion = self.gen.generate(
            messages, output=Output.json(schema), template_hash=prompt.hash,
            sampling=Sampling(temperature=0.7, seed=int(content_hash([self.seed, salt], 8), 16), max_tokens=400),
        )
        return [s.strip() for s in completion.value[key]]

    def _add_document(self, doc: SeedDocument) -> TreeEvent:
        top = doc.title.strip()[:60]
        root = TreeNode(content_hash([self.tree_id, None, norm_key(top)], 16), None, top, 0, top)
        nodes: list[TreeNode] = [root]
        merged = failed = 0
        frontier = [root]
        for level in range(1, self.depth + 1):
            next_frontier = []
            for parent in frontier:
                try:
                    if level == 1:
                        # Extraction: the model picks the functionalities among the document's own
                        # phrases, so a small model cannot invent noise at the top of the tree.
                        candidates = candidate_phrases(doc.text)
                        if not candidates:
                            break
                        schema = list_schema("functionalities", 1, min(len(candidates), self.breadth + 2),
                                             {"type": "string", "enum": candidates})
                        names = self._ask(self.extract, schema, "functionalities", doc.name,
                                          domain=top, document=doc.text[:2500])
                    else:
                        names = self._ask(self.expand, list_schema("subfunctionalities", 2, self.breadth),
                                          "subfunctionalities", parent.id,
                                          domain=top, parent=parent.name, breadth=self.breadth)
                except GenerationError:
                    failed += 1
                    continue
                for name in names[: self.breadth + 2 if level == 1 else self.breadth]:
                    if (is_placeholder(name) or sum(c.isdigit() for c in name) >= 3
                            or any(similar(name, leak, 0.6) for leak in self.leaks)
                            or any(similar(name, n.name) for n in nodes if n.depth == level)
                            or similar(name, parent.name, 0.9)):
                        merged += 1
                        continue
                    node = TreeNode(content_hash([self.tree_id, parent.id, norm_key(name)], 16), parent.id,
                                    name, level, top)
                    nodes.append(node)
                    next_frontier.append(node)
            frontier = next_frontier
        with self.store.transaction():
            for n in nodes:
                self.store.conn.execute(
                    "INSERT OR IGNORE INTO tree_nodes VALUES (?,?,?,?,?,?,?,?,?)",
                    (n.id, self.tree_id, n.parent_id, n.name, norm_key(n.name), n.depth, n.top_domain,
                     doc.name if n.depth == 0 else None, utcnow()),
                )
        return TreeEvent(doc.name, len(nodes), merged, failed)
