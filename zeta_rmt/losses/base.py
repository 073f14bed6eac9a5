"""What every loss component receives, and the spacing rule shared by the GUE losses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

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


def zero_like_graph(x: Tensor) -> Tensor:
    """A zero that stays attached to the autograd graph of ``x`` (for empty inputs)."""
    return x.sum() * 0.0
