"""Team 1: the whole adelic graph as one batch."""
from __future__ import annotations

from torch.utils.data import DataLoader

from zeta_rmt.data.base import ZeroGraphDataModule, identity_collate
from zeta_rmt.graph import adelic_graph


class FullGraphDataModule(ZeroGraphDataModule):
    """One batch per epoch: all N nodes, the GCN-normalised adelic graph, train/val masks."""

    regime = "full"

    def setup(self, stage: str | None = None) -> None:
        if getattr(self, "graph_data", None) is not None:
            return
        data = self.node_data()
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
