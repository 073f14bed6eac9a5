"""``limit_flush_time``: the preemption handler caps the final flush to fit the grace period."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.loggers.conftest import LOCATION, PROJECT, logged_points
from zeta_rmt.loggers.vertex.journal import Journal


@pytest.mark.timeout(60)
def test_limit_flush_time_caps_finalize_against_a_hanging_server(fake_vertex, make_logger):
    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    lg = make_logger(fake_vertex, tensorboard="tb1", request_timeout=6.0, flush_timeout=8.0)
    lg.log_metrics({"loss": 1.0}, step=0)
    assert lg.flush(8.0)
    fake_vertex.hang_next(100, seconds=6.0, apply=False)  # from now on nothing answers for 6 s
    for step in range(1, 4):
        lg.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    lg.limit_flush_time(1.0)
    t0 = time.perf_counter()
    lg.finalize("failed")
    took = time.perf_counter() - t0
    assert took < 1.8, took  # not flush_timeout (8 s) nor request_timeout (6 s)
    # the journal holds everything, the final state included, for a later sync
    assert sorted(logged_points(lg)["loss"]) == [0, 1, 2, 3]
    assert Journal.read(Path(lg.log_dir))[-1]["state"] == "FAILED"
    # a later, longer limit does not lift the cap (limits only tighten)
    lg.limit_flush_time(100.0)
    t0 = time.perf_counter()
    lg.flush()
    assert time.perf_counter() - t0 < 1.8
    fake_vertex.clear_faults()


def test_limit_flush_time_is_min_of_flush_timeout(make_logger, tmp_path):
    lg = make_logger(offline=True, flush_timeout=8.0)
    lg.limit_flush_time(30.0)
    assert lg.flush_time_limit == 8.0
    lg.limit_flush_time(2.5)
    assert lg.flush_time_limit == 2.5
    with pytest.raises(ValueError):
        lg.limit_flush_time(-1)
