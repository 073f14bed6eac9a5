"""The groups' hybrid network: a per-node MLP followed by graph convolutions."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch.utils.checkpoint import checkpoint

from zeta_rmt.graph.banded import BandedAdjacency
from zeta_rmt.graph.sparse import SparseAdjacency
from zeta_rmt.models.fused import FusedBandedEngine
from zeta_rmt.models.kernels import Float64Linear

CONVS = ("banded", "pyg")
HEAD_DTYPES = ("float32", "float64")

class GraphConv(nn.Module):
    r"""``Â (h Θ) + b`` with ``Â`` any operator with ``@`` (a :class:`~zeta_rmt.graph.banded.BandedAdjacency`
    or :class:`~zeta_rmt.graph.sparse.SparseAdjacency`): the same layer as PyG's
    ``GCNConv(normalize=False)`` (parameters named alike: ``lin.weight``, ``bias``), without per-edge
    messages.  ``dtype=torch.float64`` keeps Θ, b and the output in float64 (the float64 head);
    ``bias=False``: ``Â (h Θ)`` (``self.bias`` is None, as in PyG).
    """

    def __init__(self, in_channels: int, out_channels: int, dtype: torch.dtype = torch.float32, bias: bool = True):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False, dtype=dtype)
        self.bias = nn.Parameter(torch.zeros(out_channels, dtype=dtype)) if bias else None
        self.float64 = dtype == torch.float64
        nn.init.xavier_uniform_(self.lin.weight)  # GCNConv's default initialisation

    def forward(self, h: Tensor, adj) -> Tensor:
        if self.float64:
            with torch.autocast(device_type=h.device.type, enabled=False):
                return self._add_bias(adj @ Float64Linear.apply(h, self.lin.weight))
        return self._add_bias(adj @ self.lin(h))

    def _add_bias(self, out: Tensor) -> Tensor:
        return out if self.bias is None else out + self.bias


class HybridGCN(nn.Module):
    r"""MLP encoder then GCN layers, one scalar output per node.

        h⁰ = ReLU(W_L … ReLU(W_1 x))                      (``mlp_layers`` linear layers)
        hᵏ = ReLU(Â hᵏ⁻¹ Θ_k + b_k),   k = 1 … K−1
        ŷ  = Â h^{K−1} Θ_K + b_K                           (``gcn_layers`` = K, last has 1 output)

    ``Â`` is the GCN-normalised adjacency with self-loops.  The groups' network is
    ``in_channels=1, hidden_channels=128, mlp_layers=2, gcn_layers=2, skip=False``; ``bias=False`` drops
    the graph layers' b_k (the groups' full-graph script: ``Â X W``, 33,280 parameters instead of 33,409;
    their cluster script's ``GCNConv`` keeps them).

    ``conv`` chooses how ``Â`` is applied (same maths, same parameters):

    * ``banded`` (default): the batch's ``adj`` operator — on the full graph a
      :class:`~zeta_rmt.graph.banded.BandedAdjacency` (Â·X as shifted copies of X, O(N·C), symmetric
      backward), otherwise a CSR product built from (``edge_index``, ``edge_weight``);
    * ``pyg``: PyG ``GCNConv(normalize=False)`` message passing on (``edge_index``, ``edge_weight``)
      (one (E, C) message tensor per layer; 15 GB at N = 2·10⁶, C = 128).

    ``head_dtype="float64"`` (default) computes the last layer (Θ_K, b_K, the output) in float64
    from float32 features: float32 outputs near γ ≈ 1.1·10⁶ are multiples of 0.125, a quarter of a
    mean spacing there, which turns raw-target spacing losses into quantisation noise.
    ``fused=True`` (default) runs the banded network on a :class:`BandedAdjacency` as one autograd node
    over buffers reused across steps (:mod:`zeta_rmt.models.fused`); it is skipped under autocast.
    ``checkpoint=True`` recomputes the MLP activations in the backward instead of storing them
    (activation checkpointing: saves ``mlp_layers`` (N, hidden) tensors for one more MLP pass).

    ``skip=True`` adds a per-node linear read-out of the MLP features that bypasses the graph:

        ŷ = Â h^{K−1} Θ_K + b_K + h⁰ w_skip

    Each GCN layer replaces a node's features by a weighted mean over ~2·(1+#primes) neighbours,
    which averages away any per-node signal (such as the prime-sum features that locate a zero
    to a fraction of a spacing); the skip path lets the node's own features reach the output.
    """

    def __init__(self, in_channels: int = 1, hidden_channels: int = 128, mlp_layers: int = 2, gcn_layers: int = 2,
                 skip: bool = False, conv: str = "banded", head_dtype: str = "float64", checkpoint: bool = False,
                 fused: bool = True, bias: bool = True):
        super().__init__()
        for key, value, low in (("in_channels", in_channels, 1), ("hidden_channels", hidden_channels, 1),
                                ("mlp_layers", mlp_layers, 1), ("gcn_layers", gcn_layers, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"model.net.{key} must be an integer >= {low}, got {value!r}")
        if conv not in CONVS:
            raise ValueError(f"model.net.conv must be one of {CONVS}, got {conv!r}")
        if head_dtype not in HEAD_DTYPES:
            raise ValueError(f"model.net.head_dtype must be one of {HEAD_DTYPES}, got {head_dtype!r}")
        for key, value in (("skip", skip), ("checkpoint", checkpoint), ("fused", fused), ("bias", bias)):
            if not isinstance(value, bool):
                raise ValueError(f"model.net.{key} must be true or false, got {value!r}")
        layers: list[nn.Module] = []
        width = in_channels
        for _ in range(mlp_layers):
            layers += [nn.Linear(width, hidden_channels), nn.ReLU()]
            width = hidden_channels
        self.mlp = nn.Sequential(*layers)
        self.conv = conv
        self.head_dtype = head_dtype
        self.checkpoint = checkpoint
        self.fused = fused
        self._engine: FusedBandedEngine | None = None
        head = torch.float64 if head_dtype == "float64" else torch.float32
        last = gcn_layers - 1
        if conv == "pyg":
            self.convs = nn.ModuleList(
                GCNConv(hidden_channels, hidden_channels if k < last else 1, normalize=False, bias=bias)
                for k in range(gcn_layers))
            if head == torch.float64:
                self.convs[last].double()
        else:
            self.convs = nn.ModuleList(
                GraphConv(hidden_channels, hidden_channels if k < last else 1, dtype=head if k == last else torch.float32,
                          bias=bias)
                for k in range(gcn_layers))
        self.skip = nn.Linear(hidden_channels, 1, bias=False, dtype=head) if skip else None
        self.num_hops = gcn_layers

    def _encode(self, x: Tensor) -> Tensor:
        if self.checkpoint and torch.is_grad_enabled():
            return checkpoint(self.mlp, x, use_reentrant=False)
        return self.mlp(x)

    def _use_fused(self, x: Tensor, adj) -> bool:
        return (self.conv == "banded" and self.fused and not self.checkpoint and isinstance(adj, BandedAdjacency)
                and x.dtype == torch.float32 and not torch.is_autocast_enabled(x.device.type))

    def forward(self, x: Tensor, edge_index: Optional[Tensor] = None, edge_weight: Optional[Tensor] = None,
                adj=None) -> Tensor:
        if self._use_fused(x, adj):
            if self._engine is None or self._engine._net() is not self:
                self._engine = FusedBandedEngine(self)
            return self._engine(x, adj)
        h = self._encode(x)
        h0 = h
        last = len(self.convs) - 1
        if self.conv == "pyg":
            if edge_index is None and adj is not None:
                edge_index, edge_weight = adj.edge_list()
            edge_index, edge_weight = edge_index.to(x.device), edge_weight.to(x.device)
            for k, conv in enumerate(self.convs):
                h = conv(h.double() if k == last and self.head_dtype == "float64" else h, edge_index, edge_weight)
                if k < last:
                    h = h.relu()
        else:
            if adj is None:
                if edge_index is None:
                    raise ValueError("HybridGCN needs the batch graph: adj or (edge_index, edge_weight)")
                adj = SparseAdjacency(edge_index, edge_weight, x.shape[0])
            for k, conv in enumerate(self.convs):
                h = conv(h, adj)
                if k < last:
                    h = h.relu()
        if self.skip is not None:
            h = h + (Float64Linear.apply(h0, self.skip.weight) if self.head_dtype == "float64" else self.skip(h0))
        return h.squeeze(-1)
