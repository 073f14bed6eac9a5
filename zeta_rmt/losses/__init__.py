"""Loss components (one module each) and their weighted composition."""
from zeta_rmt.losses.base import LossInputs
from zeta_rmt.losses.composite import CompositeLoss, LossConfigError
from zeta_rmt.losses.gue_mmd import GUEMMDLoss
from zeta_rmt.losses.gue_nll import GUENLLLoss, predicted_spacings
from zeta_rmt.losses.mse import MSELoss
from zeta_rmt.losses.rg_penalty import ScaleRGPenalty, SeedRGPenalty, make_rg_penalty

__all__ = [
    "CompositeLoss", "GUEMMDLoss", "GUENLLLoss", "LossConfigError", "LossInputs", "MSELoss",
    "ScaleRGPenalty", "SeedRGPenalty", "make_rg_penalty", "predicted_spacings",
]
