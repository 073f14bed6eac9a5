"""What both training regimes share: the zeros, features, targets, split and extrapolation window."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch_geometric.data import Data

from zeta_rmt.graph import adelic_window, graph_offsets
from zeta_rmt.zeros import ZeroDataError, load_zeros

FEATURES = ("log_n",)
TARGETS = ("raw",)


class DataConfigError(ValueError):
    """A data setting is invalid (names the config key)."""


def identity_collate(batch):
    """Collate for loaders whose single item is already a PyG batch."""
    return batch


def node_features(indices: np.ndarray, kind: str) -> torch.Tensor:
    """Features of nodes with 1-based zero indices ``n``: ``log_n`` = log(n) (the groups'), shape (N, 1)."""
    if kind == "log_n":
        return torch.from_numpy(np.log(indices.astype(np.float64))).to(torch.float32).unsqueeze(-1)
    raise DataConfigError(f"data.features: unknown feature set {kind!r}; known: {FEATURES}")


class ZeroGraphDataModule(pl.LightningDataModule):
    """Common base: loads gamma_1 .. gamma_{N+K} and builds train/val masks and the extrapolation window.

    ``num_zeros`` N zeros are used for training and validation: the first ``train_fraction``
    of indices train, the rest validate (an extrapolation split).  The next
    ``extrapolation_window`` K zeros (N+1 .. N+K) are never trained on; they score
    extrapolation.  Targets: ``raw`` = gamma_n itself.
    """

    regime = "base"

    def __init__(
        self,
        source: str = "odlyzko",
        num_zeros: int = 10_000,
        primes: Sequence[int] = (2, 3, 5, 7, 11, 13),
        train_fraction: float = 0.9,
        extrapolation_window: int = 100,
        features: str = "log_n",
        target: str = "raw",
    ):
        super().__init__()
        if isinstance(num_zeros, bool) or int(num_zeros) != num_zeros or num_zeros < 20:
            raise DataConfigError(f"data.num_zeros must be an integer >= 20, got {num_zeros!r}")
        if not (isinstance(train_fraction, (int, float)) and 0.0 < train_fraction < 1.0):
            raise DataConfigError(f"data.train_fraction must be in (0, 1), got {train_fraction!r}")
        if isinstance(extrapolation_window, bool) or int(extrapolation_window) != extrapolation_window or extrapolation_window < 1:
            raise DataConfigError(f"data.extrapolation_window must be an integer >= 1, got {extrapolation_window!r}")
        if features not in FEATURES:
            raise DataConfigError(f"data.features: unknown feature set {features!r}; known: {FEATURES}")
        if target not in TARGETS:
            raise DataConfigError(f"data.target: unknown target {target!r}; known: {TARGETS}")
        try:
            self.offsets = graph_offsets(list(primes))
        except ValueError as exc:
            raise DataConfigError(f"data.primes: {exc}") from exc
        self.source = source
        self.num_zeros = int(num_zeros)
        self.primes = [int(p) for p in primes]
        self.train_fraction = float(train_fraction)
        self.window = int(extrapolation_window)
        self.features = features
        self.target = target
        self.num_train = int(math.floor(self.train_fraction * self.num_zeros))
        if not 2 <= self.num_train <= self.num_zeros - 2:
            raise DataConfigError(
                f"data.train_fraction={train_fraction} leaves {self.num_train} train and "
                f"{self.num_zeros - self.num_train} validation zeros; both need at least 2"
            )
        self.zeros: np.ndarray | None = None

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> np.ndarray:
        """gamma_1 .. gamma_{N+K} (float64); cached on the module."""
        if self.zeros is None:
            need = self.num_zeros + self.window
            try:
                self.zeros = np.asarray(load_zeros(self.source, 1, need), dtype=np.float64)
            except ZeroDataError as exc:
                raise DataConfigError(
                    f"data.num_zeros={self.num_zeros} plus data.extrapolation_window={self.window} "
                    f"needs {need} zeros from data.source={self.source!r}: {exc}"
                ) from exc
        return self.zeros

    def node_data(self) -> Data:
        """Node attributes of the N training/validation nodes (no edges)."""
        zeros = self.load()
        n = np.arange(1, self.num_zeros + 1)
        x = node_features(n, self.features)
        y = torch.from_numpy(zeros[: self.num_zeros]).to(torch.float32)
        node_index = torch.arange(self.num_zeros, dtype=torch.int64)
        train_mask = node_index < self.num_train
        return Data(x=x, y=y, node_index=node_index, train_mask=train_mask, val_mask=~train_mask,
                    num_nodes=self.num_zeros)

    def to_gamma(self, pred: torch.Tensor, node_index: torch.Tensor) -> torch.Tensor:
        """Map model outputs (target space) to heights gamma."""
        return pred

    # -- extrapolation ---------------------------------------------------------------------
    def window_batch(self, n_total: int, num_hops: int, last_k: int) -> tuple[Data, np.ndarray]:
        """A graph window holding the last ``last_k`` nodes of the graph on ``n_total`` nodes.

        It starts ``num_hops · max(offset)`` nodes earlier, so a ``num_hops``-layer GCN gives the
        same outputs on those ``last_k`` nodes as on the whole graph (global normalisation).
        Returns the batch and the 0-based indices of the scored nodes.
        """
        self.load()
        first = max(0, n_total - last_k - num_hops * max(self.offsets))
        g = adelic_window(n_total, self.primes, first, n_total)
        n = np.arange(first + 1, n_total + 1)
        data = Data(x=node_features(n, self.features), edge_index=g.edge_index, edge_weight=g.edge_weight,
                    node_index=torch.arange(first, n_total, dtype=torch.int64), num_nodes=g.num_nodes)
        return data, np.arange(n_total - last_k, n_total)

    def extrapolation_batch(self, num_hops: int) -> tuple[Data, np.ndarray, np.ndarray]:
        """Batch for predicting zeros N+1 .. N+K on the graph of N+K nodes, the 0-based indices
        scored and their true heights."""
        data, idx = self.window_batch(self.num_zeros + self.window, num_hops, self.window)
        return data, idx, self.zeros[idx]

    def next_zero_batch(self, num_hops: int) -> tuple[Data, np.ndarray, np.ndarray]:
        """The groups' check: rebuild the graph for N+1 nodes and predict zero N+1."""
        data, idx = self.window_batch(self.num_zeros + 1, num_hops, 1)
        return data, idx, self.zeros[idx]

    def describe(self) -> dict:
        return {
            "regime": self.regime, "source": self.source, "num_zeros": self.num_zeros,
            "num_train": self.num_train, "num_val": self.num_zeros - self.num_train,
            "extrapolation_window": self.window, "primes": self.primes,
        }
