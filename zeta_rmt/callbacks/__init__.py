"""Lightning callbacks of the training loop."""
from zeta_rmt.callbacks.metrics_history import MetricsHistory

__all__ = ["MetricsHistory"]
