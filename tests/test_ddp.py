"""DDP for the cluster regime: a real 2-process CPU run (gloo, ``trainer=ddp trainer.devices=2``)
equals one process taking the same blocks with ``accumulate_grad_batches=2``."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zeta_rmt.data import ClusterDataModule
from zeta_rmt.data.stream import BlockSampler
from zeta_rmt.train import train
from tests.conftest import compose_config

# mse + gue_nll: deterministic (the MMD term draws surmise samples, which ranks draw in another order)
COMMON = ["data=cluster", "data.backend=stream", "loss=rmt_only", "loss.weights.gue_mmd=0", "hardware=cpu",
          "data.num_zeros=400", "data.num_parts=8", "data.shuffle_seed=7", "data.far_window_start=null",
          "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=1", "callbacks=none", "print_summary=false",
          "model.baselines=[smooth]"]


def run_train(run_dir: Path, *overrides: str) -> Path:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HYDRA_FULL_ERROR="1",
               ZETA_RMT_CACHE=str(run_dir.parent / "cache"))
    cmd = [sys.executable, "-m", "zeta_rmt.train", *COMMON, *overrides, f"hydra.run.dir={run_dir}"]
    proc = subprocess.run(cmd, cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run_dir


def epoch_metrics(run_dir: Path) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    with open(run_dir / "csv" / "metrics.csv") as fh:
        for row in csv.DictReader(fh):
            e = out.setdefault(int(row["epoch"]), {})
            e.update({k: float(v) for k, v in row.items() if v not in ("", None) and k not in ("epoch", "step")})
    return out


def checkpoint(run_dir: Path) -> dict:
    (path,) = sorted((run_dir / "csv" / "checkpoints").glob("*.ckpt"))
    return torch.load(path, weights_only=True)


def test_two_process_ddp_equals_one_process_with_accumulation(tmp_path, monkeypatch):
    ddp = run_train(tmp_path / "ddp", "trainer=ddp", "trainer.devices=2")  # the CLI: Lightning spawns rank 1
    # the one-process reference in this process (the same composed config and train())
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path / "cache"))
    one = tmp_path / "one"
    train(compose_config([*COMMON, "+trainer.accumulate_grad_batches=2"], output_dir=one))
    a, b = checkpoint(ddp), checkpoint(one)
    # 8 blocks, 2 epochs: 4 optimiser steps per epoch in both runs
    assert a["global_step"] == b["global_step"] == 8
    for k, v in a["state_dict"].items():
        assert torch.allclose(v, b["state_dict"][k], rtol=1e-5, atol=1e-6), k
    ma, mb = epoch_metrics(ddp), epoch_metrics(one)
    assert sorted(ma) == sorted(mb) == [0, 1]
    for epoch in (0, 1):
        for key in ("train/loss", "train/mse", "train/gue_nll", "val/loss", "val/gue_nll", "extrap/mse"):
            assert ma[epoch][key] == pytest.approx(mb[epoch][key], rel=1e-5), (epoch, key)
    assert ma[1]["train/loss"] < ma[0]["train/loss"]  # the steps did train
    # rank 0 alone wrote the run record, and the rank-1 process ran (its Hydra log is there)
    assert (ddp / "metrics.json").is_file() and (ddp / "train_ddp_process_1.log").exists()


def test_ranks_take_disjoint_blocks_of_the_one_process_order():
    dm = ClusterDataModule(num_zeros=400, primes=[2, 3], num_parts=8, backend="stream", shuffle_seed=7,
                           extrapolation_window=10, far_window_start=None)
    dm.setup()
    one = BlockSampler(8, shuffle=True, seed=7)
    ranks = [BlockSampler(8, shuffle=True, seed=7, rank=r, world_size=2) for r in range(2)]
    for epoch in range(3):
        for s in (one, *ranks):
            s.set_epoch(epoch)
        order = list(one)
        assert list(ranks[0]) == order[0::2] and list(ranks[1]) == order[1::2]
        assert set(ranks[0]).isdisjoint(ranks[1])
