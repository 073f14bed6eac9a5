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
from pathlib import Path
from typing import Any, Iterable

from zeta_rmt.report.records import METRICS_FILE
from zeta_rmt.report.runs import SKIPPED, ReportInputError, Run, _first_metric, arm_label, flatten, ignored_key, load_run_dir

__all__ = ["SKIPPED", "ReportInputError", "Run", "arm_label", "collect", "common_and_varying", "config_diff",
           "find_run_dirs", "flatten", "is_study_source", "load_run_dir", "load_study_runs", "varying_choices"]

STUDY_SUFFIXES = (".db", ".sqlite", ".sqlite3")


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
