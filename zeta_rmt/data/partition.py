"""Graph partitioning for Cluster-GCN without pyg-lib / torch-sparse.

:class:`PartitionedClusterData` is PyG's own ``ClusterData`` with its METIS step
(``_metis(edge_index, num_nodes) -> cluster id per node``) supplied by ``pymetis`` or by a
contiguous-block partitioner; everything else (permutation, CSR, per-cluster slicing,
``ClusterLoader``) is PyG's.  Partitions are cached on disk as a plain int64 tensor keyed by
the graph, the method, the number of parts and the seed, and re-loaded with
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.loader import ClusterData

PARTITIONERS = ("metis", "contiguous")


def metis_partition(edge_index: Tensor, num_nodes: int, num_parts: int, seed: int = 0) -> Tensor:
    """METIS k-way partition via pymetis.  METIS wants a symmetric graph without self-loops."""
    import pymetis

    row, col = edge_index
    keep = row != col
    row, col = row[keep], col[keep]
    # symmetrise and deduplicate, then CSR
    r = torch.cat([row, col])
    c = torch.cat([col, row])
    key = torch.unique(r * num_nodes + c)
    r, c = key // num_nodes, key % num_nodes
    indptr = torch.zeros(num_nodes + 1, dtype=torch.int64)
    indptr[1:] = torch.cumsum(torch.bincount(r, minlength=num_nodes), 0)
    opts = pymetis.Options(seed=int(seed))
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2
        graph = {"adjacency": pymetis.CSRAdjacency(indptr.numpy(), c.numpy())}
    else:
        graph = {"xadj": indptr.numpy(), "adjncy": c.numpy()}
    _, membership = pymetis.part_graph(int(num_parts), **graph, options=opts)
    return torch.as_tensor(membership, dtype=torch.int64)


def contiguous_partition(num_nodes: int, num_parts: int) -> Tensor:
    """Blocks of consecutive node ids of (almost) equal size: part(i) = floor(i · k / N)."""
    return torch.arange(num_nodes, dtype=torch.int64) * num_parts // num_nodes


class PartitionedClusterData(ClusterData):
    """PyG ``ClusterData`` whose partition step uses pymetis (or contiguous blocks), cached on disk."""

    def __init__(self, data, num_parts: int, partitioner: str = "metis", seed: int = 0,
                 cache_dir: str | os.PathLike | None = None, graph_key: str | None = None, log: bool = True):
        if partitioner not in PARTITIONERS:
            raise ValueError(f"data.partitioner must be one of {PARTITIONERS}, got {partitioner!r}")
        if isinstance(num_parts, bool) or int(num_parts) != num_parts or not 1 <= num_parts <= data.num_nodes:
            raise ValueError(f"data.num_parts must be an integer in [1, {data.num_nodes}], got {num_parts!r}")
        self.partitioner = partitioner
        self.seed = int(seed)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.graph_key = graph_key
        self.log_progress = log
        self.partition_seconds = 0.0
        self.partition_from_cache = False
        super().__init__(data, num_parts=int(num_parts), log=False)

    def _cache_file(self, edge_index: Tensor, num_nodes: int) -> Path | None:
        if self.cache_dir is None:
            return None
        key = self.graph_key
        if key is None:
            h = hashlib.sha256()
            h.update(str(num_nodes).encode())
            h.update(edge_index.contiguous().numpy().tobytes())
            key = h.hexdigest()[:16]
        seed = f"_s{self.seed}" if self.partitioner == "metis" else ""
        return self.cache_dir / f"{key}_{self.partitioner}_{self.num_parts}{seed}.pt"

    def _metis(self, edge_index: Tensor, num_nodes: int) -> Tensor:
        path = self._cache_file(edge_index, num_nodes)
        if path is not None and path.exists():
            cluster = torch.load(path, weights_only=True)
            if isinstance(cluster, Tensor) and cluster.numel() == num_nodes:
                self.partition_from_cache = True
                return cluster
        t0 = time.perf_counter()
        if self.partitioner == "contiguous" or self.num_parts == 1:
            cluster = contiguous_partition(num_nodes, self.num_parts)
        else:
            if self.log_progress:
                print(f"Partitioning {num_nodes} nodes into {self.num_parts} parts with METIS (pymetis)...",
                      file=sys.stderr)
            cluster = metis_partition(edge_index, num_nodes, self.num_parts, self.seed)
        self.partition_seconds = time.perf_counter() - t0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save(cluster, tmp)
            os.replace(tmp, path)
        return cluster
