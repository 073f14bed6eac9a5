import numpy as np
import pytest
import torch

from zeta_rmt.rmt import (
    inverse_smooth_count,
    local_mean_spacing,
    local_mean_spacing_torch,
    smooth_count,
    smooth_count_torch,
    smooth_density,
    smooth_density_torch,
    unfold,
    unfolded_spacings,
    unfolded_spacings_torch,
)


def test_smooth_count_inverse_round_trip():
    x = np.array([0.5, 1.0, 10.5, 1e4, 1e6 - 0.5, 2e6])
    t = inverse_smooth_count(x)
    np.testing.assert_allclose(smooth_count(t), x, rtol=1e-12, atol=1e-10)


def test_density_is_derivative_of_count():
    t = np.array([20.0, 1e3, 1e5, 1e6])
    h = 1e-4 * t
    fd = (smooth_count(t + h) - smooth_count(t - h)) / (2 * h)
    np.testing.assert_allclose(smooth_density(t), fd, rtol=1e-8)
    np.testing.assert_allclose(local_mean_spacing(t), 2 * np.pi / np.log(t / (2 * np.pi)))


def test_torch_versions_match_numpy():
    t = np.array([20.0, 1e3, 1e5, 1e6])
    tt = torch.tensor(t, dtype=torch.float64)
    np.testing.assert_allclose(smooth_count_torch(tt).numpy(), smooth_count(t), rtol=1e-14)
    np.testing.assert_allclose(smooth_density_torch(tt).numpy(), smooth_density(t), rtol=1e-14)
    np.testing.assert_allclose(local_mean_spacing_torch(tt).numpy(), local_mean_spacing(t), rtol=1e-14)


def test_local_unfolding_has_unit_mean_at_any_height_global_mean_rescales():
    # a perfectly "smooth" sequence: gamma_n = N0^{-1}(n - 1/2) over a wide height range
    g = inverse_smooth_count(np.arange(1, 20001) - 0.5)
    s_local = unfolded_spacings(g, "local")
    np.testing.assert_allclose(s_local, 1.0, atol=1e-9)
    s_glob = unfolded_spacings(g, "global_mean")
    assert s_glob.mean() == pytest.approx(1.0)
    # the global mean is wrong when the density changes: low zeros get stretched spacings
    assert s_glob[0] > 3.0 and s_glob[-1] < 0.9


def test_positive_only_and_cluster_pairs():
    g = np.array([100.0, 101.0, 100.5, 103.0, 104.0])
    assert unfolded_spacings(g, "global_mean", positive_only=True).size == 3
    assert unfolded_spacings(g, "global_mean", positive_only=False).size == 4
    # indices: only consecutive indices pair up, after sorting by index
    heights = np.array([200.0, 100.0, 150.0, 300.0])
    idx = np.array([7, 3, 4, 9])
    s = unfolded_spacings(heights, "local", indices=idx)
    np.testing.assert_allclose(s, [smooth_count(150.0) - smooth_count(100.0)])
    st = unfolded_spacings_torch(torch.tensor(heights), "local", indices=torch.tensor(idx))
    np.testing.assert_allclose(st.numpy(), s)


def test_torch_spacings_match_numpy_and_are_differentiable():
    rng = np.random.default_rng(0)
    g = np.sort(rng.uniform(1000, 1100, 50))
    for method in ("local", "global_mean"):
        gt = torch.tensor(g, requires_grad=True)
        s = unfolded_spacings_torch(gt, method)
        np.testing.assert_allclose(s.detach().numpy(), unfolded_spacings(g, method), rtol=1e-12)
        assert torch.autograd.gradcheck(lambda x: unfolded_spacings_torch(x, method), (gt,))


def test_errors_are_explicit():
    with pytest.raises(ValueError, match="unknown unfolding method"):
        unfolded_spacings([100.0, 101.0], "median")
    with pytest.raises(ValueError, match="heights > 2 pi"):
        unfolded_spacings([1.0, 2.0], "local")
    with pytest.raises(ValueError, match="does not match"):
        unfolded_spacings([100.0, 101.0], indices=[1, 2, 3])
    with pytest.raises(ValueError, match="1-D"):
        unfolded_spacings_torch(torch.ones(2, 2))
    assert np.array_equal(unfold([100.0]), smooth_count([100.0]))
