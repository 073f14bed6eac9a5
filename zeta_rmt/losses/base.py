"""What every loss component receives, and the spacing rule shared by the GUE losses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor


@dataclass
class LossInputs:
    """The nodes a loss is computed on (the train or validation nodes of one batch).

    pred:        model output for those nodes (target space), shape (M,)
    target:      the training target for those nodes, shape (M,)
    gamma_pred:  predictions mapped to heights gamma (equal to ``pred`` for raw targets)
    node_index:  0-based original index of each node (zero n = node_index + 1), shape (M,)
    features:    node features of the *whole batch*, shape (B, F)
    rerun:       ``features -> predictions of the same M nodes`` on the same batch graph
                 (used by rg penalties that re-run the model on transformed inputs)
    dilated:     ``lam -> heights`` predicted for the same M nodes as if node n were zero lam*n:
                 the data's features recomputed at the dilated indices of every batch node, the
                 model re-run on the same batch graph, outputs mapped to heights at lam*n (used
                 by :class:`~zeta_rmt.losses.ScaleRGPenalty`); ``None`` when the target has no
                 pointwise height (``data.target=spacing``) or no data module is attached
    """

    pred: Tensor
    target: Tensor
    gamma_pred: Tensor
    node_index: Tensor
    features: Optional[Tensor] = None
    rerun: Optional[Callable[[Tensor], Tensor]] = None
    dilated: Optional[Callable[[float], Tensor]] = None


def consecutive_spacings(values: Tensor, node_index: Tensor) -> Tensor:
    """Spacings ``v[n+1] - v[n]`` between nodes whose original indices differ by exactly 1.

    Nodes are first sorted by original index.  On the full graph every train node has its
    successor, so this is ``diff(values)`` in index order (the groups' full-graph rule); on a
    Cluster-GCN batch, pairs split across clusters are dropped (the groups' cluster rule).
    """
    if values.numel() < 2:
        return values.new_zeros(0)
    order = torch.argsort(node_index)
    v = values[order]
    idx = node_index[order]
    keep = (idx[1:] - idx[:-1]) == 1
    return (v[1:] - v[:-1])[keep]


def zero_like_graph(x: Tensor) -> Tensor:
    """A zero that stays attached to the autograd graph of ``x`` (for empty inputs)."""
    return x.sum() * 0.0
