"""The groups' hybrid network: a per-node MLP followed by graph convolutions."""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import GCNConv


class HybridGCN(nn.Module):
    r"""MLP encoder then GCN layers, one scalar output per node.

        h⁰ = ReLU(W_L … ReLU(W_1 x))                      (``mlp_layers`` linear layers)
        hᵏ = ReLU(Â hᵏ⁻¹ Θ_k + b_k),   k = 1 … K−1
        ŷ  = Â h^{K−1} Θ_K + b_K                           (``gcn_layers`` = K, last has 1 output)

    ``Â`` is supplied as (``edge_index``, ``edge_weight``) already GCN-normalised (self-loops
    included), so the convolutions use ``normalize=False``.  The groups' network is
    ``in_channels=1, hidden_channels=128, mlp_layers=2, gcn_layers=2, skip=False``.

    ``skip=True`` adds a per-node linear read-out of the MLP features that bypasses the graph:

        ŷ = Â h^{K−1} Θ_K + b_K + h⁰ w_skip

    Each GCN layer replaces a node's features by a weighted mean over ~2·(1+#primes) neighbours,
    which averages away any per-node signal (such as the prime-sum features that locate a zero
    to a fraction of a spacing); the skip path lets the node's own features reach the output.
    """

    def __init__(self, in_channels: int = 1, hidden_channels: int = 128, mlp_layers: int = 2, gcn_layers: int = 2,
                 skip: bool = False):
        super().__init__()
        for key, value, low in (("in_channels", in_channels, 1), ("hidden_channels", hidden_channels, 1),
                                ("mlp_layers", mlp_layers, 1), ("gcn_layers", gcn_layers, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"model.net.{key} must be an integer >= {low}, got {value!r}")
        layers: list[nn.Module] = []
        width = in_channels
        for _ in range(mlp_layers):
            layers += [nn.Linear(width, hidden_channels), nn.ReLU()]
            width = hidden_channels
        self.mlp = nn.Sequential(*layers)
        self.convs = nn.ModuleList(
            GCNConv(hidden_channels, hidden_channels if k < gcn_layers - 1 else 1, normalize=False)
            for k in range(gcn_layers)
        )
        if not isinstance(skip, bool):
            raise ValueError(f"model.net.skip must be true or false, got {skip!r}")
        self.skip = nn.Linear(hidden_channels, 1, bias=False) if skip else None
        self.num_hops = gcn_layers

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        h = self.mlp(x)
        h0 = h
        for k, conv in enumerate(self.convs):
            h = conv(h, edge_index, edge_weight)
            if k < len(self.convs) - 1:
                h = h.relu()
        if self.skip is not None:
            h = h + self.skip(h0)
        return h.squeeze(-1)
