"""How many CPU threads a run uses, chosen so that a busy machine slows it down but never collapses it.

With another process busy on this 2-core machine, torch's default (one thread per core, OpenMP threads
that spin while they wait) made the default run 10x slower and its CPU time 7x larger: each parallel
region waits for the thread that shares its core with the other process, and the waiting threads spin.
Two things stop that:

* a passive OpenMP wait policy (``OMP_WAIT_POLICY=PASSIVE``), set by ``import zeta_rmt`` before torch
  starts its thread pool (libgomp reads it once, at start-up): idle threads sleep instead of spinning;
* ``hardware.cpu_threads``: ``auto`` uses the cores this process may run on (CPU affinity and a cgroup
  CPU quota) minus the ones other processes keep busy right now, at least 1; an integer fixes it.
  Torch's intra-op and inter-op pools get that count, and numba's pool (the banded stencil, the
  head kernels) follows torch's wherever it runs.

The ``OMP_NUM_THREADS`` environment variable, when set, is respected as a fixed count (``auto`` then
uses it instead of measuring).
"""
from __future__ import annotations

import os
import time

__all__ = ["available_cores", "busy_cores", "resolve_threads", "apply_threads", "ThreadChoice"]


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2/v1 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = None
    try:
        raw = open("/sys/fs/cgroup/cpu.max").read().split()
        if raw and raw[0] != "max":
            quota = float(raw[0]) / float(raw[1])
    except (OSError, ValueError, IndexError):
        try:
            q = float(open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read())
            p = float(open("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read())
            quota = q / p if q > 0 else None
        except (OSError, ValueError):
            quota = None
    if quota is not None:
        cores = min(cores, max(1, int(quota + 0.5)))
    return max(1, cores)


def _cpu_times() -> list[tuple[float, float]] | None:
    """(busy, total) jiffies of every CPU from /proc/stat."""
    try:
        lines = open("/proc/stat").read().splitlines()
    except OSError:
        return None
    out = []
    for line in lines:
        if line.startswith("cpu") and line[3:4].isdigit():
            v = [float(x) for x in line.split()[1:]]
            idle = v[3] + (v[4] if len(v) > 4 else 0.0)
            out.append((sum(v) - idle, sum(v)))
    return out or None


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def busy_cores(sample_s: float = 0.25) -> float:
    """Cores kept busy by *other* processes over the next ``sample_s`` seconds (this one excluded)."""
    first, own0, t0 = _cpu_times(), _own_cpu_seconds(), time.monotonic()
    if first is None:
        return 0.0
    time.sleep(sample_s)
    second, own1, t1 = _cpu_times(), _own_cpu_seconds(), time.monotonic()
    if second is None or len(second) != len(first):
        return 0.0
    busy = sum(b1 - b0 for (b0, _), (b1, _) in zip(first, second))
    total = sum(t1_ - t0_ for (_, t0_), (_, t1_) in zip(first, second))
    if total <= 0:
        return 0.0
    cores_busy = busy / total * len(first)
    own = (own1 - own0) / max(t1 - t0, 1e-6)
    return max(0.0, cores_busy - own)


class ThreadChoice:
    def __init__(self, threads: int, reason: str):
        self.threads, self.reason = int(threads), reason

    def __repr__(self) -> str:
        return f"ThreadChoice({self.threads}, {self.reason!r})"


def resolve_threads(setting="auto", *, cores: int | None = None, busy: float | None = None) -> ThreadChoice:
    """The thread count for ``hardware.cpu_threads`` = ``setting`` (``auto`` or an integer >= 1)."""
    from zeta_rmt.utils.errors import ConfigError

    if setting is None:
        setting = "auto"
    if isinstance(setting, bool) or not (setting == "auto" or (isinstance(setting, int) and setting >= 1)):
        raise ConfigError(f"hardware.cpu_threads must be auto or an integer >= 1, got {setting!r}")
    if setting != "auto":
        return ThreadChoice(setting, f"hardware.cpu_threads={setting}")
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return ThreadChoice(int(env), f"OMP_NUM_THREADS={env}")
    cores = available_cores() if cores is None else int(cores)
    busy = busy_cores() if busy is None else float(busy)
    free = max(1, min(cores, int(cores - busy + 0.5)))
    why = f"{cores} core{'s' if cores != 1 else ''} available"
    if busy >= 0.5:
        why += f", {busy:.1f} busy with other processes"
    return ThreadChoice(free, f"hardware.cpu_threads=auto: {why}")


def apply_threads(threads: int) -> None:
    """Give torch's intra-op and inter-op pools ``threads`` threads. numba's pool follows torch's count
    wherever the project runs numba on the training path (``graph.banded.match_numba_threads``)."""
    import torch

    torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(int(threads))
    except RuntimeError:  # already started in this process (a second run in one interpreter)
        pass
