"""Maximum mean discrepancy between predicted unfolded spacings and GUE spacing samples."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch
from torch import nn

from zeta_rmt.losses.base import LossInputs, zero_like_graph
from zeta_rmt.losses.fast_gauss import fast_mmd2
from zeta_rmt.losses.gue_nll import UNFOLDINGS, predicted_spacings
from zeta_rmt.losses.kernels import gaussian_kernel_sum, gaussian_kernel_sum_dense
from zeta_rmt.losses.surmise import sample_groups_surmise, sample_wigner_surmise
from zeta_rmt.rmt.gaudin import gaudin_ppf
from zeta_rmt.rmt.gue import gue_spacings

MODES = ("fast", "dense", "chunked", "sampled")
#: below this many kernel pairs ``fast`` sums directly (chunked): exact, and cheaper than setting up the
#: expansions (measured: 0.85 ms direct vs 3.3 ms fast at 100 spacings and 100 samples, f+b)
DIRECT_PAIRS = 300_000
SAMPLES = ("surmise", "gaudin", "gue", "groups")
#: how many reference samples a call draws: min(num_samples, n) (the groups' full-graph script) or
#: always num_samples (their cluster script: 200 per cluster)
SAMPLE_COUNTS = ("min_n", "fixed")


class GUEMMDLoss(nn.Module):
    r"""Squared MMD between predicted unfolded spacings and spacings drawn from a GUE law.

    ``x``: the unfolded predicted spacings (n of them, as for :class:`GUENLLLoss`, with the same
    ``unfolding`` choice ``global_mean`` (the groups') or ``local``);
    ``y``: ``m`` fresh reference spacings per call (``sample_count``: ``min_n`` m = min(num_samples, n), the
    groups' full-graph script; ``fixed`` m = num_samples whatever n, their cluster script's 200 per cluster),
    from ``samples``:

      * ``surmise`` (default): the Wigner surmise, exact draws truncated at 3 (mass ~1e-5 dropped);
      * ``groups``: the groups' rejection sampler as they wrote it (s ~ U[0, 3], u ~ U[0, 0.6], keep
        u ≤ p_W(s)); its ceiling is below the surmise's peak 0.937, so it draws min(p_W, 0.6)/Z
        (mean 1.0205, variance 0.2070, KS distance 0.053 to the surmise;
        :mod:`zeta_rmt.losses.surmise`): for reproducing their runs only;
      * ``gaudin``: Gaudin's exact law by inverse-CDF sampling (uniforms from torch's RNG);
      * ``gue``: bulk spacings of Dumitriu–Edelman tridiagonal GUE matrices (size
        ``gue_matrix_size``, semicircle-unfolded): a pool of ``gue_pool`` spacings is drawn once
        (seed ``pool_seed``) and each call takes a random subset of m without replacement.

    Kernel: ``k(a,b) = (1/J) Σ_j exp(−(a−b)²/(2σ_j²))`` over the bandwidths ``sigma`` (one number,
    the groups' σ = 1, or a list for a multi-scale kernel; MMD² is linear in k, so it is the mean of
    the single-bandwidth MMD²s).

    biased:    MMD² = (1/n²) Σ k(x_i,x_j) + (1/m²) Σ k(y_i,y_j) − (2/nm) Σ k(x_i,y_j)   (the groups')
    unbiased:  the x-x and y-y sums drop their diagonals and divide by n(n−1), m(m−1); its
               expectation is the population MMD², 0 when x is drawn from the reference law.

    ``mode``:
      * ``dense``   — the groups' form: builds the n×n kernel (memory O(n²); 2.2 GB at n≈9·10³
        measured in their script, 14.9 GB at 3·10⁴), kept for exact reproduction;
      * ``chunked`` — the same value, computed in blocks with an analytic backward
        (memory O(n·chunk), time O(n²));
      * ``fast``    — the default: the same value in time and memory O(n + m), by a 1-D fast Gauss
        transform (:mod:`zeta_rmt.losses.fast_gauss`) with an analytic backward; each normalised kernel
        mean is within ``tol`` (absolute, a proven bound), so MMD² is within ~4·``tol``; below
        ``DIRECT_PAIRS`` kernel pairs (small clusters) it sums them directly, as ``chunked``;
      * ``sampled`` — the unbiased estimator on a random subset of ``max_points`` spacings, for
        very large n (an unbiased estimate of the population MMD², not of the full-sample value).
    """

    needs_full_graph = False

    def __init__(
        self,
        sigma: Union[float, Sequence[float]] = 1.0,
        num_samples: int = 500,
        mode: str = "fast",
        estimator: str = "biased",
        chunk: int = 128,
        max_points: int = 4096,
        samples: str = "surmise",
        unfolding: str = "global_mean",
        gue_matrix_size: int = 400,
        gue_pool: int = 20_000,
        pool_seed: int = 0,
        tol: float = 1e-10,
        sample_count: str = "min_n",
    ):
        super().__init__()
        key = "loss.components.gue_mmd"
        if mode not in MODES:
            raise ValueError(f"{key}.mode must be one of {MODES}, got {mode!r}")
        if estimator not in ("biased", "unbiased"):
            raise ValueError(f"{key}.estimator must be 'biased' or 'unbiased', got {estimator!r}")
        sigmas = [sigma] if isinstance(sigma, (int, float)) and not isinstance(sigma, bool) else list(sigma or [])
        if not sigmas or any(isinstance(s, bool) or not isinstance(s, (int, float)) or not s > 0 for s in sigmas):
            raise ValueError(f"{key}.sigma must be > 0 (a number or a non-empty list of bandwidths), got {sigma!r}")
        if int(num_samples) < 2:
            raise ValueError(f"{key}.num_samples must be >= 2, got {num_samples!r}")
        if samples not in SAMPLES:
            raise ValueError(f"{key}.samples must be one of {SAMPLES}, got {samples!r}")
        if sample_count not in SAMPLE_COUNTS:
            raise ValueError(f"{key}.sample_count must be one of {SAMPLE_COUNTS}, got {sample_count!r}")
        if unfolding not in UNFOLDINGS:
            raise ValueError(f"{key}.unfolding must be one of {UNFOLDINGS}, got {unfolding!r}")
        if samples == "gue" and (int(gue_matrix_size) < 20 or int(gue_pool) < 2):
            raise ValueError(f"{key}: need gue_matrix_size >= 20 and gue_pool >= 2, got {gue_matrix_size!r}, {gue_pool!r}")
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1e-3:
            raise ValueError(f"{key}.tol must be a number in (0, 1e-3) (absolute error of each kernel mean), got {tol!r}")
        self.tol = float(tol)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.sigma = self.sigmas[0] if len(self.sigmas) == 1 else self.sigmas
        self.num_samples = int(num_samples)
        self.mode = mode
        self.estimator = "unbiased" if mode == "sampled" else estimator
        self.chunk = int(chunk)
        self.max_points = int(max_points)
        self.samples = samples
        self.sample_count = sample_count
        self.unfolding = unfolding
        self.gue_matrix_size = int(gue_matrix_size)
        self.gue_pool = int(gue_pool)
        self.pool_seed = int(pool_seed)
        self._pool: np.ndarray | None = None

    def _ksum(self, a, b, sigma):
        if self.mode == "dense":
            return gaussian_kernel_sum_dense(a, b, sigma)
        return gaussian_kernel_sum(a, None if b is a else b, sigma, self.chunk)

    def mmd2(self, x, y):
        """MMD² between samples ``x`` and ``y`` with this loss's kernel and estimator."""
        n, m = x.numel(), y.numel()
        if self.estimator == "unbiased" and (n < 2 or m < 2):
            raise ValueError("the unbiased MMD estimator needs at least 2 points on each side")
        if self.mode == "fast" and n * (n + m) > DIRECT_PAIRS:
            return fast_mmd2(x, y, self.sigmas, self.estimator, self.tol)
        total = None
        for sigma in self.sigmas:
            kxx, kyy, kxy = self._ksum(x, x, sigma), self._ksum(y, y, sigma), self._ksum(x, y, sigma)
            if self.estimator == "unbiased":
                val = (kxx - n) / (n * (n - 1)) + (kyy - m) / (m * (m - 1)) - 2.0 * kxy / (n * m)
            else:
                val = kxx / (n * n) + kyy / (m * m) - 2.0 * kxy / (n * m)
            total = val if total is None else total + val
        return total / len(self.sigmas)

    def reference_samples(self, m: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
        """``m`` reference spacings from ``samples`` (see the class docstring)."""
        if self.samples == "surmise":
            return sample_wigner_surmise(m, dtype=dtype, device=device)
        if self.samples == "groups":
            return sample_groups_surmise(m, dtype=dtype, device=device)
        if self.samples == "gaudin":
            u = torch.rand(m, dtype=torch.float64).numpy()
            return torch.from_numpy(gaudin_ppf(u)).to(dtype=dtype, device=device)
        if self._pool is None:
            self._pool = gue_spacings(self.gue_pool, matrix_size=self.gue_matrix_size, rng=self.pool_seed)
        pick = torch.randperm(self._pool.size)[: min(m, self._pool.size)].numpy()
        return torch.from_numpy(self._pool[pick]).to(dtype=dtype, device=device)

    def forward(self, inputs: LossInputs):
        s = predicted_spacings(inputs, self.unfolding)
        if s.numel() < 2:
            return zero_like_graph(inputs.gamma_pred)
        if self.mode == "sampled" and s.numel() > self.max_points:
            pick = torch.randperm(s.numel(), device=s.device)[: self.max_points]
            s = s[pick]
        m = self.num_samples if self.sample_count == "fixed" else min(self.num_samples, s.numel())
        y = self.reference_samples(m, dtype=s.dtype, device=s.device)
        return self.mmd2(s, y)
