"""Job specs: ``python -m zeta_rmt.launch ... --dry-run`` for both teams (snapshots), options, refusals."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from tests.fixtures.network_guard import guarded_command
from tests.launch.conftest import BUCKET, CLOUD, IMAGE, SA
from zeta_rmt.launch.__main__ import compose, main
from zeta_rmt.launch.spec import LaunchError, build_custom_job, container_args

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "snapshots"


def dry_run(capsys, *args) -> tuple[dict, str]:
    rc = main([*args, "--dry-run"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out), err


def parse_custom_job(spec: dict) -> aiplatform_v1.CustomJob:
    """Strict parse (unknown fields fail): the JSON is a valid CustomJob."""
    return aiplatform_v1.CustomJob.wrap(json_format.ParseDict(spec, aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob())))


@pytest.mark.parametrize("name, overrides, machine, accel", [
    ("custom_job_team1_a100", ["experiment=team1_fullbatch", "hardware=a100"], "a2-ultragpu-1g", "NVIDIA_A100_80GB"),
    ("custom_job_team2_l4", ["experiment=team2_cluster", "hardware=l4"], "g2-standard-8", "NVIDIA_L4"),
])
def test_dry_run_snapshot(capsys, name, overrides, machine, accel):
    spec, _ = dry_run(capsys, *overrides, *CLOUD, "--job-id", "snap")
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("ZETA_RMT_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        pytest.fail(f"snapshot {path.name} rewritten; re-run without ZETA_RMT_UPDATE_SNAPSHOTS")
    assert spec == json.loads(path.read_text())
    job = parse_custom_job(spec)
    pool = job.job_spec.worker_pool_specs[0]
    assert pool.machine_spec.machine_type == machine
    assert pool.machine_spec.accelerator_type.name == accel and pool.machine_spec.accelerator_count == 1
    assert pool.replica_count == 1 and pool.container_spec.image_uri == IMAGE
    # the user's overrides, then the output dir Vertex AI assigns; cloud.* stay on this side
    assert list(pool.container_spec.args) == [*overrides, "paths.output_dir=${vertex_output_dir:}"]
    task = overrides[0].split("=")[1]
    assert job.job_spec.base_output_directory.output_uri_prefix == f"{BUCKET}/{task}/snap"
    assert job.job_spec.service_account == SA
    assert job.job_spec.scheduling.restart_job_on_worker_restart is True
    assert job.job_spec.scheduling.strategy.name == "STANDARD"
    assert job.display_name == f"zeta-rmt-{task}-snap"


def test_done_when_command_prints_spec_without_any_cloud_settings():
    """The issue's command, as a subprocess, with no project/bucket/image configured: a spec with
    visible placeholders and a note of what is missing before a real submit."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_CLOUD_PROJECT", "ZETA_RMT_BASE_OUTPUT_DIR", "ZETA_RMT_IMAGE_URI")}
    p = subprocess.run(guarded_command("zeta_rmt.launch", "experiment=team1_fullbatch", "hardware=a100", "--dry-run"),
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    job = parse_custom_job(json.loads(p.stdout))
    pool = job.job_spec.worker_pool_specs[0]
    assert pool.machine_spec.machine_type == "a2-ultragpu-1g"
    assert pool.machine_spec.accelerator_type.name == "NVIDIA_A100_80GB"
    assert pool.container_spec.image_uri == "UNSET-cloud.image_uri"
    assert "Set cloud.project, cloud.base_output_dir, cloud.image_uri before submitting" in p.stderr


def test_options_spot_env_labels_disk_timeout(capsys):
    spec, _ = dry_run(capsys, "experiment=team2_cluster", *CLOUD, "cloud.spot=true", "cloud.restart_job_on_worker_restart=false",
                      "cloud.disable_retries=true", "cloud.timeout_hours=2", "+cloud.env.FOO=bar",
                      "cloud.boot_disk_size_gb=200", "+cloud.labels.Team=Two", "cloud.job_id=fixed")
    job = parse_custom_job(spec)
    s = job.job_spec.scheduling
    assert s.strategy.name == "SPOT" and s.restart_job_on_worker_restart is False and s.disable_retries is True
    assert s.timeout.total_seconds() == 7200
    pool = job.job_spec.worker_pool_specs[0]
    assert {e.name: e.value for e in pool.container_spec.env}["FOO"] == "bar"
    assert pool.disk_spec.boot_disk_size_gb == 200
    assert dict(job.labels) == {"zeta_rmt": "train", "task": "team2_cluster", "hardware": "l4", "team": "two"}
    assert job.job_spec.base_output_directory.output_uri_prefix.endswith("/team2_cluster/fixed")


def test_user_output_dir_is_kept_and_cloud_overrides_are_dropped():
    args = container_args(["data=cluster", "paths.output_dir=gs://b/mine", "cloud.spot=true", "+cloud.env.X=1"])
    assert args == ["data=cluster", "paths.output_dir=gs://b/mine"]
    assert container_args(["data=cluster"])[-1] == "paths.output_dir=${vertex_output_dir:}"


def test_submit_refuses_missing_settings_with_what_to_pass(capsys):
    rc = main(["experiment=team1_fullbatch", "cloud.project=p"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "cloud.base_output_dir is not set, pass cloud.base_output_dir=gs://" in err
    assert "cloud.image_uri is not set" in err and "cloud.project" not in err.split("error:")[1].split(";")[0]


def test_refusals():
    cfg = compose(["hardware=cpu", *CLOUD])
    with pytest.raises(LaunchError, match=r"hardware=cpu has no Vertex AI machine.*hardware=a100.*hardware=l4"):
        build_custom_job(cfg, [], "x")
    cfg = compose(["hardware=l4", *CLOUD, "cloud.base_output_dir=/local/dir"])
    with pytest.raises(LaunchError, match=r"base_output_dir must be a gs:// URL"):
        build_custom_job(cfg, [], "x")
    cfg = compose(["hardware=l4", *CLOUD, "hardware.vertex.accelerator_type=NVIDIA_NOPE"])
    with pytest.raises(LaunchError, match=r"NVIDIA_NOPE.*not a Vertex AI accelerator"):
        build_custom_job(cfg, [], "x")


def test_sweep_syntax_and_launcher_overrides_are_pointed_to_multirun(capsys):
    assert main(["hardware=l4", "loss.weights.gue_nll=0.1,1", "--dry-run"]) == 2
    assert "python -m zeta_rmt.train -m hydra/launcher=vertex" in capsys.readouterr().err
    assert main(["hardware=l4", "data.primes=[2,3,5]", *CLOUD, "--dry-run"]) == 0  # a list is not a sweep
    capsys.readouterr()
    assert main(["hardware=l4", "nonexistent_group=x", "--dry-run"]) == 2
    assert "cannot compose the config" in capsys.readouterr().err


# ----------------------------------------------------------------------------- multi-node jobs
def test_multi_node_snapshot_chief_and_worker_pools(capsys):
    """hardware=l4x4: pool 0 = the chief (1 replica), pool 1 = 3 workers, identical otherwise; every
    node runs the same arguments, so each composes trainer.num_nodes=4 and finds its rank from
    CLUSTER_SPEC (zeta_rmt.launch.cluster_env)."""
    overrides = ["experiment=team2_cluster", "hardware=l4x4"]
    spec, err = dry_run(capsys, *overrides, *CLOUD, "--job-id", "snap")
    assert "CustomJob on 4 nodes (worker pool 0: the chief, pool 1: 3 worker(s))" in err
    path = SNAPSHOTS / "custom_job_team2_l4x4.json"
    if os.environ.get("ZETA_RMT_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        pytest.fail(f"snapshot {path.name} rewritten; re-run without ZETA_RMT_UPDATE_SNAPSHOTS")
    assert spec == json.loads(path.read_text())
    job = parse_custom_job(spec)
    chief, workers = job.job_spec.worker_pool_specs
    assert (chief.replica_count, workers.replica_count) == (1, 3)
    for pool in (chief, workers):
        assert pool.machine_spec.machine_type == "g2-standard-8"
        assert pool.machine_spec.accelerator_type.name == "NVIDIA_L4" and pool.machine_spec.accelerator_count == 1
        assert pool.container_spec.image_uri == IMAGE
        assert list(pool.container_spec.args) == [*overrides, "paths.output_dir=${vertex_output_dir:}"]
    a, b = (type(p).to_dict(p) for p in (chief, workers))
    a.pop("replica_count"), b.pop("replica_count")
    assert a == b
    assert dict(job.labels)["hardware"] == "l4x4"
    cfg = compose([*overrides, *CLOUD])
    assert (cfg.trainer.num_nodes, cfg.trainer.devices, cfg.trainer.accelerator) == (4, 1, "gpu")
    assert cfg.hardware.precision == compose(["hardware=l4"]).hardware.precision  # the rest is hardware=l4's


def test_single_node_profiles_have_one_pool_and_one_node():
    for hw in ("cpu", "l4", "a100"):
        cfg = compose([f"hardware={hw}", *CLOUD])
        assert cfg.hardware.replica_count == 1 and cfg.trainer.num_nodes == 1
    for hw in ("l4", "a100"):
        job = build_custom_job(compose([f"hardware={hw}", *CLOUD]), [f"hardware={hw}"], "x")
        assert [p.replica_count for p in job.job_spec.worker_pool_specs] == [1]


def test_a100x2_and_a_two_gpu_per_node_job():
    job = build_custom_job(compose(["hardware=a100x2", *CLOUD]), ["hardware=a100x2"], "x")
    pools = job.job_spec.worker_pool_specs
    assert [p.replica_count for p in pools] == [1, 1]
    assert {p.machine_spec.machine_type for p in pools} == {"a2-ultragpu-1g"}
    # 2 nodes x 2 L4 (g2-standard-24): Lightning runs 2 processes per node
    two = ["hardware=l4x4", "hardware.replica_count=2", "hardware.devices=2",
           "hardware.vertex.machine_type=g2-standard-24", "hardware.vertex.accelerator_count=2"]
    pools = build_custom_job(compose([*two, *CLOUD]), two, "x").job_spec.worker_pool_specs
    assert [(p.replica_count, p.machine_spec.accelerator_count) for p in pools] == [(1, 2), (1, 2)]


def test_multi_node_hpt_trials_get_the_pools_too():
    from zeta_rmt.launch.spec import build_hpt_job

    cfg = compose(["hparams_search=vizier", "hardware=l4x4", *CLOUD])
    job = build_hpt_job(cfg, ["hardware=l4x4"], "h")
    assert [p.replica_count for p in job.trial_job_spec.worker_pool_specs] == [1, 3]


def test_multi_node_refusals():
    cfg = compose(["hardware=l4x4", *CLOUD, "trainer.num_nodes=2"])
    with pytest.raises(LaunchError, match=r"trainer.num_nodes=2 but hardware.replica_count=4"):
        build_custom_job(cfg, [], "x")
    cfg = compose(["hardware=l4x4", *CLOUD, "hardware.replica_count=0"])
    with pytest.raises(LaunchError, match=r"hardware.replica_count must be an integer >= 1 \(the number of nodes\)"):
        build_custom_job(cfg, [], "x")
    cfg = compose(["hardware=l4x4", *CLOUD, "hardware.devices=2"])
    with pytest.raises(LaunchError, match=r"trainer.devices=2 processes per node, but "
                                          r"hardware.vertex.accelerator_count=1 GPU\(s\) per node"):
        build_custom_job(cfg, [], "x")
