"""Networks (nn.Modules) and the LightningModule that trains them."""
from zeta_rmt.models.hybrid_gcn import HybridGCN
from zeta_rmt.models.module import NonFiniteLossError, ZetaGNNModule

__all__ = ["HybridGCN", "NonFiniteLossError", "ZetaGNNModule"]
