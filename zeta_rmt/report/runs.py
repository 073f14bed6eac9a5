"""One run of the report: the :class:`Run` record, its arm label, and reading a run folder.

Every source (run folders, Optuna trials, Vertex AI runs) becomes :class:`Run` records; the source
readers (:mod:`zeta_rmt.report.collect`, :mod:`zeta_rmt.report.vertex`) import from here, and
from each other never.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zeta_rmt.report.records import HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE

#: config keys that never make two runs different (where they ran, how they print)
IGNORED_KEY_PREFIXES = ("paths.", "hydra.", "cloud.", "logger.", "callbacks.", "print_summary", "tags",
                        "ckpt_path", "auto_resume", "trainer.default_root_dir", "trainer.enable_",
                        "trainer.log_every_n_steps")


#: ``metrics.json`` status of a sweep point above its configuration's N cap (``max_num_zeros``, e.g. a
#: full-graph arm of experiment=scaling): nothing was trained, by design. Such a run is neither
#: completed nor failed; its ``reason`` is kept in ``Run.extra["reason"]``.
SKIPPED = "skipped"


class ReportInputError(ValueError):
    """A report source that cannot be read (missing path, empty study, bad URL)."""


@dataclass
class Run:
    """One training run, whatever its source."""

    run_id: str                       # short name shown in the report
    source: str                       # its folder, trial or Vertex run
    status: str                       # completed | failed | preempted | missing | skipped (see SKIPPED)
    regime: str | None = None
    seed: int | None = None
    num_zeros: int | None = None
    epochs: int | None = None
    global_step: float | None = None        # optimiser steps (metrics.json; the budget of ab_rg / scaling)
    train_nodes_seen: float | None = None
    wall_time_s: float | None = None
    optimized_metric: str | None = None
    config_hash: str | None = None
    final: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] | None = None
    config: dict[str, Any] = field(default_factory=dict)   # flattened, dotted keys
    choices: dict[str, str] = field(default_factory=dict)  # Hydra group choices (data=full, ...)
    overrides: list[str] = field(default_factory=list)
    error: str | None = None
    history: list[dict] = field(default_factory=list)
    predictions_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)    # e.g. Optuna trial number, Vertex state

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @property
    def skipped(self) -> bool:
        """A sweep point its configuration does not run (:data:`SKIPPED`): neither completed nor failed."""
        return self.status == SKIPPED

    @property
    def failed(self) -> bool:
        """Ran (or was meant to run) and did not complete: failed, preempted or missing -- not skipped."""
        return not (self.ok or self.skipped)

    @property
    def arm(self) -> str:
        return arm_label(self)

    def metric(self, name: str, which: str = "final") -> float | None:
        src = self.final if which == "final" else (self.best or {})
        return _num(src.get(name))

    def predictions(self) -> dict[str, np.ndarray] | None:
        if not self.predictions_path:
            return None
        try:
            with np.load(_local_or_fetch(self.predictions_path)) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            return None


def _num(v) -> float | None:
    """A finite float, or None (also for booleans and text)."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def arm_label(run: Run) -> str:
    """``<regime>`` plus every rg-type loss term with a positive weight: ``full+rg`` (the seed
    rg_penalty), ``full``, ``cluster``, ``cluster+local_rg`` (``loss.components.rg.variant=scale``,
    the cluster-local penalty). Without a config, a logged ``train/rg`` marks ``+rg``."""
    regime = run.regime or "?"
    weights = {k[len("loss.weights."):]: v for k, v in run.config.items() if k.startswith("loss.weights.")}
    if weights:
        terms = sorted(_rg_term(run.config, k) for k, v in weights.items() if "rg" in k and (_num(v) or 0.0) > 0)
    else:
        terms = sorted(k.split("/", 1)[1] for k in run.final if k.startswith("train/") and "rg" in k.split("/", 1)[1])
    return "+".join([regime] + terms)


def _rg_term(config: dict, key: str) -> str:
    variant = config.get(f"loss.components.{key}.variant")
    return f"local_{key}" if variant == "scale" else key


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": leaf}``; lists become their JSON text (one comparable value)."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(node, (list, tuple)):
        out[prefix[:-1]] = json.dumps(node, default=str)
    else:
        out[prefix[:-1]] = node
    return out


def ignored_key(key: str) -> bool:
    return key.startswith(IGNORED_KEY_PREFIXES)


def _load_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception:  # noqa: BLE001 - a damaged file: the run is still listed
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _local_or_fetch(path: str):
    if "://" not in path:
        return path
    import io

    from zeta_rmt.launch import storage

    return io.BytesIO(storage.read_bytes(path))


def _short_error(err: Any) -> str | None:
    if isinstance(err, dict):
        return f"{err.get('type', 'Error')}: {err.get('message', '')}".strip()
    return str(err) if err else None


def load_run_dir(run_dir: Path, run_id: str | None = None) -> Run:
    """A run from its folder: ``metrics.json`` (absent: status ``missing``), the Hydra config and
    overrides, ``history.json`` and ``predictions.npz``."""
    run_dir = Path(run_dir)
    rec = _read_json(run_dir / METRICS_FILE)
    cfg = _load_yaml(run_dir / ".hydra" / "config.yaml") or {}
    hydra_cfg = _load_yaml(run_dir / ".hydra" / "hydra.yaml") or {}
    overrides = _load_yaml(run_dir / ".hydra" / "overrides.yaml") or []
    choices = ((hydra_cfg.get("hydra") or {}).get("runtime") or {}).get("choices") or {}
    flat = flatten(cfg) if isinstance(cfg, dict) else {}
    _resolve_leaves(flat, run_dir / ".hydra" / "config.yaml")
    run = Run(run_id=run_id or run_dir.name, source=str(run_dir), status="missing",
              config=flat, choices={str(k): str(v) for k, v in choices.items() if v is not None},
              overrides=[str(o) for o in overrides] if isinstance(overrides, list) else [])
    if not isinstance(rec, dict):
        if (run_dir / METRICS_FILE).exists():
            run.error = f"{METRICS_FILE} is not valid JSON"
        else:
            run.error = f"no {METRICS_FILE}: the run did not finish (killed, or still running)"
        seed = flat.get("seed")
        run.seed = seed if isinstance(seed, int) else None
        nz = flat.get("data.num_zeros")
        run.num_zeros = nz if isinstance(nz, int) else None
        target = str(flat.get("data._target_", ""))
        run.regime = {"ClusterDataModule": "cluster", "FullGraphDataModule": "full"}.get(target.rsplit(".", 1)[-1])
        return run
    run.status = str(rec.get("status", "completed"))
    run.regime = rec.get("regime")
    run.seed = rec.get("seed")
    run.num_zeros = rec.get("num_zeros")
    run.epochs = rec.get("epochs")
    run.global_step = _num(rec.get("global_step"))
    run.train_nodes_seen = _num(rec.get("train_nodes_seen"))
    run.wall_time_s = _num(rec.get("wall_time_s"))
    run.optimized_metric = _first_metric(rec.get("optimized_metric"))
    run.config_hash = rec.get("config_hash")
    run.final = {}
    for k, v in (rec.get("final") or {}).items():
        try:
            run.final[k] = float(v)  # NaN/inf kept: the leaderboard shows them
        except (TypeError, ValueError):
            continue
    run.best = rec.get("best") or None
    run.error = _short_error(rec.get("error"))
    if run.status == SKIPPED and rec.get("reason"):
        run.extra["reason"] = str(rec["reason"])
    hist = _read_json(run_dir / HISTORY_FILE)
    run.history = hist if isinstance(hist, list) else []
    if (run_dir / PREDICTIONS_FILE).exists():
        run.predictions_path = str(run_dir / PREDICTIONS_FILE)
    return run


def _resolve_leaves(flat: dict[str, Any], path: Path) -> None:
    """Replace interpolations (``${oc.select:...}``, ``${trainer.max_epochs}``) by their values where
    they resolve outside the Hydra app; the others (``${hydra:...}``) stay as written."""
    if not any(isinstance(v, str) and "${" in v for v in flat.values()):
        return
    from omegaconf import OmegaConf

    try:
        cfg = OmegaConf.load(path)
    except Exception:  # noqa: BLE001
        return
    for k, v in flat.items():
        if isinstance(v, str) and "${" in v:
            try:
                val = OmegaConf.select(cfg, k)
            except Exception:  # noqa: BLE001 - a resolver that only exists inside a Hydra run
                continue
            if OmegaConf.is_config(val):
                val = json.dumps(OmegaConf.to_container(val, resolve=True), default=str)
            flat[k] = val

def _first_metric(metric: Any) -> str | None:
    """The report's metric of a run whose ``optimized_metric`` may be a list (multi-objective)."""
    if isinstance(metric, (list, tuple)):
        return str(metric[0]) if metric else None
    return metric
