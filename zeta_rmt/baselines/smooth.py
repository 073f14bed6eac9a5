"""Smooth baseline: gamma_n ~ N0^{-1}(n - 1/2) (n is the 1-based zero index).

Uses no zeros at all: N0(T) = (T/2pi) log(T/(2 pi e)) + 7/8 inverted by Newton's method.
"""
from __future__ import annotations

import numpy as np

from zeta_rmt.baselines.base import Baseline, as_indices
from zeta_rmt.rmt.unfolding import inverse_smooth_count


def smooth_zeros(indices) -> np.ndarray:
    """Smooth-baseline prediction of gamma_n for 1-based indices n: N0^{-1}(n - 1/2)."""
    n = np.asarray(indices, dtype=np.float64)
    if np.any(n < 1):
        raise ValueError("zero indices are 1-based: n >= 1")
    return inverse_smooth_count(n - 0.5)


class SmoothBaseline(Baseline):
    """gamma_hat_n = N0^{-1}(n - 1/2); ``history`` is ignored."""

    name = "smooth"
    mode = "none"

    def predict(self, indices, history=None) -> np.ndarray:
        return smooth_zeros(as_indices(indices))
