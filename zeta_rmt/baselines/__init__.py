"""Non-learned predictors of gamma_n, behind one interface (see :mod:`zeta_rmt.baselines.base`).

    b = make_baseline("ar", order=16, mode="one_step").fit(train_history)
    gamma_hat = b.predict(indices, history=known_zeros)

Registry names (for configs): ``smooth``, ``previous_spacing``, ``ar``, ``explicit_formula``.
Pure numpy/scipy; no Lightning, no Hydra.
"""
from __future__ import annotations

from zeta_rmt.baselines.ar import ARBaseline, fit_ar, unfolded_deviation
from zeta_rmt.baselines.base import (
    MODES,
    Baseline,
    ZeroHistory,
    as_history,
    error_in_spacings,
    mean_abs_error_in_spacings,
)
from zeta_rmt.baselines.explicit import ExplicitFormulaBaseline, prime_power_terms, primes_up_to
from zeta_rmt.baselines.previous import PreviousSpacingBaseline
from zeta_rmt.baselines.smooth import SmoothBaseline, smooth_zeros

#: name -> class; every class is constructed with keyword arguments only.
BASELINES: dict[str, type[Baseline]] = {
    "smooth": SmoothBaseline,
    "previous_spacing": PreviousSpacingBaseline,
    "ar": ARBaseline,
    "explicit_formula": ExplicitFormulaBaseline,
}


def make_baseline(name: str, **kwargs) -> Baseline:
    """Instantiate a registered baseline by name, e.g. ``make_baseline("ar", order=16)``."""
    try:
        cls = BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; registered: {sorted(BASELINES)}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TypeError(f"bad arguments for baseline {name!r}: {exc}") from exc


__all__ = [
    "ARBaseline",
    "BASELINES",
    "Baseline",
    "ExplicitFormulaBaseline",
    "MODES",
    "PreviousSpacingBaseline",
    "SmoothBaseline",
    "ZeroHistory",
    "as_history",
    "error_in_spacings",
    "fit_ar",
    "make_baseline",
    "mean_abs_error_in_spacings",
    "prime_power_terms",
    "primes_up_to",
    "smooth_zeros",
    "unfolded_deviation",
]
