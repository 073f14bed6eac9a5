"""Gather the runs of sweeps, multiruns, single runs or an Optuna study into :class:`Run` records.

Sources (``collect(paths)``):

* a directory: every run below it -- a folder with ``metrics.json``, or a Hydra job folder
  (``.hydra/config.yaml``) without one, which is a run that never finished (status ``missing``);
* a ``metrics.json`` file: that run;
* an Optuna study: ``sqlite:///path.db`` (any SQLAlchemy URL) or a ``*.db`` / ``*.sqlite`` file;
  every trial, with its run folder's files when the trial recorded ``output_dir``;
* ``vertex://PROJECT/LOCATION/EXPERIMENT``: the runs of a Vertex AI experiment
  (:mod:`zeta_rmt.report.vertex`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from zeta_rmt.report.records import HISTORY_FILE, METRICS_FILE, PREDICTIONS_FILE

#: config keys that never make two runs different (where they ran, how they print)
IGNORED_KEY_PREFIXES = ("paths.", "hydra.", "cloud.", "logger.", "callbacks.", "print_summary", "tags",
                        "ckpt_path", "auto_resume", "trainer.default_root_dir", "trainer.enable_",
                        "trainer.log_every_n_steps")
STUDY_SUFFIXES = (".db", ".sqlite", ".sqlite3")


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
        v = src.get(name)
        if v is None:
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        return f if math.isfinite(f) else None

    def predictions(self) -> dict[str, np.ndarray] | None:
        if not self.predictions_path:
            return None
        try:
            with np.load(_local_or_fetch(self.predictions_path)) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            return None


def _num(v) -> float | None:
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


def _is_run_dir(d: Path) -> bool:
    return (d / METRICS_FILE).is_file() or (d / ".hydra" / "config.yaml").is_file()


def find_run_dirs(root: Path) -> list[Path]:
    """Run folders below ``root`` (itself included), sorted by path with numeric parts in order."""
    found = set()
    for p in root.rglob(METRICS_FILE):
        found.add(p.parent)
    for p in root.rglob("config.yaml"):
        if p.parent.name == ".hydra":
            found.add(p.parent.parent)
    found = {d for d in found if _is_run_dir(d)}

    def key(d: Path):
        return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in d.relative_to(root).parts]

    return sorted(found, key=key)


def _rel_id(d: Path, root: Path) -> str:
    rel = d.relative_to(root).as_posix()
    return rel if rel != "." else d.name


def is_study_source(src: str) -> bool:
    return src.startswith("sqlite:") or "+" in src.split("://", 1)[0] or src.lower().endswith(STUDY_SUFFIXES)


def collect(paths: Iterable[str], study: str | None = None, vertex_options: dict | None = None) -> list[Run]:
    """Every run of every source, in order; raises :class:`ReportInputError` on a bad source."""
    paths = [str(p) for p in paths]
    runs: list[Run] = []
    for src in paths:
        src = str(src)
        if src.startswith("vertex://"):
            from zeta_rmt.report.vertex import load_vertex_runs

            runs.extend(load_vertex_runs(src, **(vertex_options or {})))
        elif is_study_source(src) and ("://" in src or Path(src).is_file()):
            runs.extend(load_study_runs(src, study))
        else:
            p = Path(src)
            if not p.exists():
                raise ReportInputError(f"{src}: no such file or directory (give multirun/sweep/run folders, "
                                       f"a metrics.json, an Optuna study sqlite:///FILE.db, or vertex://P/L/E)")
            if p.is_file():
                if p.name != METRICS_FILE:
                    raise ReportInputError(f"{src}: not a {METRICS_FILE}, a run folder or an Optuna study file")
                runs.append(load_run_dir(p.parent))
                continue
            dirs = find_run_dirs(p)
            if not dirs:
                raise ReportInputError(f"{src}: no runs below it (no {METRICS_FILE} and no .hydra/config.yaml)")
            prefix = f"{p.name}/" if len(paths) > 1 else ""
            runs.extend(load_run_dir(d, prefix + _rel_id(d, p)) for d in dirs)
    if not runs:
        raise ReportInputError("no runs found in " + ", ".join(map(str, paths)))
    return runs


# -- Optuna ------------------------------------------------------------------------------------
def _storage_url(src: str) -> str:
    if "://" in src:
        return src
    return f"sqlite:///{Path(src).resolve()}"


def load_study_runs(src: str, study_name: str | None = None) -> list[Run]:
    """Runs of the trials of one study (``study_name``) or of every study in the storage."""
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is in the hpo/dev extras
        raise ReportInputError(f"{src}: reading an Optuna study needs optuna: pip install 'zeta_rmt[hpo]'") from exc
    url = _storage_url(src)
    if "://" not in src and not Path(src).is_file():
        raise ReportInputError(f"{src}: no such study file")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        summaries = optuna.get_all_study_summaries(storage=url, include_best_trial=False)
    except Exception as exc:  # noqa: BLE001 - not a study database
        raise ReportInputError(f"{src}: not an Optuna storage ({type(exc).__name__}: {exc})") from exc
    names = [s.study_name for s in summaries]
    if study_name is not None:
        if study_name not in names:
            raise ReportInputError(f"{src}: no study {study_name!r}; studies: {names}")
        names = [study_name]
    if not names:
        raise ReportInputError(f"{src}: the storage holds no study")
    runs = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=url)
        metric = study.user_attrs.get("optimized_metric") or study.metric_names
        for t in study.get_trials(deepcopy=False):
            runs.append(_trial_run(study, t, metric, len(names) > 1))
    return runs


def _first_metric(metric: Any) -> str | None:
    """The report's metric of a run whose ``optimized_metric`` may be a list (multi-objective)."""
    if isinstance(metric, (list, tuple)):
        return str(metric[0]) if metric else None
    return metric


def _metric_list(metric: Any, n: int) -> list[str]:
    names = [str(m) for m in metric] if isinstance(metric, (list, tuple)) else ([str(metric)] if metric else [])
    if n == 1:
        return names[:1]
    return names if len(names) == n else [f"objective_{i}" for i in range(n)]


def _trial_run(study, t, metric: Any, qualify: bool) -> Run:
    from optuna.trial import TrialState

    names = _metric_list(metric, len(study.directions))
    metric = _first_metric(metric)
    values = list(t.values) if t.values is not None else None

    run_id = (f"{study.study_name}/" if qualify else "") + f"trial {t.number}"
    out = t.user_attrs.get("output_dir")
    run = None
    if out and "://" not in out and _is_run_dir(Path(out)):
        run = load_run_dir(Path(out), run_id)
    if run is None:
        state = {TrialState.COMPLETE: "completed", TrialState.RUNNING: "missing", TrialState.WAITING: "missing"}
        run = Run(run_id=run_id, source=out or f"{study.study_name}#{t.number}",
                  status=state.get(t.state, "failed"), optimized_metric=metric,
                  config={k: v for k, v in t.params.items()}, overrides=list(t.user_attrs.get("overrides", [])))
        for name, v in zip(names, values or []):
            run.final[name] = float(v)
        if t.datetime_start and t.datetime_complete:
            run.wall_time_s = (t.datetime_complete - t.datetime_start).total_seconds()
    if t.state.name == "FAIL" and run.status == "completed":
        run.status = "failed"  # the study's verdict wins (e.g. a non-finite objective)
    if t.state.name == "FAIL" and not run.error:
        run.error = t.user_attrs.get("failure") or "trial failed"
    run.extra.update(trial=t.number, study=study.study_name, trial_state=t.state.name,
                     trial_value=values[0] if values else None, params=dict(t.params))
    if len(names) > 1:
        run.extra.update(objectives=names, trial_values=values)
    return run


def common_and_varying(runs: list[Run]) -> tuple[dict[str, Any], list[str]]:
    """(config values shared by every run, keys whose value differs between runs), ignoring
    seeds and where/how runs write; a key missing in some runs is explained by a group choice."""
    with_cfg = [r for r in runs if r.config]
    if not with_cfg:
        return {}, []
    keys = set.intersection(*(set(r.config) for r in with_cfg))
    varying, common = [], {}
    for k in sorted(keys):
        if ignored_key(k) or k == "seed":
            continue
        vals = {json.dumps(r.config[k], default=str, sort_keys=True) for r in with_cfg}
        if len(vals) > 1:
            varying.append(k)
        else:
            common[k] = with_cfg[0].config[k]
    return common, varying


def varying_choices(runs: list[Run]) -> list[str]:
    groups = set().union(*(r.choices for r in runs)) if runs else set()
    out = []
    for g in sorted(groups):
        if g.startswith("hydra/") or g in ("paths", "logger", "callbacks", "cloud"):
            continue
        if len({r.choices.get(g) for r in runs}) > 1:
            out.append(g)
    return out


def config_diff(run: Run, varying: list[str], groups: list[str]) -> str:
    parts = [f"{g}={run.choices.get(g)}" for g in groups if g in run.choices]
    for k in varying:
        if k in run.config:
            v = run.config[k]
            parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)
