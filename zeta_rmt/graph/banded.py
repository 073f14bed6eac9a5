r"""The normalised adelic adjacency as shifted copies: Â·X without per-edge messages.

On a contiguous range of nodes the adelic graph links ``i`` to ``i ± d`` for every offset
``d ∈ {1} ∪ primes``, so with ``y = D^{-1/2} x``

    (Â x)_i = D^{-1/2}_ii ( y_i + Σ_d [ y_{i+d} + y_{i−d} ] )          (terms outside the range dropped)

a sum of ``2·|offsets| + 1`` shifted copies of ``y``: O(N·C) time and two (N, C) buffers, whatever
the number of edges (30 M at N = 2·10⁶ with primes 2..13; a message-passing layer materialises one
(E, C) message tensor, 15 GB there at C = 128).  ``Â`` is symmetric, so the backward of ``Â x`` is
``Â g``: the same operator, no transpose.

``D^{-1/2}`` is a vector: the global degrees of the graph on ``n_total`` nodes (closed form,
:func:`zeta_rmt.graph.adelic.node_degrees`) restricted to a window, or the window's own degrees
(sub-graph normalisation, as PyG's ``gcn_norm`` on a Cluster-GCN block).
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from zeta_rmt.graph.adelic import GraphConfigError, gcn_weights, graph_offsets, node_degrees, undirected_edges


_KERNEL = None


def _stencil_kernel():
    """The CPU kernel, compiled once (numba, cached on disk): one pass over the rows, each output row
    ``out_i = dinv_i (dinv_i x_i + Σ_d dinv_{i±d} x_{i±d})`` summed while its 2·|offsets| neighbour rows
    are in cache: a read of x and a write of out, instead of 2·|offsets| + 3 full passes."""
    global _KERNEL
    if _KERNEL is None:
        from numba import njit, prange

        @njit(parallel=True, cache=True, nogil=True)
        def stencil(x, dinv, offsets, out):  # pragma: no cover - compiled
            n, c = x.shape
            for i in prange(n):
                di = dinv[i]
                for k in range(c):
                    out[i, k] = di * x[i, k]
                for d in offsets:
                    j = i + d
                    if j < n:
                        dj = dinv[j]
                        for k in range(c):
                            out[i, k] += dj * x[j, k]
                    j = i - d
                    if j >= 0:
                        dj = dinv[j]
                        for k in range(c):
                            out[i, k] += dj * x[j, k]
                for k in range(c):
                    out[i, k] *= di

        _KERNEL = stencil
    return _KERNEL


def match_numba_threads() -> None:
    """Run numba's parallel loops on as many threads as torch uses (never more than numba has)."""
    import numba

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def banded_product_into(x: Tensor, dinv: Tensor, offsets: Sequence[int], out: Tensor,
                        work: Optional[Tensor] = None) -> Tensor:
    """``out ← Â x`` without allocating (``x``, ``out`` (n, C), contiguous, same dtype; ``out`` must not
    alias ``x``).  On the CPU one compiled pass; elsewhere shifted in-place adds, with ``work`` (n, C)
    as the scaled copy ``D^{-1/2} x`` (allocated when not given)."""
    if x.device.type == "cpu":
        match_numba_threads()
        _stencil_kernel()(x.numpy(), dinv.numpy(), np.asarray(offsets, dtype=np.int64), out.numpy())
        return out
    y = torch.mul(x, dinv[:, None], out=work) if work is not None else x * dinv[:, None]
    out.copy_(y)
    n = x.shape[0]
    for d in offsets:
        if d < n:
            out[:-d] += y[d:]
            out[d:] += y[:-d]
    return out.mul_(dinv[:, None])


def banded_product(x: Tensor, dinv: Tensor, offsets: Sequence[int]) -> Tensor:
    """``Â x`` for ``x`` of shape (n,) or (n, C) with ``Â = diag(dinv) (I + Σ_d S_d + S_dᵀ) diag(dinv)``."""
    x2 = (x[:, None] if x.dim() == 1 else x).contiguous()
    out = torch.empty_like(x2)
    banded_product_into(x2, dinv.to(x2.dtype), offsets, out)
    return out[:, 0] if x.dim() == 1 else out


class _BandedMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dinv, offsets):
        ctx.offsets = offsets
        ctx.save_for_backward(dinv)
        return banded_product(x, dinv, offsets)

    @staticmethod
    def backward(ctx, grad):
        (dinv,) = ctx.saved_tensors
        return banded_product(grad.contiguous(), dinv, ctx.offsets), None, None  # Âᵀ = Â


class BandedAdjacency:
    """``Â`` of the adelic graph on the contiguous nodes ``first .. first + n − 1`` (see the module docstring).

    ``dinv`` holds ``D^{-1/2}`` per node (float64; cast to the input's dtype and device on use, once).
    Multiply with ``adj @ x`` or :meth:`matmul`; differentiable with the symmetric backward.
    """

    def __init__(self, dinv: Tensor, offsets: Iterable[int], first: int = 0, n_total: int | None = None):
        self.dinv = dinv.to(torch.float64)
        self.offsets = tuple(int(d) for d in offsets)
        self.first = int(first)
        self.n_total = int(n_total) if n_total is not None else self.first + self.num_nodes
        self._cast: dict = {}
        self._edges: tuple[Tensor, Tensor] | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.dinv.numel())

    def _dinv_for(self, x: Tensor) -> Tensor:
        key = (x.dtype, x.device)
        hit = self._cast.get(key)
        if hit is None:
            hit = self.dinv.to(dtype=x.dtype, device=x.device)
            self._cast[key] = hit
        return hit

    def matmul(self, x: Tensor) -> Tensor:
        if x.shape[0] != self.num_nodes:
            raise ValueError(f"BandedAdjacency on {self.num_nodes} nodes applied to {x.shape[0]} rows")
        return _BandedMatmul.apply(x, self._dinv_for(x), self.offsets)

    __matmul__ = matmul

    def to(self, device, **_):
        """Data.to() keeps non-tensor attributes; the cast cache moves on first use."""
        return self

    def edge_list(self) -> tuple[Tensor, Tensor]:
        """(edge_index, edge_weight) of the same operator (both directions and self-loops), for the
        message-passing path; built once and cached."""
        if self._edges is None:  # the adelic graph's own edge list, with these degrees (D = dinv⁻²)
            n = self.num_nodes
            self._edges = gcn_weights(undirected_edges(n, self.offsets), n, self.dinv.pow(-2))
        return self._edges

    def __repr__(self) -> str:
        return (f"BandedAdjacency(nodes {self.first}..{self.first + self.num_nodes - 1} of {self.n_total}, "
                f"offsets {list(self.offsets)})")


def banded_window(n_total: int, primes: Iterable[int], first: int, last: int,
                  norm: str = "global") -> BandedAdjacency:
    """Â on nodes ``first .. last−1`` of the graph on ``n_total`` nodes.

    ``norm="global"``: the whole graph's degrees (equals :func:`zeta_rmt.graph.adelic_window`);
    ``norm="subgraph"``: the window's own degrees (the window as a graph of its own).
    """
    if int(n_total) != n_total or n_total < 2:
        raise GraphConfigError(f"the graph needs at least 2 nodes, got {n_total!r}")
    if not 0 <= first < last <= n_total:
        raise GraphConfigError(f"window [{first}, {last}) is not inside [0, {n_total})")
    offsets = graph_offsets(primes)
    if norm == "global":
        deg = node_degrees(n_total, offsets, torch.arange(first, last, dtype=torch.int64))
    elif norm == "subgraph":
        deg = node_degrees(last - first, offsets, torch.arange(last - first, dtype=torch.int64))
    else:
        raise GraphConfigError(f"norm must be 'global' or 'subgraph', got {norm!r}")
    return BandedAdjacency(deg.rsqrt(), offsets, first=first, n_total=n_total)


def banded_graph(num_nodes: int, primes: Iterable[int]) -> BandedAdjacency:
    """Â of the whole adelic graph on ``num_nodes`` nodes (N floats of storage)."""
    return banded_window(num_nodes, primes, 0, num_nodes)
