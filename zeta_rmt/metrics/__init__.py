"""Metrics used by the training module: extrapolation error, skill, spacing statistics."""
from zeta_rmt.metrics.extrapolation import extrapolation_errors, skill
from zeta_rmt.metrics.spectral import compare_spacings, local_spacings, reference_statistics, spacing_statistics

__all__ = ["compare_spacings", "extrapolation_errors", "local_spacings", "reference_statistics", "skill", "spacing_statistics"]
