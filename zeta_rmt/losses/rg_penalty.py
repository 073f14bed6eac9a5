"""Renormalisation-group ("scale consistency") penalties."""
from __future__ import annotations

import math

import torch
from torch import nn

from zeta_rmt.losses.base import LossInputs, zero_like_graph


class SeedRGPenalty(nn.Module):
    r"""The groups' rg_penalty (SPEC §2), reproduced exactly.

    Without gradient, re-run the model on the dilated features ``H' = log(2·H + ε)``
    (ε = 1e-6) over the whole graph, then

        L = (1/M) Σ_{i ∈ train} (pred'_i / 2 − pred_i)²

    Gradients flow only through ``pred`` (the second pass is ``no_grad`` by definition).  It
    needs the model's output on the whole graph, which is why it is refused on clusters.
    """

    needs_full_graph = True

    def __init__(self, dilation: float = 2.0, eps: float = 1e-6):
        super().__init__()
        if not dilation > 0:
            raise ValueError(f"loss rg: dilation must be > 0, got {dilation!r}")
        self.dilation = float(dilation)
        self.eps = float(eps)

    def forward(self, inputs: LossInputs):
        if inputs.rerun is None or inputs.features is None:
            raise ValueError("loss rg: the seed rg_penalty needs the model re-run on the batch graph")
        if inputs.pred.numel() == 0:
            return zero_like_graph(inputs.pred)
        with torch.no_grad():
            scaled = torch.log(self.dilation * inputs.features + self.eps)
            pred_scaled = inputs.rerun(scaled)
        return ((pred_scaled / self.dilation - inputs.pred) ** 2).mean()
