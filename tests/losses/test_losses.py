import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from zeta_rmt.losses import (
    CompositeLoss, GUEMMDLoss, GUENLLLoss, LossConfigError, LossInputs, MSELoss, SeedRGPenalty,
    predicted_spacings,
)
from zeta_rmt.losses.kernels import gaussian_kernel_sum, gaussian_kernel_sum_dense
from zeta_rmt.losses.surmise import sample_wigner_surmise, wigner_surmise_pdf


def inputs(pred, target=None, node_index=None, **kw):
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = pred.detach().clone() if target is None else torch.as_tensor(target, dtype=torch.float64)
    node_index = torch.arange(pred.numel()) if node_index is None else torch.as_tensor(node_index)
    return LossInputs(pred=pred, target=target, gamma_pred=pred, node_index=node_index, **kw)


def test_mse_known_value():
    assert MSELoss()(inputs([1.0, 2.0, 4.0], [1.0, 0.0, 1.0])).item() == pytest.approx((0 + 4 + 9) / 3)


def test_spacings_full_graph_is_diff_over_its_mean():
    v = torch.tensor([1.0, 3.0, 4.5, 8.0])  # spacings 2, 1.5, 3.5, mean 7/3
    torch.testing.assert_close(predicted_spacings(inputs(v), "global_mean").float(),
                               torch.tensor([2.0, 1.5, 3.5]) * 3 / 7)


def test_spacings_cluster_rule():
    # a cluster holding nodes 7, 3, 4, 9, 8 (shuffled): only pairs (3,4), (7,8), (8,9) count
    idx = torch.tensor([7, 3, 4, 9, 8])
    v = torch.tensor([70.0, 30.0, 41.0, 95.0, 82.0])
    # spacings 11, 12, 13 (mean 12)
    torch.testing.assert_close(predicted_spacings(inputs(v, node_index=idx), "global_mean").float(),
                               torch.tensor([11.0, 12.0, 13.0]) / 12)


def test_surmise_pdf_normalised_mean_one():
    f = lambda s: wigner_surmise_pdf(torch.tensor(s, dtype=torch.float64)).item()
    assert integrate.quad(f, 0, np.inf)[0] == pytest.approx(1.0, abs=1e-10)
    assert integrate.quad(lambda s: s * f(s), 0, np.inf)[0] == pytest.approx(1.0, abs=1e-10)


def test_surmise_sampler_matches_law():
    torch.manual_seed(0)
    s = sample_wigner_surmise(200_000, dtype=torch.float64).numpy()
    assert s.shape == (200_000,) and s.min() >= 0 and s.max() <= 3.0
    assert s.mean() == pytest.approx(1.0, abs=0.005)
    assert s.var() == pytest.approx(3 * math.pi / 8 - 1, abs=0.003)
    cdf = lambda x: math.erf(2 * x / math.sqrt(math.pi)) - 4 * x / math.pi * math.exp(-4 * x * x / math.pi)
    ks = stats.kstest(s, np.vectorize(cdf))
    assert ks.statistic < 0.005


def test_gue_nll_known_value():
    # positions 0, 1, 3, 6: spacings 1, 2, 3, mean 2 -> unfolded 0.5, 1, 1.5
    loss = GUENLLLoss()(inputs([0.0, 1.0, 3.0, 6.0]))
    p = lambda s: 32 / math.pi**2 * s * s * math.exp(-4 * s * s / math.pi)
    want = -np.mean([math.log(p(0.5)), math.log(p(1.0)), math.log(p(1.5))])
    assert loss.item() == pytest.approx(want, rel=1e-12)


def test_gue_nll_drops_non_positive_spacings_and_floors():
    # spacings 1, -1, 1 : the negative one is dropped -> unfolded 1, 1
    loss = GUENLLLoss()(inputs([0.0, 1.0, 0.0, 1.0]))
    p1 = 32 / math.pi**2 * math.exp(-4 / math.pi)
    assert loss.item() == pytest.approx(-math.log(p1))
    # all spacings collapse -> no positive spacing -> zero, still differentiable
    x = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    out = GUENLLLoss()(LossInputs(pred=x, target=x.detach(), gamma_pred=x, node_index=torch.arange(5)))
    out.backward()
    assert out.item() == 0.0 and x.grad is not None


def test_gue_nll_lower_on_gue_like_than_on_poisson_spacings():
    torch.manual_seed(1)
    gue = torch.cumsum(sample_wigner_surmise(5000, dtype=torch.float64), 0)
    poisson = torch.cumsum(torch.distributions.Exponential(1.0).sample((5000,)).double(), 0)
    assert GUENLLLoss()(inputs(gue)).item() < GUENLLLoss()(inputs(poisson)).item()


@pytest.mark.parametrize("n,m", [(1, 1), (7, 3), (300, 50), (1000, 1000)])
def test_chunked_kernel_sum_equals_dense_value_and_gradient(n, m):
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(m, dtype=torch.float64, generator=g, requires_grad=True)
    for args in [(x, y), (x, None)]:
        a = gaussian_kernel_sum(*args, sigma=0.7, chunk=64)
        b = gaussian_kernel_sum_dense(*args, sigma=0.7)
        assert a.item() == pytest.approx(b.item(), rel=1e-12)
        ga = torch.autograd.grad(a, [x, y] if args[1] is not None else [x])
        gb = torch.autograd.grad(b, [x, y] if args[1] is not None else [x])
        for u, v in zip(ga, gb):
            torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-10)


def test_mmd_modes_agree_and_known_value():
    torch.manual_seed(0)
    pred = torch.cumsum(torch.rand(400, dtype=torch.float64) + 0.5, 0)
    vals = {}
    for mode in ("dense", "chunked"):
        torch.manual_seed(5)
        vals[mode] = GUEMMDLoss(mode=mode)(inputs(pred)).item()
    assert vals["dense"] == pytest.approx(vals["chunked"], rel=1e-10)
    # known value: x = {0, 1}, y = {0}, sigma 1: biased MMD² = (2 + 2e^{-1/2})/4 + 1 - 2(1 + e^{-1/2})/2
    loss = GUEMMDLoss()
    x, y = torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)
    e = math.exp(-0.5)
    assert loss.mmd2(x, y).item() == pytest.approx((2 + 2 * e) / 4 + 1 - (1 + e), rel=1e-12)
    unb = GUEMMDLoss(estimator="unbiased")
    y2 = torch.tensor([0.0, 2.0], dtype=torch.float64)
    want = (2 * e) / 2 + (2 * math.exp(-2)) / 2 - 2 * (1 + math.exp(-2) + e + e) / 4
    assert unb.mmd2(x, y2).item() == pytest.approx(want, rel=1e-12)


def test_mmd_small_for_surmise_spacings_large_for_poisson():
    torch.manual_seed(3)
    gue = torch.cumsum(sample_wigner_surmise(3000, dtype=torch.float64), 0)
    poisson = torch.cumsum(torch.distributions.Exponential(1.0).sample((3000,)).double(), 0)
    loss = GUEMMDLoss(num_samples=2000, estimator="unbiased")
    torch.manual_seed(4)
    a = loss(inputs(gue)).item()
    torch.manual_seed(4)
    b = loss(inputs(poisson)).item()
    assert abs(a) < 2e-3 and b > 10 * max(abs(a), 1e-4)


def test_mmd_sampled_mode_bounds_points():
    torch.manual_seed(0)
    pred = torch.cumsum(sample_wigner_surmise(20_000, dtype=torch.float64), 0).requires_grad_()
    loss = GUEMMDLoss(mode="sampled", max_points=512, num_samples=500)
    out = loss(inputs(pred))
    out.backward()
    assert math.isfinite(out.item()) and pred.grad is not None


def test_seed_rg_penalty_value_and_no_grad_through_second_pass():
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    w = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    model = lambda feats: (w * feats).squeeze(-1)
    pred = model(x)
    loss = SeedRGPenalty()(LossInputs(pred=pred, target=pred.detach(), gamma_pred=pred, node_index=torch.arange(3),
                                      features=x, rerun=model))
    scaled = torch.log(2 * x + 1e-6).squeeze(-1)
    want = ((2.0 * scaled / 2 - 2.0 * x.squeeze(-1)) ** 2).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-12)
    (g,) = torch.autograd.grad(loss, w)
    # gradient only through pred = w x: dL/dw = mean(2 (pred'/2 - pred) (-x)) with pred' held fixed
    want_g = (2 * (2.0 * scaled / 2 - 2.0 * x.squeeze(-1)) * (-x.squeeze(-1))).mean()
    assert g.item() == pytest.approx(want_g.item(), rel=1e-12)


def test_composite_weights_and_skipping():
    comp = CompositeLoss({"mse": 2.0, "gue_nll": 0.0}, {"mse": MSELoss(), "gue_nll": GUENLLLoss()})
    total, parts = comp(inputs([1.0, 2.0], [0.0, 0.0]))
    assert set(parts) == {"mse"} and total.item() == pytest.approx(2 * 2.5)
    assert comp.needs_full_graph == []
    full = CompositeLoss({"mse": 1.0, "rg": 0.1}, {"mse": MSELoss(), "rg": SeedRGPenalty()})
    assert full.needs_full_graph == ["rg"]


@pytest.mark.parametrize("weights,match", [
    ({"mse": -1.0}, "loss.weights.mse must be finite and >= 0"),
    ({"mse": float("nan")}, "loss.weights.mse"),
    ({"mse": "a"}, "must be a number"),
    ({"mse": 0.0}, "all loss.weights are 0"),
    ({"mse": 1.0, "foo": 1.0}, "without a definition"),
    ({}, "empty"),
])
def test_composite_rejects_bad_weights(weights, match):
    with pytest.raises(LossConfigError, match=match):
        CompositeLoss(weights, {"mse": MSELoss()})


@pytest.mark.parametrize("kwargs,match", [({"mode": "x"}, "mode"), ({"sigma": 0}, "sigma"),
                                          ({"estimator": "u"}, "estimator"), ({"num_samples": 1}, "num_samples")])
def test_mmd_rejects_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GUEMMDLoss(**kwargs)
