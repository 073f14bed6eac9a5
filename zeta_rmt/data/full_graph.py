"""Team 1: the whole adelic graph as one batch."""
from __future__ import annotations

from torch.utils.data import DataLoader

from zeta_rmt.data.base import DataConfigError, ZeroGraphDataModule, identity_collate
from zeta_rmt.graph import adelic_graph
from zeta_rmt.graph.banded import banded_graph

GRAPH_FORMATS = ("banded", "edges")


class FullGraphDataModule(ZeroGraphDataModule):
    """One batch per epoch: all N nodes, the GCN-normalised adelic graph, train/val masks.

    ``graph`` (``data.graph``) is how the batch carries Â, built once and reused every step:

    * ``banded`` (default): ``batch.adj``, a :class:`~zeta_rmt.graph.banded.BandedAdjacency`
      (N floats: D^{-1/2}; Â·X as shifted copies of X).  A ``model.net.conv=pyg`` network derives the
      edge list from it on first use;
    * ``edges``: ``batch.edge_index`` / ``batch.edge_weight`` (2·E int64 + E float32: 600 MB at
      N = 2·10⁶ with primes 2..13), as PyG layers take them.
    """

    regime = "full"

    def __init__(self, *args, graph: str = "banded", **kwargs):
        super().__init__(*args, **kwargs)
        if graph not in GRAPH_FORMATS:
            raise DataConfigError(f"data.graph must be one of {GRAPH_FORMATS}, got {graph!r}")
        self.graph = graph
        self.graph_data = None

    def setup(self, stage: str | None = None) -> None:
        if self.graph_data is not None:
            return
        data = self.node_data()
        if self.graph == "banded":
            data.adj = banded_graph(self.num_zeros, self.primes)
        else:
            g = adelic_graph(self.num_zeros, self.primes)
            data.edge_index = g.edge_index
            data.edge_weight = g.edge_weight
        self.graph_data = data

    def _loader(self):
        return DataLoader([self.graph_data], batch_size=None, collate_fn=identity_collate)

    def train_dataloader(self):
        return self._loader()

    def val_dataloader(self):
        return self._loader()
