"""GUE negative log-likelihood of the predicted nearest-neighbour spacings."""
from __future__ import annotations

from torch import Tensor, nn

from zeta_rmt.losses.base import LossInputs, zero_like_graph
from zeta_rmt.losses.surmise import wigner_surmise_pdf
from zeta_rmt.rmt.gaudin import gaudin_logpdf_torch
from zeta_rmt.rmt.unfolding import unfolded_spacings_torch

DENSITIES = ("surmise", "gaudin")
UNFOLDINGS = ("global_mean", "local")


def predicted_spacings(inputs: LossInputs, unfolding: str) -> Tensor:
    r"""Unit-mean spacings of the predicted heights of consecutive nodes.

    Nodes are sorted by original index and only pairs whose indices differ by exactly 1 count: on
    the full graph that is every train node and its successor (the groups' full-graph rule); on a
    Cluster-GCN batch, pairs split across clusters are dropped (the groups' cluster rule).

    ``global_mean`` (the groups'): d_i = gamma_hat_{n+1} - gamma_hat_n, keep d > 0, s = d / mean(d).
    ``local``: s_i = N0(gamma_hat_{n+1}) - N0(gamma_hat_n), keep s > 0, in float64; unit mean at every
    height when the predictions follow the Riemann-von Mangoldt density, and no normaliser, so a
    wrong density is penalised instead of divided away.
    """
    if unfolding == "global_mean":
        return unfolded_spacings_torch(inputs.gamma_pred, "global_mean", indices=inputs.node_index)
    if unfolding == "local":
        return unfolded_spacings_torch(inputs.gamma_pred.double(), "local", indices=inputs.node_index)
    raise ValueError(f"unknown unfolding {unfolding!r}; known: {UNFOLDINGS}")


class GUENLLLoss(nn.Module):
    r"""``L = −(1/m) Σ_i log max(p(s_i), floor)`` over unfolded predicted spacings.

    Spacings between consecutive zeros (original indices differing by 1, see
    :func:`predicted_spacings`), unfolded by ``unfolding`` (see :func:`predicted_spacings`):
    ``global_mean`` s = d / mean(d) over d > 0 (the groups'), or ``local`` s = ΔN0(gamma_hat).

    ``density``:
      * ``surmise`` (the groups'): p_W(s) = (32/π²) s² exp(−4s²/π);
      * ``gaudin``: Gaudin's exact GUE law p(s) = d²/ds² det(I − K_s) (Bornemann quadrature,
        tabulated once, differentiable Hermite interpolation; :func:`zeta_rmt.rmt.gaudin_logpdf_torch`).

    floor 1e-10 (the groups').  By Gibbs' inequality, on spacings drawn from p the expected loss is
    minimal and equals the differential entropy −∫ p log p (surmise 0.52880, Gaudin 0.53303; the
    floor is irrelevant there).
    """

    needs_full_graph = False

    def __init__(self, density: str = "surmise", unfolding: str = "global_mean", floor: float = 1e-10):
        super().__init__()
        if density not in DENSITIES:
            raise ValueError(f"loss.components.gue_nll.density: unknown density {density!r}; known: {DENSITIES}")
        if unfolding not in UNFOLDINGS:
            raise ValueError(f"loss.components.gue_nll.unfolding: unknown unfolding {unfolding!r}; known: {UNFOLDINGS}")
        if not floor > 0:
            raise ValueError(f"loss.components.gue_nll.floor must be > 0, got {floor!r}")
        self.density = density
        self.unfolding = unfolding
        self.floor = float(floor)

    def log_density(self, s: Tensor) -> Tensor:
        """log max(p(s), floor) for this loss's density."""
        if self.density == "surmise":
            return wigner_surmise_pdf(s).clamp_min(self.floor).log()
        return gaudin_logpdf_torch(s, self.floor)

    def forward(self, inputs: LossInputs):
        s = predicted_spacings(inputs, self.unfolding)
        if s.numel() == 0:
            return zero_like_graph(inputs.gamma_pred)
        return -self.log_density(s).mean()
