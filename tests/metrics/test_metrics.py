"""Extrapolation errors, skill and the spacing statistics (issue 4)."""
import math

import numpy as np
import pytest

from zeta_rmt.metrics import (
    compare_spacings, extrapolation_errors, local_spacings, reference_statistics, skill, spacing_statistics,
)
from zeta_rmt.rmt import gue_spacings, inverse_smooth_count, ks_distance, local_mean_spacing
from zeta_rmt.zeros import load_zeros


def test_extrapolation_errors_known_values():
    true = np.array([1000.0, 2000.0])
    pred = true + np.array([1.0, -3.0])
    mu = local_mean_spacing(true)
    e = extrapolation_errors(pred, true)
    assert e["mse"] == pytest.approx(5.0) and e["mae"] == pytest.approx(2.0)
    assert e["mae_spacings"] == pytest.approx(np.mean([1 / mu[0], 3 / mu[1]]))
    assert e["mse_spacings"] == pytest.approx(np.mean([(1 / mu[0]) ** 2, (3 / mu[1]) ** 2]))
    assert e["rmse_spacings"] == pytest.approx(math.sqrt(e["mse_spacings"]))
    # a NaN prediction is an infinite error, never a better score
    assert extrapolation_errors(np.array([np.nan, 2000.0]), true)["mae"] == math.inf
    with pytest.raises(ValueError, match="shapes differ"):
        extrapolation_errors(pred[:1], true)


def test_skill():
    assert skill(0.1, 0.2) == pytest.approx(0.5)
    assert skill(0.2, 0.2) == 0.0 and skill(0.4, 0.2) == pytest.approx(-1.0)
    assert math.isnan(skill(0.1, 0.0))


def heights(spacings, x0=20_000.0):
    return inverse_smooth_count(x0 + np.concatenate([[0.0], np.cumsum(spacings)]))


def test_spacing_statistics_of_gue_like_and_perfect_predictions():
    s = gue_spacings(5000, rng=3)
    st = spacing_statistics(heights(s), heights(s))
    np.testing.assert_allclose(local_spacings(heights(s)), s, atol=1e-8)
    assert st["ks/true"] == 0.0 and st["spacing/nonpositive_frac"] == 0.0
    assert st["ks/gaudin"] == pytest.approx(ks_distance(s, "gaudin"), abs=1e-6) and st["ks/gaudin"] < 0.03
    assert st["spacing/var"] == pytest.approx(0.18, abs=0.02)
    # a smooth predictor: every spacing 1 -> KS ≈ 1 − F(1) or F(1): far from every law
    flat = spacing_statistics(heights(np.ones(5000)), heights(s))
    assert flat["ks/gaudin"] > 0.4 and flat["ks/true"] > 0.4 and flat["spacing/var"] < 1e-12


def test_nonpositive_spacings_are_kept_and_counted():
    s = np.array([1.0, -0.5, 1.5, 0.0, 1.0, 1.0])
    st = compare_spacings(s, np.abs(s) + 0.1)
    assert st["spacing/nonpositive_frac"] == pytest.approx(2 / 6)
    # both laws put no mass below 0: 2 of 6 spacings at s <= 0 give D >= 1/3
    assert st["ks/gaudin"] >= 1 / 3 and st["ks/surmise"] >= 1 / 3


def test_reference_statistics_of_the_zeros_match_the_measured_table():
    z = load_zeros("odlyzko", 10_000, 100_000)
    ref = reference_statistics(z)
    # docs/science.md: start 1e4, 1e5 zeros: KS to Gaudin 0.0202, to the surmise 0.0187, var 0.1616
    assert ref["ks/zeros_gaudin"] == pytest.approx(0.0202, abs=5e-4)
    assert ref["ks/zeros_surmise"] == pytest.approx(0.0187, abs=5e-4)
    assert ref["spacing/zeros_var"] == pytest.approx(0.1616, abs=5e-4)


def test_nonfinite_prediction_gives_nan_statistics():
    st = spacing_statistics(np.array([100.0, np.nan, 110.0]), np.array([100.0, 105.0, 110.0]))
    assert math.isnan(st["ks/gaudin"]) and math.isnan(st["spacing/var"])
