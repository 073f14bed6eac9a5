"""The report from synthetic run folders (known numbers, both regimes, failed and unfinished runs)
and from a Vertex AI experiment on the fake Vertex server."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.fixtures.fake_vertex import fake_vertex  # noqa: F401  (the fixture)
from zeta_rmt.baselines.smooth import smooth_zeros
from zeta_rmt.report.__main__ import main as report_main
from zeta_rmt.report.build import build_report, fmt
from zeta_rmt.report.collect import ReportInputError, collect
from zeta_rmt.report.vertex import load_vertex_runs, parse_vertex_url, run_from_row

TARGETS = {"full": "zeta_rmt.data.FullGraphDataModule", "cluster": "zeta_rmt.data.ClusterDataModule"}


def make_run(d: Path, *, regime: str, rg: float, seed: int, mse: float | None, status: str = "completed",
             gue_nll: float = 0.02, history: bool = True, predictions: bool = True) -> Path:
    """A run folder as `python -m zeta_rmt.train` leaves it."""
    (d / ".hydra").mkdir(parents=True)
    cfg = {"seed": seed, "optimized_metric": "extrap/mse", "paths": {"output_dir": str(d)},
           "data": {"_target_": TARGETS[regime], "num_zeros": 500, "primes": [2, 3, 5]},
           "loss": {"weights": {"mse": 1.0, "rg": rg, "gue_nll": gue_nll, "gue_mmd": 0.05}},
           "trainer": {"max_epochs": 4}}
    (d / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    choices = {"data": regime, "loss": "full" if rg else "rmt_only", "hydra/sweeper": "basic"}
    (d / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}))
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={seed}"]))
    if status == "missing":
        return d
    rec = {"status": status, "regime": regime, "num_zeros": 500, "seed": seed, "config_hash": f"h{seed}{regime}",
           "wall_time_s": 1.5 + seed, "epochs": 4 if status == "completed" else None,
           "optimized_metric": "extrap/mse", "final": {}, "best": None, "data": {}}
    if status == "completed":
        rec["final"] = {"extrap/mse": mse, "extrap/mae_spacings": mse / 10, "extrap/skill/smooth": 1 - mse,
                        "train/loss": 2 * mse}
        if rg:
            rec["final"]["train/rg"] = 0.5
        rec["best"] = {"epoch": 2, "extrap/mse": mse * 0.9}
    else:
        rec["error"] = {"type": "NonFiniteLossError", "message": "train loss is nan at epoch 1", "traceback": "..."}
    (d / "metrics.json").write_text(json.dumps(rec))
    if history and status == "completed":
        rows = [{"epoch": e, "train/loss": 10.0 / (e + 1), "extrap/mse": mse * (2 - e / 4)} for e in range(4)]
        (d / "history.json").write_text(json.dumps(rows))
    if predictions and status == "completed":
        idx = np.arange(450, 520)
        true = smooth_zeros(idx + 1)
        pred = true + np.random.default_rng(seed).normal(0, 0.05, idx.size)
        np.savez(d / "predictions.npz", index=idx, pred=pred, true=true, num_train=450, num_zeros=500, window=20)
    return d


@pytest.fixture
def ab_sweep(tmp_path):
    root = tmp_path / "multirun"
    errs = {"full": [1.0, 1.2, 0.9, 1.1], "cluster": [5.0, 5.5, 4.6, 5.2]}
    k = 0
    for regime, values in errs.items():
        for seed, v in enumerate(values):
            make_run(root / str(k), regime=regime, rg=0.1 if regime == "full" else 0.0, seed=seed, mse=v)
            k += 1
    make_run(root / str(k), regime="cluster", rg=0.0, seed=4, mse=None, status="failed")
    make_run(root / str(k + 1), regime="full", rg=0.1, seed=4, mse=None, status="missing")
    return root, errs


def test_report_verdict_tables_and_plots(ab_sweep, capsys):
    root, errs = ab_sweep
    assert report_main([str(root)]) == 0
    printed = capsys.readouterr().out
    out = root / "report"
    data = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    v = data["verdict"]
    assert v["scenario"] == "B" and v["arm_a"] == "full+rg" and v["arm_b"] == "cluster"
    assert v["test"]["mean_a"] == pytest.approx(np.mean(errs["full"]))
    assert v["test"]["mean_b"] == pytest.approx(np.mean(errs["cluster"]))
    assert v["test"]["n_a"] == 4 and v["test"]["n_b"] == 4  # the failed and the missing run are not counted
    assert f"**{v['sentence']}**" in md and v["sentence"] in printed
    assert "Welch's two-sided t-test" in v["sentence"] and "p = " in v["sentence"]
    assert "(N = 500, 4 epochs)" in v["sentence"]
    assert any("4 epochs = 4 optimiser steps on the whole graph" in c for c in data["caveats"])
    assert any(c.startswith("no arm beats the smooth baseline") for c in data["caveats"])  # skill = 1 - mse < 0
    assert "Caveat: no arm beats the smooth baseline" in md
    # leaderboard: 8 completed runs in order, then the failed and the unfinished one
    statuses = [r["status"] for r in data["runs"]]
    assert statuses[:8] == ["completed"] * 8 and sorted(statuses[8:]) == ["failed", "missing"]
    assert [r["value"] for r in data["runs"][:8]] == sorted(errs["full"] + errs["cluster"])
    failed = next(r for r in data["runs"] if r["status"] == "failed")
    assert failed["error"] == "NonFiniteLossError: train loss is nan at epoch 1" and failed["arm"] == "cluster"
    missing = next(r for r in data["runs"] if r["status"] == "missing")
    assert "did not finish" in missing["error"] and missing["arm"] == "full+rg" and missing["seed"] == 4
    assert "| failed | cluster |" in md and "| missing | full+rg |" in md
    # per-arm table: mean ± CI half-width
    arm = data["arms"]["cluster"]["metrics"]["extrap/mse"]
    assert arm["mean"] == pytest.approx(np.mean(errs["cluster"])) and arm["n"] == 4
    assert f"{fmt(arm['mean'], 4)} ± {fmt((arm['ci_high'] - arm['ci_low']) / 2, 2)}" in md
    assert data["arms"]["cluster"]["failed"] == 1 and data["arms"]["full+rg"]["failed"] == 1
    # config diff: the group choices that differ (and the keys), not the seed
    row = next(r for r in data["runs"] if r["run_id"] == "0")
    assert "data=full" in row["config_diff"] and "loss.weights.rg=0.1" in row["config_diff"]
    assert "seed" not in row["config_diff"]
    for name in ("arms", "spacings", "curves"):
        assert (out / f"{name}.png").exists()
    assert "sensitivity" not in data["plots"]  # nothing varies inside an arm
    assert data["spacings"]["full+rg"]["runs"] == 4 and 0 <= data["spacings"]["full+rg"]["ks_gaudin"] <= 1
    html = (out / "report.html").read_text()
    assert "<img" in html and 'src="arms.png"' not in html  # self-contained


def test_sensitivity_plot_for_a_weight_sweep(tmp_path):
    root = tmp_path / "sweep"
    k = 0
    for w in (0.001, 0.01, 0.1):
        for seed in (0, 1):
            make_run(root / str(k), regime="full", rg=0.1, seed=seed, mse=1 + w * 10 + seed * 0.01, gue_nll=w)
            k += 1
    rep = build_report([root], tmp_path / "rep")
    assert "sensitivity" in rep.plots and rep.verdict is None
    md = rep.markdown.read_text()
    assert "No verdict" in md and "loss.weights.gue_nll=0.001" in md


def test_bad_sources_give_clear_errors(tmp_path, capsys):
    with pytest.raises(ReportInputError, match="no such file or directory"):
        collect([str(tmp_path / "nope")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportInputError, match="no runs below it"):
        collect([str(tmp_path / "empty")])
    assert report_main([str(tmp_path / "empty")]) == 2
    assert "zeta_rmt.report: error:" in capsys.readouterr().err
    with pytest.raises(ReportInputError, match="vertex://PROJECT/LOCATION/EXPERIMENT"):
        parse_vertex_url("vertex://p/e")
    (tmp_path / "x.db").write_text("not sqlite")
    with pytest.raises(ReportInputError, match="not an Optuna storage"):
        collect([str(tmp_path / "x.db")])


def test_vertex_rows_are_mapped_like_run_folders():
    row = {"run_name": "r1", "state": "COMPLETE", "param.seed": 2.0, "param.data.num_zeros": 400.0,
           "param.data._target_": TARGETS["cluster"], "param.loss.weights.rg": 0.0, "param.print_summary": "false",
           "metric.extrap/mse": 3.5, "metric.extrap/mae": float("nan")}
    run = run_from_row(row, "e")
    assert run.status == "completed" and run.regime == "cluster" and run.seed == 2 and run.num_zeros == 400
    assert run.final == {"extrap/mse": 3.5} and run.arm == "cluster" and run.config["print_summary"] is False
    failed = run_from_row({**row, "state": "FAILED"}, "e")
    assert failed.status == "failed" and "FAILED" in failed.error
    runs = load_vertex_runs("vertex://p/l/e", rows=[row, {**row, "run_name": "r2", "state": "RUNNING"}])
    assert [r.status for r in runs] == ["completed", "missing"]


def test_report_from_a_vertex_experiment_on_the_fake_server(fake_vertex, make_cfg, tmp_path):  # noqa: F811
    """Runs logged by the project's Vertex logger to the fake Vertex AI, read back through the
    SDK's experiment dataframe (aiplatform.get_experiment_df)."""
    from tests.conftest import compose_config
    from zeta_rmt.loggers.vertex import logger as vertex_logger
    from zeta_rmt.models import NonFiniteLossError
    from zeta_rmt.train import train

    common = ["logger=vertex", "debug=fast", "trainer.max_epochs=2", "print_summary=false",
              "logger.project=p", "logger.location=europe-west4", "logger.experiment=e",
              f"logger.api_endpoint={fake_vertex.endpoint}", "logger.flush_interval=0.2",
              "logger.request_timeout=2"]
    arms = {"full": ["seed=0"], "cluster": ["seed=1", "data=cluster", "loss=rmt_only", "data.num_parts=4",
                                              "data.partitioner=contiguous"]}
    results = {}
    try:
        for name, extra in arms.items():
            results[name] = train(compose_config(common + extra, output_dir=tmp_path / name))
        with pytest.raises(NonFiniteLossError):
            train(compose_config(common + ["seed=2", "+loss.components.bad._target_=tests.fixtures.nan_loss.NaNAfterLoss",
                                           "+loss.components.bad.after=1", "+loss.weights.bad=1.0"],
                                 output_dir=tmp_path / "nan"))
    finally:
        for lg in list(vertex_logger._LIVE):
            lg.close(timeout=5.0)

    url = "vertex://p/europe-west4/e"
    opts = {"api_endpoint": fake_vertex.endpoint}
    rep = build_report([url], tmp_path / "rep", vertex_options=opts)
    by_seed = {r.seed: r for r in rep.runs}
    assert sorted(by_seed) == [0, 1, 2]
    assert by_seed[2].status == "failed"
    for seed, name in ((0, "full"), (1, "cluster")):
        r = by_seed[seed]
        assert r.status == "completed" and r.regime == name
        assert r.final["extrap/mse"] == results[name]["final"]["extrap/mse"]  # from the local run folder
        assert r.history  # ... which also gives the training curves
    assert rep.verdict and rep.verdict.startswith("Inconclusive")  # one seed per regime
    assert "at least 2 completed seeds" in rep.verdict

    # without the local run folders, the numbers come from Vertex AI's summary metrics
    for name in ("full", "cluster", "nan"):
        shutil.rmtree(tmp_path / name)
    runs = load_vertex_runs(url, **opts)
    by_seed = {r.seed: r for r in runs}
    for seed, name in ((0, "full"), (1, "cluster")):
        r = by_seed[seed]
        assert r.status == "completed" and r.regime == name and not r.history
        assert r.final["extrap/mse"] == pytest.approx(results[name]["final"]["extrap/mse"], rel=1e-6)
    assert by_seed[2].status == "failed" and by_seed[2].arm == "full+rg"
    with pytest.raises(ReportInputError, match="cannot read the experiment"):
        load_vertex_runs("vertex://p/europe-west4/no-such-experiment", **opts)
