"""Vertex AI down (connection refused) vs slow (issue 12, item 13).

A refused connection is not a slow one: ``finalize`` gives up the flush at once, keeps the
journal and names the ``sync`` command. A server that answers late is still waited for, up
to ``flush_timeout``.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.fixtures.dead_endpoints import closed_port
from tests.loggers.conftest import LOCATION, PROJECT, logged_points
from zeta_rmt.loggers.vertex.journal import JOURNAL


@pytest.mark.timeout(60)
def test_refused_connection_ends_the_flush_at_once(make_logger, caplog):
    caplog.set_level(logging.INFO, logger="zeta_rmt.loggers.vertex")
    lg = make_logger(api_endpoint=f"http://127.0.0.1:{closed_port()}", tensorboard="tb1", flush_timeout=8.0)
    lg.log_hyperparams({"lr": 0.1})
    for step in range(3):
        lg.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    # as in any real run, the uploader has tried (and been refused) before the run ends; the first
    # attempt also imports the SDK, which takes a few seconds here
    deadline = time.monotonic() + 30
    while lg.experiment.status.failures == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lg.experiment.status.failures >= 1
    t0 = time.perf_counter()
    lg.finalize("success")
    took = time.perf_counter() - t0
    assert took < 1.5, took  # was flush_timeout (8 s here, 30 s by default)
    assert (Path(lg.log_dir) / JOURNAL).is_file()
    assert sorted(logged_points(lg)["loss"]) == [0, 1, 2]  # all of it journaled
    text = caplog.text
    assert "refused" in text and f"python -m zeta_rmt.loggers.vertex sync {lg.log_dir}" in text
    t0 = time.perf_counter()
    assert lg.flush() is False and time.perf_counter() - t0 < 3  # again: no waiting


@pytest.mark.timeout(60)
def test_a_slow_server_is_still_waited_for(fake_vertex, make_logger):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    lg = make_logger(fake_vertex, tensorboard="tb1", request_timeout=5.0, flush_timeout=8.0)
    lg.log_metrics({"loss": 1.0}, step=0)
    assert lg.flush(8.0)
    fake_vertex.hang_next(1, seconds=1.5, apply=True, match=r":write$")  # slow, but answers
    lg.log_metrics({"loss": 0.5}, step=1)
    t0 = time.perf_counter()
    assert lg.flush(8.0) is True
    assert time.perf_counter() - t0 >= 1.2
