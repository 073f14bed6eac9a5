"""``python -m zeta_rmt.train -m hydra/launcher=vertex ...``: one CustomJob per sweep point, submitted
to the fake Vertex AI server (Hydra runs in this process, so the network guard applies)."""
from __future__ import annotations

import json
import runpy
import sys
import threading
import time

import pytest
from hydra.core.global_hydra import GlobalHydra

from tests.fixtures.gcs_emulator import gcs_filesystem, make_bucket
from tests.launch.conftest import LOCATION, PROJECT, cloud_for

PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


def run_multirun(monkeypatch, tmp_path, *args):
    """Run the training entry point's multirun exactly as ``python -m zeta_rmt.train`` would."""
    monkeypatch.setattr(sys, "argv", ["zeta_rmt/train.py", "-m", "hydra/launcher=vertex", *args,
                                      f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    GlobalHydra.instance().clear()
    try:
        runpy.run_module("zeta_rmt.train", run_name="__main__", alter_sys=True)
    finally:
        GlobalHydra.instance().clear()
    return tmp_path / "sweep"


def test_multirun_submits_one_custom_job_per_point(fake_vertex, monkeypatch, tmp_path, capsys):
    sweep = run_multirun(monkeypatch, tmp_path, "loss.weights.gue_nll=0.01,0.1,1", "experiment=team2_cluster",
                         *cloud_for(fake_vertex), "cloud.job_id=sw1")
    posts = fake_vertex.requests_matching("POST", r"customJobs$")
    assert len(posts) == 3
    args = [p.body["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"] for p in posts]
    assert sorted(a[0] for a in args) == ["loss.weights.gue_nll=0.01", "loss.weights.gue_nll=0.1",
                                          "loss.weights.gue_nll=1"]
    for a in args:
        assert a[1:] == ["experiment=team2_cluster", "paths.output_dir=${vertex_output_dir:}"]
    outs = sorted(p.body["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"] for p in posts)
    assert outs == [f"gs://zeta-bucket/runs/team2_cluster/sw1/{i}" for i in range(3)]
    assert {p.body["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["machineType"] for p in posts} == {"g2-standard-8"}
    jobs = json.loads((sweep / "vertex_jobs.json").read_text())
    names = [j["name"] for j in jobs]
    assert len(set(names)) == 3 and all(n.startswith(f"{PARENT}/customJobs/") for n in names)
    assert all(fake_vertex.get(n) is not None for n in names)
    out = capsys.readouterr().out
    for n in names:
        assert f"-> {n}" in out


def test_multirun_wait_returns_each_jobs_metric(fake_vertex, gcs_emulator, monkeypatch, tmp_path, capsys):
    """wait=true: poll until the jobs end, then read each job's metrics.json from GCS."""
    make_bucket("zeta-bucket")
    fs = gcs_filesystem()

    def vertex_runs_the_jobs():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            jobs = [n for n in list(fake_vertex.resources) if "/customJobs/" in n]
            if len(jobs) == 2:
                for i, n in enumerate(sorted(jobs)):
                    out = fake_vertex.get(n)["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"]
                    if "gue_nll=0.5" in json.dumps(fake_vertex.get(n)):
                        fake_vertex.set_state(n, "JOB_STATE_FAILED")
                        continue
                    fs.pipe(out[len("gs://"):] + "/metrics.json",
                            json.dumps({"final": {"extrap/mse": 12.5}}).encode())
                    fake_vertex.set_state(n, "JOB_STATE_SUCCEEDED")
                return
            time.sleep(0.02)

    threading.Thread(target=vertex_runs_the_jobs, daemon=True).start()
    # one job failed: Hydra raises it (HYDRA_FULL_ERROR=1 in tests; on the command line: message, exit 1)
    with pytest.raises(RuntimeError, match=r"customJobs/\d+ ended JOB_STATE_FAILED"):
        run_multirun(monkeypatch, tmp_path, "loss.weights.gue_nll=0.05,0.5", "hardware=l4",
                     *cloud_for(fake_vertex), "hydra.launcher.wait=true", "hydra.launcher.poll_interval_s=0.05")
    jobs = {j["overrides"][0]: j for j in json.loads((tmp_path / "sweep" / "vertex_jobs.json").read_text())}
    assert jobs["loss.weights.gue_nll=0.05"]["state"] == "JOB_STATE_SUCCEEDED"
    assert jobs["loss.weights.gue_nll=0.05"]["metric"] == 12.5
    assert jobs["loss.weights.gue_nll=0.5"]["state"] == "JOB_STATE_FAILED"
    assert jobs["loss.weights.gue_nll=0.5"]["metric"] is None
    assert "extrap/mse=12.5" in capsys.readouterr().out


def test_multirun_dry_run_submits_nothing(fake_vertex, monkeypatch, tmp_path, capsys):
    run_multirun(monkeypatch, tmp_path, "loss.weights.gue_mmd=0.1,1", "hardware=a100", *cloud_for(fake_vertex),
                 "hydra.launcher.dry_run=true")
    assert fake_vertex.requests == []
    out = capsys.readouterr().out
    assert out.count('"machineType": "a2-ultragpu-1g"') == 2


def test_optuna_sweeper_runs_its_trials_as_vertex_jobs(fake_vertex, gcs_emulator, monkeypatch, tmp_path):
    """hparams_search=optuna + hydra/launcher=vertex + wait=true: the sweeper's trials are CustomJobs and
    their values come back from each job's metrics.json on GCS."""
    import optuna

    make_bucket("zeta-bucket")
    fs = gcs_filesystem()
    values = {"0": 3.0, "1": 1.5}

    def vertex_runs_the_jobs():
        done = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(done) < 2:
            for n in [n for n in list(fake_vertex.resources) if "/customJobs/" in n and n not in done]:
                out = fake_vertex.get(n)["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"]
                fs.pipe(out[len("gs://"):] + "/metrics.json",
                        json.dumps({"final": {"extrap/mse": values[out.rsplit("/", 1)[1]]}}).encode())
                fake_vertex.set_state(n, "JOB_STATE_SUCCEEDED")
                done.add(n)
            time.sleep(0.02)

    threading.Thread(target=vertex_runs_the_jobs, daemon=True).start()
    db = tmp_path / "study.db"
    run_multirun(monkeypatch, tmp_path, "hparams_search=optuna", "hardware=l4", *cloud_for(fake_vertex),
                 "cloud.job_id=opt", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
                 f"hydra.sweeper.storage=sqlite:///{db}", "hydra.launcher.wait=true",
                 "hydra.launcher.poll_interval_s=0.05")
    posts = fake_vertex.requests_matching("POST", r"customJobs$")
    assert len(posts) == 2
    args = posts[0].body["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"]
    assert any(a.startswith("loss.weights.gue_nll=") for a in args) and "hparams_search=optuna" in args
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{db}")
    assert sorted(t.value for t in study.trials) == [1.5, 3.0]
    assert study.best_value == 1.5
