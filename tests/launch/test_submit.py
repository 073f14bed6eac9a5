"""Submitting and polling CustomJobs and HyperparameterTuningJobs with the real SDK client against
the local fake Vertex AI REST server; error messages for unreachable endpoints, permissions and
missing credentials."""
from __future__ import annotations

import threading
import time

import pytest
from google.cloud import aiplatform_v1
from google.protobuf import json_format

from tests.launch.conftest import LOCATION, PROJECT, cloud_for
from zeta_rmt.launch import client
from zeta_rmt.launch.__main__ import compose, main
from zeta_rmt.launch.spec import LaunchError, build_custom_job, job_to_dict

PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


def finish_later(server, collection: str, state: str, after: float = 0.3, error: str | None = None):
    """Move every job of ``collection`` to ``state`` once it exists (as Vertex AI would)."""
    def run():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            names = [n for n in list(server.resources) if f"/{collection}/" in n]
            if names:
                time.sleep(after)
                for n in names:
                    server.update(n, state=state, **({"error": {"code": 9, "message": error}} if error else {}))
                return
            time.sleep(0.02)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_submit_custom_job_body_is_the_dry_run_spec(fake_vertex, capsys):
    overrides = ["experiment=team2_cluster", "loss.weights.gue_nll=0.1"]
    rc = main([*overrides, *cloud_for(fake_vertex), "--job-id", "j1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    [post] = fake_vertex.requests_matching("POST", r"customJobs$")
    assert post.path == f"{PARENT}/customJobs"
    name = out.strip()
    assert name.startswith(f"{PARENT}/customJobs/") and fake_vertex.get(name)["state"] == "JOB_STATE_PENDING"
    # what was sent (enums as integers) is exactly what --dry-run prints
    sent = aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob())
    json_format.ParseDict(post.body, sent)
    expected = build_custom_job(compose([*overrides, *cloud_for(fake_vertex)]), overrides, "j1")
    assert json_format.MessageToDict(sent) == job_to_dict(expected)
    assert post.body["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorType"] == 11  # NVIDIA_L4
    assert "outputs: gs://zeta-bucket/runs/team2_cluster/j1" in err and "console: https://console.cloud.google.com" in err


def test_wait_polls_until_succeeded_and_reports_failure(fake_vertex, capsys):
    finish_later(fake_vertex, "customJobs", "JOB_STATE_SUCCEEDED")
    assert main(["experiment=team1_fullbatch", *cloud_for(fake_vertex), "--wait"]) == 0
    err = capsys.readouterr().err
    assert "JOB_STATE_PENDING" in err and "JOB_STATE_SUCCEEDED" in err
    assert len(fake_vertex.requests_matching("GET", r"customJobs/\d+$")) >= 2

    fake_vertex.resources.clear()
    finish_later(fake_vertex, "customJobs", "JOB_STATE_FAILED", error="OOM in the container")
    assert main(["experiment=team1_fullbatch", *cloud_for(fake_vertex), "cloud.wait=true"]) == 1
    assert "ended JOB_STATE_FAILED: OOM in the container" in capsys.readouterr().err


def test_submit_and_poll_hyperparameter_tuning_job(fake_vertex, capsys):
    finish_later(fake_vertex, "hyperparameterTuningJobs", "JOB_STATE_SUCCEEDED")
    rc = main(["experiment=team1_fullbatch", "hparams_search=vizier", "hparams_search.max_trial_count=8",
               *cloud_for(fake_vertex), "--job-id", "hp1", "--wait"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    [post] = fake_vertex.requests_matching("POST", r"hyperparameterTuningJobs$")
    body = post.body
    assert body["maxTrialCount"] == 8 and body["parallelTrialCount"] == 5 and body["maxFailedTrialCount"] == 10
    study = body["studySpec"]
    assert study["metrics"] == [{"metricId": "extrap_mse", "goal": 2}]  # MINIMIZE
    params = {p["parameterId"]: p for p in study["parameters"]}
    assert params["gue_nll"]["doubleValueSpec"] == {"minValue": 0.001, "maxValue": 1.0}
    assert params["gue_nll"]["scaleType"] == 2  # UNIT_LOG_SCALE
    assert params["gue_mmd"]["doubleValueSpec"] == {"minValue": 0.01, "maxValue": 10.0}
    assert params["lr"]["discreteValueSpec"]["values"] == [5e-05, 0.0005, 0.001]
    assert params["primes"]["categoricalValueSpec"]["values"] == ["p2_3_5", "p2_3_5_7", "p2_to_13", "p2_to_19",
                                                                  "p11_to_19"]
    trial = body["trialJobSpec"]
    assert trial["baseOutputDirectory"]["outputUriPrefix"] == "gs://zeta-bucket/runs/team1_fullbatch/hp1"
    assert trial["workerPoolSpecs"][0]["containerSpec"]["args"] == [
        "experiment=team1_fullbatch", "hparams_search=vizier", "hparams_search.max_trial_count=8",
        "paths.output_dir=${vertex_output_dir:}"]
    assert out.strip().startswith(f"{PARENT}/hyperparameterTuningJobs/")
    assert "JOB_STATE_SUCCEEDED" in err


def test_unreachable_endpoint_is_a_clear_error(fake_vertex, capsys):
    overrides = ["experiment=team1_fullbatch", *cloud_for(fake_vertex)]
    fake_vertex.stop()  # nothing listens on the port any more
    t0 = time.monotonic()
    assert main(overrides) == 2
    err = capsys.readouterr().err
    assert f"cannot reach Vertex AI at {fake_vertex.endpoint}" in err
    assert time.monotonic() - t0 < 30


def test_permission_denied_and_not_found_say_what_to_do(fake_vertex, capsys):
    fake_vertex.fail_next(1, status=403, match=r"customJobs$")
    assert main(["experiment=team1_fullbatch", *cloud_for(fake_vertex)]) == 2
    err = capsys.readouterr().err
    assert "permission denied" in err and "roles/aiplatform.user" in err
    cfg = compose(["experiment=team1_fullbatch", *cloud_for(fake_vertex)])
    ref = client.JobRef(f"{PARENT}/customJobs/404", "custom", "gs://x")
    with pytest.raises(LaunchError, match="not found.*aiplatform.googleapis.com"):
        client.get_state(cfg.cloud, ref)


def test_missing_credentials_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud application-default credentials
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    cfg = compose(["experiment=team1_fullbatch", "cloud.project=p", "cloud.credentials=adc"])
    with pytest.raises(LaunchError, match="gcloud auth application-default login"):
        client.make_client(cfg.cloud)
    cfg = compose(["experiment=team1_fullbatch", "cloud.credentials=bogus"])
    with pytest.raises(LaunchError, match="auto, adc or anonymous"):
        client.make_client(cfg.cloud)


def test_wait_timeout(fake_vertex):
    cfg = compose(["experiment=team1_fullbatch", *cloud_for(fake_vertex)])
    ref = client.submit(cfg.cloud, build_custom_job(cfg, [], "t"))
    with pytest.raises(LaunchError, match="timed out after 0.2 s waiting for 1 job"):
        client.wait(cfg.cloud, [ref], poll_interval_s=0.05, timeout_s=0.2, echo=lambda m: None)
