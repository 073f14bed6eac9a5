"""Where a process sits in a multi-node Vertex AI job, for Lightning: :class:`VertexEnvironment`.

Vertex AI starts one container per replica (node). Replica ``i`` of worker pool ``p`` gets the
environment variable ``CLUSTER_SPEC``, a JSON object::

    {"cluster": {"workerpool0": ["HOST0:PORT"], "workerpool1": ["HOST1:PORT", "HOST2:PORT", ...]},
     "task": {"type": "workerpoolP", "index": i}, ...}

and, as reported for PyTorch jobs, ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK`` (the node index)
and ``WORLD_SIZE`` (the node count). Lightning's own environments read the node index from
``NODE_RANK`` (or ``GROUP_RANK``), which Vertex AI does not set, so without this module every
node would take itself for node 0.

The mapping (:func:`resolve_node`). With ``n_p`` replicas in pool ``p`` (``n_0 = 1``: the chief),

* node count ``N = n_0 + n_1``; node rank ``r = 0`` for ``workerpool0`` and ``r = 1 + i`` for
  replica ``i`` of ``workerpool1`` (pools 2 and 3, parameter/reduction servers and evaluators, do
  not train);
* main address: the host of ``workerpool0[0]``; main port: ``MASTER_PORT`` when set, else the
  port of ``workerpool0[0]``.

Without a usable ``CLUSTER_SPEC`` the node comes from ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/
``MASTER_PORT`` (in a process Lightning's launcher started, ``NODE_RANK``, which that launcher
sets). Both present and disagreeing, or neither usable: a :class:`ClusterSpecError` in one line.

Processes. On every node Lightning's launcher runs ``d`` processes (``d`` = ``devices``), the one
Vertex AI started with local rank ``l = 0`` and children with ``LOCAL_RANK = l = 1 .. d-1``
(each inherits ``CLUSTER_SPEC``). Then world size ``W = N * d`` and global rank
``g = r * d + l``, so ``g`` runs over ``0 .. W-1`` exactly once.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from lightning_fabric.plugins.environments.cluster_environment import ClusterEnvironment
from lightning_fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig

from zeta_rmt.utils.errors import ConfigError

__all__ = ["ClusterSpecError", "VertexEnvironment", "VertexNode", "node_from_cluster_spec", "node_from_env",
           "resolve_node", "trainer_plugins"]

CHIEF, WORKERS = "workerpool0", "workerpool1"
NOT_TRAINING = {"workerpool2": "a parameter/reduction server", "workerpool3": "an evaluator"}


class ClusterSpecError(ConfigError):
    """This process cannot be placed in the Vertex AI cluster; the message says why."""


@dataclass(frozen=True)
class VertexNode:
    """One node of the job. ``num_nodes`` is None where this process cannot know it (a process
    started by Lightning's launcher, placed from environment variables only)."""

    node_rank: int
    num_nodes: int | None
    main_address: str
    main_port: int
    source: str  # "CLUSTER_SPEC" or "environment"


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ClusterSpecError(f"{what} must be an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ClusterSpecError(f"{what} must be an integer, got {value!r}") from None


def _port(value: Any, what: str) -> int:
    port = _int(value, what)
    if not 1 <= port <= 65535:
        raise ClusterSpecError(f"{what} must be a TCP port 1..65535, got {port}")
    return port


def _host_port(entry: Any, what: str) -> tuple[str, int | None]:
    """``"host:port"`` (``"[v6]:port"`` too) -> (host, port); a bare host -> (host, None)."""
    if not isinstance(entry, str) or not entry.strip():
        raise ClusterSpecError(f"{what} must be a 'host:port' string, got {entry!r}")
    entry = entry.strip()
    if entry.startswith("["):  # [IPv6]:port
        host, _, rest = entry[1:].partition("]")
        return host, (_port(rest[1:], f"the port of {what}") if rest.startswith(":") else None)
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, _port(port, f"the port of {what}")
    return entry, None


def _pool(cluster: dict, name: str, required: bool) -> list:
    pool = cluster.get(name)
    if pool is None and not required:
        return []
    if not isinstance(pool, list) or (required and len(pool) != 1):
        raise ClusterSpecError(f"CLUSTER_SPEC cluster.{name} must be a list of "
                               f"{'one host:port (the chief)' if required else 'host:port strings'}, got {pool!r}")
    return pool


def node_from_cluster_spec(text: str, environ: Mapping[str, str]) -> VertexNode:
    """The node described by ``CLUSTER_SPEC`` (``text``); the port is ``MASTER_PORT`` when set."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClusterSpecError(f"CLUSTER_SPEC is not JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}") from None
    if not (isinstance(spec, dict) and isinstance(spec.get("cluster"), dict) and isinstance(spec.get("task"), dict)):
        raise ClusterSpecError(f"CLUSTER_SPEC must be a JSON object with 'cluster' and 'task' objects, "
                               f"got {text[:80]!r}")
    cluster, task = spec["cluster"], spec["task"]
    chief = _pool(cluster, CHIEF, required=True)
    workers = _pool(cluster, WORKERS, required=False)
    kind, index = task.get("type"), _int(task.get("index"), "CLUSTER_SPEC task.index")
    if kind in NOT_TRAINING:
        raise ClusterSpecError(f"CLUSTER_SPEC task.type={kind}: this replica is {NOT_TRAINING[kind]}, which "
                               f"zeta_rmt does not use; submit the job with worker pools 0 and 1 only "
                               f"(python -m zeta_rmt.launch)")
    if kind == CHIEF and index == 0:
        rank = 0
    elif kind == WORKERS and 0 <= index < len(workers):
        rank = 1 + index
    else:
        raise ClusterSpecError(f"CLUSTER_SPEC task {{type: {kind!r}, index: {index}}} is not a replica of the cluster "
                               f"({CHIEF}: {len(chief)}, {WORKERS}: {len(workers)} replicas)")
    host, spec_port = _host_port(chief[0], f"CLUSTER_SPEC cluster.{CHIEF}[0]")
    if environ.get("MASTER_PORT"):
        port = _port(environ["MASTER_PORT"], "MASTER_PORT")
    elif spec_port is not None:
        port = spec_port
    else:
        raise ClusterSpecError(f"no main port: MASTER_PORT is not set and CLUSTER_SPEC cluster.{CHIEF}[0]={chief[0]!r} "
                               f"has none")
    return VertexNode(rank, len(chief) + len(workers), host, port, "CLUSTER_SPEC")


def _spawned(environ: Mapping[str, str]) -> bool:
    """A process started by Lightning's launcher (it sets ``LOCAL_RANK``); Vertex AI sets none."""
    return "LOCAL_RANK" in environ


def node_from_env(environ: Mapping[str, str]) -> VertexNode:
    """The node from Vertex AI's PyTorch variables: ``RANK`` = node index, ``WORLD_SIZE`` = node
    count; in a process Lightning's launcher started (which rewrote ``WORLD_SIZE`` to the process
    count), ``NODE_RANK`` from that launcher."""
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not environ.get(k)]
    rank_key = "NODE_RANK" if _spawned(environ) and "NODE_RANK" in environ else "RANK"
    if rank_key not in environ:
        missing.append(rank_key)
    if not _spawned(environ) and "WORLD_SIZE" not in environ:
        missing.append("WORLD_SIZE")
    if missing:
        raise ClusterSpecError(f"{', '.join(missing)} not set")
    rank = _int(environ[rank_key], rank_key)
    nodes = None if _spawned(environ) else _int(environ["WORLD_SIZE"], "WORLD_SIZE")
    if rank < 0 or (nodes is not None and not rank < nodes):
        raise ClusterSpecError(f"{rank_key}={rank} is not a node of WORLD_SIZE={nodes} nodes")
    return VertexNode(rank, nodes, environ["MASTER_ADDR"], _port(environ["MASTER_PORT"], "MASTER_PORT"), "environment")


def _check_agree(node: VertexNode, environ: Mapping[str, str]) -> None:
    """In the process Vertex AI started, its ``RANK``/``WORLD_SIZE`` (when set) must be the node
    index and count that ``CLUSTER_SPEC`` gives; a spawned child's must equal its launcher's."""
    if _spawned(environ):
        pairs = [("NODE_RANK", node.node_rank)]  # set by Lightning's launcher from this same mapping
    else:
        pairs = [("RANK", node.node_rank), ("WORLD_SIZE", node.num_nodes)]
    for key, want in pairs:
        if key in environ and environ[key].strip() != str(want):
            raise ClusterSpecError(f"CLUSTER_SPEC places this process on node {node.node_rank} of {node.num_nodes}, "
                                   f"but {key}={environ[key]} (expected {want}); the job's environment is inconsistent")


def resolve_node(environ: Mapping[str, str] | None = None) -> VertexNode:
    """This process's node: from ``CLUSTER_SPEC``, else from the environment variables (see the
    module docstring). Raises :class:`ClusterSpecError` naming what is wrong with each."""
    environ = os.environ if environ is None else environ
    text = environ.get("CLUSTER_SPEC")
    try:
        if not text:
            raise ClusterSpecError("CLUSTER_SPEC is not set")
        node = node_from_cluster_spec(text, environ)
    except ClusterSpecError as spec_exc:
        try:
            node = node_from_env(environ)
        except ClusterSpecError as env_exc:
            raise ClusterSpecError(f"cannot place this process in the Vertex AI cluster: {spec_exc}; and the "
                                   f"fallback variables: {env_exc}. Vertex AI sets CLUSTER_SPEC in every replica of "
                                   f"a job submitted with python -m zeta_rmt.launch (docs/vertex_ai.md)") from None
        if text:
            print(f"[zeta_rmt] {spec_exc}; placed on node {node.node_rank} from the environment variables instead",
                  flush=True)
        return node
    _check_agree(node, environ)
    return node


class VertexEnvironment(ClusterEnvironment):
    """Lightning ``ClusterEnvironment`` for a (multi-node) Vertex AI job; the node is resolved once,
    at construction (:func:`resolve_node`).

    Like Lightning's default environment it lets Lightning's launcher start the ``devices - 1``
    other processes of a node (``creates_processes_externally`` is True only in those, which have
    ``LOCAL_RANK``), and takes the global rank and world size that the DDP strategy sets
    (``g = r * d + l``, ``W = N * d``). Given ``devices`` it sets them already at construction,
    and with them Lightning's ``rank_zero_only.rank``: Lightning guesses that rank at import from
    ``RANK``, which on Vertex AI is the node index, so a child process on the chief would
    otherwise act as rank 0 until the strategy sets it.
    """

    def __init__(self, devices: int | None = None, num_nodes: int | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._environ = os.environ if environ is None else environ
        self.node = resolve_node(self._environ)
        self._devices: int | None = None
        self._global_rank: int | None = None
        self._world_size: int | None = None
        if num_nodes is not None or devices is not None:
            self.validate_settings(num_devices=devices, num_nodes=num_nodes)
        if devices is not None:
            self.set_global_rank(self.node.node_rank * devices + self.local_rank())
            if self.node.num_nodes is not None:
                self.set_world_size(self.node.num_nodes * devices)

    @property
    def creates_processes_externally(self) -> bool:
        return _spawned(self._environ)

    @property
    def main_address(self) -> str:
        return self.node.main_address

    @property
    def main_port(self) -> int:
        return self.node.main_port

    @staticmethod
    def detect() -> bool:
        """A Vertex AI replica: ``CLUSTER_SPEC`` is set."""
        return bool(os.environ.get("CLUSTER_SPEC"))

    def world_size(self) -> int:
        if self._world_size is None:
            raise RuntimeError("VertexEnvironment.world_size() before the Trainer set it (pass devices= to know it "
                               "earlier)")
        return self._world_size

    def set_world_size(self, size: int) -> None:
        self._world_size = int(size)

    def global_rank(self) -> int:
        if self._global_rank is None:
            raise RuntimeError("VertexEnvironment.global_rank() before the Trainer set it (pass devices= to know it "
                               "earlier)")
        return self._global_rank

    def set_global_rank(self, rank: int) -> None:
        self._global_rank = int(rank)
        rank_zero_only.rank = int(rank)

    def local_rank(self) -> int:
        return _int(self._environ.get("LOCAL_RANK", 0), "LOCAL_RANK")

    def node_rank(self) -> int:
        return self.node.node_rank

    def validate_settings(self, num_devices: int | None, num_nodes: int | None) -> None:
        """The Trainer's ``num_nodes`` must be the job's node count, and ``devices`` the same in every call."""
        if num_nodes is not None and self.node.num_nodes is not None and int(num_nodes) != self.node.num_nodes:
            raise ClusterSpecError(
                f"trainer.num_nodes={num_nodes} but this Vertex AI job has {self.node.num_nodes} nodes "
                f"({self.node.source}); launch with a hardware profile whose replica_count is the node count "
                f"(hardware.replica_count sets trainer.num_nodes)")
        if num_devices is not None:
            if self._devices is not None and int(num_devices) != self._devices:
                raise ClusterSpecError(f"devices per node changed from {self._devices} to {num_devices}")
            if not 0 <= self.local_rank() < int(num_devices):
                raise ClusterSpecError(f"LOCAL_RANK={self.local_rank()} is not one of the {num_devices} devices")
            self._devices = int(num_devices)


def trainer_plugins(cfg: DictConfig, environ: Mapping[str, str] | None = None) -> list[ClusterEnvironment]:
    """The Trainer's plugins for this process: ``[VertexEnvironment]`` in a Vertex AI job
    (``CLUSTER_SPEC`` set), checked against ``trainer.num_nodes``/``trainer.devices``; else ``[]``."""
    environ = os.environ if environ is None else environ
    if "CLUSTER_SPEC" not in environ:
        return []
    tr = cfg.get("trainer") or {}
    devices = tr.get("devices")
    devices = devices if isinstance(devices, int) and not isinstance(devices, bool) and devices >= 1 else None
    return [VertexEnvironment(devices=devices, num_nodes=int(tr.get("num_nodes") or 1), environ=environ)]
