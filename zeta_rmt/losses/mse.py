"""Mean squared error on the training target."""
from __future__ import annotations

from torch import nn

from zeta_rmt.losses.base import LossInputs, zero_like_graph


class MSELoss(nn.Module):
    r"""``L = (1/M) Σ_i (pred_i − target_i)²`` over the selected nodes."""

    needs_full_graph = False

    def forward(self, inputs: LossInputs):
        if inputs.pred.numel() == 0:
            return zero_like_graph(inputs.pred)
        return ((inputs.pred - inputs.target) ** 2).mean()
