"""The Wigner surmise for beta = 2 (GUE), a 2x2-matrix approximation of the spacing law.

    p_W(s) = (32 / pi^2) s^2 exp(-4 s^2 / pi),                      s >= 0
    F_W(s) = erf(2 s / sqrt(pi)) - (4 s / pi) exp(-4 s^2 / pi)

Mean 1, variance 3 pi / 8 - 1 ~ 0.1781 (Gaudin's exact law: ~0.1800).

Sampling is exact and vectorised: s^2 exp(-a s^2) with a = 4/pi is the law of a chi variable
with 3 degrees of freedom scaled by 1/sqrt(2a), so s = sqrt(pi/8) * |g| with g a standard
normal 3-vector.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import erf

_C = 32.0 / math.pi**2
_A = 4.0 / math.pi
_SCALE = math.sqrt(math.pi / 8.0)

#: Mean and variance of the surmise.
WIGNER_MEAN = 1.0
WIGNER_VARIANCE = 3.0 * math.pi / 8.0 - 1.0


def wigner_pdf(s):
    """p_W(s) = (32/pi^2) s^2 exp(-4 s^2/pi) for s >= 0, 0 for s < 0 (numpy, elementwise)."""
    s = np.asarray(s, dtype=np.float64)
    return np.where(s >= 0, _C * s * s * np.exp(-_A * s * s), 0.0)


def wigner_logpdf(s):
    """log p_W(s) = log(32/pi^2) + 2 log s - 4 s^2/pi (-inf for s <= 0)."""
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = math.log(_C) + 2.0 * np.log(s) - _A * s * s
    return np.where(s > 0, out, -np.inf)


def wigner_cdf(s):
    """F_W(s) = erf(2s/sqrt(pi)) - (4s/pi) exp(-4s^2/pi) for s >= 0, 0 below (numpy)."""
    s = np.asarray(s, dtype=np.float64)
    sp = np.maximum(s, 0.0)
    return erf(2.0 * sp / math.sqrt(math.pi)) - _A * sp * np.exp(-_A * sp * sp)


def wigner_ppf(u, *, iterations: int = 50):
    """Inverse CDF of the surmise, u in [0, 1] (vectorised safeguarded Newton)."""
    u = np.asarray(u, dtype=np.float64)
    if np.any((u < 0) | (u > 1)):
        raise ValueError("wigner_ppf needs probabilities in [0, 1]")
    lo = np.zeros_like(u)
    hi = np.full_like(u, 8.0)
    s = np.full_like(u, 1.0)
    for _ in range(iterations):
        f = wigner_cdf(s) - u
        lo = np.where(f < 0, s, lo)
        hi = np.where(f >= 0, s, hi)
        p = wigner_pdf(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = s - f / p
        bad = ~np.isfinite(nxt) | (nxt <= lo) | (nxt >= hi)
        nxt = np.where(bad, 0.5 * (lo + hi), nxt)
        if np.all(np.abs(nxt - s) <= 1e-14 * np.maximum(s, 1e-300)):
            s = nxt
            break
        s = nxt
    s = np.where(u <= 0, 0.0, s)
    return np.where(u >= 1, np.inf, s)


def sample_wigner(n: int, rng=None) -> np.ndarray:
    """n exact samples of the surmise: sqrt(pi/8) * |g|, g ~ N(0, I_3) (numpy)."""
    if int(n) != n or n < 0:
        raise ValueError(f"sample size must be a non-negative integer, got {n!r}")
    rng = np.random.default_rng(rng)
    g = rng.standard_normal((int(n), 3))
    return _SCALE * np.sqrt(np.einsum("ij,ij->i", g, g))


# --------------------------------------------------------------------------- torch versions


def wigner_pdf_torch(s: torch.Tensor) -> torch.Tensor:
    """Differentiable p_W(s); 0 for s < 0."""
    return torch.where(s >= 0, _C * s * s * torch.exp(-_A * s * s), torch.zeros_like(s))


def wigner_logpdf_torch(s: torch.Tensor, floor: float | None = None) -> torch.Tensor:
    """Differentiable log p_W(s) = log(32/pi^2) + 2 log s - 4 s^2/pi.

    With ``floor`` given, returns log(max(p_W(s), floor)) (the groups' NLL used 1e-10);
    without it, s <= 0 gives -inf.
    """
    safe = torch.clamp(s, min=torch.finfo(s.dtype).tiny)
    out = math.log(_C) + 2.0 * torch.log(safe) - _A * safe * safe
    out = torch.where(s > 0, out, torch.full_like(s, -math.inf))
    if floor is not None:
        out = torch.clamp(out, min=math.log(floor))
    return out


def wigner_cdf_torch(s: torch.Tensor) -> torch.Tensor:
    """Differentiable F_W(s)."""
    sp = torch.clamp(s, min=0.0)
    return torch.erf(2.0 * sp / math.sqrt(math.pi)) - _A * sp * torch.exp(-_A * sp * sp)


def sample_wigner_torch(n: int, *, generator: torch.Generator | None = None, dtype=torch.float32, device=None) -> torch.Tensor:
    """n exact samples of the surmise as a tensor (no gradient): sqrt(pi/8) * |g|, g ~ N(0, I_3)."""
    if int(n) != n or n < 0:
        raise ValueError(f"sample size must be a non-negative integer, got {n!r}")
    g = torch.randn(int(n), 3, generator=generator, dtype=dtype, device=device)
    return _SCALE * torch.linalg.vector_norm(g, dim=1)
