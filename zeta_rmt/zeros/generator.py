"""The project's zero generator: γ_n for any index range, with a proven count.

Method (for a range n₀ … n₁ = n₀ + count − 1)
----------------------------------------------
1. **Gram points** g_j, θ(g_j) = jπ (θ the Riemann–Siegel theta function). The n-th zero
   "belongs" to [g_{n−2}, g_{n−1}): if N(t) counts zeros in (0, t], then N(g_j) = j + 1 at
   Gram points where the count is regular. A margin of Gram points is added on both sides.
2. **Z at the Gram points** (Riemann–Siegel, windowed phases, see riemann_siegel.py).
   g_j is *good* if (−1)^j Z(g_j) > ε, ε an upper bound on the evaluation error
   (asymptotic-series remainder + rounding), so every sign used is certain.
3. **Rosser blocks**: the intervals between consecutive good Gram points. A block of L Gram
   intervals should hold L zeros (Rosser's rule). L = 1 blocks have their sign change at
   their ends; longer blocks are **adaptively resampled** (each Gram interval halved
   repeatedly, up to 2¹⁰ pieces) until L sign changes are seen. A block that still falls
   short is a Rosser-rule exception: it is merged with 1, 2, 3 neighbouring blocks and the
   union is resampled until the union's count is reached; otherwise the run raises.
4. **Turing's method** (in R. P. Brent's form, Math. Comp. 33 (1979)): if K consecutive
   blocks with union [g_a, g_b) satisfy Rosser's rule, K ≥ 0.0061 log²(g_b) + 0.08 log(g_b),
   then N(g_a) ≤ a + 1 and N(g_b) ≥ b + 1. We pick a good Gram point A ≤ n₀ − 2 preceded
   by K Rosser blocks (so N(g_A) ≥ A + 1) and B ≥ n₁ − 1 followed by K Rosser blocks (so
   N(g_B) ≤ B + 1). Sign changes give N(g_B) − N(g_A) ≥ F; the run requires F = B − A,
   which forces N(g_A) = A + 1, N(g_B) = B + 1 and one simple zero per sign change: the
   zeros found are exactly γ_{A+2} … γ_{B+1}, none missing, none extra. For ranges that
   start low (g below ~700) the lower anchor is g₋₁ ≈ 9.667 with N(g₋₁) = 0 (there is
   no zero below 14.13).
5. **Roots**: safeguarded Newton (Z and Z' from one pass over the main sum) inside each
   bracket, vectorised with numba ``prange``.
6. **Polish** below t = 600, where the asymptotic Riemann–Siegel series is not good to
   1e-8: Newton steps on mpmath's ``siegelz`` (20 digits) with the Riemann–Siegel
   derivative; each result must stay inside its proven bracket. The ~341 polished zeros
   are computed once (≈10 s) and cached on disk (see :func:`polished_low_zeros`).

Height limit: t ≤ 2²⁷ ≈ 1.342·10⁸ (n ≲ 3.4·10⁸). Above it a float64 cannot represent a
zero to within 1e-8 (its spacing is 3e-8), so requests beyond it are refused.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import mpmath
import numba
import numpy as np

from zeta_rmt.rmt.smooth import inverse_smooth_count, smooth_count
from zeta_rmt.utils.fsio import atomic_save_npy
from zeta_rmt.zeros.textfile import fmt_num
from zeta_rmt.zeros import riemann_siegel as rs
from zeta_rmt.zeros.errors import ZeroDataError

#: Bumped whenever generated values could change (recorded in dataset manifests).
GENERATOR_VERSION = "1.0.0"
#: Largest height served: above 2^27 float64 spacing (3e-8) exceeds the 1e-8 target.
T_MAX = float(2**27)
#: Zeros below this height are polished with mpmath.
T_POLISH = 600.0
#: Lehman's bound behind Brent's theorem holds for t ≥ 168π; below, we anchor at g_{-1}.
_T_LEHMAN = 168.0 * math.pi
#: Ranges whose margin reaches below this Gram index start from g_{-1}.
_J_LOW = 400
#: Largest t-span served by one phase window (bounds |h| and hence phase rounding).
_WINDOW_SPAN = 16384.0
_MAX_LEVEL = 10
_EXTRA_CAP = 8
_MARGIN = 48


class GeneratorCountError(ZeroDataError):
    """The zeros found do not match the Gram/Rosser/Turing count: nothing is returned."""


@dataclass
class GenerationReport:
    """What a generation run did and proved (one per chunk, merged by :func:`generate_zeros`)."""

    start: int = 0
    count: int = 0
    anchors: list = field(default_factory=list)  # (A, B, g_A, g_B, K_lower, K_upper) per chunk
    blocks: int = 0
    block_lengths: dict = field(default_factory=dict)
    rosser_exceptions: list = field(default_factory=list)  # (first Gram index, last, zeros)
    resample_evals: int = 0
    max_level: int = 0
    root_iterations_max: int = 0
    root_iterations_mean: float = 0.0
    polished: int = 0
    polish_max_shift: float = 0.0
    windows: int = 0
    seconds: float = 0.0

    def merge(self, other: "GenerationReport") -> None:
        self.anchors += other.anchors
        self.blocks += other.blocks
        for k, v in other.block_lengths.items():
            self.block_lengths[k] = self.block_lengths.get(k, 0) + v
        self.rosser_exceptions += other.rosser_exceptions
        self.resample_evals += other.resample_evals
        self.max_level = max(self.max_level, other.max_level)
        n_old = self.count
        self.root_iterations_max = max(self.root_iterations_max, other.root_iterations_max)
        total = n_old + other.count
        if total:
            self.root_iterations_mean = (
                self.root_iterations_mean * n_old + other.root_iterations_mean * other.count
            ) / total
        self.count = total
        self.polished += other.polished
        self.polish_max_shift = max(self.polish_max_shift, other.polish_max_shift)
        self.windows += other.windows


def brent_blocks(t: float) -> int:
    """K(t) = ⌈0.0061 log²t + 0.08 log t⌉ (at least 2): Rosser blocks needed by Turing's method."""
    lg = math.log(t)
    return max(2, math.ceil(0.0061 * lg * lg + 0.08 * lg))


def height_of_index(n) -> np.ndarray:
    """Approximate γ_n: N₀⁻¹(n − 1/2), within a few mean spacings."""
    return inverse_smooth_count(np.asarray(n, dtype=np.float64) - 0.5)


def max_index() -> int:
    """The largest index whose zero lies safely below :data:`T_MAX`."""
    return int(smooth_count(T_MAX)) - 1000


def check_height(end: int) -> None:
    """Refuse indices above :func:`max_index` with an error naming the height limit."""
    limit = max_index()
    if end > limit:
        raise ZeroDataError(
            f"the generator serves heights t <= 2^27 = {T_MAX:.6g} (zeros n <= {limit}); requested zeros up to "
            f"n = {end} (gamma_{end} ~ {float(height_of_index(end)):.6g}). Above that height a float64 cannot hold "
            "a zero to 1e-8; use a high-precision source for such zeros"
        )


#: Coefficient c of the Riemann–Siegel truncation bound c·τ^{-11/2} after C₄. Measured:
#: max |Z_RS − Z_mpmath|·τ^{11/2} = 8.2e-5 on 850 random points of [9.7, 1.2e4] (below
#: t ≈ 1000, where truncation dominates rounding); 25× that is used.
RS_TRUNCATION_COEFF = 2e-3


def _eps(t, h, big_n):
    """Upper bound ε on |Z_computed − Z| at t (array-friendly), used to decide which signs
    of Z are certain.

    Truncation after C₄: RS_TRUNCATION_COEFF·τ^{-11/2}. Rounding: each phase
    Θ − φ₀[n] − h log n carries ≲ 2.3e-16·(|h| log t + 20) (base phases are exact to 1e-16),
    and the weights 2n^{-1/2} sum to < 4√N; a further factor 2 for the polynomial cosine.
    """
    t = np.asarray(t, dtype=np.float64)
    tau = np.sqrt(t / rs.TWO_PI)
    trunc = RS_TRUNCATION_COEFF * tau ** (-5.5)
    phase = 2.3e-16 * (np.abs(h) * np.log(t) + 20.0)
    return trunc + 8.0 * np.sqrt(np.asarray(big_n, dtype=np.float64)) * phase + 1e-14


def _approx_gram(j: np.ndarray) -> np.ndarray:
    """Float64 Gram points g_j (Newton on θ from N₀⁻¹(j + 1)); only used to place windows."""
    j = np.asarray(j, dtype=np.float64)
    t = np.where(j < 0, 10.0, inverse_smooth_count(np.maximum(j + 1.0, 0.5)))
    ts = rs.theta_series()
    for _ in range(8):
        u = 1.0 / t
        corr = u * (ts[0] + u * u * (ts[1] + u * u * ts[2]))
        th = 0.5 * t * np.log(t / rs.TWO_PI) - 0.5 * t - math.pi / 8 + corr
        t = np.maximum(t - (th - j * math.pi) / (0.5 * np.log(t / rs.TWO_PI)), 7.0)
    return t


class _Region:
    """Gram points ja..jb (inclusive) with their windows, offsets and Z values."""

    def __init__(self, ja: int, jb: int):
        self.ja, self.jb = ja, jb
        # Windows: consecutive Gram-index ranges whose t-span is ≤ _WINDOW_SPAN.
        starts = [ja]
        while True:
            g = float(_approx_gram(np.array([starts[-1]]))[0])
            per = max(16, int(_WINDOW_SPAN * 0.5 * math.log(max(g, 7.0) / rs.TWO_PI) / math.pi))
            nxt = starts[-1] + per
            if nxt > jb:
                break
            starts.append(nxt)
        starts = np.array(starts, dtype=np.int64)
        ends = np.append(starts[1:], jb + 1)
        bases = _approx_gram(starts)
        g_end = _approx_gram(ends)
        slack = 400.0 * (g_end - _approx_gram(ends - 1)) + 2.0  # blocks overrun windows a little
        self.table = rs.PhaseTable(bases, g_end + slack)
        j = np.arange(ja, jb + 1, dtype=np.int64)
        widx = np.repeat(np.arange(starts.size, dtype=np.int64), ends - starts)
        self.j = j
        self.widx = widx
        args = self.table.args()
        self.h = rs.gram_offsets(widx, j - self.table.j0[widx], self.table.r0, self.table.t0, self.table.ts)
        self.t = self.table.t0[widx] + self.h
        if not np.all(np.diff(self.t) > 0):
            raise ZeroDataError(f"internal error: Gram points {ja}..{jb} are not increasing")
        self.z = rs.z_many(widx, self.h, *args)
        big_n = np.floor(np.sqrt(self.t / rs.TWO_PI))
        self.eps = _eps(self.t, self.h + 400.0, big_n)
        if not np.all(np.isfinite(self.z)):
            bad = int(np.flatnonzero(~np.isfinite(self.z))[0])
            raise ZeroDataError(f"internal error: Z is not finite at Gram point {ja + bad}")

    @property
    def windows(self) -> int:
        return self.table.t0.size

    def rel(self, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Offsets of Gram points ``idx`` (positions in the region) relative to windows ``w``."""
        t0 = self.table.t0
        return self.h[idx] + (t0[self.widx[idx]] - t0[w])


def _resample(region: _Region, seg_lo: np.ndarray, seg_hi: np.ndarray):
    """Run the adaptive resampler on segments [seg_lo[s], seg_hi[s]] (region positions)."""
    lengths = seg_hi - seg_lo
    npts = lengths + 1
    seg_ptr = np.concatenate([[0], np.cumsum(npts)]).astype(np.int64)
    seg_w = region.widx[seg_lo].astype(np.int64)
    pos = np.concatenate([np.arange(a, b + 1) for a, b in zip(seg_lo, seg_hi)]) if len(seg_lo) else np.zeros(0, np.int64)
    w_rep = np.repeat(seg_w, npts)
    seg_h = region.rel(pos, w_rep)
    seg_z = region.z[pos]
    caps = (lengths + _EXTRA_CAP).astype(np.int64)
    cap_ptr = np.concatenate([[0], np.cumsum(caps)]).astype(np.int64)
    eps = np.array([region.eps[a:b + 1].max() for a, b in zip(seg_lo, seg_hi)]) if len(seg_lo) else np.zeros(0)
    res = rs.resample_segments(
        seg_w, seg_h, seg_z, seg_ptr, caps, cap_ptr, eps, _MAX_LEVEL, *region.table.args()
    )
    return res, seg_w, caps, cap_ptr


class _Blocks:
    """Rosser blocks of a region: good Gram points, per-block sign-change counts and brackets."""

    def __init__(self, region: _Region, report: GenerationReport):
        self.region = region
        sign = np.where(region.j % 2 == 0, 1.0, -1.0)
        good = np.flatnonzero(sign * region.z > region.eps)
        if good.size < 3:
            raise _NeedMargin()
        self.good = good
        self.gj = region.j[good]  # Gram index of each block boundary
        self.gt = region.t[good]
        seg_lo, seg_hi = good[:-1], good[1:]
        self.seg_lo, self.seg_hi = seg_lo, seg_hi
        lengths = seg_hi - seg_lo
        self.lengths = lengths
        nblk = self.nblk = lengths.size
        counts = np.ones(nblk, dtype=np.int64)
        ok = np.ones(nblk, dtype=bool)
        br = [None] * nblk
        # L = 1: the sign change is between the block's own (good) ends.
        single = np.flatnonzero(lengths == 1)
        w1 = region.widx[seg_lo[single]]
        self._single = single
        self._single_br = (
            w1, region.h[seg_lo[single]], region.rel(seg_hi[single], w1), region.z[seg_lo[single]], region.z[seg_hi[single]]
        )
        multi = np.flatnonzero(lengths > 1)
        if multi.size:
            (cnt, lev, nev, oa, ob, oza, ozb), seg_w, caps, cap_ptr = _resample(region, seg_lo[multi], seg_hi[multi])
            report.resample_evals += int(nev.sum())
            report.max_level = max(report.max_level, int(lev.max()))
            for k, b in enumerate(multi):
                c = int(cnt[k])
                if c > caps[k]:
                    raise GeneratorCountError(
                        f"block of Gram points {region.j[seg_lo[b]]}..{region.j[seg_hi[b]]} has {c} sign changes "
                        f"for {lengths[b]} Gram intervals"
                    )
                counts[b] = c
                ok[b] = c >= lengths[b]
                sl = slice(cap_ptr[k], cap_ptr[k] + c)
                br[b] = (np.full(c, seg_w[k]), oa[sl], ob[sl], oza[sl], ozb[sl])
        # Rosser-rule exceptions: merge with neighbours until the union's count is reached.
        unions = []  # (first block, last block, count, brackets): disjoint, in order
        for b in np.flatnonzero(~ok):
            if unions and b <= unions[-1][1]:
                continue  # already inside a union that reached its count
            done = False
            floor_lo = nblk
            for r in (1, 2, 3):
                lo_b, hi_b = max(0, b - r), min(nblk - 1, b + r)
                if unions and lo_b <= unions[-1][1]:
                    floor_lo = unions.pop()[0]  # overlapping exceptions become one larger union
                lo_b = min(lo_b, floor_lo)
                (cnt, lev, nev, oa, ob, oza, ozb), seg_w, caps, cap_ptr = _resample(
                    region, seg_lo[[lo_b]], seg_hi[[hi_b]]
                )
                report.resample_evals += int(nev.sum())
                need = int(seg_hi[hi_b] - seg_lo[lo_b])
                c = int(cnt[0])
                if need <= c <= int(caps[0]):
                    unions.append((lo_b, hi_b, c, (np.full(c, seg_w[0]), oa[:c], ob[:c], oza[:c], ozb[:c])))
                    done = True
                    break
            if not done:
                raise GeneratorCountError(
                    f"Rosser block at Gram points {region.j[seg_lo[b]]}..{region.j[seg_hi[b]]} "
                    f"(t ~ {region.t[seg_lo[b]]:.6f}..{region.t[seg_hi[b]]:.6f}) shows only {counts[b]} of "
                    f"{lengths[b]} zeros even after merging with 3 neighbouring blocks and resampling at "
                    f"2^{_MAX_LEVEL} points per Gram interval; refusing to return a possibly incomplete range"
                )
        for lo_b, hi_b, c, _ in unions:
            ok[lo_b:hi_b + 1] = False
            report.rosser_exceptions.append((int(region.j[seg_lo[lo_b]]), int(region.j[seg_hi[hi_b]]), c))
        self.counts, self.ok, self._br, self.unions = counts, ok, br, unions

    # Turing's method in Brent's form --------------------------------------------------
    def lower_ok(self, i: int) -> tuple[bool, int]:
        """Do the K(g_i) blocks just before boundary i satisfy Rosser's rule? (⇒ N(g) ≥ j + 1)."""
        k = brent_blocks(self.gt[i])
        return bool(i - k >= 0 and self.ok[i - k:i].all() and self.gt[i - k] >= _T_LEHMAN), k

    def upper_ok(self, i: int) -> tuple[bool, int]:
        """Do the K blocks just after boundary i satisfy Rosser's rule? (⇒ N(g) ≤ j + 1).

        K is taken from the height at the end of those K blocks, as Brent's theorem asks.
        """
        k = 2
        while i + k <= self.nblk and brent_blocks(self.gt[i + k]) > k:
            k += 1
        return bool(i + k <= self.nblk and self.ok[i:i + k].all() and self.gt[i] >= _T_LEHMAN), k

    def brackets(self, a_idx: int, b_idx: int):
        """Brackets of all sign changes in (g at boundary a_idx, g at boundary b_idx], in t order,
        and their number; an exception union must lie entirely inside or outside."""
        parts = []
        found = 0
        in_union = np.zeros(self.nblk, dtype=bool)
        for lo_b, hi_b, c, brk in self.unions:
            in_union[lo_b:hi_b + 1] = True
            if lo_b >= a_idx and hi_b < b_idx:
                parts.append(brk)
                found += c
            elif not (hi_b < a_idx or lo_b >= b_idx):
                raise _NeedMargin()  # an exception straddles an anchor
        sel = self._single[(self._single >= a_idx) & (self._single < b_idx) & ~in_union[self._single]]
        pos = np.searchsorted(self._single, sel)
        parts.append(tuple(np.asarray(x)[pos] for x in self._single_br))
        found += sel.size
        for b in range(a_idx, b_idx):
            if self.lengths[b] > 1 and not in_union[b]:
                parts.append(self._br[b])
                found += int(self.counts[b])
        w = np.concatenate([p[0] for p in parts]).astype(np.int64)
        cols = [np.concatenate([p[k] for p in parts]).astype(np.float64) for k in range(1, 5)]
        t0 = self.region.table.t0
        order = np.argsort(t0[w] + cols[0], kind="stable")
        return (w[order], *(c[order] for c in cols)), found


def _region_for(ja: int, jb: int) -> tuple[_Region, bool]:
    """Region of Gram indices; ranges reaching below _J_LOW start at g_{-1} (N(g_{-1}) = 0)."""
    from_bottom = ja < _J_LOW
    if from_bottom:
        ja = -1
        jb = max(jb, _J_LOW)  # the upper anchor must lie above 168π as well
    return _Region(ja, jb), from_bottom


def _generate_chunk(n_lo: int, n_hi: int, margin: int, report: GenerationReport, polish: str = "cached"):
    """γ_{n_lo} … γ_{n_hi} with the proof described in the module docstring."""
    region, from_bottom = _region_for(n_lo - 2 - margin, n_hi - 1 + margin)
    report.windows += region.windows
    blocks = _Blocks(region, report)
    gj, gt = blocks.gj, blocks.gt
    if from_bottom:
        if gj[0] != -1:
            raise GeneratorCountError("internal error: g_{-1} should be a good Gram point")
        a_idx, k_lo = 0, 0
    else:
        a_idx = k_lo = None
        for i in range(int(np.searchsorted(gj, n_lo - 2, side="right")) - 1, -1, -1):
            good_i, k = blocks.lower_ok(i)
            if good_i:
                a_idx, k_lo = i, k
                break
        if a_idx is None:
            raise _NeedMargin()
    b_idx = k_hi = None
    for i in range(int(np.searchsorted(gj, n_hi - 1, side="left")), blocks.nblk + 1):
        good_i, k = blocks.upper_ok(i)
        if good_i:
            b_idx, k_hi = i, k
            break
    if b_idx is None or b_idx <= a_idx:
        raise _NeedMargin()
    big_a, big_b = int(gj[a_idx]), int(gj[b_idx])
    (w, ha, hb, za, zb), found = blocks.brackets(a_idx, b_idx)
    if found != big_b - big_a or w.size != found:
        raise GeneratorCountError(
            f"Turing count check failed for zeros {n_lo}..{n_hi}: found {found} sign changes between "
            f"Gram points g_{big_a} = {gt[a_idx]:.9f} and g_{big_b} = {gt[b_idx]:.9f}, expected "
            f"{big_b - big_a}"
        )
    # The k-th bracket holds zero number big_a + 2 + k.
    k0 = n_lo - (big_a + 2)
    sel = slice(k0, k0 + (n_hi - n_lo + 1))
    w, ha, hb, za, zb = w[sel], ha[sel], hb[sel], za[sel], zb[sel]
    if w.size != n_hi - n_lo + 1:
        raise GeneratorCountError(f"internal error: {w.size} brackets for {n_hi - n_lo + 1} zeros")
    t0 = region.table.t0
    roots, iters = rs.refine_roots(w, ha, hb, za, zb, *region.table.args(), 40)
    gam = t0[w] + roots
    lo_t = np.minimum(t0[w] + ha, t0[w] + hb)
    hi_t = np.maximum(t0[w] + ha, t0[w] + hb)
    report.root_iterations_max = max(report.root_iterations_max, int(iters.max()))
    report.root_iterations_mean = float(iters.mean())
    low = np.flatnonzero(gam < T_POLISH)
    if low.size:
        if polish == "direct":
            _, dz = rs.z_d_many(w[low], roots[low], *region.table.args())
            new = _polish_mpmath(gam[low], dz, lo_t[low], hi_t[low], n_lo + int(low[0]))
        else:
            cached = polished_low_zeros()
            idx = n_lo + low  # 1-based indices
            if idx[-1] > cached.size:
                raise GeneratorCountError("internal error: polished low zeros do not cover t < T_POLISH")
            new = cached[idx - 1]
            if not (np.all(new >= lo_t[low]) and np.all(new <= hi_t[low]) and np.all(np.abs(new - gam[low]) < 1e-3)):
                raise GeneratorCountError(
                    "cached polished zeros disagree with this run's brackets; delete "
                    "polished_low_*.npy in the zeta_rmt cache directory and rerun"
                )
        report.polished += low.size
        report.polish_max_shift = max(report.polish_max_shift, float(np.max(np.abs(new - gam[low]))))
        gam[low] = new
    if not (np.all(np.isfinite(gam)) and np.all(np.diff(gam) > 0)):
        raise GeneratorCountError(f"internal error: zeros {n_lo}..{n_hi} are not strictly increasing")
    report.blocks += int(b_idx - a_idx)
    ul, uc = np.unique(blocks.lengths[a_idx:b_idx], return_counts=True)
    for a, c in zip(ul, uc):
        report.block_lengths[int(a)] = report.block_lengths.get(int(a), 0) + int(c)
    report.anchors.append((big_a, big_b, float(gt[a_idx]), float(gt[b_idx]), k_lo, k_hi))
    return gam


class _NeedMargin(Exception):
    """Anchors for Turing's method were not found inside the margin: retry with a wider one."""


def _chunk_with_retries(n_lo: int, n_hi: int, polish: str = "cached"):
    """:func:`_generate_chunk` with margins 48, 192, …, 12288 Gram points until anchors are
    found; returns (zeros, report of the successful attempt)."""
    margin = _MARGIN
    for _attempt in range(5):
        sub = GenerationReport(start=n_lo)
        try:
            vals = _generate_chunk(n_lo, n_hi, margin, sub, polish=polish)
        except _NeedMargin:
            margin *= 4
            continue
        sub.count = n_hi - n_lo + 1
        return vals, sub
    raise GeneratorCountError(
        f"could not establish Turing anchors around zeros {n_lo}..{n_hi} "
        f"even with a margin of {margin // 4} Gram points"
    )


def _polish_mpmath(x0: np.ndarray, dz: np.ndarray, lo_t: np.ndarray, hi_t: np.ndarray, first_index: int) -> np.ndarray:
    """Newton on mpmath's Z (``siegelz`` at 20 digits) with the Riemann–Siegel derivative.

    After a step of size s the error is ≲ ρ·s + |Z''/2Z'|·s², ρ the relative error of the
    derivative (< 1e-3 for t ≥ 9); iteration stops after a step below 1e-8 (error ≲ 1e-11).
    Each result must stay inside its proven bracket [lo_t, hi_t].
    """
    out = np.empty_like(x0)
    with mpmath.workdps(20):
        for i in range(x0.size):
            x = mpmath.mpf(float(x0[i]))
            for _ in range(8):
                step = mpmath.siegelz(x) / dz[i]
                x -= step
                if abs(step) < 1e-8:
                    break
            else:
                raise GeneratorCountError(
                    f"mpmath polish of zero {first_index + i} near t = {float(x0[i])!r} did not converge"
                )
            xf = float(x)
            if not (lo_t[i] <= xf <= hi_t[i]):
                raise GeneratorCountError(
                    f"mpmath polish of zero {first_index + i} left its bracket [{fmt_num(lo_t[i])}, {fmt_num(hi_t[i])}]: {xf!r}"
                )
            out[i] = xf
    return out


_LOW_CACHE: dict = {}


def polished_low_zeros() -> np.ndarray:
    """All zeros below :data:`T_POLISH`, polished with mpmath; cached in memory and on disk.

    The disk copy (``<cache_dir>/polished_low_<version>.npy``) is only a cache: every use
    re-checks each value against the bracket proven in the current run.
    """
    key = (GENERATOR_VERSION, T_POLISH)
    if key in _LOW_CACHE:
        return _LOW_CACHE[key]
    from zeta_rmt.utils.cache import cache_dir

    path = None
    try:
        path = cache_dir() / f"polished_low_{GENERATOR_VERSION}_{int(T_POLISH)}.npy"
        if path.is_file():
            arr = np.load(path)
            if arr.ndim == 1 and arr.size > 0 and np.all(np.diff(arr) > 0) and arr[-1] < T_POLISH:
                _LOW_CACHE[key] = arr
                return arr
    except (OSError, ValueError):
        path = None
    n_low = int(np.searchsorted(height_of_index(np.arange(1, 2000)), T_POLISH)) + 20
    vals, _ = _chunk_with_retries(1, n_low, polish="direct")
    arr = vals[vals < T_POLISH].copy()
    _LOW_CACHE[key] = arr
    if path is not None:
        try:
            atomic_save_npy(path, arr)
        except OSError:
            pass
    return arr


def generate_zeros(
    start: int,
    count: int,
    *,
    chunk: int = 250_000,
    threads: int | None = None,
    progress=None,
    report: GenerationReport | None = None,
) -> np.ndarray:
    """γ_start … γ_{start+count−1} (1-based), float64, every zero within 1e-8, count proven.

    ``chunk``: zeros per independent proof (bounds memory; each chunk gets its own Turing
    anchors). ``threads``: numba threads (default: numba's setting). ``progress(done)`` is
    called after each chunk with the number of zeros done so far. ``report``: a
    :class:`GenerationReport` to fill in. Raises :class:`ZeroDataError` (or its subclass
    :class:`GeneratorCountError`) rather than return a short or unproven array.
    """
    if int(start) != start or start < 1:
        raise ZeroDataError(f"start must be a 1-based index >= 1, got {start!r}")
    if int(count) != count or count < 1:
        raise ZeroDataError(f"count must be a positive integer, got {count!r}")
    start, count = int(start), int(count)
    check_height(start + count - 1)
    t_start = time.perf_counter()
    own = report if report is not None else GenerationReport()
    own.start, own.count = start, 0
    prev_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        out = np.empty(count, dtype=np.float64)
        pos = 0
        while pos < count:
            c = min(chunk, count - pos)
            n_lo = start + pos
            vals, sub = _chunk_with_retries(n_lo, n_lo + c - 1)
            out[pos:pos + c] = vals
            if pos > 0 and not out[pos] > out[pos - 1]:
                raise GeneratorCountError(f"chunks overlap at zero {n_lo}")
            own.merge(sub)
            pos += c
            if progress is not None:
                progress(pos)
    finally:
        if threads is not None:
            numba.set_num_threads(prev_threads)
    own.seconds = time.perf_counter() - t_start
    return out


@dataclass
class Certificate:
    """Outcome of :func:`certify_zeros` (all checks passed if it is returned)."""

    start: int
    count: int
    lower_anchor: tuple  # (A, g_A): N(g_A) = A + 1
    upper_anchor: tuple  # (B, g_B): N(g_B) = B + 1
    sign_checked: int  # values shown to have a zero of Z within max_delta
    compared_low: int  # values below T_POLISH compared with the polished reference
    max_delta: float
    max_low_diff: float


def _sign_check(values: np.ndarray, deltas=(4e-9, 1e-8), span: float = 1024.0) -> tuple[np.ndarray, float]:
    """For each value γ ≥ T_POLISH find δ with Z(γ − δ)·Z(γ + δ) < 0, both |Z| > ε.

    Short phase windows (``span``) keep the rounding part of ε near 1e-10 so that δ = 1e-8
    suffices. Returns the δ used per value (NaN where no δ in ``deltas`` works) and the
    largest δ used.
    """
    t_lo, t_hi = float(values[0]), float(values[-1])
    nwin = max(1, int(math.ceil((t_hi - t_lo + 2.0) / span)))
    bases = t_lo - 1.0 + span * np.arange(nwin)
    table = rs.PhaseTable(bases, bases + span + 2.0)
    widx = np.clip(np.searchsorted(bases, values, side="right") - 1, 0, nwin - 1).astype(np.int64)
    used = np.full(values.size, np.nan)
    todo = np.arange(values.size)
    for d0 in deltas:
        if todo.size == 0:
            break
        v = values[todo]
        d = np.maximum(d0, 2.0 * np.spacing(v))
        w = widx[todo]
        h = v - bases[w]
        zl = rs.z_many(w, h - d, *table.args())
        zr = rs.z_many(w, h + d, *table.args())
        eps = _eps(v, h + d, np.floor(np.sqrt(v / rs.TWO_PI)))
        good = (np.abs(zl) > eps) & (np.abs(zr) > eps) & (np.sign(zl) != np.sign(zr))
        used[todo[good]] = d[good]
        todo = todo[~good]
    return used, float(np.nanmax(used)) if np.any(np.isfinite(used)) else 0.0


def certify_zeros(values, start: int, *, margin: int = 64) -> Certificate:
    """Independently check that ``values`` are γ_start, γ_start+1, … (1-based).

    * every value ≥ T_POLISH has a sign change of Z within δ ≤ 1e-8 (or 2 ulp) of it;
      values below T_POLISH must agree with the mpmath-polished zeros to 1e-8;
    * Turing's method (Brent's form) at Gram anchors A near the start and B near the end:
      N(g_A) ≥ A + 1 and N(g_B) ≤ B + 1, so exactly B − A values must lie in (g_A, g_B],
      the first of them at position A + 2 − start. Together with the sign changes this
      proves that no zero is missing or extra and that the indices are right.

    Raises :class:`ZeroDataError` naming the first failing index.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    end = start + n - 1
    if n == 0:
        raise ZeroDataError("nothing to certify: no values")
    if not (np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)):
        raise ZeroDataError("values are not a finite strictly increasing sequence")
    low = np.flatnonzero(values < T_POLISH)
    max_low = 0.0
    if low.size:
        ref = polished_low_zeros()
        idx = start + low
        if idx[-1] > ref.size:
            k = int(low[np.flatnonzero(idx > ref.size)[0]])
            raise ZeroDataError(f"value at index {start + k} ({fmt_num(values[k])}) lies below {T_POLISH} but "
                                f"only {ref.size} zeros lie there: the indices are wrong")
        diff = np.abs(values[low] - ref[idx - 1])
        max_low = float(diff.max())
        if max_low > 1e-8:
            k = int(low[int(np.argmax(diff))])
            raise ZeroDataError(
                f"gamma_{start + k} = {fmt_num(values[k])} differs from the polished zero {fmt_num(ref[start + k - 1])} by {diff.max():.3g}"
            )
    high = np.flatnonzero(values >= T_POLISH)
    max_delta = 0.0
    if high.size:
        used, max_delta = _sign_check(values[high])
        bad = np.flatnonzero(~np.isfinite(used))
        if bad.size:
            k = int(high[bad[0]])
            raise ZeroDataError(
                f"no sign change of Z within 1e-8 of gamma_{start + k} = {fmt_num(values[k])} "
                f"({bad.size} value(s) fail): not a zero to 1e-8"
            )
    rep = GenerationReport()
    # Lower anchor A >= start - 2 (A = -1 when the data start at gamma_1).
    if start == 1:
        big_a, g_a = -1, None
    else:
        big_a = None
        m = margin
        while big_a is None:
            hi = min(start - 2 + m, end - 1)
            try:
                region, from_bottom = _region_for(start - 2 - m, hi)
                blocks = _Blocks(region, rep)
                for i in range(int(np.searchsorted(blocks.gj, start - 2, side="left")), blocks.nblk + 1):
                    if blocks.gj[i] > hi:
                        break
                    if blocks.lower_ok(i)[0]:
                        big_a, g_a = int(blocks.gj[i]), float(blocks.gt[i])
                        break
            except _NeedMargin:
                pass
            if big_a is None:
                if hi >= end - 1 or m > 16 * margin:
                    raise ZeroDataError(
                        f"cannot place a Turing anchor inside zeros {start}..{end}: too few zeros to certify the count"
                    )
                m *= 4
    big_b = None
    m = margin
    while big_b is None:
        lo = max(end - 1 - m, start - 1)
        try:
            region, _ = _region_for(lo, end - 1 + m)
            blocks = _Blocks(region, rep)
            for i in range(int(np.searchsorted(blocks.gj, end - 1, side="right")) - 1, -1, -1):
                if blocks.gj[i] < lo:
                    break
                if blocks.upper_ok(i)[0]:
                    big_b, g_b = int(blocks.gj[i]), float(blocks.gt[i])
                    break
        except _NeedMargin:
            pass
        if big_b is None:
            if lo <= start - 1 or m > 16 * margin:
                raise ZeroDataError(
                    f"cannot place a Turing anchor inside zeros {start}..{end}: too few zeros to certify the count"
                )
            m *= 4
    if big_b <= big_a:
        raise ZeroDataError(f"zeros {start}..{end}: too few zeros between Turing anchors to certify the count")
    lo_pos = 0 if big_a == -1 else int(np.searchsorted(values, g_a, side="right"))
    hi_pos = int(np.searchsorted(values, g_b, side="right"))
    if hi_pos - lo_pos != big_b - big_a or lo_pos != big_a + 2 - start:
        raise ZeroDataError(
            f"count check failed: Turing's method gives exactly {big_b - big_a} zeros with indices "
            f"{big_a + 2}..{big_b + 1} between Gram points g_{big_a} and g_{big_b} = {g_b:.9f}; the data hold "
            f"{hi_pos - lo_pos} values there, starting at index {start + lo_pos} (missing, extra or shifted zeros)"
        )
    return Certificate(start, n, (big_a, g_a), (big_b, g_b), int(high.size), int(low.size), max_delta, max_low)
