r"""Explicit-formula predictor: the zeros from the primes alone (no zeros used).

Riemann-von Mangoldt with the argument term: N(T) = N0(T) + S(T), and formally
S(T) = (1/pi) arg zeta(1/2 + iT) = -(1/pi) sum_p sum_m sin(m T log p) / (m p^{m/2}).
Truncating at prime powers p^m <= X with the smoothing weight w = 1 - log(p^m) / log X,

    F_X(T) = N0(T) - (1/pi) sum_{p^m <= X} w_{p,m} sin(m T log p) / (m p^{m/2}),

approximates the zero-counting staircase; gamma_n is estimated as the solution of

    F_X(gamma) = n - 1/2

(the staircase jumps from n - 1 to n at gamma_n, so its smoothed version crosses n - 1/2
there).  F_X is not monotone (its oscillating part has derivative up to ~ sum log p / sqrt p),
so for each n:

1. start from the smooth baseline T_0 = N0^{-1}(n - 1/2) and evaluate g(T) = F_X(T) - (n - 1/2)
   and g'(T) on a grid of step delta = h mu (mu = local mean spacing, h = 1/4) covering
   T_0 +- J delta (J = 12, i.e. +-3 mean spacings; h = 1/8, J = 24 gives the same roots to
   1e-11 on the 10^4 window).  Requested zeros whose windows overlap
   share one grid, and along a grid the phases obey
   e^{i(T + k delta) w} = e^{i T w} (e^{i delta w})^k, so only one exponential row is evaluated
   per 64 grid rows and the sums become real matrix products (see ``_grid_sums``);
2. take the upward sign change of g nearest to T_0 as the bracket (if none, the grid point
   with the smallest |g| is returned, flagged in ``last_unbracketed``);
3. start from the root of the cubic Hermite interpolant of (g, g') on the bracket cell and
   refine by safeguarded Newton (g' = N0' - (1/pi) sum w log p cos(m T log p) / p^{m/2}),
   falling back to bisection whenever a step leaves the bracket.  From the Hermite start the
   error is <= 7e-4 spacings, after one step <= 1e-6, after two at the rounding floor
   (1e-11 at height 1e4, 4e-10 at 1e6: phases t m log p ~ 1e7 in float64); iteration stops once
   the error left by the last step, ~10 (step/mu)^2 mu, is below ``tol`` mean spacings
   (default 1e-9), i.e. normally after two Newton evaluations.

Everything is vectorised over the requested zeros and chunked so that no (rows x prime
powers) complex block exceeds ``chunk_bytes``.  Cost for a contiguous window at X = 10^5
(9,700 prime powers): ~2 Newton passes plus ~4 grid rows per zero; timings in
docs/science.md (scripts/bench_baselines.py).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from zeta_rmt.baselines.base import Baseline, as_indices
from zeta_rmt.rmt.unfolding import inverse_smooth_count, local_mean_spacing, smooth_count, smooth_density


def primes_up_to(x: int) -> np.ndarray:
    """All primes p <= x (sieve of Eratosthenes)."""
    x = int(x)
    if x < 2:
        return np.zeros(0, dtype=np.int64)
    sieve = np.ones(x + 1, dtype=bool)
    sieve[:2] = False
    for p in range(2, math.isqrt(x) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    return np.flatnonzero(sieve)


@functools.lru_cache(maxsize=8)
def prime_power_terms(x: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequencies m log p, sine amplitudes w/(m p^{m/2}), log p) for all p^m <= x.

    The weight is w = 1 - log(p^m)/log(x).
    """
    if not x >= 2:
        raise ValueError(f"the prime cutoff X must be >= 2, got {x!r}")
    p = primes_up_to(int(x)).astype(np.float64)
    freqs, amps, logs = [], [], []
    logx = math.log(x)
    m = 1
    while p.size:
        freq = m * np.log(p)
        keep = freq <= logx + 1e-12
        p = p[keep]
        freq = freq[keep]
        if not p.size:
            break
        freqs.append(freq)
        amps.append((1.0 - freq / logx) / (m * p ** (m / 2.0)))
        logs.append(np.log(p))
        m += 1
    return tuple(np.concatenate(a) for a in (freqs, amps, logs))


class ExplicitFormulaBaseline(Baseline):
    """Solve N0(gamma) + S_X(gamma) = n - 1/2 per zero (primes up to ``prime_cutoff``)."""

    name = "explicit_formula"
    mode = "none"

    def __init__(
        self,
        prime_cutoff: float = 1e5,
        *,
        grid_step: float = 0.25,
        grid_halfwidth: int = 12,
        newton_iterations: int = 12,
        tol: float = 1e-9,
        block_rows: int = 64,
        chunk_bytes: int = 64 * 2**20,
    ):
        if not grid_step > 0 or int(grid_halfwidth) != grid_halfwidth or grid_halfwidth < 1:
            raise ValueError("need grid_step > 0 and a positive integer grid_halfwidth")
        if int(block_rows) != block_rows or block_rows < 1:
            raise ValueError("block_rows must be a positive integer")
        self.prime_cutoff = float(prime_cutoff)
        self.freq, self.amp, _ = prime_power_terms(self.prime_cutoff)
        self.grid_step = float(grid_step)
        self.grid_halfwidth = int(grid_halfwidth)
        self.newton_iterations = int(newton_iterations)
        self.tol = float(tol)
        self.block_rows = int(block_rows)
        self.chunk_bytes = int(chunk_bytes)
        self.last_unbracketed = np.zeros(0, dtype=bool)
        self.last_newton_iterations = 0
        self._freq_t = torch.from_numpy(self.freq)
        self._amp_t = torch.from_numpy(self.amp)
        self._damp_t = torch.from_numpy(self.amp * self.freq)

    def __repr__(self) -> str:
        return f"ExplicitFormulaBaseline(prime_cutoff={self.prime_cutoff:g}, terms={self.freq.size})"

    def oscillating_part(self, t) -> tuple[np.ndarray, np.ndarray]:
        """(S_X(t), S_X'(t)), S_X = -(1/pi) sum w sin(m t log p)/(m p^{m/2}), chunked over t.

        Evaluated in float64 with torch's vectorised sin/cos (about 2.5x faster than numpy's
        for phases ~1e7, same 1-ulp accuracy).
        """
        t = np.asarray(t, dtype=np.float64)
        flat = torch.from_numpy(np.ascontiguousarray(t.ravel()))
        s = torch.empty_like(flat)
        ds = torch.empty_like(flat)
        rows = max(1, self.chunk_bytes // (8 * max(self.freq.size, 1)))
        with torch.no_grad():
            for lo in range(0, flat.numel(), rows):
                phase = torch.outer(flat[lo : lo + rows], self._freq_t)
                s[lo : lo + rows] = torch.sin(phase) @ self._amp_t
                torch.cos(phase, out=phase)
                ds[lo : lo + rows] = phase @ self._damp_t
        return (-s.numpy() / np.pi).reshape(t.shape), (-ds.numpy() / np.pi).reshape(t.shape)

    def _powers(self, delta: float, count: int) -> np.ndarray:
        """Rows e^{i b delta w}, b = 0..count-1, by repeated doubling (one exp row)."""
        out = np.empty((count, self.freq.size), dtype=np.complex128)
        out[0] = 1.0
        if count > 1:
            out[1] = np.exp(1j * delta * self.freq)
        filled = min(count, 2)
        while filled < count:
            take = min(filled, count - filled)
            np.multiply(out[:take], out[filled - 1] * out[1], out=out[filled : filled + take])
            filled += take
        return out

    def _grid_sums(self, t_start: float, delta: float, rows: int) -> np.ndarray:
        """(S_X, S_X') at t_start + k delta, k = 0..rows-1: shape (rows, 2).

        Row k = a + b (block start a, offset b < B) has phases e^{i(t_a + b delta) w} =
        P_b * E_a with P_b = e^{i b delta w} and E_a = e^{i t_a w}, so

            sum amp sin(.)     = Im P @ (amp Re E)^T + Re P @ (amp Im E)^T
            sum amp w cos(.)   = Re P @ (amp w Re E)^T - Im P @ (amp w Im E)^T

        are real matrix products (B x terms) @ (terms x blocks): one exp row per block.
        """
        b = min(self.block_rows, rows)
        nblocks = -(-rows // b)
        pw = self._powers(delta, b)
        pr, pi = np.ascontiguousarray(pw.real), np.ascontiguousarray(pw.imag)
        out = np.empty((nblocks * b, 2))
        per_chunk = max(1, self.chunk_bytes // (16 * max(self.freq.size, 1)))
        for c0 in range(0, nblocks, per_chunk):
            starts = t_start + (np.arange(c0, min(nblocks, c0 + per_chunk)) * b) * delta
            phase = np.outer(starts, self.freq)
            er, ei = np.cos(phase), np.sin(phase)
            s = pi @ (er * self.amp).T + pr @ (ei * self.amp).T  # (b, blocks)
            damp = self.amp * self.freq
            ds = pr @ (er * damp).T - pi @ (ei * damp).T
            r0, r1 = c0 * b, (c0 + starts.size) * b
            out[r0:r1, 0] = -s.T.ravel() / np.pi
            out[r0:r1, 1] = -ds.T.ravel() / np.pi
        return out[:rows]

    def _bracket(self, t0: np.ndarray, target: np.ndarray):
        """Grid search around the smooth starts t0 (sorted, unique): bracket cell per zero.

        Returns (lo, hi, g_lo, g_hi, dg_lo, dg_hi, found).
        """
        J = self.grid_halfwidth
        nz = t0.size
        mu = local_mean_spacing(t0)
        # segments: runs of zeros whose +-J delta windows overlap
        brk = np.flatnonzero(np.diff(t0) > 2.0 * J * self.grid_step * mu[1:]) + 1
        seg_bounds = np.concatenate([[0], brk, [nz]])
        G = np.empty((nz, 2 * J + 1))
        D = np.empty((nz, 2 * J + 1))
        T = np.empty((nz, 2 * J + 1))
        offs = np.arange(-J, J + 1)
        for a, b in zip(seg_bounds[:-1], seg_bounds[1:]):
            delta = self.grid_step * mu[b - 1]  # smallest spacing of the run
            t_start = t0[a] - J * delta
            centre = np.rint((t0[a:b] - t0[a]) / delta).astype(np.int64) + J
            rows = int(centre[-1]) + J + 1
            tg = t_start + np.arange(rows) * delta
            sums = self._grid_sums(t_start, delta, rows)
            idx = centre[:, None] + offs
            T[a:b] = tg[idx]
            G[a:b] = smooth_count(T[a:b]) + sums[idx, 0] - target[a:b, None]
            D[a:b] = smooth_density(T[a:b]) + sums[idx, 1]
        up = (G[:, :-1] < 0) & (G[:, 1:] >= 0)
        dist = np.where(up, np.abs(0.5 * (T[:, :-1] + T[:, 1:]) - t0[:, None]), np.inf)
        j = np.argmin(dist, axis=1)
        r = np.arange(nz)
        found = np.isfinite(dist[r, j])
        jmin = np.argmin(np.abs(G), axis=1)
        j = np.where(found, j, jmin)
        j1 = np.minimum(j + 1, 2 * J)
        return T[r, j], T[r, j1], G[r, j], G[r, j1], D[r, j], D[r, j1], found

    @staticmethod
    def _hermite_root(lo, hi, g0, g1, d0, d1):
        """Root in [lo, hi] of the cubic Hermite interpolant of (g, g') (g0 < 0 <= g1)."""
        h = hi - lo
        x = np.clip(-g0 / np.where(g1 - g0 > 0, g1 - g0, 1.0), 0.0, 1.0)  # secant start
        for _ in range(6):
            x2, x3 = x * x, x * x * x
            p = (2 * x3 - 3 * x2 + 1) * g0 + (x3 - 2 * x2 + x) * h * d0 + (-2 * x3 + 3 * x2) * g1 + (x3 - x2) * h * d1
            dp = (6 * x2 - 6 * x) * g0 + (3 * x2 - 4 * x + 1) * h * d0 + (-6 * x2 + 6 * x) * g1 + (3 * x2 - 2 * x) * h * d1
            with np.errstate(divide="ignore", invalid="ignore"):
                nx = x - p / dp
            x = np.where(np.isfinite(nx), np.clip(nx, 0.0, 1.0), x)
        return lo + x * h

    def solve(self, n) -> np.ndarray:
        """gamma_hat_n for 1-based indices n (any shape)."""
        n = as_indices(n)
        shape = n.shape
        if n.size == 0:
            self.last_unbracketed = np.zeros(shape, dtype=bool)
            return np.zeros(shape)
        uniq, inverse = np.unique(n.ravel(), return_inverse=True)
        target = uniq.astype(np.float64) - 0.5
        t0 = inverse_smooth_count(target)
        lo, hi, g0, g1, d0, d1, found = self._bracket(t0, target)
        t = np.where(found, self._hermite_root(lo, hi, g0, g1, d0, d1), lo)
        active = found.copy()
        iterations = 0
        for _ in range(self.newton_iterations):
            if not active.any():
                break
            iterations += 1
            ta = t[active]
            s, ds = self.oscillating_part(ta)
            val = smooth_count(ta) + s - target[active]
            der = smooth_density(ta) + ds
            lo_a = np.where(val < 0, ta, lo[active])
            hi_a = np.where(val >= 0, ta, hi[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                nt = ta - val / der
            bad = ~np.isfinite(nt) | (nt < lo_a) | (nt > hi_a)
            nt = np.where(bad, 0.5 * (lo_a + hi_a), nt)
            # quadratic convergence: the error left after a Newton step of size d is ~ C d^2 / mu
            # (C ~ 1.4 measured at heights 1e4 and 1e6; 10 used), so stop once that is below tol
            rel = np.abs(nt - ta) / local_mean_spacing(ta)
            done = (~bad & (10.0 * rel * rel <= self.tol)) | (rel <= self.tol)
            idx = np.flatnonzero(active)
            t[idx], lo[idx], hi[idx] = nt, lo_a, hi_a
            active[idx[done]] = False
        self.last_newton_iterations = iterations
        self.last_unbracketed = ~found[inverse].reshape(shape)
        return t[inverse].reshape(shape)

    def predict(self, indices, history=None) -> np.ndarray:
        """gamma_hat_n from the primes alone; ``history`` is ignored."""
        return self.solve(indices)
