r"""Fast Gauss transform in one dimension: Gaussian-kernel sums in O(n + m) to a proven tolerance.

For sources ``z_b`` with weights ``q_b`` (several weight channels at once) and targets ``t``,

    F(t) = Σ_b q_b exp(−(t − z_b)² / (2σ²)),        F'(t) = dF/dt,

are evaluated for all targets in O((n + m)·p) operations instead of O(n·m) (Greengard & Strain's
fast Gauss transform, specialised to 1-D).  With ``h = √2·σ`` the kernel is ``exp(−((t − z)/h)²)``.

1. **Boxes.**  The line is cut into boxes of width ``w = r·h`` (``r = 1/4``); box ``B`` has centre
   ``c_B``.  Each source lies within ``r/2`` (in units of h) of its box centre.
2. **Hermite moments** (source side, one pass over the sources).  With ``u = (z − c_B)/h`` and the
   Hermite functions ``h_k(s) = (−d/ds)^k e^{−s²} = H_k(s) e^{−s²}``,

       exp(−((t − z)/h)²) = Σ_k (u^k / k!) · h_k((t − c_B)/h),      A_k(B) = Σ_{z∈B} q · u^k / k!.

3. **Hermite → Taylor** (box to box).  About a target box centre ``c_T``, with ``v = (t − c_T)/h``
   and ``s_TB = (c_T − c_B)/h``,  ``h_k(s_TB + v) = Σ_j ((−1)^j v^j / j!) h_{k+j}(s_TB)``, so

       F(t) = Σ_j C_j(T) v^j,       C_j(T) = ((−1)^j / j!) Σ_B Σ_k A_k(B) h_{k+j}(s_TB).

   Box centres lie on a lattice, so ``s_TB = −d·r`` for ``B = T + d``: the translation matrices
   depend only on the box offset ``d`` and are built once per call (a 1-D convolution over boxes).
4. **Evaluation** (target side, one pass): ``F(t) = Σ_j C_j v^j`` and ``F'(t) = (1/h) Σ_j j C_j v^{j−1}``
   by Horner's rule.

**Error bound.**  Cramér's inequality ``|h_k(s)| ≤ κ 2^{k/2} √(k!) e^{−s²/2}`` (κ = 1.0865) bounds
the Hermite tail after p terms by ``κ a^p / √(p!) / (1 − a/√(p+1))`` per unit weight with
``a = √2·|u| ≤ r/√2``, and, using ``(k+j)! ≤ 2^{k+j} k! j!``, the Taylor tail of the translated
series by ``κ S(r) · r^p / √(p!) / (1 − r/√(p+1))`` with ``S(r) = Σ_k r^k/√(k!)``.  Boxes more than
``D`` offsets apart are skipped: each skipped pair is ``≤ exp(−(D·r)²)``.  ``p`` and ``D`` are the
smallest that keep the sum of these bounds below ``tol`` (with an extra factor ``1 + 2p/r`` for the
derivative series).  So every value satisfies ``|F̂(t) − F(t)| ≤ tol · Σ_b |q_b|`` (the same for
``h·F'``).  Everything is computed in float64; the cost is independent of σ except through the
number of occupied boxes.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

#: box width in units of h = sqrt(2) sigma
BOX_RATIO = 0.25
#: Cramér's constant: |h_k(s)| <= CRAMER * 2^{k/2} sqrt(k!) exp(-s^2/2)
CRAMER = 1.0865
MAX_TERMS = 60


def _tail(a: float, p: int) -> float:
    """Bound on Σ_{k ≥ p} a^k / √(k!)."""
    ratio = a / math.sqrt(p + 1)
    if ratio >= 1:
        return math.inf
    return math.exp(p * math.log(a) - 0.5 * math.lgamma(p + 1)) / (1 - ratio) if a > 0 else 0.0


@lru_cache(maxsize=64)
def expansion_order(tol: float, r: float = BOX_RATIO, derivative: bool = True) -> tuple[int, int]:
    """(p, D): number of expansion terms and box-offset cut-off for absolute error ``tol`` per unit weight."""
    if not 0 < tol < 1:
        raise ValueError(f"the fast Gauss transform tolerance must be in (0, 1), got {tol!r}")
    s_r = sum(r ** k / math.sqrt(math.factorial(k)) for k in range(MAX_TERMS))
    for p in range(2, MAX_TERMS):
        bound = CRAMER * (_tail(r / math.sqrt(2), p) + s_r * _tail(r, p))
        if derivative:
            bound *= 1 + 2 * p / r
        if bound <= tol / 2:
            break
    else:  # pragma: no cover - tol below 1e-30 is refused by the float64 floor anyway
        raise ValueError(f"tolerance {tol!r} needs more than {MAX_TERMS} terms")
    d = max(1, math.ceil(math.sqrt(math.log(2.0 / tol)) / r))
    return p, d


def _hermite_functions(s: Tensor, count: int) -> Tensor:
    """h_k(s) = H_k(s) exp(−s²) for k < count, shape (count, *s.shape), by the three-term recurrence."""
    out = torch.empty((count, *s.shape), dtype=s.dtype, device=s.device)
    out[0] = torch.exp(-s * s)
    if count > 1:
        out[1] = 2 * s * out[0]
    for k in range(1, count - 1):
        out[k + 1] = 2 * s * out[k] - 2 * k * out[k - 1]
    return out


@lru_cache(maxsize=32)
def _translations(p: int, d: int, r: float, dtype, device) -> Tensor:
    """M[d + D, k, j] = ((−1)^j / j!) h_{k+j}(−d r) for box offsets d = −D..D, shape (2D+1, p, p)."""
    offsets = torch.arange(-d, d + 1, dtype=torch.float64)
    h = _hermite_functions(-offsets * r, 2 * p - 1)  # (2p-1, 2D+1)
    k = torch.arange(p)
    idx = k[:, None] + k[None, :]  # k + j
    sign_fact = torch.tensor([(-1.0) ** j / math.factorial(j) for j in range(p)], dtype=torch.float64)
    m = h[idx].permute(2, 0, 1) * sign_fact  # (2D+1, p, p)
    return m.to(dtype=dtype, device=device)


class _Lattice:
    """Boxes of width ``r·h`` from ``lo``, the expansion order and the translation matrices of one transform."""

    def __init__(self, lo: Tensor, sigma: float, tol: float, derivative: bool, device):
        self.p, self.d_max = expansion_order(float(tol), BOX_RATIO, derivative)
        self.h = math.sqrt(2.0) * float(sigma)
        self.width = BOX_RATIO * self.h
        self.lo = lo
        self.trans = _translations(self.p, self.d_max, BOX_RATIO, torch.float64, torch.device(device))

    def boxes(self, pts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(occupied boxes sorted, box of each point as an index into them, offset (pt − centre)/h)."""
        box = torch.floor((pts - self.lo) / self.width).long()
        occupied, which = torch.unique(box, return_inverse=True)
        offset = (pts - (self.lo + (box.to(pts.dtype) + 0.5) * self.width)) / self.h
        return occupied, which, offset

    def moments(self, which: Tensor, offset: Tensor, weights: Tensor, nb: int) -> Tensor:
        """A[c, B, k] = Σ_{z ∈ B} q_c(z) u^k / k!  (Hermite moments), shape (C, nb, p)."""
        out = torch.empty(weights.shape[0], nb, self.p, dtype=torch.float64, device=offset.device)
        term = weights.clone()
        for k in range(self.p):
            for c in range(weights.shape[0]):
                out[c, :, k] = torch.bincount(which, weights=term[c], minlength=nb)
            if k + 1 < self.p:
                term.mul_(offset).div_(k + 1)
        return out

    def local(self, src_boxes: Tensor, moments: Tensor, tgt_boxes: Tensor) -> Tensor:
        """C[c, T, j]: Taylor coefficients about each target box from all source boxes within D offsets.

        All (target box, offset) pairs at once: look up the source box T + d, and add
        ``A(T + d) @ M_d`` for every hit (in slices of target boxes, bounding the (hits, p, p) gather)."""
        channels, p = moments.shape[0], self.p
        coeff = torch.zeros(channels, tgt_boxes.numel(), p, dtype=torch.float64, device=moments.device)
        nb, width = src_boxes.numel(), 2 * self.d_max + 1
        if nb == 0 or tgt_boxes.numel() == 0:
            return coeff
        ds = torch.arange(-self.d_max, self.d_max + 1, device=tgt_boxes.device)
        step = max(1, (1 << 22) // (width * p * p))
        for lo in range(0, tgt_boxes.numel(), step):
            want = (tgt_boxes[lo:lo + step, None] + ds[None, :]).reshape(-1)
            pos = torch.searchsorted(src_boxes, want).clamp_(max=nb - 1)
            hit = (src_boxes[pos] == want).nonzero(as_tuple=True)[0]
            if hit.numel() == 0:
                continue
            rows, offs = hit // width + lo, hit % width
            contrib = torch.bmm(moments[:, pos[hit]].transpose(0, 1), self.trans[offs])  # (hits, C, p)
            coeff.index_add_(1, rows, contrib.transpose(0, 1))
        return coeff

    def evaluate(self, coeff: Tensor, which: Tensor, offset: Tensor, derivative: bool):
        """F = Σ_j C_j v^j and F' = (1/h) Σ_j j C_j v^{j−1} at every target (Horner, one pass)."""
        cols = coeff.permute(0, 2, 1).contiguous()  # (C, p, T)
        channels, m = coeff.shape[0], offset.numel()
        values = torch.empty(channels, m, dtype=torch.float64, device=offset.device)
        deriv = torch.empty_like(values) if derivative else None
        for c in range(channels):
            acc = cols[c, self.p - 1][which]
            dacc = torch.zeros_like(acc) if derivative else None
            for j in range(self.p - 2, -1, -1):
                if derivative:
                    dacc.mul_(offset).add_(acc)
                acc.mul_(offset).add_(cols[c, j][which])
            values[c] = acc
            if derivative:
                deriv[c] = dacc.div_(self.h)
        return values, deriv


def gauss_transform(sources: Tensor, weights: Tensor, targets: Tensor, sigma: float, tol: float = 1e-10,
                    derivative: bool = False) -> tuple[Tensor, Tensor | None]:
    r"""``F_c(t) = Σ_b weights[c, b] · exp(−(t − sources_b)²/(2σ²))`` for every target and channel c.

    ``sources`` (n,), ``weights`` (C, n), ``targets`` (m,).  Returns ``(F, F')`` of shape (C, m) in
    float64 (``F'`` is ``None`` unless ``derivative``); absolute error ≤ ``tol · Σ_b |weights[c, b]|``
    per value (``F'`` to ``tol · Σ|q| / h``).  No gradient is tracked.
    """
    if sources.dim() != 1 or targets.dim() != 1 or weights.dim() != 2 or weights.shape[1] != sources.numel():
        raise ValueError("gauss_transform expects sources (n,), weights (C, n), targets (m,)")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    z, t, q = (a.detach().to(torch.float64) for a in (sources, targets, weights))
    if z.numel() == 0 or t.numel() == 0:
        zero = torch.zeros(q.shape[0], t.numel(), dtype=torch.float64, device=t.device)
        return zero, (zero.clone() if derivative else None)
    _check_finite(z, t)
    lat = _Lattice(torch.minimum(z.min(), t.min()), sigma, tol, derivative, z.device)
    sb, sw, su = lat.boxes(z)
    tb, tw, tv = lat.boxes(t)
    coeff = lat.local(sb, lat.moments(sw, su, q, sb.numel()), tb)
    return lat.evaluate(coeff, tw, tv, derivative)


def _check_finite(*tensors: Tensor) -> None:
    for a in tensors:
        if not bool(torch.isfinite(a).all()):
            raise ValueError("fast Gauss transform: the points must be finite (got NaN or inf)")


class _FastKernelSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, sigma, tol, same):
        src = x if same else y
        ones = torch.ones(1, src.numel(), dtype=torch.float64, device=x.device)
        need_x, need_y = x.requires_grad, (y.requires_grad and not same)
        f, df = gauss_transform(src, ones, x, sigma, tol, derivative=need_x)
        total = f.sum()
        gx = (2.0 if same else 1.0) * df[0] if need_x else None
        gy = None
        if need_y:  # ∂S/∂y_j = Σ_i k(x_i, y_j)(x_i − y_j)/σ² = G_x'(y_j)
            _, dfy = gauss_transform(x, torch.ones(1, x.numel(), dtype=torch.float64, device=x.device), y, sigma,
                                     tol, derivative=True)
            gy = dfy[0]
        ctx.save_for_backward(gx.to(x.dtype) if gx is not None else torch.empty(0),
                              gy.to(y.dtype) if gy is not None else torch.empty(0))
        ctx.has = (gx is not None, gy is not None)
        return total.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        gx, gy = ctx.saved_tensors
        return (gx * grad_out if ctx.has[0] else None, gy * grad_out if ctx.has[1] else None, None, None, None)


def fast_gaussian_kernel_sum(x: Tensor, y: Tensor | None = None, sigma: float = 1.0, tol: float = 1e-10) -> Tensor:
    """Σ_ij exp(−(x_i − y_j)²/(2σ²)) in O(n + m) (``y=None``: ``y = x``), differentiable.

    Same value and gradients as :func:`zeta_rmt.losses.kernels.gaussian_kernel_sum` up to an absolute
    error ≤ ``tol · n · m`` (see the module docstring).
    """
    same = y is None or y is x
    y = x if y is None else y
    if x.dim() != 1 or y.dim() != 1:
        raise ValueError("fast_gaussian_kernel_sum expects 1-D tensors")
    return _FastKernelSum.apply(x, y, float(sigma), float(tol), same)


class _FastMMD2(torch.autograd.Function):
    """MMD² of ``x`` against fixed reference ``y``, gradient to ``x`` only.

    With kernel means ``K_ab = Σ k(a_i, b_j)`` and coefficients (α, β, γ, δx, δy):
        MMD² = α K_xx + β K_yy + γ K_xy − δx n − δy m
    (biased: α = 1/n², β = 1/m², γ = −2/(nm), δ = 0; unbiased: α = 1/(n(n−1)), β = 1/(m(m−1)),
    δx = α, δy = β, the diagonals k(a, a) = 1 removed).  On one box lattice, the Hermite moments of x
    and of y give the fields F_x = Σ_i k(·, x_i) and F_y = Σ_j k(·, y_j) about the boxes of x (two
    channels) and F_y about the boxes of y:
        K_xx = Σ_i F_x(x_i),  K_xy = Σ_i F_y(x_i),  K_yy = Σ_j F_y(y_j),
        ∂MMD²/∂x_i = 2α F_x'(x_i) + γ F_y'(x_i).
    """

    @staticmethod
    def forward(ctx, x, y, sigmas, unbiased, tol):
        n, m = x.numel(), y.numel()
        if unbiased:
            a, b = 1.0 / (n * (n - 1)), 1.0 / (m * (m - 1))
        else:
            a, b = 1.0 / (n * n), 1.0 / (m * m)
        g = -2.0 / (n * m)
        x64, y64 = x.detach().double(), y.detach().double()
        _check_finite(x64, y64)
        need = x.requires_grad
        total = torch.zeros((), dtype=torch.float64, device=x.device)
        grad = torch.zeros(n, dtype=torch.float64, device=x.device) if need else None
        ones_x = torch.ones(1, n, dtype=torch.float64, device=x.device)
        ones_y = torch.ones(1, m, dtype=torch.float64, device=x.device)
        lo = torch.minimum(x64.min(), y64.min())
        for sigma in sigmas:
            lat = _Lattice(lo, sigma, tol, need, x.device)
            xb, xw, xu = lat.boxes(x64)
            yb, yw, yu = lat.boxes(y64)
            mx = lat.moments(xw, xu, ones_x, xb.numel())
            my = lat.moments(yw, yu, ones_y, yb.numel())
            # channel 0: F_x, channel 1: F_y, both about the boxes of x; F_y also about the boxes of y
            coeff_x = torch.cat([lat.local(xb, mx, xb), lat.local(yb, my, xb)])
            f, df = lat.evaluate(coeff_x, xw, xu, need)
            fy, _ = lat.evaluate(lat.local(yb, my, yb), yw, yu, False)
            kxx, kxy, kyy = f[0].sum(), f[1].sum(), fy[0].sum()
            val = a * kxx + b * kyy + g * kxy
            if unbiased:
                val = val - a * n - b * m
            total += val
            if need:
                grad += 2.0 * a * df[0] + g * df[1]
        j = len(sigmas)
        ctx.save_for_backward((grad / j).to(x.dtype) if need else torch.empty(0))
        ctx.has_grad = need
        return (total / j).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (gx,) = ctx.saved_tensors
        return (gx * grad_out if ctx.has_grad else None, None, None, None, None)


def fast_mmd2(x: Tensor, y: Tensor, sigmas, estimator: str = "biased", tol: float = 1e-10) -> Tensor:
    r"""Squared MMD between 1-D samples ``x`` (differentiable) and a fixed reference ``y`` in O(n + m).

    Kernel ``k(a, b) = (1/J) Σ_j exp(−(a − b)²/(2σ_j²))``; ``estimator`` ``biased`` or ``unbiased``
    (see :class:`zeta_rmt.losses.GUEMMDLoss`).  Absolute error ≤ ~4·``tol`` (each normalised kernel mean
    is within ``tol``); gradients flow to ``x`` only (the reference is a sample, not a parameter).
    """
    if x.dim() != 1 or y.dim() != 1:
        raise ValueError("fast_mmd2 expects 1-D tensors")
    sigmas = tuple(float(s) for s in ([sigmas] if isinstance(sigmas, (int, float)) else sigmas))
    if estimator not in ("biased", "unbiased"):
        raise ValueError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}")
    if estimator == "unbiased" and (x.numel() < 2 or y.numel() < 2):
        raise ValueError("the unbiased MMD estimator needs at least 2 points on each side")
    return _FastMMD2.apply(x, y.detach(), sigmas, estimator == "unbiased", float(tol))
