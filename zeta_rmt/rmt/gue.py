r"""GUE spectra from the Dumitriu-Edelman tridiagonal beta = 2 model.

The n x n symmetric tridiagonal matrix

    H = (1/sqrt 2) tridiag( b_{n-1}, ..., b_1 ;  a_1, ..., a_n ;  b_{n-1}, ..., b_1 ),
    a_i ~ N(0, 2),   b_k ~ chi_{beta k}  (beta = 2),

has the eigenvalue law of the GUE with weight exp(-tr H^2 / 2) (Dumitriu & Edelman 2002):
joint density proportional to prod_{i<j} |l_i - l_j|^2 exp(-sum l_i^2 / 2).  Its level density
is Wigner's semicircle of radius R = 2 sqrt(n),

    rho(l) = sqrt(4n - l^2) / (2 pi),
    N_sc(l) = n [ 1/2 + (x sqrt(1 - x^2) + arcsin x) / pi ],   x = l / R,

and unfolding with N_sc gives unit mean spacing.  Only the bulk is kept (the central
``bulk_fraction`` of the levels), where the semicircle is an accurate local density; edge
levels follow a different (Airy) scaling.

Storage is O(n) per matrix (two vectors); the eigenvalues come from LAPACK's tridiagonal
solver via ``scipy.linalg.eigvalsh_tridiagonal`` (O(n^2) time at worst, versus O(n^3) for a
dense GUE matrix).  Matrices are drawn in a loop over matrices, never over samples.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import eigvalsh_tridiagonal

DEFAULT_MATRIX_SIZE = 400
DEFAULT_BULK_FRACTION = 0.5


def _check_size(n: int, name: str = "matrix_size", minimum: int = 2) -> int:
    if int(n) != n or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def gue_tridiagonal(n: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """(diagonal, off-diagonal) of one n x n Dumitriu-Edelman beta=2 matrix."""
    n = _check_size(n)
    rng = np.random.default_rng(rng)
    diag = rng.standard_normal(n)  # N(0, 2) / sqrt 2
    dof = 2.0 * np.arange(n - 1, 0, -1)
    off = np.sqrt(rng.chisquare(dof) / 2.0)  # chi_{2k} / sqrt 2
    return diag, off


def gue_eigenvalues(n: int, rng=None) -> np.ndarray:
    """Sorted eigenvalues of one n x n GUE matrix (weight exp(-tr H^2/2); semicircle radius 2 sqrt n)."""
    diag, off = gue_tridiagonal(n, rng)
    return eigvalsh_tridiagonal(diag, off, lapack_driver="stemr")


def semicircle_count(eigenvalues, n: int) -> np.ndarray:
    """N_sc(l): the expected number of eigenvalues below l for the n x n GUE (semicircle law)."""
    x = np.clip(np.asarray(eigenvalues, dtype=np.float64) / (2.0 * np.sqrt(n)), -1.0, 1.0)
    return n * (0.5 + (x * np.sqrt(1.0 - x * x) + np.arcsin(x)) / np.pi)


def gue_unfolded_bulk(n: int, bulk_fraction: float = DEFAULT_BULK_FRACTION, rng=None) -> np.ndarray:
    """Unfolded positions N_sc(l) of the bulk levels of one n x n GUE matrix (unit mean spacing).

    Keeps the levels whose unfolded position lies in the central ``bulk_fraction`` of [0, n].
    """
    n = _check_size(n)
    if not (0.0 < bulk_fraction <= 1.0):
        raise ValueError(f"bulk_fraction must be in (0, 1], got {bulk_fraction!r}")
    x = semicircle_count(gue_eigenvalues(n, rng), n)
    lo, hi = 0.5 * n * (1.0 - bulk_fraction), 0.5 * n * (1.0 + bulk_fraction)
    return x[(x >= lo) & (x <= hi)]


def gue_spacings(
    count: int,
    *,
    matrix_size: int = DEFAULT_MATRIX_SIZE,
    bulk_fraction: float = DEFAULT_BULK_FRACTION,
    rng=None,
) -> np.ndarray:
    """``count`` unit-mean nearest-neighbour spacings of bulk GUE levels (semicircle-unfolded).

    Draws independent matrices of size ``matrix_size`` until enough spacings exist, then
    returns the first ``count`` (spacings of one matrix are consecutive in the output).
    """
    count = _check_size(count, "count", 1)
    rng = np.random.default_rng(rng)
    parts, total = [], 0
    while total < count:
        s = np.diff(gue_unfolded_bulk(matrix_size, bulk_fraction, rng))
        parts.append(s)
        total += s.size
    return np.concatenate(parts)[:count]


def gue_unfolded_spectra(
    n_matrices: int,
    *,
    matrix_size: int = DEFAULT_MATRIX_SIZE,
    bulk_fraction: float = DEFAULT_BULK_FRACTION,
    rng=None,
) -> list[np.ndarray]:
    """A list of unfolded bulk spectra (one per independent matrix), for statistics such as
    the number variance and the pair correlation that need positions rather than spacings."""
    n_matrices = _check_size(n_matrices, "n_matrices", 1)
    rng = np.random.default_rng(rng)
    return [gue_unfolded_bulk(matrix_size, bulk_fraction, rng) for _ in range(n_matrices)]
