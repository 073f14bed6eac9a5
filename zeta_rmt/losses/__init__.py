"""Loss components (one module each) and their weighted composition."""
from zeta_rmt.losses.base import LossInputs, consecutive_spacings
from zeta_rmt.losses.composite import CompositeLoss, LossConfigError
from zeta_rmt.losses.gue_mmd import GUEMMDLoss
from zeta_rmt.losses.gue_nll import GUENLLLoss
from zeta_rmt.losses.mse import MSELoss
from zeta_rmt.losses.rg_penalty import SeedRGPenalty

__all__ = [
    "CompositeLoss", "GUEMMDLoss", "GUENLLLoss", "LossConfigError", "LossInputs", "MSELoss",
    "SeedRGPenalty", "consecutive_spacings",
]
