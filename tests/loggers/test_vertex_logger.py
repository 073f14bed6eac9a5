"""VertexAIExperimentsLogger with the real Vertex AI SDK against the fake server."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pytorch_lightning.loggers.logger import DummyExperiment
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from tests.loggers.conftest import (LOCATION, PROJECT, STORE, TinyModule, context_name, fit, logged_points,
                                    tb_run_name)
from zeta_rmt.loggers.vertex import flatten_params
from zeta_rmt.loggers.vertex.__main__ import main as cli


def assert_points_exactly_once(server, logger, tb="tb1"):
    run = tb_run_name("e", logger.version, tb)
    expected = logged_points(logger)
    assert expected, "nothing was logged"
    on_server = server.time_series(run)
    assert set(on_server) == set(expected)
    for key, series in expected.items():
        assert on_server[key] == pytest.approx(series), key
    counts = server.write_counts(run)
    dups = {k: {s: n for s, n in v.items() if n != 1} for k, v in counts.items()}
    assert all(not d for d in dups.values()), f"points written more than once: {dups}"
    return sum(len(v) for v in expected.values())


def test_run_creates_experiment_run_params_series_summary_and_state(fake_vertex, make_logger):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    lg = make_logger(fake_vertex, tensorboard="tb1")
    hparams = {"model": {"hidden": 128, "primes": [2, 3, 5]}, "lr": 5e-3, "use_rg": True}
    lg.log_hyperparams(hparams)
    fit(lg, epochs=3)

    exp = fake_vertex.get(context_name("e"))
    assert exp["schemaTitle"] == "system.Experiment"
    assert exp["metadata"]["backing_tensorboard_resource"] == f"projects/{PROJECT}/locations/{LOCATION}/tensorboards/tb1"
    run = fake_vertex.get(context_name("e", lg.version))
    assert run["schemaTitle"] == "system.ExperimentRun" and run["displayName"] == lg.version
    assert context_name("e") in run["parentContexts"]
    md = run["metadata"]
    assert md["_params"] == flatten_params(hparams) == {
        "model.hidden": 128, "model.primes": "[2, 3, 5]", "lr": 5e-3, "use_rg": "true"}
    points = logged_points(lg)
    assert set(points) == {"train_loss", "val_loss", "epoch"} and len(points["train_loss"]) == 12
    assert md["_metrics"] == pytest.approx({k: v[max(v)] for k, v in points.items()})
    assert md["_state"] == "COMPLETE"
    n = assert_points_exactly_once(fake_vertex, lg)
    assert n == 12 + 3 + 12

    # on the wire: enums as integers, steps batched into few write requests
    creates = fake_vertex.requests_matching("POST", r"/timeSeries$")
    assert {r.body["valueType"] for r in creates} == {1} and len(creates) == 3
    assert all("$alt" in r.query and "enum-encoding=int" in r.query["$alt"][0] for r in creates)
    assert len(fake_vertex.requests_matching("POST", r":write$")) < n

    # the SDK itself reads back what the logger wrote
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    aiplatform.init(project=PROJECT, location=LOCATION, api_endpoint=fake_vertex.endpoint, api_transport="rest",
                    credentials=AnonymousCredentials())
    sdk_run = aiplatform.ExperimentRun(lg.version, experiment="e")
    assert sdk_run.get_params() == flatten_params(hparams)
    assert sdk_run.get_metrics() == pytest.approx(md["_metrics"])
    assert sdk_run.get_state() == "COMPLETE"
    assert sdk_run._backing_tensorboard_run is not None


def test_restarted_job_resumes_the_same_run(fake_vertex, make_logger, tmp_path):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    first = make_logger(fake_vertex, tensorboard="tb1")
    for step in range(5):
        first.log_metrics({"loss": 10.0 - step}, step=step)
    first.finalize("failed")  # preempted
    first.close()
    assert fake_vertex.get(context_name("e", first.version))["metadata"]["_state"] == "FAILED"

    # same output directory, no run name given, resume=True: the journal names the run to continue
    # (without resume, or a Hydra output dir / CLOUD_ML_JOB_ID naming the job, it would be a new run)
    again = make_logger(fake_vertex, tensorboard="tb1", resume=True)
    assert again.version == first.version
    assert again.log_dir == first.log_dir
    for step in range(3, 9):  # resumed from an earlier checkpoint: steps 3, 4 are logged again
        again.log_metrics({"loss": 100.0 + step}, step=step)
    again.finalize("success")

    run_creates = [r for r in fake_vertex.requests_matching("POST", r"/contexts$") if r.query.get("contextId") ==
                   [f"e-{first.version}"]]
    assert len(run_creates) == 1
    runs = [c for c in fake_vertex.children(f"{STORE}/contexts") if c["schemaTitle"] == "system.ExperimentRun"]
    assert [r["displayName"] for r in runs] == [first.version]
    md = runs[0]["metadata"]
    assert md["_state"] == "COMPLETE" and md["_metrics"]["loss"] == 108.0
    series = fake_vertex.time_series(tb_run_name("e", first.version))["loss"]
    assert series == {0: 10.0, 1: 9.0, 2: 8.0, 3: 7.0, 4: 6.0, 5: 105.0, 6: 106.0, 7: 107.0, 8: 108.0}
    assert_points_exactly_once(fake_vertex, again)

    # an explicit run name in another directory resumes it too
    third = make_logger(fake_vertex, tensorboard="tb1", run_name=first.version, save_dir=str(tmp_path / "other"))
    third.log_metrics({"loss": 1.0}, step=20)
    third.finalize("success")
    assert len([c for c in fake_vertex.children(f"{STORE}/contexts") if c["schemaTitle"] == "system.ExperimentRun"]) == 1
    assert fake_vertex.time_series(tb_run_name("e", first.version))["loss"][20] == 1.0


def test_failed_training_marks_the_run_failed(fake_vertex, make_logger):
    lg = make_logger(fake_vertex)
    with pytest.raises(RuntimeError, match="boom"):
        fit(lg, epochs=3, module=TinyModule(fail_at_epoch=1))
    md = fake_vertex.get(context_name("e", lg.version))["metadata"]
    assert md["_state"] == "FAILED"
    assert md["_metrics"]["train_loss"] == pytest.approx(logged_points(lg)["train_loss"][3])  # last before the failure
    # no TensorBoard configured: summary metrics only, no time series -- and the run says so once, at run time
    assert not fake_vertex.requests_matching(pattern=r"tensorboards")


def test_run_without_tensorboard_warns_that_time_series_stay_journaled(fake_vertex, make_logger, caplog):
    lg = make_logger(fake_vertex)
    with caplog.at_level("WARNING"):
        fit(lg, epochs=2, module=TinyModule())
    said = [r.getMessage() for r in caplog.records if "has no TensorBoard" in r.getMessage()]
    assert len(said) == 1, said
    assert "stay in the journal" in said[0] and "logger.tensorboard=" in said[0]
    assert f"python -m zeta_rmt.loggers.vertex sync {lg.log_dir}" in said[0]


def test_rank_nonzero_does_nothing(fake_vertex, make_logger):
    lg = make_logger(fake_vertex)
    saved = rank_zero_only.rank
    rank_zero_only.rank = 1
    try:
        lg.log_hyperparams({"a": 1})
        lg.log_metrics({"loss": 1.0}, step=0)
        lg.finalize("success")
        assert isinstance(lg.experiment, DummyExperiment)
    finally:
        rank_zero_only.rank = saved
    assert not Path(lg.log_dir).exists()
    assert fake_vertex.requests == []


def test_credentials_are_used_but_never_written(fake_vertex, make_logger, caplog, capsys):
    from google.oauth2.credentials import Credentials

    secret = "ya29.SECRET-TOKEN-do-not-log-4242"
    caplog.set_level(logging.DEBUG)
    fake_vertex.fail_next(2, status=503)  # make the logger talk about failures too
    lg = make_logger(fake_vertex, credentials=Credentials(token=secret))
    lg.log_hyperparams({"a": 1})
    lg.log_metrics({"loss": 1.0}, step=0)
    lg.finalize("success")
    assert fake_vertex.get(context_name("e", lg.version))["metadata"]["_state"] == "COMPLETE"
    assert all(r.headers.get("authorization") == f"Bearer {secret}" for r in fake_vertex.requests)
    files = "".join(p.read_text() for p in Path(lg.log_dir).iterdir() if p.is_file())
    assert json.loads(Path(lg.log_dir, "journal.jsonl").read_text().splitlines()[0])["credentials"] == "object"
    out = capsys.readouterr()
    for text in (files, caplog.text, out.out, out.err, repr(lg)):
        assert secret not in text and "SECRET" not in text


def test_configuration_errors_are_clear(monkeypatch, tmp_path):
    from zeta_rmt.loggers.vertex import VertexAIExperimentsLogger, sdk

    for var in ("GOOGLE_CLOUD_PROJECT", "CLOUD_ML_PROJECT_ID", "GCLOUD_PROJECT", "CLOUD_ML_REGION", "GOOGLE_CLOUD_REGION"):
        monkeypatch.delenv(var, raising=False)
    base = dict(project="p", location="europe-west4", experiment="e", save_dir=str(tmp_path))
    with pytest.raises(ValueError, match="no Google Cloud project: set logger.project"):
        VertexAIExperimentsLogger(**{**base, "project": None})
    with pytest.raises(ValueError, match="no Vertex AI location"):
        VertexAIExperimentsLogger(**{**base, "location": None})
    with pytest.raises(ValueError, match="no experiment name"):
        VertexAIExperimentsLogger(**{**base, "experiment": None})
    with pytest.raises(ValueError, match="invalid run name 'My Run'"):
        VertexAIExperimentsLogger(**base, run_name="My Run")
    with pytest.raises(ValueError, match="refusing to send Google credentials over plain HTTP"):
        VertexAIExperimentsLogger(**base, credentials="adc", api_endpoint="http://10.1.2.3:8080")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    monkeypatch.setenv("CLOUD_ML_REGION", "us-central1")
    lg = VertexAIExperimentsLogger(experiment="e", save_dir=str(tmp_path), offline=True)
    assert (lg.target.project, lg.target.location) == ("from-env", "us-central1")
    monkeypatch.setattr(sdk.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"google-cloud-aiplatform.*pip install 'zeta_rmt\[gcp\]'"):
        VertexAIExperimentsLogger(**base)
    VertexAIExperimentsLogger(**base, offline=True)  # journaling alone needs no SDK


def test_missing_credentials_do_not_stop_training(fake_vertex, make_logger, monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))  # no gcloud ADC file either
    monkeypatch.setenv("HOME", str(tmp_path))
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    lg = make_logger(api_endpoint="https://127.0.0.1:9", credentials="adc", flush_timeout=3.0)
    fit(lg, epochs=1)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "no Google Cloud credentials" in errors[0].getMessage()
    assert "gcloud auth application-default login" in errors[0].getMessage()
    assert len(logged_points(lg)["train_loss"]) == 4  # everything is journaled for a later sync


def test_offline_run_then_sync_uploads_once_and_is_idempotent(fake_vertex, make_logger, capsys):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    lg = make_logger(offline=True, tensorboard="tb1")
    lg.log_hyperparams({"lr": 0.1})
    fit(lg, epochs=2)
    assert fake_vertex.requests == []
    run_dir = Path(lg.save_dir)

    assert cli(["status", str(run_dir)]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status["pending_points"] == sum(len(v) for v in logged_points(lg).values()) and status["state"] == "COMPLETE"

    assert cli(["sync", str(run_dir), "--api-endpoint", fake_vertex.endpoint, "--timeout", "2"]) == 0
    out = capsys.readouterr().out
    assert "point(s) uploaded" in out and "state COMPLETE set" in out
    n = assert_points_exactly_once(fake_vertex, lg)
    md = fake_vertex.get(context_name("e", lg.version))["metadata"]
    assert md["_params"] == {"lr": 0.1} and md["_state"] == "COMPLETE"
    n_requests = len(fake_vertex.requests)

    assert cli(["sync", str(run_dir), "--api-endpoint", fake_vertex.endpoint]) == 0
    out = capsys.readouterr().out
    assert "0 point(s) uploaded in 0 request(s)" in out and "state up to date" in out
    assert not [r for r in fake_vertex.requests[n_requests:] if r.method in ("POST", "PATCH") and
                not r.path.endswith(":addContextChildren")]
    assert assert_points_exactly_once(fake_vertex, lg) == n
    assert cli(["status", lg.log_dir]) == 0
