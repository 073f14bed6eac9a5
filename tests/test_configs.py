"""Every config combination composes, and the seed experiments carry the groups' hyperparameters."""
import itertools
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from tests.conftest import CONFIG_DIR, compose_config

GROUPS = {g: sorted(p.stem for p in (Path(CONFIG_DIR) / g).glob("*.yaml"))
          for g in ("data", "loss", "model", "hardware", "logger", "callbacks", "trainer")}


def test_groups_present():
    assert {"full", "cluster"} <= set(GROUPS["data"])
    assert {"full", "rmt_only", "mse_only"} <= set(GROUPS["loss"])
    assert {"cpu", "a100", "l4"} <= set(GROUPS["hardware"])
    assert {"csv", "tensorboard"} <= set(GROUPS["logger"])
    assert "hybrid_gcn" in GROUPS["model"]


@pytest.mark.parametrize("data,loss,hardware", list(itertools.product(GROUPS["data"], GROUPS["loss"], GROUPS["hardware"])))
def test_main_groups_compose_and_resolve(data, loss, hardware, tmp_path):
    cfg = compose_config([f"data={data}", f"loss={loss}", f"hardware={hardware}"], output_dir=tmp_path)
    c = OmegaConf.to_container(cfg, resolve=True)
    assert c["data"]["_target_"].startswith("zeta_rmt.data.")
    assert c["trainer"]["accelerator"] == c["hardware"]["accelerator"]
    assert c["optimized_metric"] == "extrap/mse"


@pytest.mark.parametrize("group", ["logger", "callbacks", "model", "trainer"])
def test_every_option_of_other_groups_composes(group, tmp_path):
    for option in GROUPS[group]:
        cfg = compose_config([f"{group}={option}"], output_dir=tmp_path)
        OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml")))
def test_experiments_compose(experiment, tmp_path):
    OmegaConf.to_container(compose_config([f"experiment={experiment}"], output_dir=tmp_path), resolve=True)


def test_unknown_group_option_names_the_group(tmp_path):
    with pytest.raises(ConfigCompositionException, match="data"):
        compose_config(["data=nope"], output_dir=tmp_path)


def test_team1_reproduces_full_graph_script(tmp_path):
    c = compose_config(["experiment=team1_fullbatch"], output_dir=tmp_path)
    assert c.data._target_.endswith("FullGraphDataModule")
    assert list(c.data.primes) == [2, 3, 5, 7, 11, 13] and c.data.num_zeros == 10_000
    assert c.data.train_fraction == 0.9 and c.data.features == "log_n" and c.data.target == "raw"
    assert c.model.net.in_channels == 1 and c.model.net.hidden_channels == 128
    assert c.model.net.mlp_layers == 2 and c.model.net.gcn_layers == 2
    assert c.model.optimizer._target_ == "torch.optim.Adam" and c.model.optimizer.lr == 0.005
    assert c.trainer.max_epochs == 2000
    assert dict(c.loss.weights) == {"mse": 1.0, "rg": 0.1, "gue_nll": 0.02, "gue_mmd": 0.05}
    mmd = c.loss.components.gue_mmd
    assert (mmd.num_samples, mmd.mode, mmd.estimator, mmd.sigma) == (500, "dense", "biased", 1.0)
    assert c.loss.components.rg.dilation == 2.0 and c.loss.components.rg.eps == 1e-6
    assert c.hardware.vertex.machine_type == "a2-ultragpu-1g"
    assert c.hardware.vertex.accelerator_type == "NVIDIA_A100_80GB"


def test_team2_reproduces_cluster_script(tmp_path):
    c = compose_config(["experiment=team2_cluster"], output_dir=tmp_path)
    assert c.data._target_.endswith("ClusterDataModule")
    assert list(c.data.primes) == [2, 3, 5, 7, 11]
    assert (c.data.num_parts, c.data.batch_size, c.data.shuffle) == (100, 1, True)
    # the cluster script re-normalises the globally normalised weights per cluster (GCNConv normalize=True)
    assert c.data.norm == "groups" and c.data.partitioner is None and c.data.backend == "pyg"  # null: metis
    assert c.trainer.max_epochs == 400 and c.model.optimizer.lr == 0.005
    assert c.loss.weights.rg == 0.0
    assert (c.loss.weights.mse, c.loss.weights.gue_nll, c.loss.weights.gue_mmd) == (1.0, 0.02, 0.05)
    assert c.loss.components.gue_mmd.num_samples == 200
    assert c.loss.components.gue_mmd.sample_count == "fixed" and c.loss.components.gue_mmd.samples == "groups"
    assert c.hardware.vertex.machine_type == "g2-standard-8"
    assert c.hardware.vertex.accelerator_type == "NVIDIA_L4"


def test_loss_options():
    c = compose_config(["loss=rmt_only"], output_dir="/tmp/x")
    assert c.loss.weights.rg == 0.0 and c.loss.weights.gue_nll == 0.02
    c = compose_config(["loss=mse_only"], output_dir="/tmp/x")
    assert dict(c.loss.weights) == {"mse": 1.0, "rg": 0.0, "gue_nll": 0.0, "gue_mmd": 0.0}
