"""Compiled CPU kernels for the fused network (numba; cached on disk, compiled on first use).

Each replaces a torch expression that would allocate an (N, C) temporary or convert a float32
(N, C) tensor to float64:

* ``rowdot``:  out[i, j] = Σ_k float64(h[i, k]) · w[j, k]       (the float64 head, h Θᵀ)
* ``coldot``:  out[j, k] = Σ_i u[i, j] · float64(h[i, k])       (its weight gradient, uᵀ h)
* ``relu_mask``: g[i, k] ← 0 where act[i, k] ≤ 0, in place       (ReLU's backward from its output)

:class:`Float64Linear` is the float64 head as an autograd function built from these.

Other devices use the torch forms (GPU memory traffic is cheap; the caching allocator reuses blocks).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from zeta_rmt.graph.banded import match_numba_threads

_K: dict = {}
#: rows per chunk of the torch fallbacks (bounds their float64 temporaries)
CHUNK = 1 << 16


def _kernels():
    if not _K:
        from numba import njit, prange

        @njit(parallel=True, cache=True, nogil=True)
        def rowdot(h, w, out):  # pragma: no cover - compiled
            n, c = h.shape
            m = w.shape[0]
            for i in prange(n):
                for j in range(m):
                    acc = 0.0
                    for k in range(c):
                        acc += np.float64(h[i, k]) * w[j, k]
                    out[i, j] = acc

        @njit(parallel=True, cache=True, nogil=True)
        def coldot(u, h, out, nchunks):  # pragma: no cover - compiled
            n, c = h.shape
            m = u.shape[1]
            part = np.zeros((nchunks, m, c))
            step = (n + nchunks - 1) // nchunks
            for t in prange(nchunks):
                lo, hi = t * step, min(n, (t + 1) * step)
                for i in range(lo, hi):
                    for j in range(m):
                        uij = u[i, j]
                        for k in range(c):
                            part[t, j, k] += uij * np.float64(h[i, k])
            for t in range(nchunks):
                out += part[t]

        @njit(parallel=True, cache=True, nogil=True)
        def relu_mask(g, act):  # pragma: no cover - compiled
            n, c = g.shape
            for i in prange(n):
                for k in range(c):
                    if act[i, k] <= 0:
                        g[i, k] = 0

        _K.update(rowdot=rowdot, coldot=coldot, relu_mask=relu_mask)
    match_numba_threads()
    return _K


def head_product(h: Tensor, weight: Tensor) -> Tensor:
    """``h Wᵀ`` in the weight's dtype; float64 weights on float32 ``h`` accumulate in float64."""
    if weight.dtype == h.dtype:
        return h @ weight.t()
    out = torch.empty(h.shape[0], weight.shape[0], dtype=weight.dtype, device=h.device)
    if h.device.type == "cpu" and h.is_contiguous():
        _kernels()["rowdot"](h.numpy(), weight.detach().contiguous().numpy(), out.numpy())
        return out
    for s in range(0, h.shape[0], CHUNK):
        out[s:s + CHUNK] = h[s:s + CHUNK].to(weight.dtype) @ weight.t()
    return out


def head_weight_grad(u: Tensor, h: Tensor) -> Tensor:
    """``uᵀ h`` (k, C) in u's dtype for float64 ``u`` (n, k) and float32 ``h`` (n, C)."""
    if u.dtype == h.dtype:
        return u.t() @ h
    out = torch.zeros(u.shape[1], h.shape[1], dtype=u.dtype, device=u.device)
    if h.device.type == "cpu" and h.is_contiguous():
        _kernels()["coldot"](u.contiguous().numpy(), h.numpy(), out.numpy(), max(1, torch.get_num_threads()) * 4)
        return out
    for s in range(0, h.shape[0], CHUNK):
        out += u[s:s + CHUNK].t() @ h[s:s + CHUNK].to(u.dtype)
    return out


def head_input_grad(u: Tensor, weight: Tensor, out: Tensor) -> Tensor:
    """``out ← u W`` (n, C) in out's dtype: the gradient wrt the head's input, for ``u`` (n, k) in the
    weight's dtype (rank one when k = 1: one broadcast multiply, no temporary)."""
    if u.dtype == out.dtype and weight.dtype == out.dtype:
        return torch.mm(u, weight, out=out)
    if u.shape[1] == 1:
        return torch.mul(u.to(out.dtype), weight.to(out.dtype), out=out)
    for s in range(0, u.shape[0], CHUNK):
        out[s:s + CHUNK] = (u[s:s + CHUNK] @ weight.to(u.dtype)).to(out.dtype)
    return out


class Float64Linear(torch.autograd.Function):
    """``h @ Wᵀ`` with float32 ``h`` (n, C) and float64 ``W`` (k, C), accumulated in float64
    (:func:`head_product`, no float64 copy of ``h``).  Backward: ``∂h = g W`` in h's dtype
    (:func:`head_input_grad`), ``∂W = gᵀ h`` (:func:`head_weight_grad`)."""

    @staticmethod
    def forward(ctx, h, weight):
        ctx.save_for_backward(h, weight)
        return head_product(h, weight)

    @staticmethod
    def backward(ctx, grad):
        h, weight = ctx.saved_tensors
        gh = head_input_grad(grad, weight, torch.empty_like(h)) if ctx.needs_input_grad[0] else None
        gw = head_weight_grad(grad.contiguous(), h) if ctx.needs_input_grad[1] else None
        return gh, gw


def relu_backward_(g: Tensor, act: Tensor) -> Tensor:
    """``g ← g ⊙ 1[act > 0]`` in place (``act`` is ReLU's output)."""
    if g.device.type == "cpu" and g.is_contiguous() and act.is_contiguous():
        _kernels()["relu_mask"](g.numpy(), act.numpy())
        return g
    return g.mul_(act > 0)
