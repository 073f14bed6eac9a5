"""Run one benchmark case in a fresh child process with an explicit thread count, a time limit
and a memory cap, and measure its peak RSS.

* Threads: ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
  ``NUMBA_NUM_THREADS`` (and :data:`ENV_THREADS`, which in-process cases pass to
  ``torch.set_num_threads``) are set to the requested count, so a case never measures
  oversubscription.
* Peak RSS: ``ru_maxrss`` of the child's own resource usage, from ``os.wait4`` on its pid (the
  maximum over the child and the descendants it waited for), not the parent's.
* Time limit: past ``timeout_s`` the child's process group gets SIGTERM, then SIGKILL.
* Memory cap: the child's resident set (with its descendants) is sampled every 20 ms and the
  group is killed when it passes ``mem_cap_gb``; ``RLIMIT_AS`` at cap + :data:`AS_SLACK_GB` is a
  backstop (address space runs ~0.7 GB above RSS for a torch process).  A failure comes back as
  a :class:`ChildResult`, never as an exception.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ENV_THREADS = "ZETA_RMT_BENCH_THREADS"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "NUMBA_NUM_THREADS", ENV_THREADS)
AS_SLACK_GB = 4.0
POLL_S = 0.02
TERM_GRACE_S = 5.0


@dataclass
class ChildResult:
    returncode: int | None
    wall_s: float
    peak_rss_gb: float | None
    timed_out: bool
    memory_killed: bool
    sampled_peak_gb: float
    stdout: str
    stderr: str
    cpu_s: float | None = None  # user + system CPU seconds of the child (wait4)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.memory_killed

    def error(self, timeout_s: float, mem_cap_gb: float) -> str | None:
        """One line saying why the child failed, ``None`` when it did not."""
        if self.memory_killed:
            return (f"memory cap exceeded: resident set reached {self.sampled_peak_gb:.2f} GB > cap "
                    f"{mem_cap_gb:g} GB after {self.wall_s:.1f} s; killed (raise --mem-cap-gb if the machine "
                    f"has the room)")
        if self.timed_out:
            return f"timeout: still running after {timeout_s:g} s; killed (raise --timeout to wait longer)"
        if self.returncode == 0:
            return None
        tail = last_error_line(self.stderr) or last_error_line(self.stdout)
        if self.returncode is not None and self.returncode < 0:
            sig = signal.Signals(-self.returncode).name
            how = f"killed by {sig}" + (" (the kernel's OOM killer?)" if sig == "SIGKILL" else "")
        else:
            how = f"exit status {self.returncode}"
        if tail and any(s in tail for s in ("MemoryError", "can't allocate memory", "Cannot allocate memory")):
            how = f"out of memory under the {mem_cap_gb + AS_SLACK_GB:g} GB address-space limit, {how}"
        return f"{how}: {tail}" if tail else how


def last_error_line(text: str) -> str:
    """The last non-empty line of a child's output (a traceback's final line)."""
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()[:500]
    return ""


def child_env(threads: int | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: every thread-count variable set to ``threads`` (None: all removed, so the
    child chooses its own count, as a user's run does)."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        if threads is None:
            env.pop(var, None)
        else:
            env[var] = str(int(threads))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    env.update(extra or {})
    return env


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def tree_rss_gb(pid: int) -> float:
    """Resident set of ``pid`` and its descendants, GB."""
    return sum(_rss_kib(p) for p in [pid, *_descendants(pid)]) * 1024 / 1e9


def _limit_address_space(limit_bytes: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return apply


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_child(argv: list[str], *, threads: int | None = 1, timeout_s: float = 600.0, mem_cap_gb: float = 8.0,
              cwd: str | Path | None = None, env_extra: dict[str, str] | None = None) -> ChildResult:
    """Run ``argv`` to completion (or its limits) and return what happened; never raises for the child."""
    limit = int((mem_cap_gb + AS_SLACK_GB) * 1e9)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=child_env(threads, env_extra), start_new_session=True,
                                preexec_fn=_limit_address_space(limit))
        timed_out = killed = False
        sampled = 0.0
        term_at = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter() - t0
            if not killed:
                rss = tree_rss_gb(proc.pid)
                sampled = max(sampled, rss)
                if rss > mem_cap_gb:
                    killed = True
                    _kill_group(proc.pid, signal.SIGKILL)
            if now > timeout_s and not timed_out and not killed:
                timed_out = True
                term_at = now
                _kill_group(proc.pid, signal.SIGTERM)
            if term_at is not None and now > term_at + TERM_GRACE_S:
                _kill_group(proc.pid, signal.SIGKILL)
            time.sleep(POLL_S)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        _kill_group(proc.pid, signal.SIGKILL)  # leftovers of the child's session, if any
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = usage.ru_maxrss * 1024 / 1e9 if usage.ru_maxrss else None
    cpu = (usage.ru_utime + usage.ru_stime) if usage is not None else None
    return ChildResult(proc.returncode, wall, peak, timed_out, killed, sampled, stdout, stderr, cpu)


def python_child(module: str, *args: str) -> list[str]:
    """``python -m module args...`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
