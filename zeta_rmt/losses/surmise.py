"""The Wigner surmise (β = 2) as the GUE losses use it.

    p_W(s) = (32 / π²) s² exp(−4 s² / π),   s ≥ 0,  ∫ p_W = 1,  E[s] = 1

The density is :func:`zeta_rmt.rmt.surmise.wigner_pdf_torch`; the groups drew their MMD reference
samples by rejection sampling on [0, 3], i.e. from p_W truncated at 3 (a mass of ~1e-5 dropped).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from zeta_rmt.rmt.surmise import sample_wigner_torch, wigner_pdf_torch

wigner_surmise_pdf = wigner_pdf_torch


def sample_wigner_surmise(
    n: int,
    *,
    upper: float = 3.0,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> Tensor:
    """``n`` draws from p_W truncated to ``[0, upper]`` (vectorised, no per-sample loop).

    Exact draws s = sqrt(π/8)·|g|, g ~ N(0, I₃), with the rare ones above ``upper`` drawn again:
    the same law as the groups' rejection sampler on [0, upper].
    """
    if n <= 0:
        return torch.zeros(0, dtype=dtype, device=device)
    out, have = [], 0
    while have < n:
        s = sample_wigner_torch(n - have + 16, generator=generator, dtype=torch.float64, device=device)
        s = s[s <= upper]
        out.append(s)
        have += s.numel()
    return torch.cat(out)[:n].to(dtype)
