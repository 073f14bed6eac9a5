"""The linear-time GUE-MMD (fast Gauss transform) against the groups' dense n×n form."""
import math

import pytest
import torch

from zeta_rmt.losses import GUEMMDLoss, LossInputs
from zeta_rmt.losses.fast_gauss import expansion_order, fast_gaussian_kernel_sum, fast_mmd2, gauss_transform
from zeta_rmt.losses.kernels import gaussian_kernel_sum_dense
from zeta_rmt.losses.surmise import sample_wigner_surmise


def _inputs(gamma):
    return LossInputs(pred=gamma, target=gamma.detach(), gamma_pred=gamma, node_index=torch.arange(gamma.numel()))


def _mmd_value_and_grad(mode, gamma, seed, **kw):
    g = gamma.detach().clone().requires_grad_()
    torch.manual_seed(seed)  # the same reference samples for every mode
    val = GUEMMDLoss(mode=mode, **kw)(_inputs(g))
    (grad,) = torch.autograd.grad(val, g)
    return val.item(), grad


@pytest.mark.parametrize("n,kw", [(10_000, {}), (3000, {"estimator": "unbiased"}), (3000, {"sigma": [0.1, 0.3, 1.0]})])
def test_fast_mmd_matches_dense(n, kw):
    """Issue 10: at n = 10⁴ the fast mode equals the groups' dense form to 1e-6 (value and gradient);
    the unbiased estimator and a multi-scale kernel likewise (at n = 3000, to keep the dense side cheap)."""
    torch.manual_seed(0)
    gamma = torch.cumsum(sample_wigner_surmise(n + 1, dtype=torch.float64) * 1.3 + 0.05, 0)
    dense_v, dense_g = _mmd_value_and_grad("dense", gamma, 7, **kw)
    fast_v, fast_g = _mmd_value_and_grad("fast", gamma, 7, **kw)
    assert dense_v != 0
    assert abs(fast_v - dense_v) <= 1e-6 * abs(dense_v)
    assert float((fast_g - dense_g).abs().max()) <= 1e-6 * float(dense_g.abs().max())


def test_fast_mmd_float32_inputs_are_summed_in_float64():
    """On float32 predictions the fast mode sums in float64: it matches the dense form evaluated in
    float64 on the same inputs, closer than the dense form in float32 does (MMD² is a small difference
    of O(1) kernel means, so float32 sums lose ~3 digits of it)."""
    torch.manual_seed(1)
    x = (torch.rand(3000) * 2.5).requires_grad_()  # float32 spacings, as from the network
    y = sample_wigner_surmise(500, dtype=torch.float32)
    values, grads = {}, {}
    for label, mode, cast in (("ref", "dense", torch.float64), ("d32", "dense", torch.float32),
                              ("fast", "fast", torch.float32)):
        xi = x.detach().to(cast).requires_grad_()
        v = GUEMMDLoss(mode=mode).mmd2(xi, y.to(cast))
        values[label], grads[label] = v.item(), torch.autograd.grad(v, xi)[0]
    assert grads["fast"].dtype == torch.float32
    ref = values["ref"]
    assert abs(values["fast"] - ref) <= 1e-6 * abs(ref) < abs(values["d32"] - ref)
    torch.testing.assert_close(grads["fast"].double(), grads["ref"], rtol=1e-5,
                               atol=1e-6 * float(grads["ref"].abs().max()))


@pytest.mark.parametrize("sigma", [0.02, 0.7, 5.0])
@pytest.mark.parametrize("cross", [False, True])
def test_fast_kernel_sum_value_and_gradients(sigma, cross):
    gen = torch.Generator().manual_seed(11)
    x = (torch.randn(2000, dtype=torch.float64, generator=gen) * 2).requires_grad_()
    y = (torch.rand(300, dtype=torch.float64, generator=gen) * 6 - 1).requires_grad_() if cross else None
    wrt = [x, y] if cross else [x]
    a = fast_gaussian_kernel_sum(x, y, sigma)
    b = gaussian_kernel_sum_dense(x, y, sigma)
    assert a.item() == pytest.approx(b.item(), rel=1e-10)
    for u, v in zip(torch.autograd.grad(a, wrt), torch.autograd.grad(b, wrt)):
        torch.testing.assert_close(u, v, rtol=1e-8, atol=1e-8 * float(v.abs().max()))


def test_error_bound_holds_for_loose_tolerances():
    """|F̂ − F| ≤ tol · Σ|q| for every value, at tolerances where the error is visible."""
    gen = torch.Generator().manual_seed(2)
    z = torch.rand(500, dtype=torch.float64, generator=gen) * 8
    q = torch.randn(2, 500, dtype=torch.float64, generator=gen)
    t = torch.rand(400, dtype=torch.float64, generator=gen) * 10 - 1
    sigma = 0.6
    exact = (q[:, None, :] * torch.exp(-(t[:, None] - z[None, :]) ** 2 / (2 * sigma ** 2))).sum(-1)
    d_exact = (q[:, None, :] * torch.exp(-(t[:, None] - z[None, :]) ** 2 / (2 * sigma ** 2))
               * (z[None, :] - t[:, None]) / sigma ** 2).sum(-1)
    errors = []
    for tol in (1e-3, 1e-6, 1e-9):
        f, df = gauss_transform(z, q, t, sigma, tol, derivative=True)
        bound = tol * q.abs().sum(dim=1, keepdim=True)
        assert bool(((f - exact).abs() <= bound).all())
        assert bool(((df - d_exact).abs() <= bound / (math.sqrt(2) * sigma)).all())
        errors.append(float((f - exact).abs().max()))
    assert errors[0] > errors[2]  # the tolerance is what sets the accuracy
    assert expansion_order(1e-3)[0] < expansion_order(1e-9)[0]


def test_sparse_far_apart_points_and_degenerate_inputs():
    # widely separated clusters (most boxes empty) and an outlier: still exact, still linear
    x = torch.cat([torch.rand(200, dtype=torch.float64), torch.tensor([1e6, 1e6 + 0.5], dtype=torch.float64)])
    x.requires_grad_()
    a, b = fast_gaussian_kernel_sum(x, sigma=1.0), gaussian_kernel_sum_dense(x, sigma=1.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    torch.testing.assert_close(torch.autograd.grad(a, x)[0], torch.autograd.grad(b, x)[0], rtol=1e-9, atol=1e-9)
    same = torch.full((50,), 3.0, dtype=torch.float64)
    assert fast_gaussian_kernel_sum(same).item() == pytest.approx(2500.0, rel=1e-12)
    y = torch.tensor([0.0, 1.0], dtype=torch.float64)
    e = math.exp(-0.5)
    assert fast_mmd2(torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64),
                     [1.0]).item() == pytest.approx((2 + 2 * e) / 4 + 1 - (1 + e), rel=1e-12)
    assert fast_mmd2(y, y, [1.0]).item() == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="finite"):
        fast_gaussian_kernel_sum(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="tolerance"):
        expansion_order(0.0)
    with pytest.raises(ValueError, match="tol"):
        GUEMMDLoss(tol=0.5)
    with pytest.raises(ValueError, match="mode"):
        GUEMMDLoss(mode="fft")


def test_fast_is_the_default_mode():
    assert GUEMMDLoss().mode == "fast"


def test_small_inputs_take_the_direct_sum_and_agree_with_the_transform():
    from zeta_rmt.losses.gue_mmd import DIRECT_PAIRS

    torch.manual_seed(2)
    x = torch.rand(300, dtype=torch.float64) * 3
    y = torch.rand(200, dtype=torch.float64) * 3
    assert 300 * 500 <= DIRECT_PAIRS  # GUEMMDLoss sums these directly
    for est in ("biased", "unbiased"):
        direct = GUEMMDLoss(estimator=est).mmd2(x, y).item()
        assert fast_mmd2(x, y, [1.0], est).item() == pytest.approx(direct, rel=1e-10)
        assert GUEMMDLoss(mode="dense", estimator=est).mmd2(x, y).item() == pytest.approx(direct, rel=1e-12)
