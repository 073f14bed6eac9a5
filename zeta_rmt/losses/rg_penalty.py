r"""Renormalisation-group ("scale consistency") penalties.

Two variants, chosen by ``loss.components.rg.variant`` (:func:`make_rg_penalty`):

* ``seed`` — :class:`SeedRGPenalty`, the groups' penalty exactly (SPEC §2);
* ``scale`` — :class:`ScaleRGPenalty`, Riemann–von Mangoldt covariance under the dilation n → λn,
  computed inside whatever batch it is given (a Cluster-GCN cluster or the whole graph).
"""
from __future__ import annotations

import torch
from torch import nn

from zeta_rmt.losses.base import LossInputs, zero_like_graph
from zeta_rmt.rmt.unfolding import smooth_count_torch

VARIANTS = ("seed", "scale")


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
            raise ValueError(f"loss.components.rg.dilation must be > 0, got {dilation!r}")
        self.dilation = float(dilation)
        self.eps = float(eps)

    def forward(self, inputs: LossInputs):
        if inputs.rerun is None or inputs.features is None:
            raise ValueError("loss rg: the seed rg_penalty needs the model re-run on the batch graph")
        if inputs.pred.numel() == 0:
            return zero_like_graph(inputs.pred)
        with torch.no_grad():
            arg = self.dilation * inputs.features + self.eps
            if not bool((arg > 0).all()):
                raise ValueError(
                    "loss.components.rg.variant=seed feeds the network log(dilation*H + eps), which needs positive "
                    "features H; these have entries <= 0 (data.features=prime_sum has signed columns): use "
                    "loss.components.rg.variant=scale, loss.weights.rg=0, or data.features=log_n|unfolded"
                )
            pred_scaled = inputs.rerun(torch.log(arg))
        return ((pred_scaled / self.dilation - inputs.pred) ** 2).mean()


class ScaleRGPenalty(nn.Module):
    r"""Scale consistency under the dilation n → λn, with the exact Riemann–von Mangoldt law.

    The groups' penalty asks γ̂(2n) ≈ 2γ̂(n) and feeds the network log(2·log n) as the "dilated"
    input.  Neither is the scaling of the zeros: the counting function N(T) ≈ N0(T) + 1/2 counts
    zeros, so the *unfolded index* ν(γ) = N0(γ) + 1/2 of the n-th zero is ≈ n at every height and
    dilating the index multiplies it by λ.  With ν̂_i = N0(γ̂_i) + 1/2 for the M scored nodes and
    ν̂^λ_i = N0(γ̂^λ_i) + 1/2 for the heights the same network predicts when every node n of the batch
    is presented as zero λn (features recomputed at λn by the data module, same batch graph; see
    :attr:`LossInputs.dilated`):

        L = (1/M) Σ_i ( ν̂^λ_i / λ − ν̂_i )²                      [(mean spacings)²]

    * zero for the smooth baseline γ̂ = N0^{-1}(n − 1/2) (ν̂ = n exactly) and for any predictor
      whose unfolded deviation δ(n) = ν̂(n) − n obeys δ(λn) = λ δ(n); it does *not* pin the density
      (ν̂ = c·n also gives 0) — that is the MSE's job;
    * on the true zeros it is E(δ(λn)/λ − δ(n))² ≈ (1 + 1/λ²) Var δ ≈ 0.1: it constrains the trend
      and how predictions extrapolate to λ× larger indices, and it damps fine structure that does
      not scale — weigh it accordingly;
    * N0 is clamped at 2π·1.0001 (no gradient below, where N0 is not monotone).

    **Cluster-local**: the re-run happens on the batch's own graph, so inside one Cluster-GCN
    cluster it needs nothing outside the cluster (``needs_full_graph = False``); when the batch is
    the whole graph it *is* the global penalty (tested: a single cluster covering the graph gives
    the full-graph value).  ``detach_dilated=True`` stops the gradient through the dilated pass
    as the seed penalty does; by default gradients flow through both passes.
    Needs a pointwise height for each output: not defined for ``data.target=spacing``.
    """

    needs_full_graph = False

    def __init__(self, dilation: float = 2.0, detach_dilated: bool = False):
        super().__init__()
        if not dilation > 1:
            raise ValueError(f"loss.components.rg.dilation must be > 1 for the scale variant, got {dilation!r}")
        self.dilation = float(dilation)
        self.detach_dilated = bool(detach_dilated)

    def forward(self, inputs: LossInputs):
        if inputs.dilated is None:
            raise ValueError(
                "loss.components.rg.variant=scale needs the model's prediction at dilated indices, which this "
                "batch does not provide: data.target=spacing has no pointwise height (use data.target=raw or "
                "residual), or no data module is attached"
            )
        if inputs.pred.numel() == 0:
            return zero_like_graph(inputs.pred)
        lam = self.dilation
        if self.detach_dilated:
            with torch.no_grad():
                gamma_lam = inputs.dilated(lam)
        else:
            gamma_lam = inputs.dilated(lam)
        nu = smooth_count_torch(inputs.gamma_pred.double()) + 0.5
        nu_lam = smooth_count_torch(gamma_lam.double()) + 0.5
        return ((nu_lam / lam - nu) ** 2).mean()


def make_rg_penalty(variant: str = "seed", dilation: float = 2.0, eps: float = 1e-6,
                    detach_dilated: bool = False) -> nn.Module:
    r"""The rg component for ``loss.components.rg.variant``:

    * ``seed``: :class:`SeedRGPenalty` (``dilation``, ``eps``; ``detach_dilated`` does not apply — its
      second pass is always without gradient);
    * ``scale``: :class:`ScaleRGPenalty` (``dilation`` = λ, ``detach_dilated``; ``eps`` unused).
    """
    if variant == "seed":
        if detach_dilated:
            raise ValueError("loss.components.rg.detach_dilated applies to variant=scale only "
                             "(the seed penalty's second pass is always without gradient)")
        return SeedRGPenalty(dilation=dilation, eps=eps)
    if variant == "scale":
        return ScaleRGPenalty(dilation=dilation, detach_dilated=detach_dilated)
    raise ValueError(f"loss.components.rg.variant: unknown variant {variant!r}; known: {VARIANTS}")
