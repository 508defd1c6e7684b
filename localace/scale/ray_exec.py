"""Ray as the executor of shards: start or join a cluster, check every node, run each shard as a task.

Ray is an optional extra (`pip install 'localace[ray]'`); it is imported only here, on first use."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from localace.errors import UserError
from localace.scale.shard import Models, NodeReport, ShardResult, ShardSpec, probe_node, run_shard

INSTALL_HINT = "--ray needs Ray, an optional extra: pip install 'localace[ray]'"
# A task whose worker dies (killed, out of memory, node lost) is started again this many times; it resumes
# from its shard file. A task that raised is retried as often: a stalled stage may get past its bad slots.
MAX_RETRIES = 3
LOCAL_OBJECT_STORE_BYTES = 200 << 20


class ClusterError(UserError):
    """The cluster cannot run this job: a node lacks a model, sees no shard files, or differs from the others."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


def _one_line(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error  # RayTaskError wraps what the task raised
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"[:500]


def _task(spec: ShardSpec) -> ShardResult:
    return run_shard(spec)


def _probe(models: Models, shards_dir: str, marker: str) -> NodeReport:
    return probe_node(models, shards_dir, marker)


def check_same_models(reports: dict[str, NodeReport]) -> None:
    """Every node must load the same model files with the same libraries, or shards would write different data
    for the same request (and the run's id would depend on where the driver asked)."""
    first_name, first = next(iter(reports.items()))
    for name, report in reports.items():
        if differs := sorted(k for k in first.fingerprints if report.fingerprints.get(k) != first.fingerprints[k]):
            raise ClusterError(f"{name} has other model files or libraries than {first_name} for "
                               f"{', '.join(d or '(default)' for d in differs)}; every node needs the same ones")


class RayExecutor:
    def __init__(self, address: str | None, *, num_gpus: float = 0.0, max_retries: int = MAX_RETRIES) -> None:
        """address: None starts a new Ray on this machine (never another job's, on a shared machine); else the
        cluster to join (`auto`: the one already running on this machine)."""
        self.ray = _ray()
        self.address, self.num_gpus, self.max_retries = address, num_gpus, max_retries
        self._remote: Any = None

    def start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "logging_level": logging.ERROR}
            if self.address is None:  # our tasks pass small objects: a small object store is plenty
                options.update(address="local", object_store_memory=LOCAL_OBJECT_STORE_BYTES)
            else:
                options["address"] = self.address
            try:
                ray.init(**options)
            except Exception as e:  # a bad address, an unreachable cluster, a version mismatch
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise UserError(f"cannot start or join {where}: {_one_line(e)}") from None
        self._remote = ray.remote(_task)

    def nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]

    def check_nodes(self, models: Models, shards_dir: Path) -> dict[str, NodeReport]:
        """Ask every node (one pinned task each) for its model fingerprints; ClusterError naming the first node
        that lacks a model, cannot see the shard files, or has other model files than the first node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        marker = f".probe-{uuid.uuid4().hex}"
        (shards_dir / marker).write_text("localace shard directory probe\n")
        try:
            probe = self.ray.remote(_probe)
            nodes = self.nodes()
            refs = [probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                    .remote(models, str(shards_dir), marker) for n in nodes]
            reports: dict[str, NodeReport] = {}
            for node, ref in zip(nodes, refs):
                name = f"node {node.get('NodeManagerAddress', '?')} (id {node['NodeID'][:12]})"
                try:
                    report = self.ray.get(ref)
                except Exception as e:
                    raise ClusterError(f"{name} cannot run localace tasks: {_one_line(e)} "
                                       "(install localace on every node)") from None
                if report.error:
                    raise ClusterError(f"{name} {report.error}")
                reports[name] = report
        finally:
            (shards_dir / marker).unlink(missing_ok=True)
        check_same_models(reports)
        return reports

    def submit(self, spec: ShardSpec) -> Any:
        return self._remote.options(num_cpus=spec.threads, num_gpus=self.num_gpus, max_retries=self.max_retries,
                                    retry_exceptions=True).remote(spec)

    def wait(self, handles: list[Any], timeout: float) -> tuple[list[tuple[Any, ShardResult]], list[Any]]:
        ready, pending = self.ray.wait(handles, num_returns=len(handles), timeout=timeout)
        finished = []
        for ref in ready:
            try:
                finished.append((ref, self.ray.get(ref)))
            except Exception as e:  # the task raised on every attempt, or its worker kept dying
                finished.append((ref, ShardResult(-1, error=_one_line(e))))
        return finished, pending
