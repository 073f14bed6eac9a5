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
    ``in_channels=1, hidden_channels=128, mlp_layers=2, gcn_layers=2``.
    """

    def __init__(self, in_channels: int = 1, hidden_channels: int = 128, mlp_layers: int = 2, gcn_layers: int = 2):
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
        self.num_hops = gcn_layers

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        h = self.mlp(x)
        for k, conv in enumerate(self.convs):
            h = conv(h, edge_index, edge_weight)
            if k < len(self.convs) - 1:
                h = h.relu()
        return h.squeeze(-1)
