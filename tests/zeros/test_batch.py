"""GCP Batch: the job spec (task array → shards) and a local run of tasks via the CLI entry point."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.fixtures.gcs_emulator import gcs_emulator, gcs_filesystem, make_bucket  # noqa: F401
from zeta_rmt.zeros import ZeroDataError, load_zeros
from zeta_rmt.zeros import batch
from zeta_rmt.zeros.cli import main
from zeta_rmt.zeros.odlyzko import load_table

IMAGE = "europe-docker.pkg.dev/proj/zeta/zeta-rmt:1.0"


def _job_dict(**kw):
    cfg = batch.BatchConfig(image=IMAGE, **kw)
    job = batch.build_job(cfg, out="gs://bucket/zeros", start=1, count=10_000_000, shard_size=1_000_000)
    return json.loads(batch.job_to_json(job))


def test_job_is_one_task_array_with_a_task_per_shard():
    d = _job_dict(parallelism=4, spot=True, machine_type="c2d-standard-4", service_account="sa@p.iam.gserviceaccount.com")
    (group,) = d["taskGroups"]
    assert group["taskCount"] == "10" and group["parallelism"] == "4"
    spec = group["taskSpec"]
    (runnable,) = spec["runnables"]
    c = runnable["container"]
    assert c["imageUri"] == IMAGE and c["entrypoint"] == "python"
    assert c["commands"] == [
        "-m", "zeta_rmt.zeros", "task", "--out", "gs://bucket/zeros", "--start", "1", "--count", "10000000",
        "--shard-size", "1000000",
    ]
    assert spec["maxRetryCount"] == 2 and spec["maxRunDuration"] == "3600s"
    assert spec["environment"]["variables"]["NUMBA_CACHE_DIR"].startswith("/tmp")
    inst = d["allocationPolicy"]["instances"][0]["policy"]
    assert inst["machineType"] == "c2d-standard-4" and inst["provisioningModel"] == "SPOT"
    assert d["allocationPolicy"]["serviceAccount"]["email"].startswith("sa@")
    assert d["logsPolicy"]["destination"] == "CLOUD_LOGGING"


def test_parallelism_is_capped_by_the_shard_count():
    cfg = batch.BatchConfig(image=IMAGE, parallelism=500)
    job = batch.build_job(cfg, out="gs://b/z", start=1, count=2_500, shard_size=1_000)
    assert job.task_groups[0].task_count == 3 and job.task_groups[0].parallelism == 3


def test_job_needs_an_image_and_a_bucket(monkeypatch):
    monkeypatch.delenv("ZETA_RMT_BATCH_IMAGE", raising=False)
    with pytest.raises(ZeroDataError, match="container image"):
        batch.build_job(batch.BatchConfig.load(), out="gs://b/z", start=1, count=10, shard_size=5)
    with pytest.raises(ZeroDataError, match="gs://"):
        batch.build_job(batch.BatchConfig(image=IMAGE), out="/local/dir", start=1, count=10, shard_size=5)


def test_config_file_then_env_then_flags(tmp_path, monkeypatch):
    cfgfile = tmp_path / "batch.yaml"
    cfgfile.write_text("batch:\n  project: p1\n  region: europe-west4\n  machine_type: n2-standard-2\n  labels: {team: t2}\n")
    monkeypatch.setenv("ZETA_RMT_BATCH_IMAGE", IMAGE)
    cfg = batch.BatchConfig.load(str(cfgfile), machine_type="e2-highcpu-4", region=None)
    assert (cfg.project, cfg.region, cfg.machine_type, cfg.image) == ("p1", "europe-west4", "e2-highcpu-4", IMAGE)
    bad = tmp_path / "bad.yaml"
    bad.write_text("imagee: x\n")
    with pytest.raises(ZeroDataError, match="unknown keys"):
        batch.BatchConfig.load(str(bad))


def test_cli_dry_run_prints_json_and_contacts_nothing(capsys, monkeypatch):
    from google.cloud import batch_v1

    def no_client(*a, **k):
        raise AssertionError("--dry-run must not create a Batch client")

    monkeypatch.setattr(batch_v1, "BatchServiceClient", no_client)
    rc = main(["batch", "--start", "1", "--count", "3e6", "--out", "gs://b/zeros", "--shard-size", "1e6",
               "--image", IMAGE, "--project", "p", "--region", "us-central1", "--dry-run"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["taskGroups"][0]["taskCount"] == "3"


def test_submit_uses_parent_and_job_id():
    calls = {}

    class FakeClient:
        def create_job(self, parent, job, job_id):
            calls.update(parent=parent, job_id=job_id, tasks=job.task_groups[0].task_count)
            return job

    cfg = batch.BatchConfig(image=IMAGE, project="p", region="us-central1")
    job = batch.build_job(cfg, out="gs://b/z", start=1, count=10, shard_size=5)
    batch.submit_job(job, cfg, "zeta-zeros-1", client=FakeClient())
    assert calls == {"parent": "projects/p/locations/us-central1", "job_id": "zeta-zeros-1", "tasks": 2}
    with pytest.raises(ZeroDataError, match="--project"):
        batch.submit_job(job, batch.BatchConfig(image=IMAGE), "x", client=FakeClient())


def _task(out, monkeypatch, index, capsys):
    monkeypatch.setenv("BATCH_TASK_INDEX", str(index))
    assert main(["task", "--start", "30001", "--count", "1500", "--out", out, "--shard-size", "1000"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_local_task_run_through_the_entry_point(tmp_path, monkeypatch, capsys):
    out = f"file://{tmp_path}/ds"
    r1 = _task(out, monkeypatch, 1, capsys)
    assert r1["shard"]["start"] == 31_001 and not r1["skipped"] and not r1["manifest_complete"]
    with pytest.raises(ZeroDataError, match="1 of 2 shards missing"):
        load_zeros(out, 30_001, 10)
    r0 = _task(out, monkeypatch, 0, capsys)
    assert r0["manifest_complete"]  # the last task to finish writes the manifest
    assert _task(out, monkeypatch, 1, capsys)["skipped"]  # a retried task skips a verified shard
    ref = np.asarray(load_table()[30_000:31_500])
    assert np.max(np.abs(load_zeros(out, 30_001, 1500) - ref)) < 1e-8


def test_task_index_errors(monkeypatch, capsys):
    monkeypatch.delenv("BATCH_TASK_INDEX", raising=False)
    assert main(["task", "--start", "1", "--count", "10", "--out", "memory://x", "--shard-size", "5"]) == 2
    assert "BATCH_TASK_INDEX" in capsys.readouterr().err
    monkeypatch.setenv("BATCH_TASK_INDEX", "7")
    assert main(["task", "--start", "1", "--count", "10", "--out", "memory://x", "--shard-size", "5"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_task_writes_to_gs_through_the_emulator(gcs_emulator, monkeypatch, capsys):
    out = make_bucket("zeta-batch") + "/zeros"
    _task(out, monkeypatch, 0, capsys)
    assert _task(out, monkeypatch, 1, capsys)["manifest_complete"]
    assert gcs_filesystem().exists("zeta-batch/zeros/manifest.json")
    assert main(["verify", out, "--against", "odlyzko"]) == 0
