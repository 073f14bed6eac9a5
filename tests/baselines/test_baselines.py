"""SPEC 4b's baseline table on zeros 10^4 .. 2*10^4 - 1 (training zeros: 1 .. 9999)."""
import numpy as np
import pytest

from zeta_rmt.baselines import (
    BASELINES,
    ARBaseline,
    PreviousSpacingBaseline,
    SmoothBaseline,
    ZeroHistory,
    as_history,
    error_in_spacings,
    fit_ar,
    make_baseline,
    mean_abs_error_in_spacings,
    smooth_zeros,
    unfolded_deviation,
)
from zeta_rmt.rmt import inverse_smooth_count, local_mean_spacing

START = 10_000
WINDOW = np.arange(START, 2 * START)


@pytest.fixture(scope="module")
def zeros():
    return ZeroHistory.load("odlyzko", 1, 2 * START - 1)


@pytest.fixture(scope="module")
def train(zeros):
    return ZeroHistory(zeros.take(np.arange(1, START)), 1)


def test_smooth(zeros):
    err = mean_abs_error_in_spacings(make_baseline("smooth").predict(WINDOW), zeros.take(WINDOW))
    assert err == pytest.approx(0.245, abs=0.002)
    assert smooth_zeros([1])[0] == pytest.approx(14.5, abs=1.0)


def test_previous_spacing_one_step_and_free_running(zeros, train):
    one = make_baseline("previous_spacing").predict(WINDOW, history=zeros)
    assert mean_abs_error_in_spacings(one, zeros.take(WINDOW)) == pytest.approx(0.318, abs=0.002)
    np.testing.assert_allclose(one[:3], zeros.take(WINDOW[:3] - 1) + local_mean_spacing(zeros.take(WINDOW[:3] - 1)))
    free = PreviousSpacingBaseline(mode="free_running").predict(WINDOW, history=train)
    # free-running from gamma_9999: one mean spacing per step in unfolded coordinates
    step = np.diff(free)
    np.testing.assert_allclose(step, local_mean_spacing(free[:-1]), rtol=2e-4)
    assert free[0] == pytest.approx(zeros.take([9999])[0] + local_mean_spacing(zeros.take([9999])[0]), rel=1e-7)
    assert mean_abs_error_in_spacings(free, zeros.take(WINDOW)) == pytest.approx(0.385, abs=0.005)


def test_ar16_one_step(zeros, train):
    ar = make_baseline("ar", order=16).fit(train)
    pred = ar.predict(WINDOW, history=zeros)
    assert mean_abs_error_in_spacings(pred, zeros.take(WINDOW)) == pytest.approx(0.198, abs=0.002)


def test_ar_free_running_is_the_recursion(zeros, train):
    ar = ARBaseline(order=3, mode="free_running").fit(train)
    pred = ar.predict(WINDOW[:6], history=train)
    idx = np.arange(train.end - 2, train.end + 1)
    y = list(unfolded_deviation(train.take(idx), idx))
    for _ in range(6):
        y.append(ar.intercept + sum(ar.coefficients[j] * y[-1 - j] for j in range(3)))
    np.testing.assert_allclose(pred, inverse_smooth_count(WINDOW[:6] - 0.5 + np.array(y[3:])), rtol=1e-13)
    # a window asked out of order or with gaps gives the same values
    np.testing.assert_allclose(ar.predict(WINDOW[[5, 0, 2]], history=train), pred[[5, 0, 2]], rtol=1e-13)
    ar16 = ARBaseline(order=16, mode="free_running").fit(train)
    err = mean_abs_error_in_spacings(ar16.predict(WINDOW, history=train), zeros.take(WINDOW))
    assert 0.2 < err < 0.3  # relaxes to the mean: no better than smooth far from the training end


def test_fit_ar_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    a = np.array([0.5, -0.3])
    x = np.zeros(20_000)
    for t in range(2, x.size):
        x[t] = 0.1 + a[0] * x[t - 1] + a[1] * x[t - 2] + rng.standard_normal()
    c, coef = fit_ar(x, 2)
    np.testing.assert_allclose(coef, a, atol=0.02)
    assert c == pytest.approx(0.1, abs=0.03)


def test_interface_errors(zeros, train):
    assert set(BASELINES) == {"smooth", "previous_spacing", "ar", "explicit_formula"}
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("lstm")
    with pytest.raises(TypeError, match="bad arguments for baseline 'ar'"):
        make_baseline("ar", lags=3)
    with pytest.raises(ValueError, match="unknown baseline mode"):
        PreviousSpacingBaseline(mode="two_step")
    with pytest.raises(RuntimeError, match="before fit"):
        ARBaseline().predict(WINDOW, history=zeros)
    with pytest.raises(ValueError, match="history holds zeros 1..9999"):
        PreviousSpacingBaseline().predict(WINDOW, history=train)
    with pytest.raises(ValueError, match="free-running prediction starts after"):
        ARBaseline(mode="free_running").fit(train).predict([5000], history=train)
    with pytest.raises(ValueError, match="needs a history"):
        PreviousSpacingBaseline().predict(WINDOW)
    with pytest.raises(ValueError, match="1-based"):
        SmoothBaseline().predict([0, 1])
    with pytest.raises(ValueError, match="at least"):
        ARBaseline(order=16).fit(zeros.gammas[:20])
    h = as_history((5, zeros.take(np.arange(5, 10))))
    assert h.start == 5 and h.end == 9
    with pytest.raises(ValueError, match="shape mismatch"):
        error_in_spacings([1.0, 2.0], [1.0])


def test_spec_table_at_height_1e6():
    start = 1_000_000
    window = np.arange(start, start + 10_000)
    hist = ZeroHistory.load("odlyzko", start - 100_000, 110_000)
    train = ZeroHistory(hist.take(np.arange(start - 100_000, start)), start - 100_000)
    true = hist.take(window)
    got = {
        "smooth": make_baseline("smooth").predict(window),
        "previous_spacing": make_baseline("previous_spacing").predict(window, history=hist),
        "ar": make_baseline("ar", order=16).fit(train).predict(window, history=hist),
    }
    for name, expected in [("smooth", 0.269), ("previous_spacing", 0.328), ("ar", 0.211)]:
        assert mean_abs_error_in_spacings(got[name], true) == pytest.approx(expected, abs=0.002), name


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("mode", ["one_step", "free_running"])
def test_every_baseline_accepts_empty_and_2d_requests(name, mode, zeros, train):
    kwargs = {"mode": mode} if name in ("previous_spacing", "ar") else {}
    if name == "explicit_formula":
        kwargs["prime_cutoff"] = 1e3
    b = make_baseline(name, **kwargs).fit(train)
    hist = zeros if mode == "one_step" else train
    assert b.predict(np.array([], dtype=np.int64), history=hist).shape == (0,)
    grid = WINDOW[:6].reshape(2, 3)
    out = b.predict(grid, history=hist)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.ravel(), b.predict(WINDOW[:6], history=hist), rtol=1e-12)
    assert np.all(error_in_spacings(out.ravel(), zeros.take(WINDOW[:6])) < 2.0)
