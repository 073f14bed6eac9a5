r"""AR(k) on the unfolded deviation delta_n = N0(gamma_n) - (n - 1/2).

Model:   delta_n = c + sum_{j=1..k} a_j delta_{n-j} + eps_n,
fitted by ordinary least squares on every window of k + 1 consecutive training zeros.
A prediction delta_hat_n is turned into a height by gamma_hat_n = N0^{-1}(n - 1/2 + delta_hat_n).

one_step:      delta_hat_n = c + sum_j a_j delta_{n-j} with the *true* delta_{n-j}
               (history must contain n-k .. n-1).
free_running:  the recursion y_t = c + sum_j a_j y_{t-j} run forward from the last k true
               deltas of the history (an IIR filter, evaluated with scipy.signal.lfilter);
               for a stable fit it relaxes to the mean c / (1 - sum a_j).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter, lfiltic

from zeta_rmt.baselines.base import Baseline, as_history, as_indices, check_free_running, check_mode
from zeta_rmt.rmt.unfolding import inverse_smooth_count, smooth_count


def unfolded_deviation(gammas, indices) -> np.ndarray:
    """delta_n = N0(gamma_n) - (n - 1/2)."""
    return smooth_count(gammas) - (np.asarray(indices, dtype=np.float64) - 0.5)


def fit_ar(delta, order: int) -> tuple[float, np.ndarray]:
    """Least-squares (c, a_1..a_k) for delta_n = c + sum_j a_j delta_{n-j}."""
    delta = np.asarray(delta, dtype=np.float64)
    if int(order) != order or order < 1:
        raise ValueError(f"AR order must be a positive integer, got {order!r}")
    order = int(order)
    if delta.size < 2 * order + 2:
        raise ValueError(f"fitting AR({order}) needs at least {2 * order + 2} training zeros, got {delta.size}")
    win = sliding_window_view(delta, order + 1)  # rows: delta_{t-k} .. delta_t
    lags = win[:, :-1][:, ::-1]  # delta_{t-1} .. delta_{t-k}
    design = np.hstack([np.ones((lags.shape[0], 1)), lags])
    coef, *_ = np.linalg.lstsq(design, win[:, -1], rcond=None)
    return float(coef[0]), coef[1:].copy()


class ARBaseline(Baseline):
    """AR(order) on delta_n; call ``fit(history)`` on training zeros before ``predict``."""

    name = "ar"

    def __init__(self, order: int = 16, mode: str = "one_step"):
        if int(order) != order or order < 1:
            raise ValueError(f"AR order must be a positive integer, got {order!r}")
        self.order = int(order)
        self.mode = check_mode(mode)
        self.intercept: float | None = None
        self.coefficients: np.ndarray | None = None

    @property
    def min_history(self) -> int:
        """4(k + 1) known zeros: ``fit_ar`` solves with 2k + 2, but with fewer than about three equations
        per coefficient the fit overfits and its free-running recursion diverges (AR(16) on zeros 1..34 and
        1..40 ran to negative heights; from 1..68 on it stays within 1.5 spacings of the truth)."""
        return 4 * (self.order + 1)

    def __repr__(self) -> str:
        return f"ARBaseline(order={self.order}, mode={self.mode!r})"

    def fit(self, history) -> "ARBaseline":
        hist = as_history(history)
        self.intercept, self.coefficients = fit_ar(unfolded_deviation(hist.gammas, hist.indices()), self.order)
        return self

    def _check_fitted(self) -> None:
        if self.coefficients is None:
            raise RuntimeError("ARBaseline.predict called before fit(history): fit it on training zeros first")

    def predict(self, indices, history=None) -> np.ndarray:
        self._check_fitted()
        n = as_indices(indices)
        hist = as_history(history)
        k = self.order
        if self.mode == "one_step":
            lag_idx = n[..., None] - np.arange(1, k + 1)  # n-1 .. n-k
            lags = unfolded_deviation(hist.take(lag_idx), lag_idx)
            delta_hat = self.intercept + lags @ self.coefficients
        else:
            check_free_running(n, hist)
            if n.size == 0:
                return np.zeros(n.shape)
            if hist.gammas.size < k:
                raise ValueError(f"free-running AR({k}) needs the last {k} known zeros; history has {hist.gammas.size}")
            past_idx = np.arange(hist.end, hist.end - k, -1)  # most recent first
            past = unfolded_deviation(hist.take(past_idx), past_idx)
            steps = int(n.max()) - hist.end
            a = np.concatenate([[1.0], -self.coefficients])
            zi = lfiltic([1.0], a, past)
            path, _ = lfilter([1.0], a, np.full(steps, self.intercept), zi=zi)
            delta_hat = path[n - hist.end - 1]
        return inverse_smooth_count(n - 0.5 + delta_hat)
