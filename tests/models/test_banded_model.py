"""The banded/fused network equals PyG's GCNConv path with the same weights (values, gradients, losses)."""
import numpy as np
import pytest
import torch

from tests.conftest import compose_config
from zeta_rmt.graph import adelic_graph
from zeta_rmt.graph.banded import banded_graph
from zeta_rmt.models import HybridGCN

PRIMES = [2, 3, 5, 7, 11, 13]


def pair(**kw):
    torch.manual_seed(0)
    ref = HybridGCN(conv="pyg", **kw)
    new = HybridGCN(conv="banded", **kw)
    new.load_state_dict(ref.state_dict())
    return ref, new


def rel(a, b):
    return float((a.detach().double() - b.detach().double()).abs().max() / b.detach().double().abs().max())


@pytest.mark.parametrize("kw", [{}, {"head_dtype": "float32"}, {"skip": True, "in_channels": 3},
                                {"mlp_layers": 1, "gcn_layers": 3}, {"fused": False}, {"checkpoint": True}])
def test_banded_equals_pyg_gcnconv_to_float32_rounding(kw):
    n = 800
    ref, new = pair(**kw)
    x = torch.randn(n, kw.get("in_channels", 1))
    g = adelic_graph(n, PRIMES)
    adj = banded_graph(n, PRIMES)
    for _ in range(2):  # the second pass reuses the fused buffers
        y_ref = ref(x, g.edge_index, g.edge_weight)
        y_new = new(x, adj=adj)
        assert y_new.dtype == y_ref.dtype
        assert rel(y_new, y_ref) < 2e-6
        loss_ref, loss_new = (y_ref ** 2).mean() + y_ref.sum(), (y_new ** 2).mean() + y_new.sum()
        g_ref = torch.autograd.grad(loss_ref, list(ref.parameters()))
        g_new = torch.autograd.grad(loss_new, list(new.parameters()))
        assert max(rel(a, b) for a, b in zip(g_new, g_ref)) < 2e-5
    with torch.no_grad():
        assert rel(new(x, adj=adj), y_ref) < 2e-6
    # the same network on an edge list (windows, cluster batches) takes the CSR operator
    assert rel(new(x, g.edge_index, g.edge_weight), y_ref) < 2e-6


def test_retained_graph_backward_twice_and_stale_graph_refused():
    _, net = pair()
    adj = banded_graph(300, PRIMES)
    x = torch.randn(300, 1)
    y = net(x, adj=adj)
    g1 = torch.autograd.grad(y.sum(), list(net.parameters()), retain_graph=True)
    g2 = torch.autograd.grad(y.sum(), list(net.parameters()), retain_graph=True)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)
    net(x, adj=adj).sum().backward()  # a later forward takes over the buffers
    with pytest.raises(RuntimeError, match="reused by a later forward"):
        torch.autograd.grad(y.sum(), list(net.parameters()))


def test_float64_head_resolves_spacings_at_two_million_zeros():
    """Outputs near gamma ~ 1.13e6 (N = 2e6): a float32 output can only move in steps of 0.125 there
    (a quarter of the mean spacing 0.53); the float64 head resolves far below that."""
    from zeta_rmt.zeros import load_zeros

    n = 2_000_000
    gamma = load_zeros("odlyzko", n - 999, 1000)
    torch.manual_seed(1)
    base = HybridGCN(hidden_channels=4, head_dtype="float32")
    x = torch.log(torch.arange(1, n + 1, dtype=torch.float64)).float()[:, None]
    adj = banded_graph(n, PRIMES)

    def run(head, bias):
        net = HybridGCN(hidden_channels=4, head_dtype=head)
        net.load_state_dict(base.state_dict())
        with torch.no_grad():
            net.convs[-1].bias.fill_(bias)
            return net(x, adj=adj)[-1000:].double().numpy()

    signal = run("float64", 0.0)  # the O(1) part of the output
    assert np.ptp(signal) > 1e-4
    height = float(gamma[-1])
    out64, out32 = run("float64", height), run("float32", height)
    grid = 2.0 ** (np.floor(np.log2(height)) - 23)  # float32 spacing of representable values there
    assert grid == 0.125
    assert np.abs(out64 - height - signal).max() < 1e-6  # the float64 head keeps the signal
    steps32 = np.diff(out32)
    assert np.allclose(steps32 / grid, np.round(steps32 / grid))  # float32 outputs sit on the 0.125 grid
    assert 1e-3 < np.abs(out32 - height - signal).max() <= grid


def test_default_losses_match_the_groups_dense_forms(tmp_path):
    """Same predictions and reference samples: the default losses (fast MMD, the banded rg re-run) equal
    the groups' forms (the dense n×n MMD, the re-run through PyG's GCNConv) to 1e-6.  (The networks
    themselves agree to float32 rounding, tested above; on an untrained network's nearly equal outputs
    that rounding alone moves the spacing losses by ~3e-6.)"""
    from hydra.utils import instantiate

    cfg = compose_config(["data.num_zeros=3000", "data.far_window_start=null"], output_dir=tmp_path)
    groups = compose_config(["data.num_zeros=3000", "data.far_window_start=null", "model.net.conv=pyg",
                             "loss.components.gue_mmd.mode=dense"], output_dir=tmp_path)
    dm, loss, groups_loss = instantiate(cfg.data), instantiate(cfg.loss), instantiate(groups.loss)
    model = instantiate(cfg.model, loss=loss)
    groups_model = instantiate(groups.model, loss=groups_loss)
    groups_model.load_state_dict(model.state_dict())
    dm.setup("fit")
    inputs = model.loss_inputs(dm.graph_data, "train_mask", dm)
    ref = groups_model.loss_inputs(dm.graph_data, "train_mask", dm)
    ref.pred, ref.gamma_pred = inputs.pred, inputs.gamma_pred  # the same predictions
    values = {}
    for label, (fn, inp) in {"default": (loss, inputs), "groups": (groups_loss, ref)}.items():
        torch.manual_seed(5)
        values[label] = {k: float(v) for k, v in fn(inp)[1].items()}
    assert set(values["default"]) == {"mse", "rg", "gue_nll", "gue_mmd"}
    assert groups_loss.components["gue_mmd"].mode == "dense" and loss.components["gue_mmd"].mode == "fast"
    for k, v in values["groups"].items():
        assert values["default"][k] == pytest.approx(v, rel=1e-6), k
