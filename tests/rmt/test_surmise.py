import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from zeta_rmt.rmt import (
    WIGNER_VARIANCE,
    sample_wigner,
    sample_wigner_torch,
    wigner_cdf,
    wigner_cdf_torch,
    wigner_logpdf,
    wigner_logpdf_torch,
    wigner_pdf,
    wigner_pdf_torch,
    wigner_ppf,
)


def test_normalisation_mean_variance():
    for k, expected in [(0, 1.0), (1, 1.0), (2, 1.0 + 3 * math.pi / 8 - 1)]:
        val, _ = integrate.quad(lambda s: s**k * wigner_pdf(s), 0, np.inf)
        assert val == pytest.approx(expected, abs=1e-10)
    assert WIGNER_VARIANCE == pytest.approx(0.178097, abs=1e-6)


def test_cdf_is_integral_of_pdf_and_ppf_inverts_it():
    s = np.linspace(0, 4, 41)
    ref = [integrate.quad(wigner_pdf, 0, x)[0] for x in s]
    np.testing.assert_allclose(wigner_cdf(s), ref, atol=1e-12)
    u = np.array([0.0, 1e-6, 0.1, 0.5, 0.9, 0.999999])
    np.testing.assert_allclose(wigner_cdf(wigner_ppf(u)), u, atol=1e-13)
    assert wigner_pdf(-1.0) == 0.0 and wigner_cdf(-1.0) == 0.0
    assert np.isneginf(wigner_logpdf(0.0))
    np.testing.assert_allclose(wigner_logpdf(s[1:]), np.log(wigner_pdf(s[1:])), rtol=1e-12)


def test_sampling_is_exact():
    x = sample_wigner(200_000, rng=1)
    assert x.mean() == pytest.approx(1.0, abs=0.004)
    assert x.var() == pytest.approx(WIGNER_VARIANCE, abs=0.003)
    assert stats.kstest(x, wigner_cdf).pvalue > 1e-3
    xt = sample_wigner_torch(100_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert stats.kstest(xt.numpy(), wigner_cdf).pvalue > 1e-3
    with pytest.raises(ValueError, match="non-negative integer"):
        sample_wigner(-1)


def test_torch_versions_match_and_differentiate():
    s = np.linspace(-0.5, 3.5, 33)
    st = torch.tensor(s, requires_grad=True)
    np.testing.assert_allclose(wigner_pdf_torch(st).detach().numpy(), wigner_pdf(s), rtol=1e-14)
    np.testing.assert_allclose(wigner_cdf_torch(st).detach().numpy(), wigner_cdf(s), atol=1e-15)
    lp = wigner_logpdf_torch(st, floor=1e-10)
    np.testing.assert_allclose(lp.detach().numpy(), np.log(np.maximum(wigner_pdf(s), 1e-10)), rtol=1e-12)
    wigner_cdf_torch(st).sum().backward()
    np.testing.assert_allclose(st.grad.numpy()[s > 0], wigner_pdf(s[s > 0]), rtol=1e-12)
