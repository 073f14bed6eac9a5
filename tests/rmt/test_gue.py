import numpy as np
import pytest

from zeta_rmt.rmt import (
    gue_eigenvalues,
    gue_spacings,
    gue_tridiagonal,
    gue_unfolded_bulk,
    ks_test,
    semicircle_count,
)


def test_tridiagonal_model_has_gue_second_moment():
    # weight exp(-tr H^2/2): E tr H^2 = n^2
    rng = np.random.default_rng(0)
    n = 50
    vals = []
    for _ in range(400):
        d, e = gue_tridiagonal(n, rng)
        vals.append(np.sum(d**2) + 2 * np.sum(e**2))
    assert np.mean(vals) == pytest.approx(n**2, rel=0.01)
    lam = gue_eigenvalues(n, rng)
    assert lam.shape == (n,) and np.all(np.diff(lam) >= 0)
    assert np.abs(lam).max() < 2.5 * np.sqrt(n)


def test_semicircle_count():
    n = 100
    r = 2 * np.sqrt(n)
    np.testing.assert_allclose(semicircle_count([-r, 0.0, r, 2 * r], n), [0, n / 2, n, n], atol=1e-12)


def test_bulk_spacings_are_gaudin_not_poisson():
    s = gue_spacings(100_000, rng=7)
    assert s.size == 100_000
    assert s.mean() == pytest.approx(1.0, abs=0.003)
    assert s.var() == pytest.approx(0.1800, abs=0.003)
    gaudin = ks_test(s, "gaudin")
    assert gaudin.statistic < 0.0043  # 5 % critical value at n = 1e5
    assert gaudin.pvalue > 0.01
    assert ks_test(s, "poisson").statistic > 0.2


def test_bulk_selection_and_errors():
    x = gue_unfolded_bulk(400, 0.5, rng=1)
    assert 100 <= x.min() and x.max() <= 300 and 180 < x.size < 220
    with pytest.raises(ValueError, match="bulk_fraction"):
        gue_unfolded_bulk(100, 0.0)
    with pytest.raises(ValueError, match="matrix_size"):
        gue_eigenvalues(1)
