"""The smooth (Riemann-von Mangoldt) counting function and its inverse, numpy only.

    N0(T) = (T / 2 pi) log(T / (2 pi e)) + 7/8,      dN0/dT = log(T / 2 pi) / 2 pi

Kept free of torch and scipy so that light tools (the zero generator, Batch tasks) can use it;
:mod:`zeta_rmt.rmt.unfolding` re-exports these names next to their torch versions.
"""
from __future__ import annotations

import numpy as np

TWO_PI = 2.0 * np.pi
#: N0 is increasing only for T > 2 pi.
T_MIN = TWO_PI * 1.0001


def smooth_count(t):
    """N0(t) = (t/2pi) log(t/(2 pi e)) + 7/8, elementwise (numpy arrays or floats)."""
    t = np.asarray(t, dtype=np.float64)
    return t / TWO_PI * np.log(t / (TWO_PI * np.e)) + 0.875


def smooth_density(t):
    """dN0/dt = log(t / 2pi) / 2pi: zeros per unit height."""
    t = np.asarray(t, dtype=np.float64)
    return np.log(t / TWO_PI) / TWO_PI


def local_mean_spacing(t):
    """Mean gap between consecutive zeros at height t: 2 pi / log(t / 2 pi)."""
    return 1.0 / smooth_density(t)


def inverse_smooth_count(x, *, iterations: int = 60, tol: float = 1e-13):
    """Solve N0(T) = x for T (x > 0) by Newton's method from a Lambert-W-type start.

    Accurate to ~1e-12 relative for x >= 0.1; the starting point is
    T0 = 2 pi (x - 7/8) / W((x - 7/8)/e) approximated by two fixed-point steps of W.
    """
    x = np.asarray(x, dtype=np.float64)
    if np.any(x <= 0):
        raise ValueError("inverse_smooth_count needs x > 0 (N0 is increasing only for T > 2 pi)")
    y = np.maximum(x - 0.875, 1e-3) / np.e
    w = np.log1p(y)  # W(y) start; refine W by a few Newton steps on w e^w = y
    for _ in range(8):
        ew = np.exp(w)
        w = w - (w * ew - y) / (ew * (w + 1.0))
    t = np.maximum(TWO_PI * (x - 0.875) / np.maximum(w, 1e-12), TWO_PI * np.e * 1.0001)
    for _ in range(iterations):
        f = smooth_count(t) - x
        step = f / smooth_density(t)
        t = np.maximum(t - step, TWO_PI * 1.0001)
        if np.all(np.abs(step) <= tol * t):
            break
    return t


def unfold(gamma):
    """Unfolded positions x_n = N0(gamma_n)."""
    return smooth_count(gamma)
