"""``model.net.bias`` (the groups' bias-free full-graph layers) on every conv path, and the per-cluster
re-normalisation the cluster script's ``GCNConv(normalize=True)`` applies (``data.norm=groups``)."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from zeta_rmt.data import ClusterDataModule
from zeta_rmt.data.base import DataConfigError
from zeta_rmt.graph.banded import banded_graph
from zeta_rmt.models import HybridGCN


@pytest.mark.parametrize("head", ["float32", "float64"])
def test_bias_false_on_every_conv_path(head):
    adj = banded_graph(300, [2, 3, 5])
    x = torch.log(torch.arange(1, 301, dtype=torch.float32))[:, None]
    nets = {}
    for name, kw in {"fused": dict(conv="banded", fused=True), "banded": dict(conv="banded", fused=False),
                     "pyg": dict(conv="pyg")}.items():
        torch.manual_seed(0)
        nets[name] = HybridGCN(hidden_channels=16, bias=False, head_dtype=head, skip=True, **kw)
    nets["pyg"].load_state_dict(nets["banded"].state_dict())
    assert all(c.bias is None for net in nets.values() for c in net.convs)
    outs = {}
    for name, net in nets.items():
        y = net(x, adj=adj)
        (y.double() ** 2).sum().backward()
        outs[name] = (y.detach().double(), [p.grad.double() for p in net.parameters()])
    for name in ("banded", "pyg"):
        torch.testing.assert_close(outs[name][0], outs["fused"][0], rtol=1e-5, atol=1e-5)
        for a, b in zip(outs[name][1], outs["fused"][1]):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_parameter_counts_of_the_groups_networks():
    count = lambda **kw: sum(p.numel() for p in HybridGCN(hidden_channels=128, conv="pyg", **kw).parameters())
    assert count(bias=False) == 33_280 and count(bias=True) == 33_409
    with pytest.raises(ValueError, match="model.net.bias"):
        HybridGCN(bias="no")


def test_groups_norm_is_gcn_norm_of_the_global_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path))
    common = dict(num_zeros=600, primes=[2, 3, 5, 7, 11], extrapolation_window=10, num_parts=6, shuffle=False)
    batches = {}
    for norm in ("groups", "global", "subgraph"):
        dm = ClusterDataModule(**common, norm=norm)
        dm.setup()
        batches[norm] = list(dm.train_dataloader())
    ends = 3 * 11  # the global degrees differ within max(prime) of an end, and enter through two hops
    for g, glob, sub in zip(batches["groups"], batches["global"], batches["subgraph"]):
        ei, w = gcn_norm(glob.edge_index, glob.edge_weight, glob.num_nodes, add_self_loops=True)
        ref = dict(zip((ei[0] * 10_000 + ei[1]).tolist(), w.tolist()))  # keeps the loops, adds none
        mine = dict(zip((g.edge_index[0] * 10_000 + g.edge_index[1]).tolist(), g.edge_weight.tolist()))
        assert mine.keys() == ref.keys()
        assert max(abs(mine[k] - ref[k]) for k in ref) < 1e-6
        # = the sub-graph normalisation except near the graph's two ends
        far = g.node_index[g.edge_index]
        far = ((far >= ends) & (far < 600 - ends)).all(0)
        torch.testing.assert_close(g.edge_weight[far], sub.edge_weight[far], rtol=1e-6, atol=0)
    diff = torch.cat([(g.edge_weight - s.edge_weight).abs() for g, s in zip(batches["groups"], batches["subgraph"])])
    assert float(diff.max()) > 1e-3


def test_groups_norm_needs_the_pyg_backend():
    with pytest.raises(DataConfigError, match="data.norm=groups .*data.backend=pyg"):
        ClusterDataModule(num_zeros=600, primes=[2, 3], extrapolation_window=10, num_parts=6, norm="groups",
                          backend="stream")
