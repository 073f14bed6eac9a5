"""Functions for ``hydra.sweeper.custom_search_space``: ``fn(cfg, trial)`` suggests parameters
with ``trial.suggest_*`` after the regular ones (``hydra.sweeper.params``); each becomes a
``key=value`` override of that trial (a string value is override text, so ``"[0.1,0.3,1.0]"``
is a list). ``cfg`` is the sweep's config; the trial's own choices are in ``trial.params``."""
from omegaconf import OmegaConf

MMD_SAMPLES = "loss.components.gue_mmd.samples"
MMD_SIGMA = "loss.components.gue_mmd.sigma"
#: bandwidths of the GUE-MMD kernel tried with samples=gue: one scale, or a multi-scale list
MMD_SIGMAS = ("1.0", "[0.3,1.0,3.0]", "[0.1,0.3,1.0]")


def mmd_sigma_when_gue(cfg, trial) -> None:
    """A conditional parameter: the MMD σ (a bandwidth or a list of them) is searched only in
    trials whose GUE-MMD term draws tridiagonal GUE spectra (``samples=gue``, searched, e.g.
    ``loss.components.gue_mmd.samples: choice(surmise, gue)``, or fixed in the config)."""
    samples = trial.params.get(MMD_SAMPLES, OmegaConf.select(cfg, MMD_SAMPLES))
    if samples == "gue":
        trial.suggest_categorical(MMD_SIGMA, list(MMD_SIGMAS))
