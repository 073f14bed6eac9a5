"""Framework epoch vs the same computation in a plain loop, and vs the groups' full-graph script.

In one child process, one after the other, each for ``epochs`` full-graph epochs at N zeros:

1. ``framework``: ``zeta_rmt.train.train(cfg)`` on the default config composed with
   ``data.num_zeros=N trainer.max_epochs=E``, no validation, no logger, no callbacks but the
   :class:`~zeta_rmt.bench.timer.EpochTimer`;
2. ``plain``: :class:`~zeta_rmt.bench.plain_loop.PlainLoop` on the same composed config
   (same data module, network, losses, optimiser; no Lightning);
3. ``groups``: :class:`~zeta_rmt.bench.groups_script.GroupsScript`, the groups' formulas
   (dense n×n MMD, sparse COO Â, their rg pass) on the same zeros.

Each reports the steady epoch (median after the first).  Ratios: ``framework / plain`` (the
framework's overhead) and ``groups / framework`` (issue 10: ≥ 10×, aim ≥ 40× at N = 10⁴).
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from zeta_rmt.bench.measures import compose, steady, vm_hwm_gb


def _loop(step, epochs: int) -> list[float]:
    out = []
    for _ in range(epochs):
        t = time.perf_counter()
        step()
        out.append(time.perf_counter() - t)
    return out


def framework_epochs(n: int, epochs: int, extra: list[str], work: Path) -> tuple[list[float], dict]:
    from zeta_rmt.train import train

    timer = work / "timer.json"
    cfg = compose([f"data.num_zeros={n}", f"trainer.max_epochs={epochs}", "trainer.check_val_every_n_epoch=100000",
                   "~logger", "callbacks=none", "+callbacks.bench_timer._target_=zeta_rmt.bench.timer.EpochTimer",
                   f"+callbacks.bench_timer.path={timer}", "print_summary=false", f"paths.output_dir={work / 'run'}",
                   *extra])
    train(cfg)
    rec = json.loads(timer.read_text())
    return [e["end"] - e["start"] for e in rec["epochs"]], rec


def overhead(params: dict) -> dict:
    from zeta_rmt.bench.groups_script import GroupsScript
    from zeta_rmt.bench.plain_loop import PlainLoop
    from zeta_rmt.zeros import load_zeros

    n, epochs = int(params.get("N", 10_000)), int(params.get("epochs", 10))
    extra = list(params.get("overrides", []))
    with tempfile.TemporaryDirectory(prefix="zeta_bench_") as tmp:
        fw, rec = framework_epochs(n, epochs, extra, Path(tmp))
    hwm_fw = vm_hwm_gb()
    cfg = compose([f"data.num_zeros={n}", *extra])
    plain = PlainLoop(cfg)
    pl_times = _loop(plain.epoch, epochs)
    del plain
    zeros = np.asarray(load_zeros("odlyzko", 1, n), dtype=np.float64)
    groups = GroupsScript(zeros, primes=list(cfg.data.primes), train_fraction=float(cfg.data.train_fraction))
    gr_times = _loop(groups.epoch, epochs)
    f, p, g = steady(fw), steady(pl_times), steady(gr_times)
    figures = {
        "framework_epoch_s": f, "plain_epoch_s": p, "groups_script_epoch_s": g,
        "overhead_ratio": f / p, "speedup_vs_groups": g / f,
        "framework_first_epoch_s": fw[0], "plain_first_epoch_s": pl_times[0], "groups_first_epoch_s": gr_times[0],
        "peak_rss_after_framework_gb": hwm_fw,
    }
    units = {k: ("s" if k.endswith("_s") else "GB" if k.endswith("_gb") else "ratio") for k in figures}
    notes = {"epochs_each": epochs, "framework_threads": rec.get("threads"),
             "overhead_ratio": "framework steady epoch / plain-loop steady epoch (same config)",
             "speedup_vs_groups": "groups' script steady epoch / framework steady epoch (issue 10: >= 10, aim >= 40)"}
    return {"figures": figures, "units": units, "notes": notes}
