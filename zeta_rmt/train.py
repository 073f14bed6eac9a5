"""Training entry point: ``python -m zeta_rmt.train [overrides]``.

A thin orchestrator: check the hardware, instantiate the data module, loss, model, callbacks,
loggers and trainer from the composed Hydra config, fit, then report (summary table,
``metrics.json`` in the run directory) and return the optimised metric to sweepers.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import traceback
from typing import Any

import hydra
import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException
import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from zeta_rmt.callbacks import MetricsHistory
from zeta_rmt.launch import checkpoints, cluster_env, hpt, preemption
from zeta_rmt.launch import runtime as cloud_runtime
from zeta_rmt.launch import storage
from zeta_rmt.report import records
from zeta_rmt.utils.config import entry_path, group_entries
from zeta_rmt.utils.config import register_resolvers as register_config_resolvers
from zeta_rmt.utils import memory, threads, typecheck
from zeta_rmt.utils.errors import ConfigError, HardwareError
from zeta_rmt.utils.fsio import DiskFullError
from zeta_rmt.utils.summary import print_summary

cloud_runtime.register_resolvers()  # ${vertex_output_dir:} (jobs launched on Vertex AI)
register_config_resolvers()  # ${zeta_div:a,b} (experiment files)


def check_hardware(cfg: DictConfig) -> None:
    """Refuse a GPU hardware profile on a machine without CUDA, unless CPU fallback is allowed."""
    hw = cfg.hardware
    if hw.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        vertex = hw.get("vertex") or {}
        gpu = vertex.get("accelerator_type", "a GPU")
        if not hw.get("allow_cpu_fallback", False):
            raise HardwareError(
                f"hardware={hw.name} needs {gpu} (accelerator=gpu) but this machine has no usable CUDA GPU "
                f"(torch {torch.__version__}, torch.cuda.is_available() is False). Run locally with "
                f"hardware=cpu, launch the job on Vertex AI (python -m zeta_rmt.launch ... hardware={hw.name}), "
                f"or pass hardware.allow_cpu_fallback=true to train on the CPU anyway."
            )
        print(f"[zeta_rmt] hardware={hw.name}: no CUDA GPU here; falling back to CPU as allowed "
              f"(hardware.allow_cpu_fallback=true).")
        with open_dict(cfg):
            cfg.hardware.accelerator = "cpu"
            cfg.hardware.precision = "32-true"


def apply_cpu_threads(cfg: DictConfig) -> int:
    """``hardware.cpu_threads`` (``auto``: the cores not busy with other processes) for torch and numba."""
    choice = threads.resolve_threads(cfg.hardware.get("cpu_threads", "auto"))
    threads.apply_threads(choice.threads)
    print(f"[zeta_rmt] CPU threads: {choice.threads} ({choice.reason})", flush=True)
    return choice.threads


def apply_matmul_precision(cfg: DictConfig) -> str:
    """``hardware.matmul_precision`` → ``torch.set_float32_matmul_precision``.

    ``auto`` (the GPU profiles): ``high`` (TF32 tensor cores for the float32 hidden layers, what
    A100/L4 do fastest) unless ``data.target=raw``, where it stays ``highest`` (IEEE float32): TF32
    rounds matmul inputs to 2⁻¹¹ relative, ~500 at γ ≈ 10⁶, which would bury the spacings even with
    the float64 head.  ``highest`` | ``high`` | ``medium`` are passed through."""
    choice = str(cfg.hardware.get("matmul_precision", "highest"))
    if choice == "auto":
        choice = "highest" if cfg.data.get("target", "raw") == "raw" else "high"
    if choice not in ("highest", "high", "medium"):
        raise ConfigError(f"hardware.matmul_precision must be auto, highest, high or medium, got {choice!r}")
    torch.set_float32_matmul_precision(choice)
    return choice


def _instantiate(node: Any, what: str, **kwargs):
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        msg = str(cause)
        raise ConfigError(msg if msg.startswith(what) else f"{what}: {msg}") from cause


def validate_config(cfg: DictConfig) -> None:
    """Checks of top-level and trainer keys that Lightning would accept silently or fail on late."""
    def _int(key, value, low):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")

    _monitor_first_objective(cfg)  # several objectives: the best checkpoint follows the first
    for group in ("data", "model", "loss", "trainer", "callbacks", "logger"):
        node = cfg.get(group)
        for key, entry in group_entries(node).items():  # a wrong-typed value fails here, naming its key
            typecheck.check_node(entry, entry_path(group, key))
    tr = cfg.get("trainer") or {}
    if tr.get("max_steps") not in (None, -1):  # a budget in optimiser steps: max_epochs may be -1 (unbounded)
        _int("trainer.max_steps", tr.get("max_steps"), 1)
        if tr.get("max_epochs") != -1:
            _int("trainer.max_epochs", tr.get("max_epochs"), 1)
    else:
        _int("trainer.max_epochs", tr.get("max_epochs"), 1)
    cap = cfg.get("max_num_zeros")
    if cap is not None:
        _int("max_num_zeros", cap, 1)
    if tr.get("check_val_every_n_epoch") is not None:
        _int("trainer.check_val_every_n_epoch", tr.get("check_val_every_n_epoch"), 1)
    if cfg.get("seed") is not None:
        _int("seed", cfg.get("seed"), 0)
    metric = cfg.get("optimized_metric")
    names = list(metric) if isinstance(metric, ListConfig) else [metric]
    if metric is not None and (not names or not all(isinstance(m, str) and m for m in names)):
        raise ConfigError(f"optimized_metric must be a metric name such as 'extrap/mse', or a list of them "
                          f"(the objectives of a multi-objective search), got {metric!r}")


def instantiate_group(group: DictConfig | None, what: str, overrides: dict[str, dict] | None = None) -> list:
    """Instantiate a group's entries (one config with ``_target_``, or a dict of them: callbacks,
    ``logger=many``); ``overrides[key]`` are extra keyword arguments for that entry."""
    return [_instantiate(node, entry_path(what, key), **(overrides or {}).get(key, {}))
            for key, node in group_entries(group).items()]


def trainer_plugins(cfg: DictConfig) -> list:
    """The user's ``trainer.plugins``, plus what every run needs: on a Vertex AI job each node's rank
    from ``CLUSTER_SPEC``, and checkpoints written atomically (unless the user brings a CheckpointIO)."""
    from lightning_fabric.plugins import CheckpointIO

    user = cfg.trainer.get("plugins")
    user = _instantiate(user, "trainer.plugins") if user is not None else []
    plugins = list(user) if isinstance(user, (list, tuple)) else [user]
    plugins += cluster_env.trainer_plugins(cfg)
    if not any(isinstance(p, CheckpointIO) for p in plugins):
        plugins.append(checkpoints.AtomicCheckpointIO())
    return plugins


def optimized_metrics(cfg: DictConfig) -> list[str]:
    """``optimized_metric`` as a list of names (several for a multi-objective search; [] when unset)."""
    metric = cfg.get("optimized_metric")
    if isinstance(metric, ListConfig):
        return [str(m) for m in metric]
    return [str(metric)] if metric else []


def _skipped(cfg: DictConfig, reason: str) -> dict[str, Any]:
    """A sweep point this configuration does not run: ``metrics.json`` says so (``status: skipped``)."""
    result = records.skipped_record(cfg, reason, config_hash=config_hash(cfg))
    out_dir = cfg.get("paths", {}).get("output_dir")
    if out_dir:
        storage.write_text(storage.join(out_dir, records.METRICS_FILE), records.dumps(result))
    print(f"[zeta_rmt] {reason}", flush=True)
    return result


def _monitor_first_objective(cfg: DictConfig) -> None:
    """With several objectives, callbacks that monitor ``${optimized_metric}`` (the best checkpoint)
    follow the first one: a checkpoint callback takes one metric."""
    names = optimized_metrics(cfg)
    if len(names) < 2 or not cfg.get("callbacks"):
        return
    raw = OmegaConf.to_container(cfg.callbacks, resolve=False)
    with open_dict(cfg):
        for key, node in raw.items():
            if isinstance(node, dict) and node.get("monitor") == "${optimized_metric}":
                cfg.callbacks[key].monitor = names[0]


def config_hash(cfg: DictConfig) -> str:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("paths", None)
    resolved.pop("cloud", None)  # where a run is launched does not change what it computes
    for key in ("remote_timeout_s", "memory_reserve_gb"):  # nor how long it waits or when it gives up
        resolved.pop(key, None)
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _floats(metrics: dict) -> dict[str, float]:
    out = {}
    for k, v in metrics.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train one run described by ``cfg``; return its final metrics (plain floats)."""
    t0 = time.perf_counter()
    validate_config(cfg)
    cap = cfg.get("max_num_zeros")
    if cap is not None and int(cfg.data.num_zeros) > int(cap):
        return _skipped(cfg, f"data.num_zeros={cfg.data.num_zeros} is above max_num_zeros={cap} for this "
                             f"configuration (e.g. a full-graph arm of experiment=scaling): skipped, nothing trained")
    storage.set_timeout(cfg.get("remote_timeout_s"))  # bounds every gs:// operation of this run
    datamodule = _instantiate(cfg.data, "data")
    datamodule.check_source()  # a missing or malformed data.source is the first error a user reads
    check_hardware(cfg)
    apply_cpu_threads(cfg)
    apply_matmul_precision(cfg)
    if cfg.get("memory_guard", True):  # refuse, before building anything, a run that cannot fit
        memory.check_fits(cfg)
    plugins = trainer_plugins(cfg)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)

    loss = _instantiate(cfg.loss, "loss")
    if datamodule.regime == "cluster" and loss.needs_full_graph:
        raise ConfigError(
            f"loss components {loss.needs_full_graph} need the whole graph in one batch (the seed rg_penalty "
            f"re-runs the model over every node), which data=cluster does not have. Use loss=rmt_only with "
            f"data=cluster, loss=full_local_rg (the cluster-local scale rg_penalty), set loss.weights.rg=0, "
            f"or train with data=full."
        )
    model = _instantiate(cfg.model, "model", loss=loss)
    model.check_data(datamodule)  # e.g. AR(16) needs 34 known zeros: refused now, naming data.num_zeros
    callbacks = instantiate_group(cfg.get("callbacks"), "callbacks")
    if cfg.trainer.get("enable_progress_bar") is False:  # Lightning refuses a bar callback then: drop ours
        from pytorch_lightning.callbacks.progress.progress_bar import ProgressBar

        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    # file loggers with a gs:// save_dir write locally and are mirrored up (CSVLogger loses rows on gs://)
    logger_overrides, mirror = cloud_runtime.stage_file_loggers(cfg.get("logger"))
    loggers = instantiate_group(cfg.get("logger"), "logger", logger_overrides)
    trainer: pl.Trainer = _instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False,
                                       plugins=plugins)
    for cb in callbacks:
        if isinstance(cb, cloud_runtime.LastCheckpoint):
            cb.mirror = mirror

    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is not None:  # an unreadable file is one line naming ckpt_path, before any training
        checkpoints.check_checkpoint(ckpt_path, "ckpt_path")
    if ckpt_path is None and cfg.get("auto_resume", True) and not trainer.fast_dev_run:
        resume = cloud_runtime.find_resume_checkpoint(callbacks)
        if resume is not None:
            ckpt_path = resume.path
            kept = cloud_runtime.carry_over_csv(trainer.loggers, resume.epochs_done - 1)
            print(f"[zeta_rmt] resuming from {resume.path} ({resume.describe()}); "
                  f"{kept} CSV rows kept. auto_resume=false starts fresh.", flush=True)

    resolved = OmegaConf.to_container(cfg, resolve=True)
    for lg in trainer.loggers:
        lg.log_hyperparams(resolved)

    try:
        # checkpoints hold tensors and plain data only: resumed with torch.load(weights_only=True)
        with memory.watchdog(cfg):  # stops the run with one line before the kernel's OOM killer would
            trainer.fit(model=model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    finally:
        if mirror:  # remote copies of the log files, also without a LastCheckpoint callback
            for lg in trainer.loggers:
                lg.save()
            mirror.sync()

    final = _floats(trainer.callback_metrics)
    if not any(k.startswith("extrap/") for k in final):
        # training ended before any validation epoch: score extrapolation once now
        model.eval()
        final.update(model.extrapolation_metrics())
    wall = time.perf_counter() - t0
    history = next((c for c in callbacks if isinstance(c, MetricsHistory)), None)
    metric_names = optimized_metrics(cfg)
    metric_name = metric_names[0] if metric_names else None  # the "best" epoch: by the first objective
    best = history.best(metric_name) if (history and metric_name) else None
    result = {
        "status": "completed",
        "regime": datamodule.regime,
        "num_zeros": datamodule.num_zeros,
        "seed": cfg.get("seed"),
        "config_hash": config_hash(cfg),
        "wall_time_s": wall,
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),  # optimiser steps (the budget of experiment=ab_rg / scaling)
        "train_nodes_seen": int(model.train_nodes_seen),  # this attempt's steps (a resumed run counts from there)
        "optimized_metric": metric_names if len(metric_names) > 1 else metric_name,
        "final": final,
        "best": best,
        "data": datamodule.describe(),
    }
    out_dir = cfg.get("paths", {}).get("output_dir")
    if out_dir and trainer.is_global_zero:  # local path or gs:// URL; under DDP rank 0 writes
        storage.write_text(storage.join(out_dir, records.METRICS_FILE), records.dumps(result))
        if history is not None:  # per-epoch rows: training curves in `python -m zeta_rmt.report`
            storage.write_text(storage.join(out_dir, records.HISTORY_FILE), records.dumps(history.rows))
    if cfg.get("print_summary", True) and trainer.is_global_zero:
        print_summary(result)
    return result


USER_ERRORS = (ConfigError, HardwareError, ValueError, DiskFullError, memory.MemoryExhausted)


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _record_failure(cfg: DictConfig, exc: BaseException, wall: float, status: str = "failed") -> None:
    """Write ``metrics.json`` with ``status: "failed"`` and the error into the run directory."""
    try:
        out_dir = cfg.get("paths", {}).get("output_dir")
    except Exception:  # noqa: BLE001 - an unresolvable output dir: nowhere to record
        return
    if not out_dir:
        return
    try:
        chash = config_hash(cfg)
    except Exception:  # noqa: BLE001 - the failure may be the config itself
        chash = None
    try:
        rec = records.failure_record(cfg, exc, wall, config_hash=chash)
        rec["status"] = status
        storage.write_text(storage.join(out_dir, records.METRICS_FILE), records.dumps(rec))
    except Exception as write_exc:  # noqa: BLE001 - never hide the run's own error
        print(f"zeta_rmt.train: could not record the failure in {out_dir}: {write_exc}", file=sys.stderr)


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> float | list[float] | None:
    t0 = time.perf_counter()
    try:
        result = train(cfg)
    except SIGTERMException as exc:  # preempted or cancelled: last.ckpt is saved, a restart resumes from it
        _record_failure(cfg, exc, time.perf_counter() - t0, status="preempted")
        saved = preemption.last_saved_path()
        print(f"zeta_rmt.train: SIGTERM: stopped"
              + (f"; {saved} was saved: rerun the same command (same output dir) to resume from it" if saved
                 else "; no checkpoint was saved") + f" (exit status {preemption.EXIT_CODE})", file=sys.stderr, flush=True)
        raise SystemExit(preemption.EXIT_CODE) from None
    except Exception as exc:
        _record_failure(cfg, exc, time.perf_counter() - t0)
        if _in_multirun():
            # one failed sweep point must not stop the sweep: it is recorded (metrics.json,
            # status "failed") and the sweeper gets None (the Optuna sweeper marks the trial failed)
            if not isinstance(exc, USER_ERRORS):
                traceback.print_exc()
            print(f"zeta_rmt.train: run failed, recorded as failed, the sweep goes on: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return None
        if not isinstance(exc, USER_ERRORS) or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        # a clear one-line error instead of a traceback; exit status 2 like a usage error
        print(f"zeta_rmt.train: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    hpt.report_metric(cfg, result)  # a Vertex AI Vizier trial reads it (hparams_search=vizier)
    name = cfg.get("optimized_metric")
    if isinstance(name, ListConfig):  # several objectives (a multi-objective Optuna search): one value each
        values = [result["final"].get(str(n)) for n in name]
        return None if any(v is None or not math.isfinite(v) for v in values) else [float(v) for v in values]
    if name:
        value = result["final"].get(name)
        return None if value is None or not math.isfinite(value) else float(value)
    return None


if __name__ == "__main__":
    # a Vertex AI Vizier trial appends --<parameter>=<value> flags: make them Hydra overrides
    try:
        sys.argv = hpt.translate_trial_argv(sys.argv)
    except ConfigError as exc:
        print(f"zeta_rmt.train: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    main()
