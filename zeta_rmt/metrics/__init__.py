"""Metrics used by the training module: extrapolation error, skill."""
from zeta_rmt.metrics.extrapolation import extrapolation_errors, skill

__all__ = ["extrapolation_errors", "skill"]
