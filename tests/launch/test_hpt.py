"""The training side of a Vizier trial: ``--<parameter>=<value>`` flags become overrides, the metric
is reported in the cloudml-hypertune file format, outputs go to Vertex AI's trial directory."""
from __future__ import annotations

import json
import math
import runpy
import sys

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from zeta_rmt.launch.hpt import report_metric, translate_trial_argv
from zeta_rmt.launch.runtime import vertex_output_dir
from zeta_rmt.utils.errors import ConfigError


def test_trial_flags_become_overrides():
    argv = ["train.py", "experiment=team1_fullbatch", "hparams_search=vizier", "--gue_nll=0.0123",
            "--primes=p2_3_5_7", "--lr", "0.001", "--gue_mmd=5"]
    assert translate_trial_argv(argv) == [
        "train.py", "experiment=team1_fullbatch", "hparams_search=vizier", "loss.weights.gue_nll=0.0123",
        "data.primes=[2,3,5,7]", "model.optimizer.lr=0.001", "loss.weights.gue_mmd=5"]
    untouched = ["train.py", "-m", "--cfg", "job", "data=cluster", "--multirun"]
    assert translate_trial_argv(untouched) == untouched


def test_trial_flag_errors_name_the_choices():
    with pytest.raises(ConfigError, match=r"--depth=3: not a parameter.*gue_nll, gue_mmd, lr, primes"):
        translate_trial_argv(["t", "--depth=3"])
    with pytest.raises(ConfigError, match=r"--primes=p2: not a category.*p2_3_5, p2_3_5_7"):
        translate_trial_argv(["t", "--primes=p2"])
    with pytest.raises(ConfigError, match=r"configs/hparams_search/nope.yaml"):
        translate_trial_argv(["t", "hparams_search=nope", "--lr=1"])


def test_metric_report_format(monkeypatch, tmp_path, make_cfg):
    path = tmp_path / "hp" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(path))
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    cfg = make_cfg("hparams_search=vizier")
    result = {"epochs": 10, "final": {"extrap/mse": 2.5}, "best": {"epoch": 3, "extrap/mse": 1.25}}
    assert report_metric(cfg, result) == path
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    # exactly the keys cloudml-hypertune writes, values as strings, chronological; the last is the final value
    assert [sorted(e) for e in lines] == [["checkpoint_path", "extrap_mse", "global_step", "timestamp", "trial"]] * 2
    assert [(e["global_step"], e["extrap_mse"], e["trial"]) for e in lines] == [("4", "1.25", "7"), ("10", "2.5", "7")]
    assert path.read_text().splitlines()[0] == json.dumps(lines[0], sort_keys=True)
    # a non-finite metric is not reported (the trial has no measurement rather than a bogus one)
    path.unlink()
    assert report_metric(cfg, {"epochs": 2, "final": {"extrap/mse": math.nan}, "best": None}) is None
    assert not path.exists()


def test_no_report_outside_a_trial(monkeypatch, tmp_path, make_cfg):
    monkeypatch.delenv("CLOUD_ML_HP_METRIC_FILE", raising=False)
    monkeypatch.delenv("CLOUD_ML_TRIAL_ID", raising=False)
    assert report_metric(make_cfg(), {"epochs": 1, "final": {"extrap/mse": 1.0}}) is None


def test_vertex_output_dir_from_aip_model_dir(monkeypatch):
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://b/runs/team1/job1/7/model/")
    assert vertex_output_dir() == "gs://b/runs/team1/job1/7"
    monkeypatch.delenv("AIP_MODEL_DIR")
    assert vertex_output_dir("fallback") == "fallback"
    with pytest.raises(ConfigError, match="needs AIP_MODEL_DIR"):
        vertex_output_dir()


def test_a_trial_end_to_end(monkeypatch, tmp_path):
    """``python -m zeta_rmt.train <job args> --gue_nll=0.5 --primes=p2_3_5 --lr 0.001`` as Vertex AI starts
    trial 7: outputs in <base>/7 (AIP_MODEL_DIR's parent), the overrides applied, the metric reported."""
    base = tmp_path / "hpjob"
    monkeypatch.setenv("AIP_MODEL_DIR", f"{base}/7/model/")
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(tmp_path / "hp" / "output.metrics"))
    monkeypatch.setattr(sys, "argv", [
        "zeta_rmt/train.py", "debug=fast", "trainer.max_epochs=2", "print_summary=false", "hparams_search=vizier",
        "paths.output_dir=${vertex_output_dir:}", f"hydra.run.dir={tmp_path / 'hydra'}",
        "--gue_nll=0.5", "--primes=p2_3_5", "--lr", "0.001"])
    GlobalHydra.instance().clear()
    try:
        runpy.run_module("zeta_rmt.train", run_name="__main__", alter_sys=True)
    finally:
        GlobalHydra.instance().clear()
    result = json.loads((base / "7" / "metrics.json").read_text())
    assert result["data"]["primes"] == [2, 3, 5] and result["epochs"] == 2
    assert (base / "7" / "checkpoints" / "last.ckpt").exists()  # = AIP_CHECKPOINT_DIR
    cfg = OmegaConf.load(tmp_path / "hydra" / ".hydra" / "config.yaml")
    assert cfg.loss.weights.gue_nll == 0.5 and cfg.model.optimizer.lr == 0.001
    overrides = yaml.safe_load((tmp_path / "hydra" / ".hydra" / "overrides.yaml").read_text())
    assert "data.primes=[2,3,5]" in overrides
    entries = [json.loads(line) for line in (tmp_path / "hp" / "output.metrics").read_text().splitlines()]
    assert 1 <= len(entries) <= 2 and all(e["trial"] == "7" for e in entries)  # best epoch (if earlier), final
    assert entries[-1]["global_step"] == "2"
    assert float(entries[-1]["extrap_mse"]) == pytest.approx(result["final"]["extrap/mse"])
