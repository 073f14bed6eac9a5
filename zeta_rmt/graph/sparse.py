r"""A symmetric normalised adjacency given as an edge list, multiplied through torch's CSR kernels.

For any batch graph that is not a contiguous range (a Cluster-GCN batch of several blocks, a METIS
part) ``Â`` comes as (``edge_index``, ``edge_weight``) with both directions and self-loops.  ``Â x``
is then one CSR sparse × dense product (no (E, C) message tensor), and, ``Â`` being symmetric, its
backward is ``Â g``.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor


class _SymmetricSpmm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, csr):
        ctx.csr = csr
        return csr @ x

    @staticmethod
    def backward(ctx, grad):
        return ctx.csr @ grad.contiguous(), None


class SparseAdjacency:
    """``Â`` (n × n) from ``edge_index`` (2, E) and ``edge_weight`` (E,); ``out_i = Σ_{(j→i)} w · x_j``.

    The edge list must be symmetric (``(i, j, w)`` present with ``(j, i, w)``), as every GCN-normalised
    graph of this project is: the backward uses ``Âᵀ = Â``.
    """

    def __init__(self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int):
        self.edge_index = edge_index
        self.edge_weight = edge_weight
        self.num_nodes = int(num_nodes)
        self._csr: dict = {}

    def _csr_for(self, x: Tensor) -> Tensor:
        key = (x.dtype, x.device)
        hit = self._csr.get(key)
        if hit is None:
            dst, src = self.edge_index[1], self.edge_index[0]
            order = torch.argsort(dst * self.num_nodes + src)
            crow = torch.zeros(self.num_nodes + 1, dtype=torch.int64)
            crow[1:] = torch.cumsum(torch.bincount(dst.cpu(), minlength=self.num_nodes), 0)
            with warnings.catch_warnings():  # "CSR support is in beta": the product used here is stable
                warnings.simplefilter("ignore", UserWarning)
                # the indices are built sorted and in range just above: no invariant check needed
                hit = torch.sparse_csr_tensor(crow.to(x.device), src[order].to(x.device),
                                              self.edge_weight[order].to(dtype=x.dtype, device=x.device),
                                              size=(self.num_nodes, self.num_nodes), check_invariants=False)
            self._csr[key] = hit
        return hit

    def matmul(self, x: Tensor) -> Tensor:
        if x.shape[0] != self.num_nodes:
            raise ValueError(f"SparseAdjacency on {self.num_nodes} nodes applied to {x.shape[0]} rows")
        squeeze = x.dim() == 1
        out = _SymmetricSpmm.apply(x[:, None] if squeeze else x, self._csr_for(x))
        return out[:, 0] if squeeze else out

    __matmul__ = matmul

    def edge_list(self) -> tuple[Tensor, Tensor]:
        return self.edge_index, self.edge_weight
