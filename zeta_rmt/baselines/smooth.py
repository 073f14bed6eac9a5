"""Smooth baseline: gamma_n ~ N0^{-1}(n - 1/2) (n is the 1-based zero index)."""
from __future__ import annotations

import numpy as np

from zeta_rmt.rmt.unfolding import inverse_smooth_count


def smooth_zeros(indices) -> np.ndarray:
    """Smooth-baseline prediction of gamma_n for 1-based indices n: N0^{-1}(n - 1/2)."""
    n = np.asarray(indices, dtype=np.float64)
    if np.any(n < 1):
        raise ValueError("zero indices are 1-based: n >= 1")
    return inverse_smooth_count(n - 0.5)
