import numpy as np
import pytest

from zeta_rmt.rmt import (
    gue_number_variance,
    gue_number_variance_asymptotic,
    gue_spacings,
    gue_unfolded_spectra,
    ks_distance,
    ks_test,
    montgomery_r2,
    number_variance,
    pair_correlation,
    sample_gaudin,
    spectral_summary,
)


@pytest.fixture(scope="module")
def gue_spectra():
    return gue_unfolded_spectra(100, matrix_size=800, rng=11)


def test_gue_number_variance_formula():
    L = np.array([2.0, 3.0, 5.0, 10.0])
    exact = gue_number_variance(L)
    np.testing.assert_allclose(gue_number_variance_asymptotic(L), exact, rtol=0.015)
    # small L: Sigma^2(L) ~ L (levels rarely share a short window)
    assert gue_number_variance(0.01) == pytest.approx(0.01, rel=0.01)


def test_number_variance_of_gue_and_poisson(gue_spectra):
    L = np.array([2.0, 3.0, 5.0])
    nv = number_variance(gue_spectra, L)
    np.testing.assert_allclose(nv, gue_number_variance(L), rtol=0.05)
    poisson = np.cumsum(np.random.default_rng(0).exponential(size=40_000))
    np.testing.assert_allclose(number_variance(poisson, L), L, rtol=0.1)


def test_pair_correlation_of_gue_and_poisson(gue_spectra):
    x, r2 = pair_correlation(gue_spectra, max_x=3.0, bins=30)
    assert np.mean(np.abs(r2 - montgomery_r2(x))) < 0.02
    assert r2[0] < 0.05  # level repulsion
    poisson = np.cumsum(np.random.default_rng(1).exponential(size=40_000))
    _, rp = pair_correlation(poisson, max_x=3.0, bins=30)
    assert np.mean(np.abs(rp - 1.0)) < 0.05
    assert montgomery_r2(0.0) == pytest.approx(0.0) and montgomery_r2(1.0) == pytest.approx(1.0)


def test_ks_laws_and_two_sample():
    s = sample_gaudin(20_000, rng=5)
    assert ks_test(s, "gaudin").pvalue > 1e-3
    assert ks_distance(s, "poisson") > 0.2
    ref = gue_spacings(20_000, rng=6)
    two = ks_test(s, ref)
    assert two.n_reference == 20_000 and two.pvalue > 1e-3
    assert ks_test(s, np.random.default_rng(2).exponential(size=20_000)).statistic > 0.2
    assert ks_distance(s, lambda v: np.clip(v / 3.0, 0, 1)) > 0.2
    with pytest.raises(ValueError, match="unknown spacing law"):
        ks_test(s, "goe")
    with pytest.raises(ValueError, match="empty"):
        ks_test([], "gaudin")


def test_summary_and_input_errors(gue_spectra):
    out = spectral_summary(gue_spectra[:20])
    assert out["ks_gaudin"] < 0.03 and abs(out["spacing_mean"] - 1) < 0.01
    assert out["gue_number_variance_L2"] == pytest.approx(float(gue_number_variance(2.0)))
    with pytest.raises(ValueError, match="sorted"):
        number_variance(np.array([3.0, 1.0, 2.0]), 1.0)
    with pytest.raises(ValueError, match="no spectrum spans"):
        number_variance(np.array([1.0, 2.0]), 5.0)
    with pytest.raises(ValueError, match="positive"):
        number_variance(np.arange(10.0), [0.0])
