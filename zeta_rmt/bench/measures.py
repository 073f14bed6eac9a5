"""Helpers shared by the measurements: timing, peak RSS, the real Hydra configs, feature checks."""
from __future__ import annotations

import statistics
import time
from typing import Callable

from zeta_rmt.bench.machine import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "configs"


class NotAvailable(RuntimeError):
    """The code a case measures is not in this checkout (yet)."""


def vm_hwm_gb() -> float | None:
    """Peak resident set of this process so far (``/proc/self/status`` VmHWM), GB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except (OSError, ValueError):
        pass
    return None


def timed(fn: Callable[[], object], *, budget_s: float = 3.0, max_reps: int = 20, slow_s: float = 2.0) -> dict:
    """Time ``fn``: one call, then (when that took under ``slow_s``) repeats within ``budget_s``.

    Returns ``seconds`` (the median of the repeats, or the single call when it was slow), the
    ``first_s`` call (includes warm-up) and ``reps``.
    """
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    if first >= slow_s:
        return {"seconds": first, "first_s": first, "reps": 1}
    times: list[float] = []
    spent = first
    while len(times) < 3 or (spent < budget_s and len(times) < max_reps):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        times.append(dt)
        spent += dt
    return {"seconds": statistics.median(times), "first_s": first, "reps": len(times)}


def steady(durations: list[float]) -> float | None:
    """Steady per-epoch time: the median of the epochs after the first (warm-up), or the only one."""
    if not durations:
        return None
    rest = durations[1:] or durations
    return statistics.median(rest)


def compose(overrides: list[str]):
    """``configs/train.yaml`` composed with ``overrides``, as the CLI would (no Hydra run)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=list(overrides))


def has_mmd_mode(mode: str) -> bool:
    from zeta_rmt.losses import gue_mmd

    return mode in getattr(gue_mmd, "MODES", ())
