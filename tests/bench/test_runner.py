"""The child runner: exit status, signals and errors of real child processes become one line."""
from __future__ import annotations

import sys

from zeta_rmt.bench.runner import run_child


def test_failing_child_reports_its_last_error_line():
    r = run_child([sys.executable, "-c", "import sys; print('working'); sys.exit('bad input: data.num_zeros=-1')"],
                  timeout_s=60, mem_cap_gb=4)
    assert not r.ok and r.returncode == 1 and not r.timed_out and not r.memory_killed
    assert r.error(60, 4) == "exit status 1: bad input: data.num_zeros=-1"
    assert "working" in r.stdout


def test_child_killed_by_a_signal_is_named():
    r = run_child([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                  timeout_s=60, mem_cap_gb=4)
    assert r.returncode == -9
    assert r.error(60, 4).startswith("killed by SIGKILL")


def test_thread_variables_and_peak_rss_reach_the_child():
    code = ("import os; x = bytearray(200_000_000); x[::4096] = b'1' * len(x[::4096]); "
            "print(os.environ['OMP_NUM_THREADS'], os.environ['ZETA_RMT_BENCH_THREADS'])")
    r = run_child([sys.executable, "-c", code], threads=3, timeout_s=60, mem_cap_gb=4)
    assert r.ok and r.stdout.split() == ["3", "3"]
    assert 0.2 < r.peak_rss_gb < 1.0  # the child's own peak (wait4), not this process's


def test_address_space_backstop_turns_a_huge_allocation_into_an_error():
    r = run_child([sys.executable, "-c", "x = bytearray(20 * 10**9)"], timeout_s=60, mem_cap_gb=1)
    assert r.returncode == 1 and "MemoryError" in r.stderr
    assert r.error(60, 1).startswith("out of memory under the 5 GB address-space limit")
