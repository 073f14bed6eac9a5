"""Team 2: Cluster-GCN mini-batches: PyG ClusterData + ClusterLoader (``data.backend=pyg``), or
contiguous blocks streamed from index ranges (``data.backend=stream``, :mod:`zeta_rmt.data.stream`)."""
from __future__ import annotations

import torch
from torch_geometric.loader import ClusterLoader

from zeta_rmt.data.base import DataConfigError, ZeroGraphDataModule
from zeta_rmt.data.partition import PARTITIONERS, PartitionedClusterData
from zeta_rmt.graph import gcn_weights, node_degrees, undirected_edges
from zeta_rmt.utils.cache import cache_dir


NORMS = ("subgraph", "global", "groups")
BACKENDS = ("pyg", "stream")


class NormalizedClusterLoader(ClusterLoader):
    """PyG's ClusterLoader, plus self-loops and GCN edge weights on each batch.

    ``norm="subgraph"``: Â of the batch's own sub-graph (what GCNConv's default does on a binary
    Cluster-GCN batch); ``norm="global"``: the full graph's weights 1/sqrt(D_i D_j) restricted to the
    batch's edges; ``norm="groups"``: what the groups' cluster script computes, which hands the
    globally normalised Â (self-loops included) as edge weights to ``GCNConv(normalize=True)``, so the
    batch's weights are normalised a second time (:func:`renormalise`).  The groups' form equals
    ``subgraph`` except within 3·max(prime) nodes of the graph's two ends, where the global degrees D
    differ (zeros 1–33 and 9968–10000 for primes 2..11 at N = 10⁴; up to 0.025 in a weight).
    """

    def __init__(self, cluster_data, norm: str = "subgraph", **kwargs):
        if norm not in NORMS:
            raise DataConfigError(f"data.norm must be one of {NORMS}, got {norm!r}")
        self.norm = norm
        super().__init__(cluster_data, **kwargs)

    def _collate(self, batch):
        out = super()._collate(batch)
        deg = out.deg if self.norm in ("global", "groups") else None
        out.edge_index, out.edge_weight = gcn_weights(out.edge_index, out.num_nodes, deg)
        if self.norm == "groups":
            out.edge_weight = renormalise(out.edge_index, out.edge_weight, out.num_nodes)
        return out


def renormalise(edge_index, edge_weight, num_nodes: int):
    r"""PyG's ``gcn_norm`` applied to already-weighted edges that include every self-loop (its
    ``add_remaining_self_loops`` then keeps the existing loop weights, adding none):

        w'_ij = w_ij / sqrt(d_i d_j),   d_i = Σ_j w_ij   (float64, returned as float32)
    """
    w = edge_weight.to(torch.float64)
    deg = torch.zeros(num_nodes, dtype=torch.float64).index_add_(0, edge_index[1], w)
    inv = deg.rsqrt()
    return (inv[edge_index[0]] * w * inv[edge_index[1]]).to(torch.float32)


class ClusterDataModule(ZeroGraphDataModule):
    """METIS (pymetis) or contiguous partitions of the adelic graph, one or a few per step.

    ``backend="stream"`` returns a :class:`zeta_rmt.data.stream.StreamClusterDataModule`
    (contiguous blocks built from index ranges, bounded memory); ``backend="pyg"`` (default) is
    PyG's ``ClusterData``/``ClusterLoader`` with ``partitioner`` ``metis`` (default) or ``contiguous``.
    """

    regime = "cluster"
    backend = "pyg"

    def __new__(cls, *args, backend: str = "pyg", **kwargs):
        if backend not in BACKENDS:
            raise DataConfigError(f"data.backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "stream" and cls is ClusterDataModule:
            from zeta_rmt.data.stream import StreamClusterDataModule

            return super().__new__(StreamClusterDataModule)
        return super().__new__(cls)

    def __init__(self, *args, num_parts: int = 100, batch_size: int = 1, shuffle: bool = True,
                 partitioner: str | None = None, norm: str = "subgraph", partition_seed: int = 0,
                 num_workers: int = 0, cache_partitions: bool = True, backend: str = "pyg",
                 halo=0, shuffle_seed: int | None = None, pin_memory: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if backend == "pyg":
            if halo != 0:
                raise DataConfigError(f"data.halo={halo!r} needs data.backend=stream (PyG's ClusterLoader has no halo)")
            if shuffle_seed is not None:
                raise DataConfigError("data.shuffle_seed is read by data.backend=stream only; set it to null")
        partitioner = partitioner or ("metis" if backend == "pyg" else "contiguous")
        if partitioner not in PARTITIONERS:
            raise DataConfigError(f"data.partitioner must be one of {PARTITIONERS}, got {partitioner!r}")
        if norm not in NORMS:
            raise DataConfigError(f"data.norm must be one of {NORMS}, got {norm!r}")
        if norm == "groups" and backend != "pyg":
            raise DataConfigError("data.norm=groups (the groups' double normalisation) needs data.backend=pyg; "
                                  "data.backend=stream builds data.norm=subgraph|global only")
        if isinstance(num_parts, bool) or int(num_parts) != num_parts or not 1 <= num_parts <= self.num_zeros // 2:
            raise DataConfigError(
                f"data.num_parts must be an integer in [1, num_zeros/2 = {self.num_zeros // 2}], got {num_parts!r}")
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or not 1 <= batch_size <= num_parts:
            raise DataConfigError(f"data.batch_size must be an integer in [1, num_parts={num_parts}], got {batch_size!r}")
        self.num_parts = int(num_parts)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.partitioner = partitioner
        self.norm = norm
        self.partition_seed = int(partition_seed)
        self.num_workers = int(num_workers)
        self.cache_partitions = bool(cache_partitions)
        if pin_memory is not None and not isinstance(pin_memory, bool):
            raise DataConfigError(f"data.pin_memory must be null (auto: on when training on CUDA), true or false, "
                                  f"got {pin_memory!r}")
        self.pin_memory = pin_memory
        self.cluster_data = None

    def setup(self, stage: str | None = None) -> None:
        if self.cluster_data is not None:
            return
        data = self.node_data()
        data.edge_index = undirected_edges(self.num_zeros, self.offsets)
        if self.norm in ("global", "groups"):
            data.deg = node_degrees(self.num_zeros, self.offsets, data.node_index)
        key = f"adelic_n{self.num_zeros}_d{'-'.join(map(str, self.offsets))}"
        self.cluster_data = PartitionedClusterData(
            data, self.num_parts, partitioner=self.partitioner, seed=self.partition_seed,
            cache_dir=(cache_dir() / "partitions") if self.cache_partitions else None, graph_key=key,
        )

    def _pin(self) -> bool:
        """``data.pin_memory``; null: pinned host batches only when the trainer runs on CUDA."""
        if self.pin_memory is not None:
            return self.pin_memory
        t = self.trainer
        return bool(t is not None and torch.cuda.is_available() and t.strategy.root_device.type == "cuda")

    def _loader(self, shuffle: bool):
        return NormalizedClusterLoader(self.cluster_data, norm=self.norm, batch_size=self.batch_size,
                                       shuffle=shuffle, num_workers=self.num_workers, pin_memory=self._pin())

    def train_dataloader(self):
        return self._loader(self.shuffle)

    def val_dataloader(self):
        return self._loader(False)

    def describe(self) -> dict:
        d = super().describe()
        d.update(num_parts=self.num_parts, partitioner=self.partitioner, norm=self.norm, batch_size=self.batch_size,
                 backend=self.backend)
        return d
