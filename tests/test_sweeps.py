"""Local sweeps end to end: a Hydra multirun with a failing point, the report built from it, and
Bayesian search with the project's Optuna sweeper (SQLite storage, failures, resumption)."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.network_guard import guarded_command
from zeta_rmt.report.__main__ import main as report_main
from zeta_rmt.report.build import fmt

ROOT = Path(__file__).resolve().parents[1]


def run_train(*args: str, cwd: Path = ROOT, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(guarded_command("zeta_rmt.train", *args), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def tiny_multirun(tmp_path_factory):
    """2 valid loss-weight points x 2 seeds, plus a third point that fails (a negative weight):
    6 runs in one multirun, the failing ones must not stop it."""
    sweep = tmp_path_factory.mktemp("sweeps") / "multirun"
    proc = run_train("-m", "debug=fast", "print_summary=false", "data.num_zeros=300", "trainer.max_epochs=3",
                     "loss.weights.gue_nll=0.01,0.1,-1", "seed=0,1", f"hydra.sweep.dir={sweep}")
    return sweep, proc


def test_multirun_records_every_point_and_failures(tiny_multirun):
    sweep, proc = tiny_multirun
    recs = {int(p.parent.name): json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert sorted(recs) == list(range(6))
    failed = {k for k, r in recs.items() if r["status"] == "failed"}
    assert failed == {4, 5}  # loss.weights.gue_nll=-1 x seeds 0, 1 (the basic sweeper's order)
    for k in failed:
        r = recs[k]
        assert r["error"]["type"] == "ConfigError" and "gue_nll must be finite and >= 0" in r["error"]["message"]
        assert r["regime"] == "full" and r["num_zeros"] == 300 and r["seed"] == k - 4 and r["final"] == {}
    for k in set(recs) - failed:
        r = recs[k]
        assert r["status"] == "completed" and r["epochs"] == 3 and r["num_zeros"] == 300
        assert r["config_hash"] and r["wall_time_s"] > 0 and r["best"]["epoch"] in (0, 1, 2)
        assert {"extrap/mse", "extrap/mae_spacings", "extrap/skill/smooth"} <= set(r["final"])
        history = json.loads((sweep / str(k) / "history.json").read_text())
        assert [row["epoch"] for row in history] == [0, 1, 2]
        assert (sweep / str(k) / "predictions.npz").exists()
    assert len({recs[k]["config_hash"] for k in recs}) == 6  # weight and seed both change the hash
    assert "recorded as failed, the sweep goes on" in proc.stderr


def test_report_numbers_match_the_metrics_files(tiny_multirun, capsys):
    sweep, _ = tiny_multirun
    out = sweep.parent / "report"
    assert report_main([str(sweep), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "6 runs (4 completed, 2 failed or missing)" in printed
    assert "No verdict" in printed  # one regime only
    data = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert data["metric"] == "extrap/mse" and len(data["runs"]) == 6
    by_id = {r["run_id"]: r for r in data["runs"]}
    for k in range(6):
        rec = json.loads((sweep / str(k) / "metrics.json").read_text())
        row = by_id[str(k)]
        assert row["status"] == rec["status"] and row["seed"] == rec["seed"]
        if rec["status"] == "completed":
            assert row["value"] == rec["final"]["extrap/mse"]
            assert row["final"]["extrap/skill/smooth"] == rec["final"]["extrap/skill/smooth"]
            assert row["best"] == rec["best"]["extrap/mse"]
            assert f"| {fmt(rec['final']['extrap/mse'])} |" in md
        else:
            assert row["rank"] is None and "ConfigError" in row["error"]
    # leaderboard: completed runs ranked by the final error, failed runs last, each marked failed
    ranked = [r for r in data["runs"] if r["status"] == "completed"]
    assert [r["value"] for r in ranked] == sorted(r["value"] for r in ranked)
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    assert [r["status"] for r in data["runs"][4:]] == ["failed", "failed"]
    board = md.split("## Leaderboard")[1]
    failed_rows = [ln for ln in board.splitlines() if "| failed |" in ln]
    assert len(failed_rows) == 2 and all("ConfigError: loss.weights.gue_nll" in ln for ln in failed_rows)
    assert all("loss.weights.gue_nll=" in r["config_diff"] for r in data["runs"])
    # per-arm mean over the completed runs
    arm = data["arms"]["full+rg"]
    assert arm["completed"] == 4 and arm["failed"] == 2
    assert arm["metrics"]["extrap/mse"]["mean"] == pytest.approx(sum(r["value"] for r in ranked) / 4)
    for name in ("arms", "spacings", "sensitivity", "curves"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
        assert f"]({name}.png)" in md
    assert html.count('src="data:image/png;base64,') == 4 and 'class="failed"' in html


def _study(db: Path, name: str = "train"):
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}")


def test_optuna_sweeper_sqlite_failures_and_resume(tmp_path):
    """A grid over data.num_zeros {300, 10}: 10 zeros is refused by the data module, so one trial
    fails and the search goes on; the SQLite study is then resumed, re-running a trial left
    RUNNING by an 'interrupted' sweep, and read back by the report."""
    import optuna
    from optuna.trial import TrialState

    conf = tmp_path / "conf" / "hparams_search"
    conf.mkdir(parents=True)
    (conf / "grid_test.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /hydra/sweeper: zeta_optuna\n"
        "hydra:\n  sweeper:\n    study_name: train\n    n_trials: 2\n"
        "    sampler: {_target_: optuna.samplers.GridSampler, search_space: {data.num_zeros: [300, 10]}, seed: 0}\n"
        "    params:\n      data.num_zeros: choice(300, 10)\n")
    db = tmp_path / "studies" / "s.db"
    common = ["-m", "hparams_search=grid_test", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "debug=fast",
              "print_summary=false", "trainer.max_epochs=2", f"hydra.sweeper.storage={db}"]
    run_train(*common, f"hydra.sweep.dir={tmp_path / 'sweep1'}")
    study = _study(db)
    trials = study.get_trials()
    assert len(trials) == 2 and study.user_attrs["optimized_metric"] == "extrap/mse"
    by_n = {t.params["data.num_zeros"]: t for t in trials}
    ok, bad = by_n[300], by_n[10]
    assert ok.state == TrialState.COMPLETE and bad.state == TrialState.FAIL
    rec = json.loads((Path(ok.user_attrs["output_dir"]) / "metrics.json").read_text())
    assert ok.value == rec["final"]["extrap/mse"]
    assert "data.num_zeros must be an integer >= 20" in bad.user_attrs["failure"]
    assert "data.num_zeros=10" in bad.user_attrs["overrides"]
    results = (tmp_path / "sweep1" / "optimization_results.yaml").read_text()
    assert "best_value: " + repr(ok.value) in results or f"best_value: {ok.value}" in results

    # an interrupted sweep leaves a RUNNING trial: the next sweep re-runs it with its parameters
    study.enqueue_trial({"data.num_zeros": 300})
    stale = study.ask()
    assert stale.suggest_categorical("data.num_zeros", [300, 10]) == 300
    run_train(*common, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path / 'sweep2'}")
    study = _study(db)
    trials = study.get_trials()
    assert len(trials) == 3
    again = trials[stale.number]
    assert again.state == TrialState.COMPLETE and again.user_attrs["output_dir"].startswith(str(tmp_path / "sweep2"))
    assert len(study.user_attrs["sweep_dirs"]) == 2

    # the report from the study: every trial, the failed one marked failed
    out = tmp_path / "study_report"
    assert report_main([f"sqlite:///{db}", "--out", str(out)]) == 0
    data = json.loads((out / "report.json").read_text())
    assert sorted(r["run_id"] for r in data["runs"]) == ["trial 0", "trial 1", "trial 2"]
    status = {r["extra"]["trial"]: r["status"] for r in data["runs"]}
    assert status[bad.number] == "failed" and status[ok.number] == "completed"
    assert next(r for r in data["runs"] if r["extra"]["trial"] == ok.number)["value"] == ok.value
    assert (out / "optuna.png").exists()
    assert optuna.__version__.split(".")[0] >= "4"


def test_optuna_search_space_of_the_groups_plan():
    from tests.conftest import CONFIG_DIR
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["hparams_search=optuna"], return_hydra_config=True)
    sw = cfg.hydra.sweeper
    assert sw._target_.endswith("ZetaOptunaSweeper") and sw.direction == "minimize"
    assert cfg.optimized_metric == "extrap/mse" and sw.storage.endswith(".db") and sw.load_if_exists
    assert dict(sw.params) == {
        "loss.weights.gue_nll": "tag(log, interval(1e-3, 1))",
        "loss.weights.gue_mmd": "tag(log, interval(1e-2, 10))",
        "model.optimizer.lr": "choice(5e-4, 1e-3, 5e-5)",
        "data.primes": "choice([2,3,5], [2,3,5,7], [2,3,5,7,11,13], [2,3,5,7,11,13,17,19], [11,13,17,19])",
    }
    assert cfg.model.scheduler._target_ == "torch.optim.lr_scheduler.CosineAnnealingLR"


def test_ab_rg_composes_every_arm_at_the_same_budget():
    from tests.conftest import compose_config

    arms = sorted(p.stem for p in (ROOT / "configs" / "ab_arm").glob("*.yaml"))
    assert {"full_rg", "full_no_rg", "cluster_no_rg"} <= set(arms)
    seen = {}
    for arm in arms:
        cfg = compose_config(["experiment=ab_rg", f"ab_arm={arm}"], output_dir="/tmp/unused")
        seen[arm] = cfg
        # the same budget in optimiser steps for every arm (a cluster epoch is num_parts steps)
        assert cfg.data.num_zeros == 2000 and cfg.trainer.max_steps == 200 and cfg.trainer.max_epochs == -1
        assert cfg.trainer.val_check_interval == 20 and cfg.trainer.check_val_every_n_epoch is None
        assert list(cfg.data.primes) == [2, 3, 5, 7, 11] and cfg.model.optimizer.lr == 0.005
        regime = "cluster" if "Cluster" in cfg.data._target_ else "full"
        assert arm.startswith(regime)
        rg = cfg.loss.weights.rg
        assert (rg > 0) == (arm.endswith("_rg") and "no_rg" not in arm)
        if regime == "cluster":
            assert cfg.data.num_parts == 20
            assert rg == 0 or cfg.loss.components.rg.variant == "scale"  # never the whole-graph seed penalty
    w = {a: {k: v for k, v in c.loss.weights.items() if k != "rg"} for a, c in seen.items()}
    assert all(v == w["full_rg"] for v in w.values())
    # the multirun grid: every arm file x 3 seeds
    with open(ROOT / "configs" / "experiment" / "ab_rg.yaml") as fh:
        text = fh.read()
    assert re.search(r"ab_arm: glob\(\*\)", text) and re.search(r"seed: 0,1,2", text)


def test_search_space_grammar(tmp_path, monkeypatch):
    import optuna
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from hydra_plugins.zeta_rmt_optuna_sweeper.optuna_sweeper import Dimension, storage_url

    parser = OverridesParser.create()

    def dim(text):
        return Dimension.from_override(parser.parse_override(text))

    log_w = dim("loss.weights.gue_nll=tag(log, interval(1e-3, 1))")
    assert log_w.distribution() == FloatDistribution(1e-3, 1.0, log=True)
    assert dim("trainer.max_epochs=int(interval(2, 9))").distribution() == IntDistribution(2, 9)
    assert dim("seed=range(0, 10, 3)").distribution() == IntDistribution(0, 9, step=3)
    lr = dim("model.optimizer.lr=choice(5e-4, 1e-3, 5e-5)")
    assert lr.distribution() == CategoricalDistribution([5e-4, 1e-3, 5e-5])
    primes = dim("data.primes=choice([2,3,5], [11,13,17,19])")
    assert primes.distribution() == CategoricalDistribution(["[2,3,5]", "[11,13,17,19]"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    ov = [d.override(trial) for d in (log_w, lr, primes)]
    assert ov[0].startswith("loss.weights.gue_nll=") and 1e-3 <= float(ov[0].split("=")[1]) <= 1
    assert ov[1] in {"model.optimizer.lr=0.0005", "model.optimizer.lr=0.001", "model.optimizer.lr=5e-05"}
    assert ov[2] in {"data.primes=[2,3,5]", "data.primes=[11,13,17,19]"}
    with pytest.raises(HydraException, match="log interval needs a positive start"):
        dim("x=tag(log, interval(0, 1))")
    with pytest.raises(HydraException, match="only 'log' is understood"):
        dim("x=tag(fancy, interval(1, 2))")
    monkeypatch.chdir(tmp_path)
    assert storage_url("rel/s.db") == f"sqlite:///{tmp_path.resolve()}/rel/s.db" and (tmp_path / "rel").is_dir()
    assert storage_url(None) is None and storage_url("sqlite:///:memory:") == "sqlite:///:memory:"


def test_failure_record_of_a_single_run(make_cfg, tmp_path):
    from zeta_rmt.train import _record_failure
    from zeta_rmt.utils.errors import ConfigError

    cfg = make_cfg("debug=fast", "data=cluster", "loss=rmt_only", "seed=7")
    try:
        raise ConfigError("data.primes: boom")
    except ConfigError as exc:
        _record_failure(cfg, exc, 0.25)
    rec = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert rec["status"] == "failed" and rec["regime"] == "cluster" and rec["seed"] == 7
    assert rec["num_zeros"] == 400 and rec["wall_time_s"] == 0.25 and len(rec["config_hash"]) == 16
    assert rec["error"]["type"] == "ConfigError" and rec["error"]["message"] == "data.primes: boom"
    assert "raise ConfigError" in rec["error"]["traceback"] and rec["final"] == {} and rec["best"] is None
