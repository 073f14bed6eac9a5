"""The common interface of the non-learned predictors of gamma_n.

Every baseline is an object with

    fit(history) -> self                      # learn from known zeros (no-op if nothing to learn)
    predict(indices, history=None) -> array   # gamma_n for the 1-based indices n

``history`` is a :class:`ZeroHistory` (true zeros gamma_start .. gamma_end), a plain array
(taken to start at index 1) or a ``(start, array)`` pair.  Baselines that use true zeros say
how in their ``mode``:

* ``"one_step"``: each gamma_n is predicted from the *true* gamma_{n-1}, gamma_{n-2}, ...,
  which must be in ``history`` (one-step-ahead, the usual time-series score);
* ``"free_running"``: only zeros up to the end M of ``history`` are known (the training end);
  every requested n must be > M and is reached by iterating the predictor on its own outputs
  (the extrapolation-window setting of the models).

Errors are reported in local mean spacings: |gamma_hat_n - gamma_n| / (2 pi / log(gamma_n / 2 pi)).
"""
from __future__ import annotations

import abc

from dataclasses import dataclass

import numpy as np

from zeta_rmt.rmt.unfolding import local_mean_spacing

MODES = ("one_step", "free_running")


def as_indices(indices) -> np.ndarray:
    """1-based zero indices as an int64 array (validated)."""
    arr = np.asarray(indices)
    if arr.size and not np.all(np.equal(np.mod(arr, 1), 0)):
        raise ValueError("zero indices must be integers")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 1:
        raise ValueError(f"zero indices are 1-based: got min index {int(arr.min())}")
    return arr


@dataclass(frozen=True)
class ZeroHistory:
    """True zeros gamma_start .. gamma_{start + len(gammas) - 1} (a contiguous block)."""

    gammas: np.ndarray
    start: int = 1

    def __post_init__(self):
        g = np.asarray(self.gammas, dtype=np.float64)
        if g.ndim != 1 or g.size == 0:
            raise ValueError(f"a zero history is a non-empty 1-D array, got shape {g.shape}")
        if int(self.start) != self.start or self.start < 1:
            raise ValueError(f"history start is a 1-based index >= 1, got {self.start!r}")
        object.__setattr__(self, "gammas", g)
        object.__setattr__(self, "start", int(self.start))

    @property
    def end(self) -> int:
        """Index of the last known zero."""
        return self.start + self.gammas.size - 1

    def indices(self) -> np.ndarray:
        return np.arange(self.start, self.end + 1, dtype=np.int64)

    def take(self, indices) -> np.ndarray:
        """gamma_n for the given indices; raises if any is outside the history."""
        n = as_indices(indices)
        if n.size and (n.min() < self.start or n.max() > self.end):
            raise ValueError(
                f"history holds zeros {self.start}..{self.end}; needed {int(n.min())}..{int(n.max())}"
            )
        return self.gammas[n - self.start]

    @classmethod
    def load(cls, source: str, start: int, count: int) -> "ZeroHistory":
        """Read true zeros with :func:`zeta_rmt.zeros.load_zeros`."""
        from zeta_rmt.zeros import load_zeros

        return cls(load_zeros(source, start, count), start)


def as_history(history) -> ZeroHistory:
    """Accept a ZeroHistory, an array (starting at index 1), or a (start, array) pair."""
    if isinstance(history, ZeroHistory):
        return history
    if history is None:
        raise ValueError("this baseline needs a history of true zeros (history=...)")
    if isinstance(history, tuple) and len(history) == 2 and np.isscalar(history[0]):
        return ZeroHistory(np.asarray(history[1]), history[0])
    return ZeroHistory(np.asarray(history))


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown baseline mode {mode!r}; choose one of {MODES}")
    return mode


def check_free_running(n: np.ndarray, history: ZeroHistory) -> None:
    if n.size and n.min() <= history.end:
        raise ValueError(
            f"free-running prediction starts after the last known zero (index {history.end}); "
            f"got index {int(n.min())}: use mode='one_step' inside the history"
        )


class Baseline(abc.ABC):
    """Base class: ``fit`` is a no-op, ``predict`` must be implemented."""

    name = "baseline"
    mode = "none"
    #: known zeros ``fit`` needs at least (checked against ``data.num_zeros`` before training)
    min_history = 1

    def fit(self, history) -> "Baseline":
        return self

    @abc.abstractmethod
    def predict(self, indices, history=None) -> np.ndarray:
        """Predicted gamma_n for the 1-based ``indices``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r})"


def error_in_spacings(predicted, true) -> np.ndarray:
    """|predicted - true| / local_mean_spacing(true), elementwise."""
    predicted = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if predicted.shape != true.shape:
        raise ValueError(f"shape mismatch: predicted {predicted.shape}, true {true.shape}")
    return np.abs(predicted - true) / local_mean_spacing(true)


def mean_abs_error_in_spacings(predicted, true) -> float:
    """Mean of :func:`error_in_spacings` (the unit of SPEC 4b's baseline table)."""
    return float(np.mean(error_in_spacings(predicted, true)))
