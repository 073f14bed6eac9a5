"""Vertex AI failing during a run: 503s, hangs, an outage, a crash mid-write.

In every case training completes, exactly one warning is logged, and after ``sync`` the
server holds every logged point exactly once (the fake counts writes per step)."""
from __future__ import annotations

import logging
import time

import pytest

from tests.loggers.conftest import LOCATION, PROJECT, context_name, fit, logged_points, tb_run_name
from tests.loggers.test_vertex_logger import assert_points_exactly_once
from zeta_rmt.loggers.vertex import sync_run
from zeta_rmt.loggers.vertex.__main__ import main as cli
from zeta_rmt.loggers.vertex.journal import UploadState


@pytest.fixture
def server(fake_vertex):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    return fake_vertex


def warnings_of(caplog):
    return [r for r in caplog.records if r.name == "zeta_rmt.loggers.vertex" and r.levelno >= logging.WARNING]


def state_of(server, lg):
    return server.get(context_name("e", lg.version))["metadata"]["_state"]


def test_503s_are_retried_with_one_warning(server, make_logger, caplog):
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    server.fail_next(3, status=503, match=r":write$")
    server.fail_next(2, status=503, match=r"PATCH .*/contexts/e-")
    server.fail_next(1, status=500, match=r"/timeSeries$")
    lg = make_logger(server, tensorboard="tb1")
    lg.log_hyperparams({"lr": 0.1})
    fit(lg, epochs=3)
    assert state_of(server, lg) == "COMPLETE"
    assert_points_exactly_once(server, lg)
    assert len(server.requests_matching(pattern=r":write$")) > 3  # retried
    warns = warnings_of(caplog)
    assert len(warns) == 1 and "answered with an error (" in warns[0].getMessage()
    assert "recovered" in caplog.text
    lg.close()
    assert cli(["sync", lg.log_dir]) == 0  # nothing left, nothing written twice
    assert_points_exactly_once(server, lg)


def test_hanging_server_never_blocks_training_and_lost_answers_are_not_rewritten(server, make_logger, caplog):
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    lg = make_logger(server, tensorboard="tb1", flush_timeout=10.0)
    lg.log_metrics({"loss": 1.0}, step=0)
    assert lg.flush(5.0)
    # every write hangs for 3 s, but takes effect: the answer is lost (client timeout: 1 s)
    server.hang_next(2, seconds=3.0, apply=True, match=r":write$")
    server.hang_next(1, seconds=3.0, apply=False, match=r"PATCH")  # and one update is dropped
    slowest = 0.0
    for step in range(1, 41):
        t0 = time.perf_counter()
        lg.log_metrics({"loss": 1.0 / step, "acc": step / 40}, step=step)
        slowest = max(slowest, time.perf_counter() - t0)
        time.sleep(0.02)
    t0 = time.perf_counter()
    lg.finalize("success")
    finalize_s = time.perf_counter() - t0
    assert slowest < 0.2  # logging never waits for the network
    assert finalize_s < 10.0
    assert state_of(server, lg) == "COMPLETE"
    assert_points_exactly_once(server, lg)
    # lost answers were settled by reading the series back, not by writing again
    assert server.requests_matching("POST", r":exportTensorboardTimeSeries$")
    assert len(warnings_of(caplog)) == 1 and "did not answer in time" in warnings_of(caplog)[0].getMessage()
    lg.close()
    assert cli(["sync", lg.log_dir]) == 0
    assert_points_exactly_once(server, lg)


def test_outage_during_the_run_then_sync(server, make_logger, caplog):
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    lg = make_logger(server, tensorboard="tb1", flush_timeout=1.5)
    lg.log_hyperparams({"lr": 0.1})
    for step in range(10):
        lg.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    assert lg.flush(5.0)

    server.stop()  # down for a while
    for step in range(10, 20):
        lg.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    assert not lg.flush(1.0)
    server.start()
    for step in range(20, 25):
        lg.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.5}, step=step)
    assert lg.flush(5.0)  # back: the backlog goes up
    assert_points_exactly_once(server, lg)

    server.stop()  # down again at the very end
    for step in range(25, 30):
        lg.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.6}, step=step)
    t0 = time.perf_counter()
    lg.finalize("success")
    assert time.perf_counter() - t0 < 3.0
    lg.close(timeout=0)
    warns = warnings_of(caplog)
    assert len(warns) == 1 and "cannot reach Vertex AI at http://127.0.0.1:" in warns[0].getMessage()
    assert f"python -m zeta_rmt.loggers.vertex sync {lg.log_dir}" in warns[0].getMessage()

    server.start()
    assert cli(["sync", lg.log_dir, "--timeout", "2"]) == 0
    assert state_of(server, lg) == "COMPLETE"
    assert server.get(context_name("e", lg.version))["metadata"]["_metrics"] == {"loss": 1 / 30, "acc": 0.6}
    assert_points_exactly_once(server, lg)
    assert sum(len(v) for v in logged_points(lg).values()) == 30 + 10
    assert cli(["sync", lg.log_dir]) == 0  # again: nothing to do, nothing duplicated
    assert_points_exactly_once(server, lg)


def test_crash_after_an_unanswered_write_then_sync_does_not_duplicate(server, make_logger):
    lg = make_logger(server, tensorboard="tb1", flush_timeout=0.5, retry_initial=5.0)
    lg.log_metrics({"loss": 0.0}, step=0)
    assert lg.flush(5.0)
    server.hang_next(1, seconds=3.0, apply=True, match=r":write$")  # applied, answer lost ...
    for step in range(1, 8):
        lg.log_metrics({"loss": float(step)}, step=step)
    lg.finalize("success")
    lg.close(timeout=0, join=3.0)  # ... and the process dies before it learns the outcome
    before = UploadState(lg.log_dir)
    assert "loss" in before.doubt()
    counts = server.write_counts(tb_run_name("e", lg.version))["loss"]
    assert all(counts.get(s) == 1 for s in range(8))  # the server has them all already

    report = sync_run(lg.log_dir, request_timeout=2.0)
    assert report.ok, report.summary()
    assert report.stats.points_found == 7 and report.stats.points_written == 0
    assert state_of(server, lg) == "COMPLETE"
    assert_points_exactly_once(server, lg)
    assert UploadState(lg.log_dir).doubt() == {}


def test_sync_against_a_down_server_reports_and_keeps_everything(server, make_logger, capsys):
    lg = make_logger(offline=True, tensorboard="tb1", api_endpoint=server.endpoint)
    for step in range(5):
        lg.log_metrics({"loss": float(step)}, step=step)
    lg.finalize("success")
    server.stop()
    t0 = time.perf_counter()
    rc = cli(["sync", lg.log_dir, "--timeout", "1", "--attempts", "2", "--retry-initial", "0.1"])
    took = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 1 and "FAILED (cannot reach Vertex AI at http://127.0.0.1:" in err and took < 5
    server.start()
    assert cli(["sync", lg.log_dir]) == 0
    assert_points_exactly_once(server, lg)


def test_sync_while_the_live_logger_uploads(server, make_logger):
    """Both upload the same run; the lock and the shared upload record keep every point single."""
    lg = make_logger(server, tensorboard="tb1", flush_interval=0.05)
    reports = []
    for step in range(60):
        lg.log_metrics({"loss": float(step), "acc": step / 60}, step=step)
        if step % 15 == 14:
            reports.append(sync_run(lg.log_dir, request_timeout=2.0))
        time.sleep(0.01)
    lg.finalize("success")
    assert all(r.error is None for r in reports), [r.summary() for r in reports]
    assert sum(r.stats.points_written for r in reports) > 0  # sync did take part
    assert_points_exactly_once(server, lg)
    assert state_of(server, lg) == "COMPLETE"
