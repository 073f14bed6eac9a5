"""Issue 15, Vertex logger items 5-7: direct use of the logger, run identity, ``ddp_spawn``.

5. Step-less ``log_metrics`` calls made before anything else started the logger get
   consecutive steps (the journal load used to reset the counter).
6. The run a logger continues is named by the job (Hydra output dir, ``CLOUD_ML_JOB_ID``,
   an explicit ``run_name`` / ``resume=True``), not by the folder it was started from;
   reopening a COMPLETE run is said in one line.
7. A failing ``ddp_spawn`` fit with two processes leaves exactly one FAILED run.
"""
from __future__ import annotations

import logging

import pytest

from tests.loggers.conftest import LOCATION, PROJECT, STORE, TinyModule, context_name, fit, logged_points, tb_run_name
from zeta_rmt.loggers.vertex import naming


@pytest.fixture(autouse=True)
def _no_job_env(monkeypatch):
    for var in ("CLOUD_ML_JOB_ID", "CLOUD_ML_TRIAL_ID"):
        monkeypatch.delenv(var, raising=False)


def runs_on(server) -> list[dict]:
    return [c for c in server.children(f"{STORE}/contexts") if c.get("schemaTitle") == "system.ExperimentRun"]


# ----------------------------------------------------------------------------- item 5
def test_direct_step_less_calls_get_consecutive_steps(fake_vertex, make_logger):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    lg = make_logger(fake_vertex, tensorboard="tb1")
    lg.log_metrics({"loss": 3.0})  # the very first call: it starts the logger
    lg.log_metrics({"loss": 2.0})
    lg.log_metrics({"loss": 1.0})
    assert logged_points(lg) == {"loss": {0: 3.0, 1: 2.0, 2: 1.0}}
    lg.finalize("success")
    assert fake_vertex.time_series(tb_run_name("e", lg.version)) == {"loss": {0: 3.0, 1: 2.0, 2: 1.0}}


def test_direct_step_less_call_after_an_explicit_step_continues_from_it(fake_vertex, make_logger):
    lg = make_logger(fake_vertex)
    lg.log_metrics({"loss": 5.0}, step=10)  # the first call names its step
    lg.log_metrics({"loss": 4.0})
    lg.log_metrics({"acc": 0.5}, step=3)  # an earlier step does not move the counter back
    lg.log_metrics({"loss": 3.0})
    assert logged_points(lg) == {"loss": {10: 5.0, 11: 4.0, 12: 3.0}, "acc": {3: 0.5}}


# ----------------------------------------------------------------------------- item 6
def test_separate_scripts_in_one_folder_get_separate_runs(fake_vertex, make_logger, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    folder = str(tmp_path / "cwd")  # what save_dir="." is for two scripts started from one folder
    first = make_logger(fake_vertex, save_dir=folder)
    first.log_metrics({"loss": 1.0}, step=0)
    first.finalize("success")
    first.close()
    second = make_logger(fake_vertex, save_dir=folder)
    assert second.version != first.version
    second.log_metrics({"loss": 2.0}, step=0)
    second.finalize("success")
    runs = runs_on(fake_vertex)
    assert sorted(r["displayName"] for r in runs) == sorted([first.version, second.version])
    assert all(r["metadata"]["_state"] == "COMPLETE" for r in runs)
    assert "already COMPLETE" not in caplog.text


def test_a_restarted_job_continues_its_run(fake_vertex, make_logger, tmp_path, monkeypatch):
    # Vertex AI restarts a preempted job with the same CLOUD_ML_JOB_ID
    monkeypatch.setenv("CLOUD_ML_JOB_ID", "4242")
    a = make_logger(fake_vertex, save_dir=str(tmp_path / "attempt1"))
    a.log_metrics({"loss": 1.0}, step=0)
    a.finalize("failed")
    a.close()
    b = make_logger(fake_vertex, save_dir=str(tmp_path / "attempt2"))
    assert b.version == a.version
    b.log_metrics({"loss": 0.5}, step=1)
    b.finalize("success")
    monkeypatch.delenv("CLOUD_ML_JOB_ID")
    assert [r["displayName"] for r in runs_on(fake_vertex)] == [a.version]

    # a Hydra job restarted in its output directory
    out = tmp_path / "hydra-out"
    monkeypatch.setattr(naming, "hydra_output_dir", lambda: str(out))
    h1 = make_logger(fake_vertex, save_dir=str(out))
    h1.log_metrics({"loss": 1.0}, step=0)
    h1.close()
    h2 = make_logger(fake_vertex, save_dir=str(out))
    assert h2.version == h1.version
    # ... but a logger whose save_dir is not the Hydra job's output dir does not take that run
    h3 = make_logger(fake_vertex, save_dir=str(out / "elsewhere"))
    assert h3.version != h1.version
    monkeypatch.setattr(naming, "hydra_output_dir", lambda: None)

    # outside Hydra and Vertex AI: resume=True continues the run journaled in save_dir
    s1 = make_logger(fake_vertex, save_dir=str(tmp_path / "script"))
    s1.log_metrics({"loss": 1.0}, step=0)
    s1.close()
    s2 = make_logger(fake_vertex, save_dir=str(tmp_path / "script"), resume=True)
    assert s2.version == s1.version and s2.log_dir == s1.log_dir


def test_reopening_a_complete_run_is_said_in_one_line(fake_vertex, make_logger, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    done = make_logger(fake_vertex, run_name="r1", save_dir=str(tmp_path / "a"))
    done.log_metrics({"loss": 1.0}, step=0)
    done.finalize("success")
    done.close()
    assert fake_vertex.get(context_name("e", "r1"))["metadata"]["_state"] == "COMPLETE"
    caplog.clear()

    again = make_logger(fake_vertex, run_name="r1", save_dir=str(tmp_path / "a"))  # same journal
    again.log_metrics({"loss": 0.5}, step=1)
    again.finalize("success")  # COMPLETE again
    again.close()
    other = make_logger(fake_vertex, run_name="r1", save_dir=str(tmp_path / "b"))  # found on the server
    other.log_metrics({"loss": 0.25}, step=2)
    assert other.flush(5.0)
    lines = [r.getMessage() for r in caplog.records if "already COMPLETE" in r.getMessage()]
    assert len(lines) == 2, lines  # one line per logger that reopens it
    assert all("\n" not in m and "'r1'" in m and "reopen" in m for m in lines)
    assert len(runs_on(fake_vertex)) == 1


# ----------------------------------------------------------------------------- item 7
def test_never_started_logger_finalize_failed_creates_one_failed_run(fake_vertex, make_logger):
    lg = make_logger(fake_vertex)
    lg.finalize("failed")
    [run] = runs_on(fake_vertex)
    assert run["displayName"] == lg.version and run["metadata"]["_state"] == "FAILED"


class _FailingModule(TinyModule):
    def __init__(self):
        super().__init__(fail_at_epoch=0)


@pytest.mark.slow  # 7 s on an idle 2-core box, 20-28 s when it is shared
@pytest.mark.timeout(120)
def test_ddp_spawn_two_processes_failing_step_gives_one_failed_run(fake_vertex, make_logger):
    lg = make_logger(fake_vertex, flush_timeout=10.0)
    with pytest.raises(Exception, match="boom"):
        fit(lg, epochs=1, module=_FailingModule(), strategy="ddp_spawn", devices=2, accelerator="cpu")
    runs = runs_on(fake_vertex)
    assert [r["displayName"] for r in runs] == [lg.version], runs
    assert runs[0]["metadata"]["_state"] == "FAILED"
    creates = [r for r in fake_vertex.requests_matching("POST", r"/contexts$")
               if r.query.get("contextId") == [f"e-{lg.version}"]]
    assert len(creates) == 1 and creates[0].status == 200
    assert len(fake_vertex.requests_matching("POST", r"/contexts$")) == 2  # the experiment and the run
