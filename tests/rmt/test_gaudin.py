import math

import numpy as np
import pytest
import torch
from scipy import stats

from zeta_rmt.rmt import (
    fredholm_derivatives,
    gap_probability,
    gap_probability_torch,
    gaudin_cdf,
    gaudin_cdf_torch,
    gaudin_logpdf,
    gaudin_logpdf_torch,
    gaudin_moments,
    gaudin_pdf,
    gaudin_pdf_torch,
    gaudin_ppf,
    gaudin_table,
    sample_gaudin,
    wigner_cdf,
    wigner_pdf,
)


def test_known_values():
    # Bornemann (2010) / Mehta: E_2(0; 1) = 0.1702174..., p_2(1) = 0.9029038...
    assert gap_probability(1.0) == pytest.approx(0.170217, abs=1e-6)
    assert gaudin_pdf(1.0) == pytest.approx(0.902904, abs=1e-6)
    assert gap_probability(0.0) == pytest.approx(1.0, abs=1e-15)
    assert gaudin_cdf(0.0) == pytest.approx(0.0, abs=1e-15)


def test_moments():
    m0, m1, m2 = gaudin_moments(2)
    assert m0 == pytest.approx(1.0, abs=1e-9)
    assert m1 == pytest.approx(1.0, abs=1e-8)
    assert m2 - m1**2 == pytest.approx(0.1800, abs=1e-4)


def test_quadrature_converges_and_derivatives_match_finite_differences():
    s = np.array([0.3, 1.0, 2.0, 3.5, 5.0])
    lo = np.array(fredholm_derivatives(s, m=20))
    hi = np.array(fredholm_derivatives(s, m=60))
    np.testing.assert_allclose(lo, hi, atol=1e-13)
    # independent check of the analytic derivative formulas
    h = 1e-3
    e_m, e_0, e_p = (fredholm_derivatives(s + d, m=40)[0] for d in (-h, 0.0, h))
    np.testing.assert_allclose((e_p - e_m) / (2 * h), hi[1], atol=1e-6)
    np.testing.assert_allclose((e_p - 2 * e_0 + e_m) / h**2, hi[2], atol=1e-5)
    p_m, p_p = (fredholm_derivatives(s + d, m=40)[2] for d in (-h, h))
    np.testing.assert_allclose((p_p - p_m) / (2 * h), hi[3], atol=1e-5)


def test_small_s_series():
    s = np.array([1e-3, 1e-2, 3e-2])
    # E(0;s) = 1 - s + pi^2 s^4/36 + O(s^6);  p(s) = pi^2 s^2/3 - 2 pi^4 s^4/45 + O(s^6)
    np.testing.assert_allclose(gap_probability(s), 1 - s + math.pi**2 * s**4 / 36, atol=1e-10)
    np.testing.assert_allclose(gaudin_pdf(s), math.pi**2 * s**2 / 3 - 2 * math.pi**4 * s**4 / 45, rtol=1e-4)


def test_interpolation_matches_direct_computation():
    s = np.random.default_rng(0).uniform(0, 5.9, 200)
    e, de, p, dp = fredholm_derivatives(s, m=40)
    np.testing.assert_allclose(gaudin_pdf(s), p, atol=1e-10)
    np.testing.assert_allclose(gaudin_cdf(s), 1 + de, atol=1e-10)
    np.testing.assert_allclose(gap_probability(s), e, atol=1e-10)
    assert gaudin_pdf(-0.1) == 0.0 and gaudin_pdf(7.0) == 0.0 and gaudin_cdf(7.0) == 1.0
    assert np.isnan(gaudin_pdf(np.nan))


def test_torch_pdf_cdf_and_gradients():
    s = np.random.default_rng(1).uniform(0.01, 5.5, 100)
    st = torch.tensor(s, requires_grad=True)
    p = gaudin_pdf_torch(st)
    np.testing.assert_allclose(p.detach().numpy(), gaudin_pdf(s), atol=1e-14)
    p.sum().backward()
    dp = fredholm_derivatives(s)[3]
    np.testing.assert_allclose(st.grad.numpy(), dp, atol=1e-6)
    st.grad = None
    c = gaudin_cdf_torch(st)
    np.testing.assert_allclose(c.detach().numpy(), gaudin_cdf(s), atol=1e-14)
    c.sum().backward()
    np.testing.assert_allclose(st.grad.numpy(), gaudin_pdf(s), atol=1e-8)
    np.testing.assert_allclose(gap_probability_torch(st).detach().numpy(), gap_probability(s), atol=1e-14)
    s32 = torch.tensor([0.0, 1.0, 8.0], dtype=torch.float32)
    lp = gaudin_logpdf_torch(s32, floor=1e-10)
    assert lp.dtype == torch.float32
    np.testing.assert_allclose(lp.numpy(), np.log(np.maximum(gaudin_pdf([0.0, 1.0, 8.0]), 1e-10)), rtol=1e-6)
    np.testing.assert_allclose(gaudin_logpdf([1.0]), np.log(gaudin_pdf([1.0])))
    with pytest.raises(ValueError, match="positive floor"):
        gaudin_logpdf_torch(s32, floor=0.0)


def test_surmise_differs_from_gaudin_by_a_little():
    s = np.linspace(0, 5, 5001)
    diff = np.abs(wigner_pdf(s) - gaudin_pdf(s))
    assert 0.004 < diff.max() < 0.007  # 0.0052 at s ~ 1.1, ~0.55 % of the peak
    ks = np.abs(wigner_cdf(s) - gaudin_cdf(s)).max()
    assert ks == pytest.approx(0.00155, abs=0.0001)
    rel = np.abs(wigner_pdf(s) / np.maximum(gaudin_pdf(s), 1e-300) - 1)[(s > 0.5) & (s < 2)]
    assert 0.01 < rel.max() < 0.03


def test_ppf_and_sampling():
    u = np.array([0.0, 1e-6, 0.25, 0.5, 0.75, 0.999999, 1.0])
    np.testing.assert_allclose(gaudin_cdf(gaudin_ppf(u)), u, atol=1e-12)
    x = sample_gaudin(100_000, rng=3)
    assert stats.kstest(x, gaudin_cdf).pvalue > 1e-3
    assert x.var() == pytest.approx(0.18, abs=0.003)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gaudin_ppf([1.5])


def test_table_validation_and_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="multiple of step"):
        gaudin_table(step=0.007, s_max=6.0)
    t1 = gaudin_table(step=0.05, s_max=3.0, m=20, disk_cache=True)
    files = list(tmp_path.glob("gaudin_*.npz"))
    assert len(files) == 1
    gaudin_table.cache_clear()
    t2 = gaudin_table(step=0.05, s_max=3.0, m=20, disk_cache=True)
    np.testing.assert_array_equal(t1.d2E, t2.d2E)
    with pytest.raises(ValueError, match="s >= 0"):
        fredholm_derivatives([-1.0])
