"""The real ``train()`` entry point on both regimes, and its refusals."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zeta_rmt.models import NonFiniteLossError
from zeta_rmt.train import train
from zeta_rmt.utils.errors import ConfigError, HardwareError

ROOT = Path(__file__).resolve().parents[1]


def test_fast_dev_run_full_graph(make_cfg):
    r = train(make_cfg("debug=fast", "+trainer.fast_dev_run=true", "print_summary=false"))
    assert r["regime"] == "full" and r["status"] == "completed"
    for key in ("train/loss", "train/mse", "train/rg", "train/gue_nll", "train/gue_mmd", "val/loss",
                "extrap/mse", "extrap/mae_spacings", "extrap/baseline/smooth/mse", "extrap/skill/smooth",
                "extrap/next_zero_abs_error"):
        assert key in r["final"], key


def test_fast_dev_run_cluster(make_cfg):
    r = train(make_cfg("debug=fast", "data=cluster", "loss=rmt_only", "data.num_parts=8",
                       "+trainer.fast_dev_run=true", "print_summary=false"))
    assert r["regime"] == "cluster"
    assert "train/gue_mmd" in r["final"] and "train/rg" not in r["final"]
    assert "extrap/mse" in r["final"]


def test_short_run_writes_metrics_and_summary(make_cfg, tmp_path, capsys):
    cfg = make_cfg("debug=fast", "trainer.max_epochs=3", "data=cluster", "loss=rmt_only", "data.num_parts=4",
                   "data.partitioner=contiguous")
    r = train(cfg)
    out = capsys.readouterr().out
    assert "extrapolation: zeros 401..420" in out and "baseline: smooth" in out and "gue_nll" in out
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["final"]["extrap/mse"] == pytest.approx(r["final"]["extrap/mse"])
    assert saved["epochs"] == 3 and saved["best"]["epoch"] in (0, 1, 2)
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


def test_gpu_hardware_refused_without_cuda(make_cfg):
    with pytest.raises(HardwareError, match=r"hardware=l4 needs NVIDIA_L4.*hardware=cpu"):
        train(make_cfg("debug=fast", "data=cluster", "loss=rmt_only", "hardware=l4"))


def test_gpu_hardware_cpu_fallback_when_allowed(make_cfg):
    r = train(make_cfg("debug=fast", "hardware=a100", "hardware.allow_cpu_fallback=true", "+trainer.fast_dev_run=true",
                       "print_summary=false"))
    assert r["status"] == "completed"


def test_rg_penalty_refused_on_clusters(make_cfg):
    with pytest.raises(ConfigError, match=r"\['rg'\] need the whole graph.*loss=rmt_only"):
        train(make_cfg("debug=fast", "data=cluster", "loss=full"))


@pytest.mark.parametrize("override,match", [
    ("loss.weights.gue_nll=-0.5", "loss.weights.gue_nll must be finite and >= 0"),
    ("loss.weights.mse=abc", "loss.weights.mse must be a number"),
    ("data.primes=[]", "data.primes"),
    ("data.num_zeros=2001040", "holds zeros 1..2001052"),
    ("trainer.max_epochs=-1", "trainer.max_epochs must be an integer >= 1"),
    ("model.net.hidden_channels=0", "model.net.hidden_channels"),
    ("seed=abc", "seed must be an integer"),
])
def test_bad_config_values_fail_before_training(make_cfg, override, match):
    with pytest.raises((ConfigError, ValueError), match=match):
        train(make_cfg("debug=fast", override))


def test_nan_loss_stops_with_step_and_components(make_cfg):
    cfg = make_cfg("debug=fast", "trainer.max_epochs=5",
                   "+loss.components.bad._target_=tests.fixtures.nan_loss.NaNAfterLoss",
                   "+loss.components.bad.after=2", "+loss.weights.bad=1.0")  # calls: train e0, val e0, train e1
    with pytest.raises(NonFiniteLossError, match=r"train loss is nan at epoch 1, global step 1: components .*mse=.*bad=nan"):
        train(cfg)


def _cli(*args, timeout=300):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "zeta_rmt.train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_gpu_message_is_one_clear_line(tmp_path):
    p = _cli("data=cluster", "loss=rmt_only", "hardware=l4", f"hydra.run.dir={tmp_path}")
    assert p.returncode == 2
    assert "zeta_rmt.train: error: hardware=l4 needs NVIDIA_L4" in p.stderr
    assert "Traceback" not in p.stderr


def test_cli_runs_and_prints_summary(tmp_path):
    """Also the daily-use contract of a run whose stdout is a pipe (not a TTY, as in Vertex AI job logs):
    one progress line per epoch, and no advert, deprecation or transfer warning on either stream."""
    p = _cli("debug=fast", "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=2", f"hydra.run.dir={tmp_path}")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "extrapolation: zeros 401..420" in p.stdout
    assert json.loads((tmp_path / "metrics.json").read_text())["regime"] == "full"
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("[zeta_rmt] epoch ")]
    assert [ln.split(" | ")[0] for ln in lines] == ["[zeta_rmt] epoch 1/2", "[zeta_rmt] epoch 2/2"], p.stdout[-2000:]
    assert "train/loss" in lines[0] and "ETA" in lines[0] and "steps/s" in lines[1]
    assert "extrap/mae_spacings" in lines[1]  # the validation of epoch 2
    both = p.stdout + p.stderr
    for noise in ("litlogger", "💡", "LeafSpec", "transfer_batch_to_device", "experimental features enabled",
                  "non-supported Python version"):
        assert noise not in both, noise
