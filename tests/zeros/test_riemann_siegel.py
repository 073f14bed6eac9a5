"""The Riemann–Siegel kernels against mpmath (the reference for Z and θ)."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from zeta_rmt.zeros import riemann_siegel as rs
from zeta_rmt.zeros.generator import _eps


def test_theta_series_coefficients_are_the_stirling_ones():
    a = rs.theta_series()
    assert a[:4] == pytest.approx([1 / 48, 7 / 5760, 31 / 80640, 127 / 430080], rel=1e-15)


def test_rs_coefficients_reproduce_psi_and_its_derivatives():
    coef = rs.rs_coefficients()
    psi = lambda p: mpmath.cos(2 * mpmath.pi * (p * p - p - mpmath.mpf(1) / 16)) / mpmath.cos(2 * mpmath.pi * p)  # noqa: E731
    with mpmath.workdps(30):
        for p in (0.05, 0.3, 0.5, 0.77, 0.99):
            x = p - 0.5
            c0 = np.polyval(coef[0][::-1], x)
            assert c0 == pytest.approx(float(psi(mpmath.mpf(p))), abs=1e-14)
            # C1 = -Psi'''/(96 pi^2)
            d3 = mpmath.diff(psi, mpmath.mpf(p), 3)
            c1 = np.polyval(coef[1][::-1], x)
            assert c1 == pytest.approx(float(-d3 / (96 * mpmath.pi**2)), abs=1e-12)


def test_fast_cos_sin_match_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-4, 4, 2000), rng.uniform(-2e5, 2e5, 2000)])

    from numba import njit

    @njit
    def both(v):
        c = np.empty(v.size)
        s = np.empty(v.size)
        for i in range(v.size):
            c[i], s[i] = rs.fast_cos_sin(v[i])
        return c, s

    c, s = both(x)
    tol = 1e-15 + 4e-16 * np.abs(x)
    assert np.all(np.abs(c - np.cos(x)) <= tol)
    assert np.all(np.abs(s - np.sin(x)) <= tol)


@pytest.mark.parametrize(
    "lo, hi, base, span",
    [(9.7, 200.0, 9.0, 300.0), (200.0, 2000.0, 150.0, 2000.0), (5e4, 6e4, 5e4, 1.2e4), (6.8e6, 6.81e6, 6.8e6, 1.6e4)],
)
def test_z_matches_mpmath_within_the_error_bound(lo, hi, base, span):
    """|Z_RS − Z| stays 10× below ε(t), the bound used to trust signs (calibration check)."""
    rng = np.random.default_rng(int(lo))
    t = rng.uniform(lo, hi, 12)
    table = rs.PhaseTable([base], [base + span])
    z = table.z(t, window=0)
    with mpmath.workdps(25):
        ref = np.array([float(mpmath.siegelz(v)) for v in t])
    eps = _eps(t, t - base, np.floor(np.sqrt(t / (2 * math.pi))))
    assert np.all(np.abs(z - ref) < eps / 10), (np.abs(z - ref), eps)


def test_windowed_phase_is_accurate_far_from_the_base():
    """At t ≈ 1.2e8 with |h| = 1.5e4, Z still agrees with mpmath to ~1e-9."""
    base = 1.2e8
    table = rs.PhaseTable([base], [base + 2e4])
    t = np.array([base + 1.5e4 + 0.123456])
    with mpmath.workdps(25):
        ref = float(mpmath.siegelz(float(t[0])))
    assert abs(table.z(t, window=0)[0] - ref) < 1e-8


def test_theta_diff_matches_mpmath():
    ts = rs.theta_series()
    from numba import njit

    @njit
    def f(t0, h):
        return rs.theta_diff(t0, h, ts)

    with mpmath.workdps(40):
        for t0, h in ((10.0, 5.0), (1e3, -200.0), (1e6, 1.6e4), (1e8, 123.25)):
            ref = mpmath.siegeltheta(mpmath.mpf(t0) + mpmath.mpf(h)) - mpmath.siegeltheta(mpmath.mpf(t0))
            assert abs(f(t0, h) - float(ref)) < 1e-13 * max(1.0, abs(float(ref)))


def test_phase_table_rejects_bad_shapes():
    with pytest.raises(ValueError):
        rs.PhaseTable([1e3, 2e3], [3e3])
