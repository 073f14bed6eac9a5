"""The statistics of the A/B verdict on synthetic inputs with known answers."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from zeta_rmt.report.stats import bootstrap_diff, decide, mean_ci, sample_size, welch_test


def test_identical_samples_are_not_significant():
    x = [3.0, 3.5, 2.8, 3.1, 3.3]
    t = welch_test(x, list(x))
    assert t.p_value == pytest.approx(1.0) and t.diff == 0.0 and t.statistic == pytest.approx(0.0)
    assert bootstrap_diff(x, list(x))["p_value"] > 0.5
    v = decide(x, list(x), metric="m", arm_a="full+rg", arm_b="cluster")
    assert v.scenario != "B" and v.test["p_value"] >= 0.05
    assert "p = 1" in v.sentence and "Welch" in v.sentence


def test_well_separated_samples_are_significant_and_the_direction_decides_the_scenario():
    rng = np.random.default_rng(0)
    low, high = rng.normal(10, 1, 6), rng.normal(30, 1, 6)
    v = decide(low, high, metric="extrap/mse", arm_a="full+rg", arm_b="cluster")
    assert v.scenario == "B" and v.test["p_value"] < 1e-6 and v.sentence.startswith("Scenario B")
    assert bootstrap_diff(low, high)["p_value"] < 0.01
    w = decide(high, low, metric="extrap/mse", arm_a="full+rg", arm_b="cluster")
    assert w.scenario == "A" and "significantly better" in w.sentence


def test_welch_matches_scipy_and_its_ci_covers_the_difference():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 8), rng.normal(0.5, 3, 5)
    t = welch_test(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert t.p_value == pytest.approx(ref.pvalue) and t.statistic == pytest.approx(ref.statistic)
    # Welch-Satterthwaite df and the CI: the test is significant iff 0 is outside the CI
    va, vb = a.var(ddof=1) / 8, b.var(ddof=1) / 5
    assert t.df == pytest.approx((va + vb) ** 2 / (va**2 / 7 + vb**2 / 4))
    assert (t.ci_low > 0 or t.ci_high < 0) == (t.p_value < 0.05)
    assert t.ci_low < t.diff < t.ci_high


def test_zero_variance_is_decided_exactly():
    assert welch_test([1, 1, 1], [1, 1]).p_value == 1.0
    assert welch_test([1, 1, 1], [2, 2]).p_value == 0.0
    assert decide([1, 1, 1], [1, 1, 1], metric="m", arm_a="a", arm_b="b").scenario == "A"


def test_equivalence_within_the_margin_is_scenario_a():
    rng = np.random.default_rng(2)
    a, b = rng.normal(100, 1, 20), rng.normal(100.3, 1, 20)
    v = decide(a, b, metric="m", arm_a="full+rg", arm_b="cluster", min_effect=0.1)
    assert v.scenario == "A" and "no significant difference" in v.sentence
    assert -v.margin <= v.test["ci_low"] and v.test["ci_high"] <= v.margin


def test_noisy_small_samples_are_inconclusive_with_a_sample_size():
    a, b = [10.0, 14.0, 7.0], [12.0, 6.0, 15.0]
    v = decide(a, b, metric="m", arm_a="full+rg", arm_b="cluster", min_effect=0.1)
    assert v.scenario == "inconclusive" and v.needed_n is not None and v.needed_n > 3
    assert f"about {v.needed_n} seeds per regime" in v.sentence
    one = decide([1.0], [2.0, 3.0], metric="m", arm_a="full+rg", arm_b="cluster")
    assert one.scenario == "inconclusive" and "at least 2 completed seeds" in one.sentence


def test_sample_size_formula():
    # two arms with sd 1, difference 1, alpha 0.05, power 0.8: the normal formula gives
    # 2 (1.96 + 0.84)^2 = 15.7; t quantiles push it to 17
    assert sample_size(1.0, 1.0, 1.0) == 17
    assert sample_size(1.0, 1.0, 0.5) > sample_size(1.0, 1.0, 1.0)
    assert sample_size(2.0, 2.0, 2.0) == sample_size(1.0, 1.0, 1.0)
    assert sample_size(1.0, 1.0, 0.0) is None
    # simulation check: with n per arm from the formula the Welch test has ~80% power
    n = sample_size(1.0, 1.0, 1.0)
    rng = np.random.default_rng(3)
    hits = sum(sps.ttest_ind(rng.normal(0, 1, n), rng.normal(1, 1, n), equal_var=False).pvalue < 0.05
               for _ in range(2000))
    assert 0.76 < hits / 2000 < 0.88


def test_mean_ci():
    s = mean_ci([1.0, 2.0, 3.0, None, math.nan])
    assert s.n == 3 and s.mean == 2.0 and s.sd == 1.0
    assert s.half_width == pytest.approx(sps.t.ppf(0.975, 2) / math.sqrt(3))
    assert mean_ci([5.0]).n == 1 and math.isnan(mean_ci([5.0]).ci_low)
