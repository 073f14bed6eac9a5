"""GUE negative log-likelihood of the predicted nearest-neighbour spacings."""
from __future__ import annotations

from torch import nn

from zeta_rmt.losses.base import LossInputs, consecutive_spacings, zero_like_graph
from zeta_rmt.losses.surmise import wigner_surmise_pdf


def unfold_global_mean(d):
    """The groups' unfolding: keep positive spacings and divide by their mean, s = d / mean(d)."""
    d = d[d > 0]
    if d.numel() == 0:
        return d
    return d / d.mean()


class GUENLLLoss(nn.Module):
    r"""``L = −(1/m) Σ_i log max(p(s_i), floor)`` over unfolded predicted spacings.

    Spacings ``d_i = γ̂_{n+1} − γ̂_n`` between consecutive zeros (original indices differing by 1,
    see :func:`consecutive_spacings`); ``d > 0`` kept; unfolded ``s = d / mean(d)``; density
    ``p`` = the Wigner surmise ``(32/π²) s² exp(−4s²/π)``; floor 1e-10.
    """

    needs_full_graph = False

    def __init__(self, density: str = "surmise", unfolding: str = "global_mean", floor: float = 1e-10):
        super().__init__()
        if density != "surmise":
            raise ValueError(f"loss gue_nll: unknown density {density!r}; known: 'surmise'")
        if unfolding != "global_mean":
            raise ValueError(f"loss gue_nll: unknown unfolding {unfolding!r}; known: 'global_mean'")
        if not floor > 0:
            raise ValueError(f"loss gue_nll: floor must be > 0, got {floor!r}")
        self.density = density
        self.unfolding = unfolding
        self.floor = float(floor)

    def forward(self, inputs: LossInputs):
        d = consecutive_spacings(inputs.gamma_pred, inputs.node_index)
        s = unfold_global_mean(d)
        if s.numel() == 0:
            return zero_like_graph(inputs.gamma_pred)
        p = wigner_surmise_pdf(s)
        return -(p.clamp_min(self.floor).log()).mean()
