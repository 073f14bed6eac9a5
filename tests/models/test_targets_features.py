"""Targets and features of the data modules (issue 4): round trips, no leakage, gradients."""
import numpy as np
import pytest
import torch

from zeta_rmt.data import ClusterDataModule, DataConfigError, FullGraphDataModule
from zeta_rmt.data.base import FEATURE_WIDTHS, node_features, prime_sum_columns, smooth_heights
from zeta_rmt.baselines import ExplicitFormulaBaseline
from zeta_rmt.rmt import local_mean_spacing, smooth_count
from zeta_rmt.zeros import load_zeros

N, K = 400, 20


def module(target="raw", features="log_n", **kw):
    dm = FullGraphDataModule(num_zeros=N, primes=[2, 3], extrapolation_window=K, target=target, features=features, **kw)
    dm.setup()
    return dm


def test_targets_definitions_and_masks():
    z = load_zeros("odlyzko", 1, N)
    n = np.arange(1, N + 1)
    raw, res, sp = (module(t).graph_data for t in ("raw", "residual", "spacing"))
    np.testing.assert_allclose(raw.y.numpy(), z, rtol=1e-6)
    t0 = smooth_heights(n)
    np.testing.assert_allclose(res.y.numpy(), (z - t0) / local_mean_spacing(t0), atol=1e-6)
    np.testing.assert_allclose(sp.y.numpy()[1:], np.diff(smooth_count(z)), atol=1e-6)
    # zero 1 has no previous zero: no spacing target, left out of the loss
    assert not bool(sp.train_mask[0]) and int(sp.train_mask.sum()) == int(raw.train_mask.sum()) - 1
    assert torch.equal(sp.val_mask, raw.val_mask)


@pytest.mark.parametrize("target", ["raw", "residual", "spacing"])
def test_to_gamma_inverts_the_target(target):
    dm = module(target)
    d = dm.graph_data
    z = load_zeros("odlyzko", 1, N)
    for mask in (d.train_mask, d.val_mask):
        idx = d.node_index[mask]
        y = torch.from_numpy(dm._targets(z)[idx.numpy()])  # float64 targets
        gamma = dm.to_gamma(y, idx)
        np.testing.assert_allclose(gamma.detach().numpy(), z[idx.numpy()], rtol=1e-12, atol=1e-9)


def test_residual_zero_is_the_smooth_baseline_and_spacing_target_runs_free():
    dm = module("residual")
    idx = torch.arange(N, N + K)
    np.testing.assert_allclose(dm.to_gamma(torch.zeros(K), idx).numpy(), smooth_heights(idx.numpy() + 1), rtol=1e-12)
    sp = module("spacing")
    # extrapolation window: cumulative from the last known zero gamma_N, one unit spacing per zero
    gamma = sp.to_gamma(torch.ones(K), idx).numpy()
    zN = load_zeros("odlyzko", N, 1)[0]
    np.testing.assert_allclose(smooth_count(gamma), smooth_count(zN) + np.arange(1, K + 1), atol=1e-9)


def test_spacing_runs_in_a_cluster_are_anchored_on_the_previous_true_zero():
    dm = module("spacing")
    z = load_zeros("odlyzko", 1, N)
    s_true = np.diff(smooth_count(z))
    idx = torch.tensor([30, 10, 11, 31, 12])  # two runs: 10..12 and 30..31 (0-based), shuffled
    y = torch.from_numpy(s_true[idx.numpy() - 1])
    np.testing.assert_allclose(dm.to_gamma(y, idx).numpy(), z[idx.numpy()], rtol=1e-12)


def test_no_leakage_across_the_boundaries():
    dm = module("spacing")
    d = dm.graph_data
    # every training target uses zeros up to its own node only: changing the validation zeros
    # changes no training target
    z = dm.zeros.copy()
    base = dm._targets(z[:N])
    z2 = z.copy()
    z2[dm.num_train:] += 0.1
    after = dm._targets(z2[:N])
    tm = d.train_mask.numpy()
    np.testing.assert_array_equal(base[tm], after[tm])
    # an anchor inside the extrapolation window is refused (only zeros 1..N are known)
    with pytest.raises(ValueError, match=r"not a known zero \(known: 1..400\)"):
        dm.to_gamma(torch.ones(3), torch.arange(N + 2, N + 5))


@pytest.mark.parametrize("target", ["residual", "spacing"])
def test_to_gamma_is_differentiable_and_float64(target):
    dm = module(target)
    p = torch.full((5,), 0.3, requires_grad=True)
    gamma = dm.to_gamma(p, torch.arange(100, 105))
    assert gamma.dtype == torch.float64
    gamma.sum().backward()
    assert torch.isfinite(p.grad).all() and (p.grad > 0).all()


def test_features_definitions_and_widths():
    n = np.arange(1, 501)
    assert node_features(n, "log_n").shape == (500, 1)
    u = node_features(n, "unfolded", num_zeros=500).numpy()[:, 0]
    np.testing.assert_allclose(u, (n - 0.5) / 500, rtol=1e-6)
    ps = node_features(n, "prime_sum", prime_cutoff=100).numpy()
    assert ps.shape == (500, FEATURE_WIDTHS["prime_sum"])
    np.testing.assert_allclose(ps[:, 0], np.log(n), rtol=1e-6)
    s, ds = ExplicitFormulaBaseline(prime_cutoff=100).oscillating_part(smooth_heights(n))
    np.testing.assert_allclose(ps[:, 1], s, atol=1e-6)
    with pytest.raises(DataConfigError, match="data.features"):
        node_features(n, "fourier")


def test_prime_sum_carries_the_zeros_fine_structure():
    n = np.arange(1001, 10_001)
    z = load_zeros("odlyzko", 1001, 9000)
    t0 = smooth_heights(n)
    residual = (z - t0) / local_mean_spacing(t0)
    first_order = -prime_sum_columns(n, 1000)[:, 0]
    assert np.mean(np.abs(residual)) > 0.2  # the smooth baseline's error
    assert np.mean(np.abs(first_order - residual)) < 0.05


def test_dilated_features_and_pointwise_heights():
    dm = module("residual", features="log_n")
    n = torch.arange(1, 11, dtype=torch.float64) * 2.5
    np.testing.assert_allclose(dm.features_at(n).numpy()[:, 0], np.log(n.numpy()), rtol=1e-6)
    assert dm.features_at(n) is dm.features_at(n.clone())  # cached
    np.testing.assert_allclose(dm.gamma_at(torch.zeros(10), n).numpy(), smooth_heights(n.numpy()), rtol=1e-12)
    assert module("spacing").gamma_at(torch.zeros(3), n[:3]) is None


@pytest.mark.parametrize("kw,match", [({"target": "gamma"}, "data.target"), ({"features": "x"}, "data.features"),
                                      ({"prime_cutoff": 1}, "data.prime_cutoff"),
                                      ({"far_window_start": 0}, "data.far_window_start")])
def test_bad_data_options_name_the_key(kw, match):
    with pytest.raises(DataConfigError, match=match):
        FullGraphDataModule(num_zeros=N, **kw)


def test_far_window_loaded_scored_and_guarded():
    dm = module(far_window_start=1_000_000)
    batch, idx, true = dm.far_batch(num_hops=2)
    assert idx[0] == 999_999 and idx.size == K
    np.testing.assert_allclose(true, load_zeros("odlyzko", 1_000_000, K))
    assert int(batch.node_index[-1]) == 1_000_000 + K - 2
    sp = module("spacing", far_window_start=1_000_000)
    # the far window's spacing run is anchored at gamma_{F-1}
    g = sp.to_gamma(torch.ones(2), torch.tensor([999_999, 1_000_000])).numpy()
    np.testing.assert_allclose(smooth_count(g), smooth_count(load_zeros("odlyzko", 999_999, 1)[0]) + [1, 2], atol=1e-8)
    with pytest.warns(UserWarning, match="not beyond the extrapolation window"):
        overlap = FullGraphDataModule(num_zeros=N, extrapolation_window=K, far_window_start=N + 5)
    assert overlap.far_batch(2) is None and "far_window_start" in overlap.describe()["far_window_note"]


def test_far_window_off_when_the_source_lacks_it(tmp_path):
    path = tmp_path / "zeros.txt"
    path.write_text("\n".join(f"{g:.9f}" for g in load_zeros("odlyzko", 1, 500)))
    dm = FullGraphDataModule(source=str(path), num_zeros=N, primes=[2, 3], extrapolation_window=K,
                             far_window_start=1_000_000)
    with pytest.warns(UserWarning, match="does not hold"):
        dm.setup()
    assert dm.far_batch(2) is None


def test_cluster_module_uses_the_same_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path))
    dm = ClusterDataModule(num_zeros=N, primes=[2, 3], extrapolation_window=K, target="spacing", num_parts=4,
                           partitioner="contiguous")
    dm.setup()
    seen = torch.cat([b.node_index[b.train_mask] for b in dm.train_dataloader()])
    assert 0 not in seen.tolist() and seen.numel() == dm.num_train - 1
