"""The loss variants (issue 4): each on data drawn from its own prior, gradients, config errors."""
import math

import numpy as np
import pytest
import torch

from zeta_rmt.losses import (
    CompositeLoss, GUEMMDLoss, GUENLLLoss, LossInputs, MSELoss, ScaleRGPenalty, SeedRGPenalty, make_rg_penalty,
    predicted_spacings,
)
from zeta_rmt.rmt import gaudin_logpdf, gue_spacings, inverse_smooth_count, sample_gaudin, sample_wigner, smooth_count

# differential entropies -∫ p log p (quadrature over the Gaudin table / the surmise's closed form)
H_GAUDIN = 0.5330310
H_SURMISE = 0.5287984


def heights_from_spacings(s, x0=10_000.0):
    """Heights whose *local* unfolding N0(γ_{n+1}) − N0(γ_n) is exactly ``s`` (float64)."""
    x = x0 + np.concatenate([[0.0], np.cumsum(s)])
    return torch.from_numpy(inverse_smooth_count(x))


def inputs_for(gamma, node_index=None):
    gamma = torch.as_tensor(gamma, dtype=torch.float64)
    idx = torch.arange(gamma.numel()) if node_index is None else torch.as_tensor(node_index)
    return LossInputs(pred=gamma, target=gamma.detach(), gamma_pred=gamma, node_index=idx)


def test_entropies_used_here():
    from scipy import integrate
    from zeta_rmt.rmt import gaudin_pdf, wigner_pdf

    def h(p):
        return integrate.quad(lambda s: -p(s) * math.log(p(s)) if p(s) > 0 else 0.0, 0, 7, limit=400)[0]
    assert h(lambda s: float(gaudin_pdf(s))) == pytest.approx(H_GAUDIN, abs=1e-6)
    assert h(lambda s: float(wigner_pdf(s))) == pytest.approx(H_SURMISE, abs=1e-6)


@pytest.mark.parametrize("density,sampler,entropy", [("gaudin", sample_gaudin, H_GAUDIN),
                                                     ("surmise", sample_wigner, H_SURMISE)])
def test_nll_on_its_own_law_is_the_entropy_with_local_unfolding(density, sampler, entropy):
    s = sampler(100_000, rng=1)
    gamma = heights_from_spacings(s)  # heights 1e4 .. ~1.5e5: the density changes by 25 %
    local = GUENLLLoss(density=density, unfolding="local")(inputs_for(gamma)).item()
    glob = GUENLLLoss(density=density, unfolding="global_mean")(inputs_for(gamma)).item()
    # local unfolding recovers the drawn spacings, so the loss is the sample mean of -log p(s):
    # E = entropy (Gibbs: the minimum of E_p[-log q] over q), standard error ~ 0.6/sqrt(n) = 0.002
    assert local == pytest.approx(entropy, abs=0.008)
    assert glob > local + 0.01  # one global mean is wrong when the density changes with height


def test_nll_gaudin_prefers_gue_to_poisson_and_surmise_density_is_the_groups():
    s = sample_gaudin(20_000, rng=2)
    poisson = np.random.default_rng(2).exponential(size=20_000)
    g = GUENLLLoss(density="gaudin", unfolding="local")
    assert g(inputs_for(heights_from_spacings(s))).item() < g(inputs_for(heights_from_spacings(poisson))).item() - 0.3
    # the gaudin density is Gaudin's law exactly (floor 1e-10 as the groups')
    x = torch.tensor([0.3, 1.0, 2.2], dtype=torch.float64)
    np.testing.assert_allclose(g.log_density(x).numpy(), gaudin_logpdf(x.numpy(), 1e-10), rtol=1e-9)


@pytest.mark.parametrize("density", ["surmise", "gaudin"])
@pytest.mark.parametrize("unfolding", ["global_mean", "local"])
def test_nll_gradients_flow_to_predicted_heights(density, unfolding):
    gamma = heights_from_spacings(sample_gaudin(200, rng=3)).requires_grad_()
    loss = GUENLLLoss(density=density, unfolding=unfolding)(inputs_for(gamma))
    (g,) = torch.autograd.grad(loss, gamma)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_local_unfolding_respects_the_cluster_rule():
    # nodes 3, 4, 5 and 9, 10 of a cluster: 3 spacings, none across the gap
    idx = torch.tensor([9, 3, 5, 10, 4])
    gamma = torch.from_numpy(inverse_smooth_count(np.array([90.0, 30.0, 51.0, 101.5, 40.0])))
    s = predicted_spacings(inputs_for(gamma, idx), "local")
    torch.testing.assert_close(s, torch.tensor([10.0, 11.0, 11.5], dtype=torch.float64))


def _gue_like(n, seed):
    return heights_from_spacings(gue_spacings(n, rng=seed))


@pytest.mark.parametrize("samples,draw", [
    ("gue", lambda n: gue_spacings(n, rng=11)),
    ("gaudin", lambda n: sample_gaudin(n, rng=12)),
    ("surmise", lambda n: np.minimum(sample_wigner(n, rng=13), 3.0)),
])
def test_mmd_unbiased_is_zero_on_its_own_law(samples, draw):
    loss = GUEMMDLoss(samples=samples, estimator="unbiased", num_samples=3000, unfolding="local", gue_pool=20_000)
    own = heights_from_spacings(draw(4000))
    poisson = heights_from_spacings(np.random.default_rng(0).exponential(size=4000))
    torch.manual_seed(0)
    a = loss(inputs_for(own)).item()
    torch.manual_seed(0)
    b = loss(inputs_for(poisson)).item()
    # unbiased: E MMD² = 0 on the reference law; sd ~ 1e-3 here; Poisson spacings are far away
    assert abs(a) < 3e-3 and b > 0.05


def test_mmd_multiscale_is_the_mean_of_single_bandwidths():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, dtype=torch.float64, generator=g) * 2
    y = torch.rand(200, dtype=torch.float64, generator=g) * 2
    for est in ("biased", "unbiased"):
        multi = GUEMMDLoss(sigma=[0.1, 0.5, 2.0], estimator=est).mmd2(x, y)
        singles = [GUEMMDLoss(sigma=s, estimator=est).mmd2(x, y) for s in (0.1, 0.5, 2.0)]
        assert multi.item() == pytest.approx(float(np.mean([v.item() for v in singles])), rel=1e-12)


@pytest.mark.parametrize("samples", ["surmise", "gaudin", "gue"])
def test_mmd_gradients_flow_and_gue_pool_is_seeded(samples):
    gamma = _gue_like(400, 5).requires_grad_()
    loss = GUEMMDLoss(samples=samples, sigma=[0.3, 1.0], gue_pool=5000)
    out = loss(inputs_for(gamma))
    (g,) = torch.autograd.grad(out, gamma)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    if samples == "gue":
        other = GUEMMDLoss(samples="gue", gue_pool=5000)
        torch.manual_seed(1)
        a = loss.reference_samples(100, dtype=torch.float64)
        torch.manual_seed(1)
        b = other.reference_samples(100, dtype=torch.float64)
        torch.testing.assert_close(a, b)
        assert a.mean().item() == pytest.approx(1.0, abs=0.1)


def test_mmd_defaults_are_the_groups():
    loss = GUEMMDLoss()
    assert (loss.sigma, loss.samples, loss.unfolding, loss.estimator, loss.num_samples) == (1.0, "surmise", "global_mean", "biased", 500)


@pytest.mark.parametrize("kwargs,match", [
    ({"samples": "poisson"}, "gue_mmd.samples"), ({"unfolding": "x"}, "gue_mmd.unfolding"),
    ({"sigma": []}, "gue_mmd.sigma"), ({"sigma": [1.0, -1.0]}, "gue_mmd.sigma"),
    ({"samples": "gue", "gue_matrix_size": 5}, "gue_matrix_size"),
])
def test_mmd_variant_errors_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GUEMMDLoss(**kwargs)


@pytest.mark.parametrize("kwargs,match", [({"density": "poisson"}, "gue_nll.density"),
                                          ({"unfolding": "global"}, "gue_nll.unfolding"),
                                          ({"floor": 0}, "gue_nll.floor")])
def test_nll_variant_errors_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GUENLLLoss(**kwargs)


# -- rg penalties ---------------------------------------------------------------------------

class ToyModel(torch.nn.Module):
    """gamma_hat(n) = N0^{-1}(a n - 1/2 + b sin n): a = 1, b = 0 is the smooth baseline."""

    def __init__(self, a=1.0, b=0.0):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a), dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.tensor(float(b), dtype=torch.float64))

    def heights(self, n):
        x = self.a * n - 0.5 + self.b * torch.sin(n)
        t = torch.from_numpy(inverse_smooth_count(x.detach().numpy()))
        return t + (x - x.detach()) * 2 * math.pi / torch.log(t / (2 * math.pi))  # dT/dx = 1/N0'(T)

    def inputs(self, n):
        gamma = self.heights(n)
        return LossInputs(pred=gamma, target=gamma.detach(), gamma_pred=gamma, node_index=(n - 1).long(),
                          dilated=lambda lam: self.heights(lam * n))


def test_scale_rg_is_zero_on_the_smooth_law_and_on_a_wrong_density():
    n = torch.arange(100, 600, dtype=torch.float64)
    rg = ScaleRGPenalty(dilation=2.0)
    assert rg(ToyModel().inputs(n)).item() == pytest.approx(0.0, abs=1e-12)
    # ν̂ = c n is homogeneous: the penalty does not pin the density (the MSE does); documented
    assert rg(ToyModel(a=1.3).inputs(n)).item() == pytest.approx(0.0, abs=1e-10)


def test_scale_rg_known_value_on_fluctuations():
    n = torch.arange(100, 600, dtype=torch.float64)
    lam = 3.0
    got = ScaleRGPenalty(dilation=lam)(ToyModel(b=0.2).inputs(n)).item()
    # ν̂(n) = n + 0.2 sin n  ->  ν̂(λn)/λ − ν̂(n) = 0.2 (sin(λn)/λ − sin n)
    want = float(((0.2 * (torch.sin(lam * n) / lam - torch.sin(n))) ** 2).mean())
    assert got == pytest.approx(want, rel=1e-7)


def test_scale_rg_gradients_through_both_passes_unless_detached():
    n = torch.arange(100, 400, dtype=torch.float64)
    m = ToyModel(b=0.2)
    full = torch.autograd.grad(ScaleRGPenalty()(m.inputs(n)), m.b)[0].item()
    # analytic: L = mean(b² (sin 2n / 2 − sin n)²)  ->  dL/db = 2 b mean((sin 2n/2 − sin n)²)
    d = torch.sin(2 * n) / 2 - torch.sin(n)
    assert full == pytest.approx(2 * 0.2 * float((d**2).mean()), rel=1e-6)
    # detached dilated pass: only ν̂(n) carries gradient: dL/db = mean(2 (b d) (−sin n))
    det = torch.autograd.grad(ScaleRGPenalty(detach_dilated=True)(m.inputs(n)), m.b)[0].item()
    assert det == pytest.approx(float((2 * 0.2 * d * (-torch.sin(n))).mean()), rel=1e-6)


def test_scale_rg_needs_a_pointwise_height_and_is_cluster_local():
    gamma = torch.linspace(100, 200, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="data.target=spacing"):
        ScaleRGPenalty()(inputs_for(gamma))
    assert ScaleRGPenalty.needs_full_graph is False and SeedRGPenalty.needs_full_graph is True
    comp = CompositeLoss({"mse": 1.0, "rg": 0.1}, {"mse": MSELoss(), "rg": make_rg_penalty("scale")})
    assert comp.needs_full_graph == []


def test_seed_rg_is_zero_on_its_own_prior_and_factory_reproduces_it():
    x = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    pred = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    # a model that doubles its output under the groups' dilation: exactly the prior the seed penalty encodes
    inp = LossInputs(pred=pred, target=pred.detach(), gamma_pred=pred, node_index=torch.arange(3),
                     features=x, rerun=lambda f: 2.0 * pred)
    assert SeedRGPenalty()(inp).item() == 0.0
    seed = make_rg_penalty("seed", dilation=2.0, eps=1e-6)
    assert isinstance(seed, SeedRGPenalty) and (seed.dilation, seed.eps) == (2.0, 1e-6)
    model = lambda f: (3.0 * f).squeeze(-1)
    inp = LossInputs(pred=model(x), target=x.squeeze(-1), gamma_pred=model(x), node_index=torch.arange(3),
                     features=x, rerun=model)
    assert seed(inp).item() == SeedRGPenalty()(inp).item()


@pytest.mark.parametrize("kwargs,match", [({"variant": "global"}, "rg.variant"),
                                          ({"variant": "seed", "detach_dilated": True}, "detach_dilated"),
                                          ({"variant": "scale", "dilation": 1.0}, "rg.dilation")])
def test_rg_factory_errors_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_rg_penalty(**kwargs)


def test_seed_rg_refuses_signed_features_instead_of_producing_nan():
    x = torch.tensor([[1.0, -0.3], [2.0, 0.4]], dtype=torch.float64)
    pred = torch.tensor([1.0, 2.0], dtype=torch.float64)
    inp = LossInputs(pred=pred, target=pred, gamma_pred=pred, node_index=torch.arange(2), features=x,
                     rerun=lambda f: f.sum(-1))
    with pytest.raises(ValueError, match="rg.variant=scale"):
        SeedRGPenalty()(inp)
