"""What a run leaves in its directory for sweeps and reports, and the record of a failed run.

Files (all optional except ``metrics.json``):

* ``metrics.json``   status (``completed`` | ``failed``), regime, num_zeros, seed, config_hash,
  wall_time_s, epochs, optimized_metric, ``final`` and ``best`` metrics, data description;
  a failed run adds ``error`` {type, message, traceback}.
* ``history.json``   one row per epoch: ``{"epoch": e, "<metric>": value, ...}``.
* ``predictions.npz`` the model's heights on the validation + extrapolation nodes
  (``index`` 0-based, ``pred``, ``true``, ``num_train``, ``num_zeros``); see
  :class:`zeta_rmt.callbacks.PredictionsDump`.

This module is imported by the training entry point: keep it free of heavy imports.
"""
from __future__ import annotations

import json
import traceback
from typing import Any

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
PREDICTIONS_FILE = "predictions.npz"

_REGIME_BY_TARGET = {"ClusterDataModule": "cluster", "FullGraphDataModule": "full"}


def _get(cfg, dotted: str, default=None):
    node = cfg
    for part in dotted.split("."):
        try:
            node = node.get(part) if hasattr(node, "get") else None
        except Exception:  # noqa: BLE001 - an unresolvable interpolation: unknown
            return default
        if node is None:
            return default
    return node


def regime_of(cfg) -> str | None:
    """The regime a config asks for, from its data module's class name (without building it)."""
    target = str(_get(cfg, "data._target_", "") or "")
    return _REGIME_BY_TARGET.get(target.rsplit(".", 1)[-1])


def _whole(v) -> int | None:
    """An integer config value (``1e6`` counts), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer():
        return None
    return int(v)


def _untrained_record(cfg, status: str, wall_time_s: float, config_hash: str | None, epochs) -> dict[str, Any]:
    """``metrics.json`` of a run without a trainer's results: what its config says."""
    num_zeros = _get(cfg, "data.num_zeros")
    seed = _get(cfg, "seed")
    return {
        "status": status,
        "regime": regime_of(cfg),
        "num_zeros": _whole(num_zeros),
        "seed": _whole(seed),
        "config_hash": config_hash,
        "wall_time_s": float(wall_time_s),
        "epochs": epochs,
        "optimized_metric": _plain(_get(cfg, "optimized_metric")),
        "final": {},
        "best": None,
        "data": {},
    }


def failure_record(cfg, exc: BaseException, wall_time_s: float, config_hash: str | None = None) -> dict[str, Any]:
    """``metrics.json`` content of a run that raised ``exc``: what is known without its trainer."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    rec = _untrained_record(cfg, "failed", wall_time_s, config_hash, epochs=None)
    rec["error"] = {"type": type(exc).__name__, "message": str(exc), "traceback": tb[-4000:]}
    return rec


def skipped_record(cfg, reason: str, config_hash: str | None = None) -> dict[str, Any]:
    """``metrics.json`` of a sweep point its configuration does not run (``max_num_zeros``)."""
    rec = _untrained_record(cfg, "skipped", 0.0, config_hash, epochs=0)
    rec["reason"] = reason
    return rec


def _plain(value):
    """A config value as plain JSON data (a list of objectives stays a list)."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def dumps(obj) -> str:
    """JSON text as written to run directories (non-finite floats kept as NaN/Infinity)."""
    return json.dumps(obj, indent=2, default=str)
