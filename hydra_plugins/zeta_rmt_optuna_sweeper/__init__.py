"""Hydra sweeper plugin ``hydra/sweeper=zeta_optuna``: Bayesian search with current Optuna (>= 4).

Used through ``hparams_search=optuna`` (configs/hparams_search/optuna.yaml); see
:mod:`.optuna_sweeper` and docs/sweeps_and_report.md."""
