"""One shard of a stage, run wherever the scheduler puts it: today's resumable stage code on the shard's
own SQLite file, with its own model instance. Also the per-node check run before any shard starts."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from localace.apis.seed_corpus import SeedDocument
from localace.apis.synth import ApiSynthesizer, SynthConfig
from localace.apis.tree import TreeBuilder
from localace.dialogs.generate import DialogConfig
from localace.dialogs.stage import DialogStage
from localace.errors import UserError
from localace.evaluate.runner import EvalItem, run_eval
from localace.runs import Run
from localace.store.cache import CachedBackend
from localace.store.db import Store, open_store
from localace.store.lock import acquire
from localace.verify.judges import Judges
from localace.verify.stage import verify_run

# A task retried after its worker was killed may find the old worker still dying with the shard's lease.
LEASE_WAIT_S = 120.0


@dataclass(frozen=True)
class Models:
    """Which models a shard may load (catalogue names or GGUF paths; None = the embedded default)."""

    generator: str | None
    judge: str | None = None  # verify: --judge-model (default: the generator)
    learner: str | None = None  # dialogs: --learner (default: the generator)
    n_ctx: int = 4096

    def names(self) -> list[str | None]:
        return list(dict.fromkeys([self.generator, *(m for m in (self.judge, self.learner) if m)]))


@dataclass(frozen=True)
class TreeWork:
    tree_id: str
    depth: int
    breadth: int
    seed: int
    documents: tuple[SeedDocument, ...]


@dataclass(frozen=True)
class ApiWork:
    run_id: str
    tree_id: str
    config: SynthConfig  # n = this shard's target, shard = (k, n)
    documents: tuple[tuple[str, str], ...] = ()  # (top-level domain, its source text)
    taken_names: tuple[str, ...] = ()  # API names other shards of the run have made (not in this shard's file)


@dataclass(frozen=True)
class DialogWork:
    run_id: str
    config: DialogConfig  # n = this shard's target, shard = (k, n)


@dataclass(frozen=True)
class VerifyWork:
    run_id: str
    judges: bool
    enforce: bool
    samples: int
    seed: int


@dataclass(frozen=True)
class EvalWork:
    items: tuple[EvalItem, ...]
    mode: str
    model_name: str
    seed: int
    max_tokens: int


Work = TreeWork | ApiWork | DialogWork | VerifyWork | EvalWork


@dataclass(frozen=True)
class ShardSpec:
    stage: str
    path: str  # the shard's SQLite file
    shard: int
    shards: int
    models: Models
    threads: int  # llama.cpp threads = the CPUs the scheduler reserves for it
    gpu_layers: int  # LOCALACE_N_GPU_LAYERS inside the task (-1 when GPUs were requested)
    work: Work
    parallel: int = 1  # work items in flight inside the shard, their calls decoded together

    @property
    def label(self) -> str:
        return f"{self.stage} shard {self.shard + 1}/{self.shards}"


@dataclass(frozen=True)
class ShardResult:
    shard: int
    rows: int = 0  # the stage's rows in the shard file when the task ended
    model_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    host: str = ""
    error: str | None = None  # one line; None when the shard finished


class _Backends:
    """The shard's model instances, made on first use (a shard with nothing left to do loads no model)."""

    def __init__(self, store: Store, session: int, models: Models) -> None:
        self.store, self.session, self.models = store, session, models
        self.made: dict[str | None, CachedBackend] = {}
        self.parallel = 1

    def get(self, name: str | None) -> CachedBackend:
        from localace.backends import make_backend

        if name not in self.made:
            backend = make_backend(name, n_ctx=self.models.n_ctx, file_hash=self.store.file_hash, parallel=self.parallel)
            self.made[name] = CachedBackend(backend, self.store, self.session)
        return self.made[name]


def _tree(work: TreeWork, store: Store, models: _Backends) -> int:
    builder = TreeBuilder(models.get(models.models.generator), store, work.tree_id, depth=work.depth,
                          breadth=work.breadth, seed=work.seed)
    for _ in builder.build(list(work.documents)):
        pass
    return store.count("tree_nodes", "tree=? AND depth=0", (work.tree_id,))


def _apis(work: ApiWork, store: Store, models: _Backends) -> int:
    synth = ApiSynthesizer(models.get(models.models.generator), store, work.run_id, work.tree_id, work.config,
                           documents=dict(work.documents), taken_names=work.taken_names)
    for _ in synth.run(models.parallel):
        pass
    return store.count("apis", "run_id=?", (work.run_id,))


def _dialogs(work: DialogWork, store: Store, models: _Backends) -> int:
    learner = models.get(models.models.learner) if models.models.learner else None
    stage = DialogStage(Run(work.run_id, "dialogs generate", {}, True), store, 0)
    for _ in stage.events(models.get(models.models.generator), store, work.config, learner, parallel=models.parallel):
        pass
    return store.count("dialogs", "run_id=?", (work.run_id,))


def _verify(work: VerifyWork, store: Store, models: _Backends) -> int:
    judges = None
    if work.judges:
        judges = Judges(models.get(models.models.judge or models.models.generator), samples=work.samples,
                        seed=work.seed, enforce=work.enforce)
    for _ in verify_run(store, work.run_id, judges, parallel=models.parallel):
        pass
    return store.count("dialogs", "run_id=? AND status!='generated'", (work.run_id,))


def _eval(work: EvalWork, store: Store, models: _Backends) -> int:
    run_eval(models.get(models.models.generator), store, list(work.items), mode=work.mode, model=work.model_name,
             seed=work.seed, max_tokens=work.max_tokens, parallel=models.parallel)
    return len(work.items)


_RUNNERS: dict[type, Callable[[Any, Store, _Backends], int]] = {
    TreeWork: _tree, ApiWork: _apis, DialogWork: _dialogs, VerifyWork: _verify, EvalWork: _eval,
}


def run_shard(spec: ShardSpec) -> ShardResult:
    """Run one shard to its end (or its target) on its own file. User errors come back as data (they would
    fail the same way again); anything else raises, so the scheduler may retry the task."""
    os.environ["LOCALACE_THREADS"] = str(spec.threads)
    os.environ["LOCALACE_N_GPU_LAYERS"] = str(spec.gpu_layers)
    host, start = socket.gethostname(), time.perf_counter()
    try:
        with acquire(spec.path, command=f"localace {spec.label} on {host}", wait=LEASE_WAIT_S):
            store = open_store(spec.path)
            try:
                session = store.start_session(f"localace {spec.label} (pid {os.getpid()} on {host})")
                models = _Backends(store, session, spec.models)
                models.parallel = spec.parallel
                rows = _RUNNERS[type(spec.work)](spec.work, store, models)
            finally:
                store.close()
    except UserError as e:
        return ShardResult(spec.shard, host=host, seconds=time.perf_counter() - start, error=str(e))
    return ShardResult(spec.shard, rows, sum(b.misses for b in models.made.values()),
                       sum(b.hits for b in models.made.values()), time.perf_counter() - start, host)


@dataclass(frozen=True)
class NodeReport:
    """What one node says about itself before any shard runs there."""

    host: str
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)  # model name ("" = default) → fingerprint
    sizes: dict[str, int | None] = field(default_factory=dict)  # model name → GGUF bytes (None: not a GGUF)
    labels: dict[str, str] = field(default_factory=dict)  # model name → what reports call it
    error: str | None = None


def probe_node(models: Models, shards_dir: str, marker: str) -> NodeReport:
    """Runs on every node: are the models there (and the same files), and does this node see `<db>.shards/`?"""
    from localace.backends import make_backend

    host = socket.gethostname()
    if not (Path(shards_dir) / marker).is_file():
        return NodeReport(host, error=f"cannot see {shards_dir} (the shard files must be on a filesystem "
                                       "every node mounts, at the same path)")
    fingerprints, sizes, labels = {}, {}, {}
    for name in models.names():
        try:
            backend = make_backend(name, n_ctx=models.n_ctx)
        except UserError as e:
            return NodeReport(host, error=f"lacks the model {name or '(default)'}: {e}")
        path = getattr(getattr(backend, "model", None), "path", None)
        fingerprints[name or ""] = backend.fingerprint()
        sizes[name or ""] = path.stat().st_size if path is not None else None
        labels[name or ""] = getattr(getattr(backend, "model", None), "name", None) or name or backend.name
    return NodeReport(host, fingerprints, sizes, labels)
