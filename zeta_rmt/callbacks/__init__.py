"""Lightning callbacks of the training loop."""
from zeta_rmt.callbacks.metrics_history import MetricsHistory
from zeta_rmt.callbacks.predictions_dump import PredictionsDump
from zeta_rmt.callbacks.spacing_plot import SpacingDensityPlot

__all__ = ["MetricsHistory", "PredictionsDump", "SpacingDensityPlot"]
