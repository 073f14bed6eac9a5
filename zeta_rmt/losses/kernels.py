"""Gaussian kernel sums without materialising the n×m kernel matrix.

    S(x, y) = Σ_i Σ_j k(x_i, y_j),    k(a, b) = exp(−(a − b)² / (2σ²))

The sum and its gradient are computed in one pass over row blocks of ``chunk`` points, so
memory is O(chunk · m) instead of O(n · m) (plain autograd through a chunked sum would keep
every block for the backward pass), and each kernel entry is evaluated once.  Gradients:

    ∂S/∂x_i = Σ_j k(x_i, y_j) · (y_j − x_i) / σ²,     ∂S/∂y_j = Σ_i k(x_i, y_j) · (x_i − y_j) / σ²

For the self-sum S(x, x) both arguments move together: ∂S/∂x_i = 2 Σ_j k_ij (x_j − x_i) / σ².
"""
from __future__ import annotations

import torch
from torch import Tensor


def _block_pass(x: Tensor, y: Tensor, sigma: float, chunk: int, need_gx: bool, need_gy: bool):
    inv = 1.0 / (2.0 * sigma * sigma)
    s2 = sigma * sigma
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    gx = torch.empty_like(x) if need_gx else None
    gy = torch.zeros_like(y) if need_gy else None
    for start in range(0, x.numel(), chunk):
        diff = x[start : start + chunk, None] - y[None, :]  # (b, m): x_i − y_j
        k = torch.exp(-(diff * diff) * inv)
        total += k.sum(dtype=torch.float64)
        if need_gx or need_gy:
            kd = k.mul_(diff)  # k_ij (x_i − y_j), in place: k is not needed any more
            if need_gx:
                gx[start : start + chunk] = kd.sum(dim=1).div_(-s2)
            if need_gy:
                gy += kd.sum(dim=0).div_(s2)
    return total, gx, gy


class _GaussianKernelSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, sigma, chunk, same):
        need_x = x.requires_grad
        need_y = y.requires_grad and not same
        with torch.no_grad():
            total, gx, gy = _block_pass(x, y, sigma, chunk, need_x, need_y)
        if same and gx is not None:
            gx = 2.0 * gx
        ctx.save_for_backward(gx if gx is not None else torch.empty(0), gy if gy is not None else torch.empty(0))
        ctx.has = (gx is not None, gy is not None)
        return total.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        gx, gy = ctx.saved_tensors
        return (
            gx * grad_out if ctx.has[0] else None,
            gy * grad_out if ctx.has[1] else None,
            None,
            None,
            None,
        )


def gaussian_kernel_sum(x: Tensor, y: Tensor | None = None, sigma: float = 1.0, chunk: int = 128) -> Tensor:
    """Σ_ij exp(−(x_i − y_j)²/(2σ²)) for 1-D ``x`` (n,), ``y`` (m,); ``y=None`` means ``y = x``.

    Memory O(chunk · m); the gradient is computed in the same pass (only for inputs that
    require it) and returned by ``backward``.
    """
    same = y is None or y is x
    y = x if y is None else y
    if x.dim() != 1 or y.dim() != 1:
        raise ValueError("gaussian_kernel_sum expects 1-D tensors")
    return _GaussianKernelSum.apply(x, y, float(sigma), int(chunk), same)


def gaussian_kernel_sum_dense(x: Tensor, y: Tensor | None = None, sigma: float = 1.0) -> Tensor:
    """The same sum through the full (n, m) kernel matrix (the groups' form; memory O(n·m))."""
    y = x if y is None else y
    diff = x[:, None] - y[None, :]
    return torch.exp(-(diff * diff) / (2.0 * sigma * sigma)).sum()
