r"""Spectral statistics of unfolded sequences (unit mean spacing).

* Kolmogorov-Smirnov distance of spacings against a law:
  D = sup_s |F_emp(s) - F(s)|, with F Gaudin's (``"gaudin"``), the Wigner surmise
  (``"surmise"``), Poisson 1 - e^{-s} (``"poisson"``), any vectorised CDF callable, or an
  empirical sample (two-sample KS, D = sup |F_emp,1 - F_emp,2|).
* Pair correlation: R_2(x) estimated by the histogram of all differences x_j - x_i (i < j)
  below ``max_x``, divided by (number of reference points x bin width); compared with
  Montgomery's R_2(x) = 1 - (sin pi x / (pi x))^2.
* Number variance: Sigma^2(L) = Var #{x_n in [t, t + L)} over window starts t; for the GUE
  (Mehta, eq. 16.1.3, exact for the sine process)

      Sigma^2(L) = (1/pi^2) [log(2 pi L) + gamma_E + 1 - cos(2 pi L) - Ci(2 pi L)]
                   + L [1 - (2/pi) Si(2 pi L)]
                 ~ (1/pi^2) (log(2 pi L) + gamma_E + 1)       (L >~ 2),

  against Sigma^2(L) = L for Poisson levels.

Inputs are numpy arrays; functions accepting "positions" also take a list of arrays (several
independent spectra, e.g. GUE matrices), pooled without forming differences across arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

import numpy as np
from scipy import stats
from scipy.special import sici

from zeta_rmt.rmt.gaudin import gaudin_cdf
from zeta_rmt.rmt.surmise import wigner_cdf

EULER_GAMMA = float(np.euler_gamma)

Law = Union[str, Callable, np.ndarray, Sequence[float]]


def poisson_cdf(s):
    """1 - exp(-s) for s >= 0: spacings of uncorrelated (Poisson) levels."""
    s = np.asarray(s, dtype=np.float64)
    return np.where(s > 0, -np.expm1(-np.maximum(s, 0.0)), 0.0)


SPACING_LAWS: dict[str, Callable] = {
    "gaudin": gaudin_cdf,
    "gue": gaudin_cdf,
    "surmise": wigner_cdf,
    "wigner": wigner_cdf,
    "poisson": poisson_cdf,
}


@dataclass(frozen=True)
class KSResult:
    """KS distance, its asymptotic p-value, and the sample size(s)."""

    statistic: float
    pvalue: float
    n: int
    n_reference: int | None = None  # size of the second sample for the two-sample test


def _as_sample(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values")
    return x


def ks_test(spacings, law: Law = "gaudin") -> KSResult:
    """KS test of ``spacings`` against a law (name, CDF callable, or a reference sample)."""
    x = _as_sample(spacings, "spacings")
    if isinstance(law, str):
        key = law.lower()
        if key not in SPACING_LAWS:
            raise ValueError(f"unknown spacing law {law!r}; known: {sorted(SPACING_LAWS)}, a CDF callable, or a sample")
        law = SPACING_LAWS[key]
    if callable(law):
        r = stats.kstest(x, law)
        return KSResult(float(r.statistic), float(r.pvalue), x.size)
    ref = _as_sample(law, "reference sample")
    r = stats.ks_2samp(x, ref)
    return KSResult(float(r.statistic), float(r.pvalue), x.size, ref.size)


def ks_distance(spacings, law: Law = "gaudin") -> float:
    """sup_s |F_emp(s) - F(s)| of ``spacings`` against ``law`` (see :func:`ks_test`)."""
    return ks_test(spacings, law).statistic


def _as_spectra(positions) -> list[np.ndarray]:
    if isinstance(positions, np.ndarray) or (
        isinstance(positions, Sequence) and len(positions) and np.isscalar(positions[0])
    ):
        spectra = [np.asarray(positions, dtype=np.float64)]
    else:
        spectra = [np.asarray(p, dtype=np.float64) for p in positions]
    if not spectra or any(p.ndim != 1 for p in spectra):
        raise ValueError("positions must be a 1-D array or a list of 1-D arrays")
    for p in spectra:
        if p.size and (not np.all(np.isfinite(p)) or np.any(np.diff(p) < 0)):
            raise ValueError("positions must be finite and sorted increasingly")
    return spectra


def montgomery_r2(x):
    """Montgomery's pair correlation 1 - (sin(pi x)/(pi x))^2 (= GUE two-point function)."""
    x = np.asarray(x, dtype=np.float64)
    return 1.0 - np.sinc(x) ** 2


def pair_correlation(positions, *, max_x: float = 3.0, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Histogram estimate of R_2(x) on (0, max_x]: returns (bin centres, R_2 estimate).

    Reference points are the x_i with x_i <= x_last - max_x (so each has its full window of
    partners); every later x_j with 0 < x_j - x_i <= max_x is counted.  For unit density the
    estimate tends to R_2(x) (-> 1 at large x, Poisson: 1 everywhere).
    """
    if not (max_x > 0) or int(bins) != bins or bins < 1:
        raise ValueError(f"need max_x > 0 and a positive integer number of bins, got {max_x!r}, {bins!r}")
    edges = np.linspace(0.0, max_x, int(bins) + 1)
    counts = np.zeros(int(bins))
    n_ref = 0
    for x in _as_spectra(positions):
        if x.size < 2:
            continue
        ref = np.count_nonzero(x <= x[-1] - max_x)
        if ref == 0:
            continue
        n_ref += ref
        for k in range(1, x.size):
            d = x[k : k + ref] - x[:ref][: x.size - k]
            if d.size == 0 or d.min() > max_x:
                break
            counts += np.histogram(d[(d > 0) & (d <= max_x)], bins=edges)[0]
    if n_ref == 0:
        raise ValueError(f"no spectrum is longer than max_x={max_x}: nothing to correlate")
    centres = 0.5 * (edges[1:] + edges[:-1])
    return centres, counts / (n_ref * np.diff(edges))


def number_variance(positions, L, *, windows_per_unit: float = 4.0) -> np.ndarray:
    """Sigma^2(L): variance of the number of points in [t, t + L), for each L.

    Window starts t form a regular grid of spacing 1/windows_per_unit over
    [x_first, x_last - L] in every spectrum; counts of all spectra are pooled and their
    variance (about their own mean) is returned.  Unit mean density is assumed.
    """
    L = np.atleast_1d(np.asarray(L, dtype=np.float64))
    if np.any(~(L > 0)):
        raise ValueError("window lengths L must be positive")
    if not windows_per_unit > 0:
        raise ValueError(f"windows_per_unit must be positive, got {windows_per_unit!r}")
    spectra = _as_spectra(positions)
    out = np.empty(L.size)
    for j, length in enumerate(L):
        pooled = []
        for x in spectra:
            if x.size < 2 or x[-1] - x[0] <= length:
                continue
            t = np.arange(x[0], x[-1] - length, 1.0 / windows_per_unit)
            pooled.append(np.searchsorted(x, t + length, side="left") - np.searchsorted(x, t, side="left"))
        if not pooled:
            raise ValueError(f"no spectrum spans a window of length L={length}")
        c = np.concatenate(pooled).astype(np.float64)
        out[j] = c.var()
    return out if np.ndim(L) else out[0]


def gue_number_variance(L):
    """Exact Sigma^2(L) of the sine (GUE bulk) process, Mehta 16.1.3."""
    L = np.asarray(L, dtype=np.float64)
    if np.any(L < 0):
        raise ValueError("L must be non-negative")
    z = 2.0 * np.pi * np.maximum(L, 1e-300)
    si, ci = sici(z)
    val = (np.log(z) + EULER_GAMMA + 1.0 - np.cos(z) - ci) / np.pi**2 + L * (1.0 - 2.0 / np.pi * si)
    return np.where(L > 0, val, 0.0)


def gue_number_variance_asymptotic(L):
    """(1/pi^2)(log(2 pi L) + gamma_E + 1): the large-L GUE number variance (L >~ 2)."""
    L = np.asarray(L, dtype=np.float64)
    return (np.log(2.0 * np.pi * L) + EULER_GAMMA + 1.0) / np.pi**2


def spectral_summary(positions, *, L=(0.5, 1.0, 2.0, 5.0)) -> dict:
    """Spacing mean/variance, KS distance to Gaudin and to the surmise, and Sigma^2 at ``L``
    (with the GUE values alongside) for unfolded positions: a one-call report."""
    spectra = _as_spectra(positions)
    s = np.concatenate([np.diff(x) for x in spectra])
    L = np.asarray(L, dtype=np.float64)
    nv = number_variance(spectra, L)
    out = {
        "n_spacings": int(s.size),
        "spacing_mean": float(s.mean()),
        "spacing_var": float(s.var()),
        "ks_gaudin": ks_distance(s, "gaudin"),
        "ks_surmise": ks_distance(s, "surmise"),
    }
    for length, v in zip(L, nv):
        out[f"number_variance_L{length:g}"] = float(v)
        out[f"gue_number_variance_L{length:g}"] = float(gue_number_variance(length))
    return out
