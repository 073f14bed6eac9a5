"""The groups' MMD reference sampler (``samples=groups``) and the per-call sample count (``sample_count``)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import kstest

from zeta_rmt.losses import GUEMMDLoss, LossInputs
from zeta_rmt.losses.surmise import groups_surmise_cdf, sample_groups_surmise, sample_wigner_surmise
from zeta_rmt.rmt.surmise import wigner_cdf, wigner_pdf

# the law min(p_W, 0.6)/Z on [0, 3], by quadrature of the density itself (not of groups_surmise_cdf)
_Q = lambda s: min(float(wigner_pdf(s)), 0.6)
_PTS = [0.5064999598759815, 1.3327679070081924]  # p_W = 0.6
_Z = integrate.quad(_Q, 0, 3, points=_PTS, epsabs=1e-13)[0]
MEAN = integrate.quad(lambda s: s * _Q(s), 0, 3, points=_PTS, epsabs=1e-13)[0] / _Z
VAR = integrate.quad(lambda s: s * s * _Q(s), 0, 3, points=_PTS, epsabs=1e-13)[0] / _Z - MEAN ** 2


def test_the_truncated_law_in_numbers():
    assert wigner_pdf(math.sqrt(math.pi) / 2) == pytest.approx(8 / (math.pi * math.e))  # the peak, 0.937 > 0.6
    assert float(wigner_pdf(_PTS[0])) == pytest.approx(0.6) and float(wigner_pdf(_PTS[1])) == pytest.approx(0.6)
    assert (round(_Z, 5), round(MEAN, 5), round(VAR, 5)) == (0.82181, 1.02046, 0.20703)
    s = np.linspace(0, 3, 30001)
    cdf = groups_surmise_cdf(s)
    mid = np.array([integrate.quad(_Q, 0, x, points=[p for p in _PTS if p < x] or None)[0] for x in s[::1000]]) / _Z
    np.testing.assert_allclose(cdf[::1000], mid, atol=1e-10)
    assert np.abs(cdf - wigner_cdf(s)).max() == pytest.approx(0.0531, abs=1e-4)  # KS distance to the surmise
    # a ceiling above the peak is a true rejection sampler: the surmise truncated at 3
    np.testing.assert_allclose(groups_surmise_cdf(s, ceiling=1.0), wigner_cdf(s) / wigner_cdf(3.0), atol=1e-12)


def test_sampler_draws_that_law_not_the_surmise():
    torch.manual_seed(0)
    s = sample_groups_surmise(50_000, dtype=torch.float64).numpy()
    assert s.shape == (50_000,) and s.min() >= 0 and s.max() <= 3
    se_mean, se_var = math.sqrt(VAR / s.size), 0.0011  # var's standard error: measured over 20 seeds
    assert abs(s.mean() - MEAN) < 4 * se_mean and abs(s.var() - VAR) < 4 * se_var
    assert kstest(s, groups_surmise_cdf).pvalue > 1e-3
    assert kstest(s, wigner_cdf).statistic > 0.045  # 0.053 ± 0.002: the surmise it is not
    exact = sample_wigner_surmise(50_000, dtype=torch.float64).numpy()
    assert kstest(exact, wigner_cdf).pvalue > 1e-3


def test_sampler_is_seeded_by_torch_and_sized_exactly():
    torch.manual_seed(3)
    a = sample_groups_surmise(777)
    torch.manual_seed(3)
    b = sample_groups_surmise(777)
    assert a.dtype == torch.float32 and a.numel() == 777 and torch.equal(a, b)
    g = torch.Generator().manual_seed(5)
    assert sample_groups_surmise(10, generator=g, dtype=torch.float64).dtype == torch.float64
    assert sample_groups_surmise(0).numel() == 0
    with pytest.raises(ValueError, match="ceiling"):
        sample_groups_surmise(5, ceiling=0.0)


def _inputs(n: int, seed: int = 0) -> LossInputs:
    torch.manual_seed(seed)
    gamma = torch.cumsum(sample_wigner_surmise(n + 1, dtype=torch.float64), 0)
    return LossInputs(pred=gamma, target=gamma, gamma_pred=gamma, node_index=torch.arange(n + 1))


@pytest.mark.parametrize("mode", ["fast", "dense", "chunked", "sampled"])
def test_groups_samples_in_every_mode(mode):
    loss = GUEMMDLoss(samples="groups", mode=mode, num_samples=300, max_points=1024)
    drawn = []
    draw = loss.reference_samples
    loss.reference_samples = lambda m, **kw: drawn.append(draw(m, **kw)) or drawn[-1]
    value = loss(_inputs(2000))
    assert torch.isfinite(value) and drawn[0].numel() == 300
    assert mode == "sampled" or float(value) > 0  # sampled is the unbiased estimator: it may be < 0
    assert float(drawn[0].max()) <= 3.0


def test_groups_reference_raises_the_mmd_of_surmise_spacings():
    # population MMD² (σ = 1) between the surmise and min(p_W, 0.6)/Z: 6.87e-4 (quadrature)
    torch.manual_seed(1)
    loss = {k: GUEMMDLoss(samples=k, estimator="unbiased", mode="fast") for k in ("surmise", "groups")}
    vals = {k: np.mean([float(f.mmd2(sample_wigner_surmise(3000, dtype=torch.float64),
                                     f.reference_samples(3000, dtype=torch.float64))) for _ in range(5)])
            for k, f in loss.items()}
    assert abs(vals["surmise"]) < 2.5e-4 and abs(vals["groups"] - 6.87e-4) < 2.5e-4


@pytest.mark.parametrize("count,n,expected", [("min_n", 50, 50), ("min_n", 500, 200), ("fixed", 50, 200),
                                              ("fixed", 500, 200)])
def test_sample_count(count, n, expected):
    loss = GUEMMDLoss(samples="groups", mode="dense", num_samples=200, sample_count=count)
    sizes = []
    draw = loss.reference_samples
    loss.reference_samples = lambda m, **kw: sizes.append(m) or draw(m, **kw)
    loss(_inputs(n))
    assert sizes == [expected]


def test_defaults_unchanged_and_bad_values_named():
    loss = GUEMMDLoss()
    assert (loss.samples, loss.sample_count, loss.num_samples) == ("surmise", "min_n", 500)
    with pytest.raises(ValueError, match="sample_count"):
        GUEMMDLoss(sample_count="all")
    with pytest.raises(ValueError, match="samples must be one of .*groups"):
        GUEMMDLoss(samples="rejection")
