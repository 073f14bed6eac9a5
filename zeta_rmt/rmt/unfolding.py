"""Unfolding with the smooth (Riemann-von Mangoldt) counting function.

    N0(T) = (T / 2 pi) log(T / (2 pi e)) + 7/8

The n-th zero sits near N0(gamma_n) ~ n - 1/2.  Unfolded positions x_n = N0(gamma_n) have
unit mean spacing at every height; the local mean spacing of the gammas is
2 pi / log(gamma / 2 pi) (the reciprocal of dN0/dT).

Two ways of turning a sequence of heights into unit-mean spacings are offered:

* ``"local"``: s_i = N0(gamma_{i+1}) - N0(gamma_i) (correct at every height);
* ``"global_mean"``: d_i = gamma_{i+1} - gamma_i, keep d_i > 0, s_i = d_i / mean(d)
  (the groups' original unfolding; wrong when the density changes across the sample).

Each has a numpy version and a differentiable torch version (``*_torch``).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from zeta_rmt.rmt.smooth import (  # noqa: F401  (re-exported)
    TWO_PI,
    T_MIN,
    inverse_smooth_count,
    local_mean_spacing,
    smooth_count,
    smooth_density,
    unfold,
)

UNFOLDING_METHODS = ("local", "global_mean")


def _check_method(method: str) -> None:
    if method not in UNFOLDING_METHODS:
        raise ValueError(f"unknown unfolding method {method!r}; choose one of {UNFOLDING_METHODS}")


def _consecutive_pairs_numpy(values, indices):
    """Values sorted by index and a mask of the pairs (i, i+1) whose indices differ by exactly 1."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of heights, got shape {values.shape}")
    if indices is None:
        return values, np.ones(max(values.size - 1, 0), dtype=bool)
    indices = np.asarray(indices)
    if indices.shape != values.shape:
        raise ValueError(f"indices shape {indices.shape} does not match values shape {values.shape}")
    order = np.argsort(indices, kind="stable")
    return values[order], np.diff(indices[order]) == 1


def unfolded_spacings(gamma, method: str = "local", *, indices=None, positive_only: bool = True) -> np.ndarray:
    """Unit-mean spacings of a sequence of heights (numpy).

    ``method="local"``: s_i = N0(gamma_{i+1}) - N0(gamma_i).
    ``method="global_mean"``: d_i = gamma_{i+1} - gamma_i, s_i = d_i / mean(d_j > 0).

    ``indices`` (optional, same length): the zero index of each height; values are sorted by
    it and only pairs whose indices differ by exactly 1 are used (the cluster regime, where a
    batch holds a non-contiguous subset).  ``positive_only`` drops non-positive spacings (the
    groups' rule; a model can predict non-monotone heights).
    """
    _check_method(method)
    gamma, pair = _consecutive_pairs_numpy(gamma, indices)
    if method == "local":
        if np.any(gamma <= TWO_PI):
            raise ValueError("local unfolding needs heights > 2 pi (where N0 is increasing)")
        s = np.diff(smooth_count(gamma))
    else:
        s = np.diff(gamma)
    s = s[pair]
    if positive_only:
        s = s[s > 0]
    if method == "global_mean":
        if s.size == 0 or not np.any(s > 0):
            raise ValueError("global_mean unfolding needs at least one positive spacing")
        s = s / s[s > 0].mean()
    return s


# --------------------------------------------------------------------------- torch versions


def smooth_count_torch(t: torch.Tensor) -> torch.Tensor:
    """Differentiable N0(t); t is clamped to >= T_MIN (no gradient below it)."""
    t = torch.clamp(t, min=T_MIN)
    return t / TWO_PI * torch.log(t / (TWO_PI * math.e)) + 0.875


def smooth_density_torch(t: torch.Tensor) -> torch.Tensor:
    """Differentiable dN0/dt = log(t/2pi)/2pi; t clamped to >= T_MIN."""
    t = torch.clamp(t, min=T_MIN)
    return torch.log(t / TWO_PI) / TWO_PI


def local_mean_spacing_torch(t: torch.Tensor) -> torch.Tensor:
    """Differentiable 2 pi / log(t/2pi); t clamped to >= T_MIN."""
    return 1.0 / smooth_density_torch(t)


def unfold_torch(gamma: torch.Tensor) -> torch.Tensor:
    """Differentiable unfolded positions N0(gamma)."""
    return smooth_count_torch(gamma)


def unfolded_spacings_torch(
    gamma: torch.Tensor,
    method: str = "local",
    *,
    indices: torch.Tensor | None = None,
    positive_only: bool = True,
) -> torch.Tensor:
    """Differentiable unit-mean spacings of a 1-D tensor of heights.

    Same definitions and arguments as :func:`unfolded_spacings`; gradients flow to
    ``gamma``.  The selection masks (positivity, consecutive indices) carry no gradient.
    With ``method="global_mean"`` the normaliser mean(d) is part of the graph, as in the
    groups' loss.  Returns an empty tensor when no spacing survives the masks.
    """
    _check_method(method)
    if gamma.ndim != 1:
        raise ValueError(f"expected a 1-D tensor of heights, got shape {tuple(gamma.shape)}")
    if indices is not None:
        if indices.shape != gamma.shape:
            raise ValueError(f"indices shape {tuple(indices.shape)} does not match gamma shape {tuple(gamma.shape)}")
        step = torch.diff(indices)
        if bool((step >= 0).all()):  # already in index order (the full graph): no sort
            pair = step == 1
        else:
            order = torch.argsort(indices, stable=True)
            gamma = gamma[order]
            pair = torch.diff(indices[order]) == 1
    else:
        pair = torch.ones(max(gamma.numel() - 1, 0), dtype=torch.bool, device=gamma.device)
    if method == "local":
        s = torch.diff(smooth_count_torch(gamma))
    else:
        s = torch.diff(gamma)
    keep = pair & (s > 0) if positive_only else pair
    s = s[keep]
    if method == "global_mean" and s.numel() > 0:
        pos = s[s > 0]
        if pos.numel() > 0:
            s = s / pos.mean()
    return s
