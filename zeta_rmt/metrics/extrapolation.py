"""Extrapolation error on held-out zeros and skill against a baseline (pure numpy).

skill = 1 − model error / baseline error: 1 is perfect, 0 is as good as the baseline, < 0 worse.
"""
from __future__ import annotations

import numpy as np

from zeta_rmt.rmt.unfolding import local_mean_spacing


def extrapolation_errors(pred, true) -> dict[str, float]:
    """Errors of predicted heights ``pred`` against true zeros ``true`` (same indices).

    mse, mae:           in raw height units
    mae_spacings:       mean |pred − true| / (2π / log(true / 2π)), i.e. in local mean spacings
    mse_spacings:       mean squared error in local mean spacings
    rmse_spacings:      root-mean-square error in local mean spacings

    Non-finite predictions give infinite errors (never a silently better score).
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.size == 0:
        raise ValueError(f"extrapolation_errors: shapes differ or are empty: {pred.shape} vs {true.shape}")
    err = np.where(np.isfinite(pred), pred - true, np.inf)
    scaled = err / local_mean_spacing(true)
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "mae_spacings": float(np.mean(np.abs(scaled))),
        "mse_spacings": float(np.mean(scaled**2)),
        "rmse_spacings": float(np.sqrt(np.mean(scaled**2))),
    }


def skill(model_error: float, baseline_error: float) -> float:
    """``1 − model_error / baseline_error``: 1 is perfect, 0 is as good as the baseline, < 0 worse."""
    if not baseline_error > 0:
        return float("nan")
    return 1.0 - model_error / baseline_error
