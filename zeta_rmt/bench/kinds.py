"""How each kind of case is launched in its child and what comes back as figures.

Every function here returns an :class:`Outcome`; nothing raises for a failing case.

* in-process kinds (``graph_build``, ``loss``, ``overhead``): ``python -m zeta_rmt.bench.child``;
* train kinds (``epoch``, ``stream``): the real ``python -m zeta_rmt.train`` with the case's
  overrides plus the :class:`~zeta_rmt.bench.timer.EpochTimer` callback; the overrides are first
  composed here against the real configs, so an option this checkout lacks (``data.backend``,
  ``model.net.conv``) gives a "not available" line before anything starts;
* ``dataset``: ``python -m zeta_rmt.zeros generate`` into the cache dir (skipped when complete);
* ``derived``: a ratio of two figures of this run's lines.
"""
from __future__ import annotations

import json
import subprocess
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from zeta_rmt.bench.cases import Case
from zeta_rmt.bench.runner import ChildResult, python_child, run_child

TIMER = "zeta_rmt.bench.timer.EpochTimer"
NOT_AVAILABLE_RC = 3


@dataclass
class Outcome:
    status: str                      # ok | failed | not_available
    figures: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    error: str | None = None
    child: ChildResult | None = None


@dataclass
class Context:
    threads: int = 1
    mem_cap_gb: float = 8.0
    timeout_s: float | None = None   # overrides every case's own limit
    lines: dict = field(default_factory=dict)  # case name -> line, this run

    def limit(self, case: Case) -> float:
        return float(self.timeout_s) if self.timeout_s is not None else float(case.timeout_s)


def _fail(child: ChildResult, ctx: Context, case: Case, status: str = "failed") -> Outcome:
    return Outcome(status, error=child.error(ctx.limit(case), ctx.mem_cap_gb), child=child)


# -- in-process kinds ------------------------------------------------------------------------------
def run_in_process(case: Case, ctx: Context) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="zeta_bench_") as tmp:
        out = Path(tmp) / "result.json"
        argv = python_child("zeta_rmt.bench.child", case.kind, json.dumps(case.params), str(out))
        child = run_child(argv, threads=ctx.threads, timeout_s=ctx.limit(case), mem_cap_gb=ctx.mem_cap_gb)
        result = json.loads(out.read_text()) if out.exists() else None
    if child.ok and result and "error" not in result:
        notes = dict(result.get("notes") or {})
        notes["threads_in_child"] = result.get("threads_in_child")
        return Outcome("ok", result.get("figures", {}), result.get("units", {}), notes, child=child)
    if result and "error" in result and not (child.timed_out or child.memory_killed):
        status = "not_available" if child.returncode == NOT_AVAILABLE_RC else "failed"
        return Outcome(status, error=result["error"], child=child)
    return _fail(child, ctx, case)


# -- train kinds -----------------------------------------------------------------------------------
def resolve(overrides: list[str]) -> tuple[dict | None, str | None]:
    """Compose the real config with ``overrides``: (the settings worth recording, None) or (None, error)."""
    from omegaconf import OmegaConf

    from zeta_rmt.bench.measures import compose

    try:
        cfg = compose(overrides)
    except Exception as exc:  # noqa: BLE001 - Hydra's override / missing-key errors
        return None, " ".join(str(exc).split())
    net = cfg.model.net
    out = {
        "data": cfg.data._target_.rsplit(".", 1)[-1], "num_zeros": cfg.data.num_zeros,
        "primes": list(cfg.data.primes), "hidden_channels": net.hidden_channels, "gcn_layers": net.gcn_layers,
        "loss_weights": OmegaConf.to_container(cfg.loss.weights),
        "gue_mmd_mode": cfg.loss.components.gue_mmd.get("mode"),
        "precision": cfg.hardware.get("precision"),
    }
    for key, node in (("conv", net), ("backend", cfg.data), ("graph", cfg.data), ("num_parts", cfg.data),
                      ("batch_size", cfg.data), ("halo", cfg.data)):
        if key in node:
            out[key] = node[key]
    return out, None


def train_overrides(case: Case) -> list[str]:
    p = case.params
    if case.kind == "threads":
        return [f"data.num_zeros={p['N']}", f"trainer.max_epochs={p['epochs']}",
                f"hardware.cpu_threads={p['cpu_threads']}"] if p["cpu_threads"] != "cores" else [
                f"data.num_zeros={p['N']}", f"trainer.max_epochs={p['epochs']}", f"hardware.cpu_threads={_cores()}"]
    if case.kind == "epoch":
        return [f"data.num_zeros={p['N']}", f"trainer.max_epochs={p['epochs']}", *p.get("overrides", [])]
    from zeta_rmt.bench.datasets import dataset_dir

    source = p["source"]
    if source.startswith("dataset:"):
        source = str(dataset_dir(p["dataset"]))
    return ["data=cluster", "data.backend=stream", "loss=rmt_only", "hardware=cpu", f"data.source={source}",
            f"data.num_zeros={p['N']}", "trainer.max_epochs=1", *p.get("overrides", [])]


def _bench_overrides(work: Path) -> list[str]:
    return ["trainer.check_val_every_n_epoch=100000", "~logger", "callbacks=none",
            f"+callbacks.bench_timer._target_={TIMER}", f"+callbacks.bench_timer.path={work / 'timer.json'}",
            "print_summary=false", f"hydra.run.dir={work / 'run'}", "auto_resume=false"]


def timer_figures(rec: dict, spawned_at: float, child: ChildResult) -> dict:
    epochs = [e["end"] - e["start"] for e in rec.get("epochs", []) if e.get("start") and e.get("end")]
    fig: dict = {"epochs_timed": len(epochs)}
    if rec.get("epochs"):
        first = rec["epochs"][0]
        fig["setup_s"] = first["start"] - spawned_at
        fig["first_epoch_s"] = epochs[0]
        fig["steady_epoch_s"] = statistics.median(epochs[1:] or epochs)
        fig["peak_rss_epoch_gb"] = rec["epochs"][-1].get("hwm_gb")
        nodes = rec.get("num_train_nodes")
        if nodes:
            fig["train_nodes"] = nodes
            fig["nodes_per_s"] = nodes / fig["steady_epoch_s"]
        fig["after_fit_s"] = spawned_at + child.wall_s - rec["epochs"][-1]["end"]
    if rec.get("hwm_fit_start_gb") is not None:
        fig["peak_rss_setup_gb"] = rec["hwm_fit_start_gb"]
    fig["peak_rss_process_gb"] = child.peak_rss_gb
    fig["wall_s"] = child.wall_s
    return fig


TRAIN_UNITS = {"epochs_timed": "epochs", "setup_s": "s (spawn to first epoch)", "first_epoch_s": "s",
               "steady_epoch_s": "s/epoch (median after the first)", "peak_rss_epoch_gb": "GB (VmHWM at last epoch end)",
               "train_nodes": "nodes", "nodes_per_s": "train nodes / steady epoch s",
               "after_fit_s": "s (last epoch end to exit: final scoring)", "peak_rss_setup_gb": "GB (VmHWM at fit start)",
               "peak_rss_process_gb": "GB (whole process, wait4 ru_maxrss)", "wall_s": "s"}


def run_train(case: Case, ctx: Context, *, threads: int | None | str = "ctx", env_extra: dict | None = None,
              load: int = 0) -> Outcome:
    """The real training CLI in a child; ``threads`` None leaves the thread count to the child, ``load``
    busy processes (``yes > /dev/null``) run beside it."""
    threads = ctx.threads if threads == "ctx" else threads
    overrides = train_overrides(case)
    resolved, err = resolve(overrides)
    if err is not None:
        return Outcome("not_available", notes={"overrides": overrides},
                       error=f"not available in this checkout: the overrides do not compose: {err}")
    notes = {"overrides": overrides, "resolved": resolved}
    with tempfile.TemporaryDirectory(prefix="zeta_bench_") as tmp:
        work = Path(tmp)
        argv = python_child("zeta_rmt.train", *overrides, *_bench_overrides(work))
        hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL) for _ in range(int(load))]
        try:
            spawned = time.time()
            child = run_child(argv, threads=threads, timeout_s=ctx.limit(case), mem_cap_gb=ctx.mem_cap_gb,
                              env_extra=env_extra)
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        timer = work / "timer.json"
        rec = json.loads(timer.read_text()) if timer.exists() else {}
    figures = timer_figures(rec, spawned, child)
    notes["threads_in_child"] = rec.get("threads")
    if rec.get("used"):
        notes["used"] = rec["used"]
    units = {k: TRAIN_UNITS[k] for k in figures if k in TRAIN_UNITS}
    if load:
        notes["competing_busy_processes"] = int(load)
    if child.ok:
        if not rec.get("epochs"):
            return Outcome("failed", figures, units, notes, "the run exited 0 but the timer recorded no epoch", child)
        return Outcome("ok", figures, units, notes, child=child)
    out = _fail(child, ctx, case)
    out.figures, out.units, out.notes = figures, units, notes  # partial: the epochs done before it stopped
    return out


def _cores() -> int:
    from zeta_rmt.utils.threads import available_cores

    return available_cores()


def run_threads(case: Case, ctx: Context) -> Outcome:
    """A ``threads`` case: no thread variable in the child's environment (``hardware.cpu_threads`` decides),
    ``OMP_WAIT_POLICY`` as the case says (absent: the project's passive default)."""
    p = case.params
    env = {"OMP_WAIT_POLICY": p["wait_policy"]} if "wait_policy" in p else None
    out = run_train(case, ctx, threads=None, env_extra=env, load=int(p.get("load", 0)))
    log = (out.child.stdout if out.child else "") or ""
    chosen = [ln for ln in log.splitlines() if ln.startswith("[zeta_rmt] CPU threads:")]
    if chosen:
        out.notes["thread_choice"] = chosen[0][len("[zeta_rmt] "):]
    if out.child is not None:
        out.figures["cpu_s"] = out.child.cpu_s
        out.units["cpu_s"] = "s (user + system CPU time of the child)"
    return out


# -- dataset ---------------------------------------------------------------------------------------
def run_dataset(case: Case, ctx: Context) -> Outcome:
    from zeta_rmt.bench.datasets import dataset_complete, dataset_dir, stream_available

    path = dataset_dir(case.name)
    notes = {"path": str(path)}
    if dataset_complete(path):
        return Outcome("ok", {"generated": 0}, {"generated": "zeros (already complete)"}, notes)
    why = stream_available()
    if why is not None:
        return Outcome("not_available", notes=notes, error=f"skipped, nothing would read it: {why}")
    p = case.params
    argv = python_child("zeta_rmt.zeros", "generate", "--start", str(p["start"]), "--count", str(p["count"]),
                        "--out", str(path), "--shard-size", "1000000", "--workers", str(ctx.threads), "--no-progress")
    child = run_child(argv, threads=ctx.threads, timeout_s=ctx.limit(case), mem_cap_gb=ctx.mem_cap_gb)
    if not child.ok or not dataset_complete(path):
        out = _fail(child, ctx, case) if not child.ok else Outcome("failed", error="generate exited 0 but the "
                                                                   "manifest is not complete", child=child)
        out.notes = {**notes, "resume": "generate is resumable: rerun the case to continue"}
        return out
    figures = {"generated": p["count"], "seconds": child.wall_s, "zeros_per_s": p["count"] / child.wall_s}
    return Outcome("ok", figures, {"generated": "zeros", "seconds": "s", "zeros_per_s": "zeros/s"}, notes,
                   child=child)


def run_stream(case: Case, ctx: Context) -> Outcome:
    from zeta_rmt.bench.datasets import dataset_complete, dataset_dir, stream_available

    why = stream_available()
    if why is not None:
        return Outcome("not_available", error=why)
    if case.params["source"].startswith("dataset:"):
        name = case.params["source"].split(":", 1)[1]
        if not dataset_complete(dataset_dir(name)):
            return Outcome("failed", error=f"the sharded dataset {dataset_dir(name)} is missing or incomplete "
                                           f"(case {name} did not finish: run it again)")
        case = Case(case.name, case.kind, {**case.params, "dataset": name}, case.timeout_s, case.needs)
    return run_train(case, ctx)


# -- derived ---------------------------------------------------------------------------------------
def run_derived(case: Case, ctx: Context) -> Outcome:
    p = case.params
    key, num, den = p["ratio"], p["numerator"], p["denominator"]
    values = []
    for name in (num, den):
        line = ctx.lines.get(name)
        if line is None:
            return Outcome("failed", error=f"needs case {name} measured in this run (select it too)")
        v = (line.get("figures") or {}).get(key)
        if line.get("status") != "ok" or not isinstance(v, (int, float)) or v <= 0:
            return Outcome("failed", error=f"case {name} has no {key} ({line.get('status')}: {line.get('error')})")
        values.append(float(v))
    notes = {"ratio": f"{num} {key} / {den} {key}", "target": p.get("target")}
    extrapolated = [n for n in (num, den) if (ctx.lines[n].get("notes") or {}).get("scaling")]
    if extrapolated:
        notes["extrapolated_inputs"] = extrapolated
    return Outcome("ok", {"ratio": values[0] / values[1], "numerator": values[0], "denominator": values[1]},
                   {"ratio": "ratio", "numerator": key, "denominator": key}, notes)


RUNNERS = {"graph_build": run_in_process, "loss": run_in_process, "overhead": run_in_process,
           "epoch": run_train, "stream": run_stream, "dataset": run_dataset, "derived": run_derived,
           "threads": run_threads}
