"""Reports over many runs: ``python -m zeta_rmt.report PATH...`` (docs/sweeps_and_report.md).

* :mod:`.records`  what a run leaves in its folder (``metrics.json``, ``history.json``,
  ``predictions.npz``) and the record of a failed run -- imported by the training entry point,
  so it stays free of heavy imports;
* :mod:`.collect`  runs from multirun/sweep/run folders and Optuna studies; :mod:`.vertex` from a
  Vertex AI experiment;
* :mod:`.stats`    mean +- CI, Welch's t-test, bootstrap, sample size, the Scenario A/B verdict;
* :mod:`.plots`, :mod:`.render`, :mod:`.build`  the PNGs, report.md / report.html / report.json.
"""
