"""The groups' full-graph training script (SPEC §2) as a plain PyTorch loop, for timing.

Written from SPEC §2's description of their script, not from their code:

* graph: binary adjacency with edges (i, i+1) and (i, i+p), p in ``primes``, symmetric, plus
  self-loops; ``Â = D^-1/2 (A + I) D^-1/2`` with ``D_ii = Σ_j (A + I)_ij + 1e-6``, held as a
  coalesced ``torch.sparse_coo_tensor`` and applied with ``torch.sparse.mm``;
* features ``log(n + 1e-6)``, n = 1..N; target γ_n; the first 90 % of indices train;
* model: Linear 1→128, ReLU, Linear 128→128, ReLU, then ``ReLU(Â X W₁)`` (128→128) and
  ``Â X W₂`` (128→1), no bias in the graph layers (33,280 parameters); Adam, lr 0.005;
* loss = mse + 0.1·rg + 0.02·gue_nll + 0.05·gue_mmd on the train nodes:
  rg: without gradient, pred' = model(log(2H + 1e-6)); mean (pred'/2 − pred)²;
  gue_nll: d = pred[i+1] − pred[i], keep d > 0, s = d / mean d, −mean log max(p_W(s), 1e-10);
  gue_mmd: the dense n×n Gaussian kernel, σ = 1, biased MMD² against min(500, n) samples
  drawn by their rejection sampler (s ~ U[0, 3], u ~ U[0, 0.6], keep s when u ≤ p_W(s)), one
  draw at a time in a Python loop.
"""
from __future__ import annotations

import math
import random

import torch
from torch import nn

WEIGHTS = {"mse": 1.0, "rg": 0.1, "gue_nll": 0.02, "gue_mmd": 0.05}


def surmise_pdf(s: torch.Tensor) -> torch.Tensor:
    return (32.0 / math.pi ** 2) * s * s * torch.exp(-4.0 * s * s / math.pi)


def rejection_samples(m: int, rng: random.Random) -> torch.Tensor:
    out: list[float] = []
    while len(out) < m:
        s, u = rng.uniform(0.0, 3.0), rng.uniform(0.0, 0.6)
        if u <= (32.0 / math.pi ** 2) * s * s * math.exp(-4.0 * s * s / math.pi):
            out.append(s)
    return torch.tensor(out, dtype=torch.float32)


def normalized_adjacency(n: int, primes) -> torch.Tensor:
    rows, cols = [], []
    for d in sorted({1, *primes}):
        if d >= n:
            continue
        i = torch.arange(n - d)
        rows += [i, i + d]
        cols += [i + d, i]
    loops = torch.arange(n)
    row = torch.cat([*rows, loops])
    col = torch.cat([*cols, loops])
    a = torch.sparse_coo_tensor(torch.stack([row, col]), torch.ones(row.numel()), (n, n), check_invariants=False).coalesce()
    a = torch.sparse_coo_tensor(a.indices(), torch.ones(a.indices().shape[1]), (n, n), check_invariants=False).coalesce()  # binary
    deg = torch.sparse.sum(a, dim=1).to_dense() + 1e-6
    inv = deg.rsqrt()
    r, c = a.indices()
    return torch.sparse_coo_tensor(a.indices(), inv[r] * inv[c], (n, n), check_invariants=False).coalesce()


class GroupsNet(nn.Module):
    def __init__(self, hidden: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.w1 = nn.Parameter(torch.empty(hidden, hidden))
        self.w2 = nn.Parameter(torch.empty(hidden, 1))
        nn.init.xavier_uniform_(self.w1)
        nn.init.xavier_uniform_(self.w2)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        h = self.mlp(x)
        h = torch.relu(torch.sparse.mm(adj, h @ self.w1))
        return torch.sparse.mm(adj, h @ self.w2).squeeze(-1)


def dense_mmd2(x: torch.Tensor, y: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    def k(a, b):
        return torch.exp(-((a[:, None] - b[None, :]) ** 2) / (2.0 * sigma * sigma))

    return k(x, x).mean() + k(y, y).mean() - 2.0 * k(x, y).mean()


class GroupsScript:
    """One object per run: graph, features, model, optimiser; :meth:`epoch` is one training step."""

    def __init__(self, zeros, primes=(2, 3, 5, 7, 11, 13), train_fraction: float = 0.9, seed: int = 0):
        torch.manual_seed(seed)
        n = len(zeros)
        self.rng = random.Random(seed)
        self.adj = normalized_adjacency(n, primes)
        self.x = torch.log(torch.arange(1, n + 1, dtype=torch.float32) + 1e-6)[:, None]
        self.y = torch.as_tensor(zeros, dtype=torch.float32)
        self.train = torch.arange(n) < int(train_fraction * n)
        self.net = GroupsNet()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.005)

    def losses(self) -> dict[str, torch.Tensor]:
        pred = self.net(self.x, self.adj)
        p = pred[self.train]
        out = {"mse": ((p - self.y[self.train]) ** 2).mean()}
        with torch.no_grad():
            scaled = self.net(torch.log(2.0 * self.x + 1e-6), self.adj)[self.train]
        out["rg"] = ((scaled / 2.0 - p) ** 2).mean()
        d = p[1:] - p[:-1]
        d = d[d > 0]
        s = d / d.mean()
        out["gue_nll"] = -torch.log(surmise_pdf(s).clamp_min(1e-10)).mean()
        ref = rejection_samples(min(500, s.numel()), self.rng)
        out["gue_mmd"] = dense_mmd2(s, ref)
        return out

    def epoch(self) -> float:
        self.opt.zero_grad()
        parts = self.losses()
        total = sum(WEIGHTS[k] * v for k, v in parts.items())
        total.backward()
        self.opt.step()
        return float(total.detach())
