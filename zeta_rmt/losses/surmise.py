"""The Wigner surmise (β = 2) as the GUE losses use it, and the groups' biased sampler of it.

    p_W(s) = (32 / π²) s² exp(−4 s² / π),   s ≥ 0,  ∫ p_W = 1,  E[s] = 1

The density is :func:`zeta_rmt.rmt.surmise.wigner_pdf_torch`.  :func:`sample_wigner_surmise` draws
p_W exactly (truncated at 3: a mass of ~1e-5 dropped).

The groups' MMD reference sampler (SPEC §2) draws s ~ U[0, 3], u ~ U[0, 0.6] and keeps s when
u ≤ p_W(s).  Rejection sampling needs a ceiling above the density, but p_W peaks at
p_W(√π/2) = 8/(πe) ≈ 0.937, so where p_W > 0.6 (s in (a, b) ≈ (0.5065, 1.3328)) every s is kept
with probability 1 instead of p_W(s)/0.6.  The law it draws is therefore

    q(s) = min(p_W(s), c) / Z   on [0, 3],   c = 0.6,
    Z = F_W(a) + c (b − a) + F_W(3) − F_W(b) ≈ 0.82181

(a, b the two roots of p_W = c: with t = 4s²/π, p_W = c reads t e^{−t} = πc/8, so
t = −W₀(−πc/8) and −W₋₁(−πc/8)); mean 1.02046, variance 0.20703 (the surmise: 1, 0.17810),
sup |F_q − F_W| = 0.0531 at s ≈ 1.216.  :func:`sample_groups_surmise` draws q, vectorised;
:func:`groups_surmise_cdf` is its exact CDF.  It is kept for reproducing the groups' runs
(``loss.components.gue_mmd.samples=groups``), never the default.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from scipy.special import lambertw
from torch import Tensor

from zeta_rmt.rmt.surmise import sample_wigner_torch, wigner_cdf, wigner_pdf_torch

wigner_surmise_pdf = wigner_pdf_torch

#: the groups' rejection sampler: s ~ U[0, GROUPS_UPPER], u ~ U[0, GROUPS_CEILING], keep s if u <= p_W(s)
GROUPS_CEILING = 0.6
GROUPS_UPPER = 3.0


def sample_wigner_surmise(
    n: int,
    *,
    upper: float = 3.0,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> Tensor:
    """``n`` draws from p_W truncated to ``[0, upper]`` (vectorised, no per-sample loop).

    Exact draws s = sqrt(π/8)·|g|, g ~ N(0, I₃), with the rare ones above ``upper`` drawn again.
    This is the surmise itself, *not* the law of the groups' rejection sampler (whose ceiling is
    below the density's peak): that one is :func:`sample_groups_surmise`.
    """
    if n <= 0:
        return torch.zeros(0, dtype=dtype, device=device)
    out, have = [], 0
    while have < n:
        s = sample_wigner_torch(n - have + 16, generator=generator, dtype=torch.float64, device=device)
        s = s[s <= upper]
        out.append(s)
        have += s.numel()
    return torch.cat(out)[:n].to(dtype)


def _crossings(ceiling: float) -> tuple[float, float]:
    """The roots a < b of p_W(s) = ceiling, by Lambert W (a = b = the mode when ceiling ≥ 8/(πe))."""
    if ceiling >= 8.0 / (math.pi * math.e):
        return math.sqrt(math.pi) / 2.0, math.sqrt(math.pi) / 2.0
    z = -math.pi * ceiling / 8.0
    t0, t1 = -lambertw(z, 0).real, -lambertw(z, -1).real
    return math.sqrt(math.pi * t0 / 4.0), math.sqrt(math.pi * t1 / 4.0)


def _capped_mass(x, ceiling: float):
    """∫_0^x min(p_W(s), ceiling) ds (numpy, elementwise, x ≥ 0)."""
    a, b = _crossings(ceiling)
    x = np.asarray(x, dtype=np.float64)
    x_a, x_b = np.minimum(x, a), np.clip(x, a, b)
    return wigner_cdf(x_a) + ceiling * (x_b - a) + np.where(x > b, wigner_cdf(x) - wigner_cdf(b), 0.0)


def groups_surmise_cdf(s, ceiling: float = GROUPS_CEILING, upper: float = GROUPS_UPPER):
    """Exact CDF of the groups' sampler's law min(p_W, ceiling)/Z on [0, upper] (numpy, elementwise)."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, upper)
    return _capped_mass(s, ceiling) / _capped_mass(upper, ceiling)


def sample_groups_surmise(
    n: int,
    *,
    ceiling: float = GROUPS_CEILING,
    upper: float = GROUPS_UPPER,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> Tensor:
    """``n`` draws of the groups' rejection sampler: the first ``n`` accepted of the pairs
    (s, u) ~ U[0, ``upper``] × U[0, ``ceiling``] with u ≤ p_W(s), in draw order.

    Vectorised: pairs are drawn in batches sized by the acceptance rate (≈ 0.457 for their
    constants), from ``generator`` (default: torch's global RNG, as every reference sampler of
    :class:`~zeta_rmt.losses.GUEMMDLoss`).  With ``ceiling`` < 8/(πe) the law is min(p_W, ceiling)/Z,
    not p_W (module docstring).
    """
    if not (ceiling > 0 and upper > 0):
        raise ValueError(f"the rejection sampler needs ceiling > 0 and upper > 0, got {ceiling!r}, {upper!r}")
    if n <= 0:
        return torch.zeros(0, dtype=dtype, device=device)
    rate = max(float(_capped_mass(upper, ceiling)) / (upper * ceiling), 1e-3)  # acceptance probability
    out, have = [], 0
    while have < n:
        k = int((n - have) / rate) + 32
        pair = torch.rand(k, 2, generator=generator, dtype=torch.float64, device=device)
        s = pair[:, 0] * upper
        keep = pair[:, 1] * ceiling <= wigner_pdf_torch(s)
        out.append(s[keep])
        have += out[-1].numel()
    return torch.cat(out)[:n].to(dtype)
