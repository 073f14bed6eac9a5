"""Weighted sum of loss components: ``L = Σ_k w_k L_k``."""
from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from zeta_rmt.losses.base import LossInputs


class LossConfigError(ValueError):
    """The loss configuration (weights, components) is invalid."""


class CompositeLoss(nn.Module):
    """``L = Σ_k w_k · L_k`` over named components (``mse``, ``gue_nll``, ``gue_mmd``, ``rg``, …).

    ``weights`` and ``components`` must name the same keys; weights are finite and >= 0.  A
    component with weight 0 is skipped (not computed, not logged).
    """

    def __init__(self, weights: Mapping[str, float], components: Mapping[str, nn.Module]):
        super().__init__()
        weights = dict(weights or {})
        components = dict(components or {})
        if not weights:
            raise LossConfigError("loss.weights is empty: give at least one component weight, e.g. loss.weights.mse=1.0")
        missing = sorted(set(weights) - set(components))
        if missing:
            raise LossConfigError(
                f"loss.weights names components without a definition in loss.components: {missing}"
            )
        extra = sorted(set(components) - set(weights))
        if extra:
            raise LossConfigError(f"loss.components {extra} have no weight in loss.weights")
        for key, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise LossConfigError(f"loss.weights.{key} must be a number, got {w!r}")
            if not math.isfinite(w) or w < 0:
                raise LossConfigError(f"loss.weights.{key} must be finite and >= 0, got {w!r}")
        if all(w == 0 for w in weights.values()):
            raise LossConfigError("all loss.weights are 0: nothing to train on")
        self.weights = {k: float(v) for k, v in weights.items()}
        self.components = nn.ModuleDict(components)

    @property
    def active(self) -> list[str]:
        return [k for k, w in self.weights.items() if w > 0]

    @property
    def needs_full_graph(self) -> list[str]:
        """Active components that need the whole graph in one batch."""
        return [k for k in self.active if getattr(self.components[k], "needs_full_graph", False)]

    def forward(self, inputs: LossInputs):
        parts: dict[str, torch.Tensor] = {}
        total = None
        for key in self.active:
            value = self.components[key](inputs)
            parts[key] = value
            term = self.weights[key] * value
            total = term if total is None else total + term
        return total, parts
