"""The groups' full-graph script the overhead case times computes what SPEC §2 says, checked against
the project's own implementations of the same formulas on a small graph."""
from __future__ import annotations

import random

import numpy as np
import torch

from zeta_rmt.bench.groups_script import GroupsNet, GroupsScript, dense_mmd2, normalized_adjacency, rejection_samples
from zeta_rmt.graph import adelic_graph
from zeta_rmt.losses import GUEMMDLoss, GUENLLLoss, LossInputs
from zeta_rmt.zeros import load_zeros

PRIMES = [2, 3, 5, 7, 11, 13]


def test_adjacency_equals_the_adelic_graph_normalisation():
    n = 300
    a = normalized_adjacency(n, PRIMES).to_dense()
    g = adelic_graph(n, PRIMES)
    ref = torch.zeros(n, n)
    ref[g.edge_index[0], g.edge_index[1]] = g.edge_weight
    assert torch.allclose(a, ref, rtol=1e-5, atol=0)  # degrees + 1e-6: relative 1e-6 at most
    assert torch.equal(a, a.t())


def test_network_has_the_groups_parameter_count():
    assert sum(p.numel() for p in GroupsNet().parameters()) == 33_280


def test_losses_match_the_project_components_on_the_same_spacings():
    zeros = np.asarray(load_zeros("odlyzko", 1, 400))
    script = GroupsScript(zeros, PRIMES)
    parts = script.losses()
    assert set(parts) == {"mse", "rg", "gue_nll", "gue_mmd"} and all(torch.isfinite(v) for v in parts.values())
    pred = torch.as_tensor(zeros[:300] + np.random.default_rng(1).normal(0, 0.2, 300), dtype=torch.float32)
    inputs = LossInputs(pred=pred, target=pred, gamma_pred=pred, node_index=torch.arange(300))
    d = pred[1:] - pred[:-1]
    d = d[d > 0]
    s = d / d.mean()
    nll = -torch.log(((32 / np.pi ** 2) * s * s * torch.exp(-4 * s * s / np.pi)).clamp_min(1e-10)).mean()
    assert torch.allclose(nll, GUENLLLoss()(inputs), rtol=1e-6)
    y = rejection_samples(200, random.Random(0))
    assert y.min() >= 0 and y.max() <= 3 and 0.95 < float(y.mean()) < 1.1  # their sampler's law has mean ~1.023
    assert torch.allclose(dense_mmd2(s, y), GUEMMDLoss(mode="dense").mmd2(s, y), rtol=1e-5)


def test_one_epoch_trains():
    zeros = np.asarray(load_zeros("odlyzko", 1, 300))
    script = GroupsScript(zeros, PRIMES)
    before = [p.detach().clone() for p in script.net.parameters()]
    loss = script.epoch()
    assert np.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, script.net.parameters()))
