"""Hardy's Z(t) by the Riemann–Siegel formula, compiled with numba.

Mathematics
-----------
Hardy's function Z(t) = exp(i θ(t)) ζ(1/2 + i t) is real, |Z(t)| = |ζ(1/2 + i t)|, and its
sign changes are the zeros γ_n. With τ = √(t/2π), N = ⌊τ⌋, p = τ − N:

    Z(t) = 2 Σ_{n=1}^{N} n^{-1/2} cos(θ(t) − t log n)
           + (−1)^{N−1} τ^{-1/2} Σ_{k=0}^{4} C_k(p) τ^{-k}  + R_5(t),

with Ψ(p) = cos(2π(p² − p − 1/16)) / cos(2πp) (an entire function) and

    C₀ = Ψ
    C₁ = −Ψ⁽³⁾ / (96π²)
    C₂ = Ψ⁽⁶⁾ / (18432π⁴) + Ψ⁽²⁾ / (64π²)
    C₃ = −Ψ⁽⁹⁾ / (5308416π⁶) − Ψ⁽⁵⁾ / (3840π⁴) − Ψ⁽¹⁾ / (64π²)
    C₄ = Ψ⁽¹²⁾ / (2038431744π⁸) + 11Ψ⁽⁸⁾ / (5898240π⁶) + 19Ψ⁽⁴⁾ / (24576π⁴) + Ψ / (128π²).

The remainder after C_K is O(τ^{-(2K+3)/2}); the issue asks for C₀…C₃, we also keep C₄
because it costs nothing and lowers the height below which zeros must be polished.
The C_k are evaluated as polynomials in x = p − 1/2 whose coefficients are derived here
(once, with mpmath at 100 digits) from the power series of
Ψ = −cos(2πx² − 5π/8) / cos(2πx), then truncated where a coefficient cannot contribute
1e-20 on |x| ≤ 1/2. No coefficient table is typed in by hand.

The Riemann–Siegel theta function has the asymptotic (Stirling) series

    θ(t) = (t/2) log(t/2π) − t/2 − π/8 + Σ_{k≥1} (1 − 2^{1−2k}) |B_{2k}| / (4k(2k−1) t^{2k−1}),

i.e. 1/(48t) + 7/(5760t³) + 31/(80640t⁵) + …; six terms are used (error < 1e-15 for t ≥ 9).

Windowed phases (accuracy at large t)
-------------------------------------
In float64, t log n and θ(t) are numbers of size ~t log t whose rounding error
(≈ 1e-16 · t log t) reaches 1e-8 near t ≈ 10⁷. Every evaluation point is therefore written
t = t₀ + h with a per-window base t₀ (a float64, so exact) and |h| ≤ ~2·10⁴:

    θ(t) − t log n ≡ [θ(t₀) mod 2π] − [t₀ log n mod 2π] + Δθ(t₀, h) − h log n   (mod 2π),

where the two brackets are computed once per window with mpmath at 30 digits and
Δθ(t₀, h) = θ(t₀ + h) − θ(t₀) = (t₀/2) log1p(h/t₀) + (h/2) log(t/2π) − h/2 + (series
differences) is computed without cancellation. The phase error is then ~1e-16·|h| log t,
independent of the height. The cosine is a branch-free polynomial (Taylor series to x²²
after reduction modulo π), so the main loop vectorises (AVX2/AVX-512) under numba.
"""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
from numba import njit, prange

TWO_PI = 2.0 * math.pi
INV_PI = 1.0 / math.pi
# Cody–Waite split of π: PI_A has 30 significant bits so k * PI_A is exact for |k| < 2^22.
PI_A = math.ldexp(math.floor(math.ldexp(math.pi, 28)), -28)
with mpmath.workdps(40):
    PI_B = float(mpmath.pi - mpmath.mpf(PI_A))
# Taylor coefficients (−1)^i / (2i)! and (−1)^i / (2i+1)!, i = 0..11: on |r| ≤ π/2 the
# truncation error is below (π/2)^24/24! < 1e-18.
COS_C = tuple((-1.0) ** i / math.factorial(2 * i) for i in range(12))
SIN_C = tuple((-1.0) ** i / math.factorial(2 * i + 1) for i in range(12))

# Floating-point flags for the hot loops: reassociation lets LLVM vectorise the sums,
# contraction allows FMA. No approximate functions, no reciprocal approximations.
FASTMATH = {"reassoc", "contract", "nsz"}

#: Number of Riemann–Siegel correction terms C_0..C_{RS_TERMS-1} used.
RS_TERMS = 5


# --------------------------------------------------------------------------------------
# Coefficients (derived with mpmath, cached per process)
# --------------------------------------------------------------------------------------
def _psi_series(degree: int, dps: int):
    """Taylor coefficients of Ψ in x = p − 1/2: Ψ = −cos(2πx² − 5π/8)/cos(2πx).

    The series quotient is computed at ``dps`` digits: the removable singularities at
    x = ±1/4 amplify rounding by ~4^k in the recurrence, so the working precision must
    exceed the degree by a margin (100 digits for degree 100 leaves > 30 spare digits).
    """
    with mpmath.workdps(dps):
        pi = mpmath.pi
        b = -5 * pi / 8
        num = [mpmath.mpf(0)] * (degree + 1)
        k = 0
        while 2 * k <= degree:  # cos(u + b), u = 2πx²: k-th u-derivative is cos(b + kπ/2)
            num[2 * k] += (2 * pi) ** k / mpmath.factorial(k) * mpmath.cos(b + k * pi / 2)
            k += 1
        den = [mpmath.mpf(0)] * (degree + 1)
        for k in range(degree // 2 + 1):
            den[2 * k] = (-1) ** k * (2 * pi) ** (2 * k) / mpmath.factorial(2 * k)
        q = [mpmath.mpf(0)] * (degree + 1)
        for i in range(degree + 1):
            q[i] = (num[i] - mpmath.fsum(q[j] * den[i - j] for j in range(i))) / den[0]
        return [-v for v in q]


def _derivative(coeffs, m):
    """Coefficients of the m-th derivative of Σ c_j x^j."""
    return [coeffs[j + m] * mpmath.ff(j + m, m) for j in range(len(coeffs) - m)]


@functools.lru_cache(maxsize=1)
def rs_coefficients() -> np.ndarray:
    """Array ``C[k, j]`` with C_k(p) = Σ_j C[k, j] (p − 1/2)^j for k = 0..RS_TERMS − 1 (= 4).

    Derived from the Ψ series (see module docstring); terms whose contribution on
    |x| ≤ 1/2 is below 1e-20 are dropped.
    """
    degree, dps = 100, 110
    psi = _psi_series(degree, dps)
    with mpmath.workdps(dps):
        pi = mpmath.pi
        d = {m: _derivative(psi, m) for m in (0, 1, 2, 3, 4, 5, 6, 8, 9, 12)}

        def comb(*terms):
            out = [mpmath.mpf(0)] * (degree + 1)
            for scale, m in terms:
                for j, v in enumerate(d[m]):
                    out[j] += scale * v
            return out

        polys = [
            comb((1, 0)),
            comb((-1 / (96 * pi**2), 3)),
            comb((1 / (18432 * pi**4), 6), (1 / (64 * pi**2), 2)),
            comb((-1 / (5308416 * pi**6), 9), (-1 / (3840 * pi**4), 5), (-1 / (64 * pi**2), 1)),
            comb(
                (1 / (2038431744 * pi**8), 12),
                (mpmath.mpf(11) / (5898240 * pi**6), 8),
                (mpmath.mpf(19) / (24576 * pi**4), 4),
                (1 / (128 * pi**2), 0),
            ),
        ]
        polys = polys[:RS_TERMS]
        width = 0
        for poly in polys:
            for j, v in enumerate(poly):
                if abs(v) * mpmath.mpf(0.5) ** j > mpmath.mpf("1e-20"):
                    width = max(width, j + 1)
        out = np.zeros((len(polys), width + (width % 2)), dtype=np.float64)
        for k, poly in enumerate(polys):
            for j in range(width):
                out[k, j] = float(poly[j])
    return out


@functools.lru_cache(maxsize=1)
def theta_series() -> np.ndarray:
    """Coefficients a_k of θ(t) − [(t/2)log(t/2π) − t/2 − π/8] ≈ Σ a_k t^{−(2k−1)}, k = 1..6.

    a_k = (1 − 2^{1−2k}) |B_{2k}| / (4k(2k−1)): 1/48, 7/5760, 31/80640, 127/430080, …
    """
    out = np.empty(6, dtype=np.float64)
    for k in range(1, 7):
        b = abs(mpmath.bernoulli(2 * k))
        out[k - 1] = float((1 - mpmath.mpf(2) ** (1 - 2 * k)) * b / (4 * k * (2 * k - 1)))
    return out


# --------------------------------------------------------------------------------------
# Scalar building blocks (numba)
# --------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def theta_diff(t0, h, ts):
    """Δθ = θ(t₀ + h) − θ(t₀) without cancellation (t₀ > 0, t₀ + h > 0)."""
    t = t0 + h
    main = 0.5 * t0 * math.log1p(h / t0) + 0.5 * h * math.log(t / TWO_PI) - 0.5 * h
    u = 1.0 / t
    u0 = 1.0 / t0
    corr = 0.0
    pu = u
    pu0 = u0
    u2 = u * u
    u02 = u0 * u0
    for k in range(6):
        corr += ts[k] * (pu - pu0)
        pu *= u2
        pu0 *= u02
    return main + corr


@njit(cache=True, inline="always")
def theta_prime(t):
    """θ'(t) = ½ log(t/2π) − 1/(48t²) − 7/(1920t⁴) − 31/(16128t⁶) (enough for Newton)."""
    u2 = 1.0 / (t * t)
    return 0.5 * math.log(t / TWO_PI) - u2 * (1.0 / 48.0 + u2 * (7.0 / 1920.0 + u2 * (31.0 / 16128.0)))


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _reduce_pi(x):
    """(k, r) with x = kπ + r, |r| ≤ π/2 (Cody–Waite)."""
    k = math.floor(x * INV_PI + 0.5)
    r = (x - k * PI_A) - k * PI_B
    return k, r


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _poly_cos(r2):
    c = COS_C[11]
    c = c * r2 + COS_C[10]
    c = c * r2 + COS_C[9]
    c = c * r2 + COS_C[8]
    c = c * r2 + COS_C[7]
    c = c * r2 + COS_C[6]
    c = c * r2 + COS_C[5]
    c = c * r2 + COS_C[4]
    c = c * r2 + COS_C[3]
    c = c * r2 + COS_C[2]
    c = c * r2 + COS_C[1]
    return c * r2 + COS_C[0]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _poly_sin(r2):
    c = SIN_C[11]
    c = c * r2 + SIN_C[10]
    c = c * r2 + SIN_C[9]
    c = c * r2 + SIN_C[8]
    c = c * r2 + SIN_C[7]
    c = c * r2 + SIN_C[6]
    c = c * r2 + SIN_C[5]
    c = c * r2 + SIN_C[4]
    c = c * r2 + SIN_C[3]
    c = c * r2 + SIN_C[2]
    c = c * r2 + SIN_C[1]
    return c * r2 + SIN_C[0]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def fast_cos(x):
    """cos x for |x| ≲ 10⁶: cos(kπ + r) = (−1)^k cos r with |r| ≤ π/2, Taylor series to r²².

    Branch-free, so loops over it vectorise; error ≲ 4e-16 plus ~1e-16·|x| from the
    representation of x itself.
    """
    k, r = _reduce_pi(x)
    sign = 1.0 - 2.0 * (k - 2.0 * math.floor(0.5 * k))
    return sign * _poly_cos(r * r)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def fast_cos_sin(x):
    """(cos x, sin x) with the same reduction as :func:`fast_cos`."""
    k, r = _reduce_pi(x)
    sign = 1.0 - 2.0 * (k - 2.0 * math.floor(0.5 * k))
    r2 = r * r
    return sign * _poly_cos(r2), sign * r * _poly_sin(r2)


# --------------------------------------------------------------------------------------
# Z(t) on windows
# --------------------------------------------------------------------------------------
@njit(cache=True)
def _horner_parity(row, x, odd):
    """Σ_j row[j] x^j for a polynomial with only even (odd=False) or odd powers."""
    u = x * x
    m = row.shape[0]
    start = m - 1 if (m - 1) % 2 == (1 if odd else 0) else m - 2
    s = 0.0
    j = start
    while j >= 0:
        s = s * u + row[j]
        j -= 2
    return s * x if odd else s


@njit(cache=True)
def rs_remainder(tau, big_n, coef):
    """(−1)^{N−1} τ^{-1/2} Σ_k C_k(p) τ^{-k} and its t-derivative (C₀ term only).

    dτ/dt = 1/(4πτ), so d/dt C₀(p(t)) = C₀'(p)/(4πτ); the other parts of the derivative
    are O(τ^{-3/2}) smaller and only slow Newton's method down imperceptibly.
    """
    x = tau - big_n - 0.5
    inv = 1.0 / tau
    total = 0.0
    pw = 1.0
    for k in range(coef.shape[0]):
        total += _horner_parity(coef[k], x, k % 2 == 1) * pw
        pw *= inv
    # C0'(x): derivative of the even series Σ c_{2i} x^{2i}
    row = coef[0]
    d = 0.0
    j = row.shape[0] - 1 if (row.shape[0] - 1) % 2 == 0 else row.shape[0] - 2
    u = x * x
    while j >= 2:
        d = d * u + j * row[j]
        j -= 2
    d *= x
    sign = 1.0 if (big_n - 1) % 2 == 0 else -1.0
    scale = sign / math.sqrt(tau)
    return scale * total, scale * d / (4.0 * math.pi * tau)


@njit(cache=True, fastmath=FASTMATH)
def _main_sum(big_n, big_theta, h, row, logn, rsq):
    """Σ_{n=1}^{N} n^{-1/2} cos(Θ − φ₀[n] − h log n)  (vectorised loop)."""
    s = 0.0
    for n in range(1, big_n + 1):
        s += rsq[n] * fast_cos(big_theta - row[n] - h * logn[n])
    return s


@njit(cache=True, fastmath=FASTMATH)
def _main_sum_d(big_n, big_theta, h, th_prime, row, logn, rsq):
    """Main sum and its t-derivative: Σ n^{-1/2} cos φ_n and −Σ n^{-1/2} sin φ_n (θ' − log n)."""
    s = 0.0
    d = 0.0
    for n in range(1, big_n + 1):
        c, si = fast_cos_sin(big_theta - row[n] - h * logn[n])
        s += rsq[n] * c
        d -= rsq[n] * si * (th_prime - logn[n])
    return s, d


@njit(cache=True)
def z_window(w, h, t0s, th0s, phi0, ncols, logn, rsq, coef, ts):
    """Z(t₀[w] + h). Returns NaN if the window's phase table is too short for N(t)."""
    t0 = t0s[w]
    t = t0 + h
    tau = math.sqrt(t / TWO_PI)
    big_n = int(tau)
    if big_n > ncols[w] or big_n < 1:
        return np.nan
    big_theta = th0s[w] + theta_diff(t0, h, ts)
    s = _main_sum(big_n, big_theta, h, phi0[w], logn, rsq)
    r, _ = rs_remainder(tau, big_n, coef)
    return 2.0 * s + r


@njit(cache=True)
def z_window_d(w, h, t0s, th0s, phi0, ncols, logn, rsq, coef, ts):
    """(Z, Z') at t₀[w] + h."""
    t0 = t0s[w]
    t = t0 + h
    tau = math.sqrt(t / TWO_PI)
    big_n = int(tau)
    if big_n > ncols[w] or big_n < 1:
        return np.nan, np.nan
    big_theta = th0s[w] + theta_diff(t0, h, ts)
    s, d = _main_sum_d(big_n, big_theta, h, theta_prime(t), phi0[w], logn, rsq)
    r, dr = rs_remainder(tau, big_n, coef)
    return 2.0 * s + r, 2.0 * d + dr


@njit(cache=True, parallel=True)
def z_many(widx, h, t0s, th0s, phi0, ncols, logn, rsq, coef, ts):
    """Z at many points (window index, offset), in parallel."""
    out = np.empty(h.shape[0])
    for i in prange(h.shape[0]):
        out[i] = z_window(widx[i], h[i], t0s, th0s, phi0, ncols, logn, rsq, coef, ts)
    return out


@njit(cache=True, parallel=True)
def gram_offsets(widx, k, r0s, t0s, ts):
    """Offsets h_j of Gram points from their window base: θ(t₀ + h) = θ(t₀) + kπ − r₀.

    ``k[i]`` = j − J₀[w] where J₀ = ⌊θ(t₀)/π⌋ and r₀ = θ(t₀) − J₀π (both from mpmath), so
    the target Δθ = kπ − r₀ is known to ~1e-16·|k|. Newton on Δθ with θ' (≤ 8 steps).
    """
    out = np.empty(k.shape[0])
    for i in prange(k.shape[0]):
        w = widx[i]
        t0 = t0s[w]
        target = k[i] * math.pi - r0s[w]
        h = target / theta_prime(t0)
        for _ in range(12):
            if t0 + h < 7.0:  # θ is increasing only for t > 6.29; stay on that branch
                h = 7.0 - t0
            step = (theta_diff(t0, h, ts) - target) / theta_prime(t0 + h)
            h -= step
            if abs(step) <= 1e-15 * (t0 + abs(h)):
                break
        out[i] = h
    return out


@njit(cache=True, parallel=True)
def refine_roots(widx, ha, hb, za, zb, t0s, th0s, phi0, ncols, logn, rsq, coef, ts, max_iter):
    """Roots of Z in brackets [ha, hb] (Z(ha)·Z(hb) < 0): safeguarded Newton.

    Start at the secant point; a Newton step x − Z/Z' that leaves the current bracket is
    replaced by bisection, and the bracket shrinks with the sign of every new value, so
    the iterate never leaves the original bracket. Newton converges quadratically here
    (error after a step of size s is ≈ |Z''/2Z'|·s² plus the relative error of the
    approximate Z' times s, both < 1e-12 once s < 3e-8), so the loop stops after the first
    accepted Newton step shorter than 3e-8, or when the bracket is below 2 ulp(t).
    Returns (root offsets, iterations used).
    """
    n = ha.shape[0]
    out = np.empty(n)
    iters = np.empty(n, dtype=np.int64)
    for i in prange(n):
        w = widx[i]
        a = ha[i]
        b = hb[i]
        fa = za[i]
        fb = zb[i]
        x = a - fa * (b - a) / (fb - fa)
        tiny = 4.5e-16 * (t0s[w] + abs(b)) + 1e-14
        it = 0
        while it < max_iter:
            it += 1
            f, d = z_window_d(w, x, t0s, th0s, phi0, ncols, logn, rsq, coef, ts)
            if f == 0.0:
                break
            if (f > 0.0) == (fa > 0.0):
                a = x
                fa = f
            else:
                b = x
                fb = f
            newton = d != 0.0
            xn = x - f / d if newton else 0.5 * (a + b)
            if not (a <= xn <= b) and not (b <= xn <= a):
                xn = 0.5 * (a + b)
                newton = False
            step = abs(xn - x)
            x = xn
            if (newton and step < 3e-8) or abs(b - a) <= tiny:
                break
        out[i] = x
        iters[i] = it
    return out, iters


@njit(cache=True)
def _count_changes(hs, zs, eps, cap, out_a, out_b, out_za, out_zb, base):
    """Sign changes among samples with |z| > eps; brackets written from ``base``."""
    count = 0
    last = -1
    for i in range(hs.shape[0]):
        z = zs[i]
        if not (abs(z) > eps):  # unreliable sign (or NaN): skip
            continue
        if last >= 0 and (z > 0.0) != (zs[last] > 0.0):
            if count < cap:
                out_a[base + count] = hs[last]
                out_b[base + count] = hs[i]
                out_za[base + count] = zs[last]
                out_zb[base + count] = z
            count += 1
        last = i
    return count


@njit(cache=True, parallel=True)
def resample_segments(
    seg_w, seg_h, seg_z, seg_ptr, caps, cap_ptr, eps, max_level,
    t0s, th0s, phi0, ncols, logn, rsq, coef, ts,
):
    """Adaptive resampling of segments between good Gram points.

    Segment s has Gram points seg_h[seg_ptr[s]:seg_ptr[s+1]] (offsets relative to window
    seg_w[s], values seg_z[...]), i.e. L = (#points − 1) Gram intervals, so Rosser's rule
    expects ≥ L sign changes. Level ℓ samples each Gram interval at 2^ℓ equal steps
    (reusing the previous level's values) until L sign changes with |Z| > eps are seen or
    ℓ = max_level. Returns (count, level, n_evals) per segment and the brackets.
    """
    nseg = seg_ptr.shape[0] - 1
    counts = np.zeros(nseg, dtype=np.int64)
    levels = np.zeros(nseg, dtype=np.int64)
    evals = np.zeros(nseg, dtype=np.int64)
    total = cap_ptr[nseg]
    out_a = np.empty(total)
    out_b = np.empty(total)
    out_za = np.empty(total)
    out_zb = np.empty(total)
    for s in prange(nseg):
        w = seg_w[s]
        lo = seg_ptr[s]
        npts = seg_ptr[s + 1] - lo
        need = npts - 1
        hs = seg_h[lo:lo + npts].copy()
        zs = seg_z[lo:lo + npts].copy()
        cnt = _count_changes(hs, zs, eps[s], caps[s], out_a, out_b, out_za, out_zb, cap_ptr[s])
        lev = 0
        nev = 0
        while cnt < need and lev < max_level:
            lev += 1
            m = hs.shape[0]
            h2 = np.empty(2 * m - 1)
            z2 = np.empty(2 * m - 1)
            for i in range(m):
                h2[2 * i] = hs[i]
                z2[2 * i] = zs[i]
            for i in range(m - 1):
                hm = 0.5 * (hs[i] + hs[i + 1])
                h2[2 * i + 1] = hm
                z2[2 * i + 1] = z_window(w, hm, t0s, th0s, phi0, ncols, logn, rsq, coef, ts)
            nev += m - 1
            hs = h2
            zs = z2
            cnt = _count_changes(hs, zs, eps[s], caps[s], out_a, out_b, out_za, out_zb, cap_ptr[s])
        counts[s] = cnt
        levels[s] = lev
        evals[s] = nev
    return counts, levels, evals, out_a, out_b, out_za, out_zb


# --------------------------------------------------------------------------------------
# Python side: windows with high-precision base phases
# --------------------------------------------------------------------------------------
class PhaseTable:
    """Base points t₀[w] with θ(t₀) and t₀ log n reduced mod 2π at 30 digits (mpmath).

    ``bases``: float64 base points; ``t_ends``: the largest t each window must serve (sets
    how many main-sum terms n ≤ √(t_end/2π) get a base phase).
    """

    def __init__(self, bases, t_ends):
        bases = np.asarray(bases, dtype=np.float64)
        t_ends = np.asarray(t_ends, dtype=np.float64)
        if bases.ndim != 1 or bases.shape != t_ends.shape or bases.size == 0:
            raise ValueError("bases and t_ends must be 1-D arrays of the same non-zero length")
        ncols = np.floor(np.sqrt(np.maximum(t_ends, bases) / TWO_PI)).astype(np.int64) + 1
        width = int(ncols.max()) + 1
        self.t0 = bases
        self.ncols = ncols
        self.phi0 = np.zeros((bases.size, width), dtype=np.float64)
        self.th0 = np.empty(bases.size)
        self.r0 = np.empty(bases.size)
        self.j0 = np.empty(bases.size, dtype=np.int64)
        n = np.arange(width, dtype=np.float64)
        self.logn = np.log(np.maximum(n, 1.0))
        self.rsq = np.where(n >= 1, 1.0 / np.sqrt(np.maximum(n, 1.0)), 0.0)
        self.coef = rs_coefficients()
        self.ts = theta_series()
        with mpmath.workdps(34):
            two_pi = 2 * mpmath.pi
            logs = [mpmath.log(k) for k in range(1, width)]
            for w, base in enumerate(bases):
                t0 = mpmath.mpf(float(base))
                th = mpmath.siegeltheta(t0)
                self.th0[w] = float(th % two_pi)
                j0 = int(mpmath.floor(th / mpmath.pi))
                self.j0[w] = j0
                self.r0[w] = float(th - j0 * mpmath.pi)
                row = self.phi0[w]
                for k in range(1, int(ncols[w]) + 1):
                    row[k] = float((t0 * logs[k - 1]) % two_pi)

    def args(self):
        """The arrays the numba kernels take after the point arguments."""
        return (self.t0, self.th0, self.phi0, self.ncols, self.logn, self.rsq, self.coef, self.ts)

    def z(self, t, window=None):
        """Z at absolute heights t (float64), using window ``window`` or the nearest base below."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if window is None:
            widx = np.clip(np.searchsorted(self.t0, t, side="right") - 1, 0, self.t0.size - 1)
        else:
            widx = np.full(t.shape, int(window), dtype=np.int64)
        widx = widx.astype(np.int64)
        return z_many(widx, t - self.t0[widx], *self.args())


@njit(cache=True, parallel=True)
def z_d_many(widx, h, t0s, th0s, phi0, ncols, logn, rsq, coef, ts):
    """(Z, Z') at many points (window index, offset), in parallel."""
    z = np.empty(h.shape[0])
    d = np.empty(h.shape[0])
    for i in prange(h.shape[0]):
        z[i], d[i] = z_window_d(widx[i], h[i], t0s, th0s, phi0, ncols, logn, rsq, coef, ts)
    return z, d
