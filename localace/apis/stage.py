"""Stage A as one resumable unit: documents → tree → N APIs, for the CLI and the pipeline."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localace.apis.seed_corpus import SeedDocument, load_documents, load_seed_documents
from localace.apis.synth import ApiSynthesizer, SynthConfig, SynthEvent
from localace.apis.tree import TreeBuilder, TreeEvent
from localace.hashing import content_hash
from localace.runs import Run, ensure_run
from localace.store.cache import CachedBackend
from localace.store.db import Store


@dataclass(frozen=True)
class ApiStageConfig:
    n: int
    seed: int = 0
    depth: int = 2
    breadth: int = 3
    generations: int = 2
    docs: str | None = None  # folder of .md/.txt; None = the built-in seed corpus
    max_docs: int | None = None  # a seeded subset of the documents, for quick runs

    def synth_config(self) -> SynthConfig:
        return SynthConfig(n=self.n, seed=self.seed, generations=self.generations)

    def identity(self, documents: list[SeedDocument], fingerprint: dict[str, Any]) -> dict[str, Any]:
        """What makes a run the same run: everything but the target count, which may grow."""
        return {"seed": self.seed, "max_docs": self.max_docs, "depth": self.depth, "breadth": self.breadth, "generations": self.generations,
                "documents": content_hash([(d.name, d.text) for d in documents], 16),
                "model": content_hash(fingerprint, 16)}


@dataclass
class ApiStage:
    run: Run
    tree_id: str
    documents: list[SeedDocument]
    skipped_documents: list[Any]

    @property
    def documents_by_domain(self) -> dict[str, str]:
        """Each top-level domain's source text (its words may name an API's fields)."""
        return {d.title.strip()[:60]: d.text for d in self.documents}

    def tree_events(self, gen: CachedBackend, store: Store, cfg: ApiStageConfig) -> Iterator[TreeEvent]:
        builder = TreeBuilder(gen, store, self.tree_id, depth=cfg.depth, breadth=cfg.breadth, seed=cfg.seed)
        yield from builder.build(self.documents)

    def synth_events(self, gen: CachedBackend, store: Store, cfg: ApiStageConfig, *,
                     parallel: int = 1) -> Iterator[SynthEvent]:
        synth = ApiSynthesizer(gen, store, self.run.id, self.tree_id, cfg.synth_config(),
                               documents=self.documents_by_domain)
        yield from synth.run(parallel)


def prepare_api_stage(store: Store, gen: CachedBackend, cfg: ApiStageConfig) -> ApiStage:
    if cfg.docs:
        doc_set = load_documents(Path(cfg.docs))
        documents, skipped = doc_set.documents, doc_set.skipped
    else:
        documents, skipped = load_seed_documents(), []
    if cfg.max_docs is not None and cfg.max_docs < len(documents):
        picked = random.Random(f"docs:{cfg.seed}").sample(range(len(documents)), cfg.max_docs)
        documents = [documents[i] for i in sorted(picked)]
    identity = cfg.identity(documents, gen.fingerprint())
    run = ensure_run(store, "apis synth", identity)
    tree_id = content_hash({k: identity[k] for k in ("seed", "depth", "breadth", "documents", "model")}, 16)
    return ApiStage(run, tree_id, documents, skipped)
