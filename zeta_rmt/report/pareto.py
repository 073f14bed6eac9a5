"""The Pareto front of a multi-objective Optuna search (``direction: [minimize, minimize]`` with a
list ``optimized_metric``) for the report: from a sweep folder's ``optimization_results.yaml``
(``pareto_front``, written by the zeta_optuna sweeper) or from the study itself."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zeta_rmt.report.collect import Run, _storage_url, is_study_source

RESULTS_FILE = "optimization_results.yaml"


def _resolved(p: Any) -> str | None:
    if not p:
        return None
    s = str(p)
    return s if "://" in s else str(Path(s).resolve())


def _results_files(src: str) -> list[Path]:
    p = Path(src)
    if not p.is_dir():
        return []
    return [f for f in [p / RESULTS_FILE, *sorted(p.glob(f"*/{RESULTS_FILE}"))] if f.is_file()]


def _front_from_results(path: Path, runs: list[Run]) -> dict | None:
    from omegaconf import OmegaConf

    try:
        res = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # noqa: BLE001 - a damaged file: no Pareto section
        return None
    if not isinstance(res, dict) or not isinstance(res.get("pareto_front"), list):
        return None
    metrics = [str(m) for m in (res.get("metric") or [])]
    directions = list(res.get("direction") or [])
    sweep = _resolved(path.parent)
    by_dir = {_resolved(r.source): r for r in runs}
    inside = [r for r in runs if (_resolved(r.source) or "").startswith(sweep + "/")]
    front = []
    for e in res["pareto_front"]:
        run = by_dir.get(_resolved(e.get("output_dir")))
        front.append({"trial": e.get("trial"), "run_id": run.run_id if run else None,
                      "values": [float((e.get("values") or {}).get(m, math.nan)) for m in metrics],
                      "params": e.get("params") or {}, "overrides": e.get("overrides") or []})
    front_ids = {f["run_id"] for f in front if f["run_id"]}
    points = []
    for r in inside:
        vals = [r.metric(m) for m in metrics]
        if r.ok and all(v is not None for v in vals):
            points.append({"run_id": r.run_id, "values": vals, "front": r.run_id in front_ids})
    for f in front:  # a front trial whose run folder holds no metrics: its values from the file
        if f["run_id"] is None or f["run_id"] not in {p["run_id"] for p in points}:
            points.append({"run_id": f["run_id"] or f"trial {f['trial']}", "values": f["values"], "front": True})
    return {"source": str(path), "name": res.get("name") or res.get("study_name"), "metrics": metrics,
            "directions": directions, "front": front, "points": points}


def _fronts_from_study(src: str, runs: list[Run], study_name: str | None) -> list[dict]:
    import optuna

    url = _storage_url(src)
    out = []
    names = [study_name] if study_name else [s.study_name for s in optuna.get_all_study_summaries(storage=url)]
    for name in names:
        study = optuna.load_study(study_name=name, storage=url)
        if len(study.directions) < 2:
            continue
        trial_runs = {r.extra.get("trial"): r for r in runs if r.extra.get("study") == name}
        metrics = next((r.extra["objectives"] for r in trial_runs.values() if r.extra.get("objectives")),
                       [f"objective_{i}" for i in range(len(study.directions))])
        best = sorted(study.best_trials, key=lambda t: (tuple(t.values), t.number))
        front_numbers = {t.number for t in best}
        front = [{"trial": t.number, "run_id": trial_runs[t.number].run_id if t.number in trial_runs else None,
                  "values": [float(v) for v in t.values], "params": dict(t.params),
                  "overrides": list(t.user_attrs.get("overrides", []))} for t in best]
        points = [{"run_id": trial_runs[t.number].run_id if t.number in trial_runs else f"trial {t.number}",
                   "values": [float(v) for v in t.values], "front": t.number in front_numbers}
                  for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        out.append({"source": src, "name": name, "metrics": metrics,
                    "directions": [d.name.lower() for d in study.directions], "front": front, "points": points})
    return out


def pareto_fronts(paths: list[str], runs: list[Run], study: str | None = None) -> list[dict]:
    """One entry per multi-objective search among the report's sources: ``name``, ``metrics``,
    ``directions``, ``front`` (the non-dominated trials: trial, run_id, values, params, overrides)
    and ``points`` (every completed trial's values, ``front`` marking the non-dominated ones)."""
    fronts = []
    for src in paths:
        if src.startswith("vertex://"):
            continue
        if is_study_source(src) and ("://" in src or Path(src).is_file()):
            fronts.extend(_fronts_from_study(src, runs, study))
            continue
        for f in _results_files(src):
            fr = _front_from_results(f, runs)
            if fr is not None and len(fr["metrics"]) >= 2:
                fronts.append(fr)
    return fronts


def _fmt(v) -> str:
    from zeta_rmt.report.build import fmt

    return fmt(v)


def pareto_blocks(fronts: list[dict], out: Path) -> tuple[list, dict[str, Path]]:
    """The report's "Pareto front" section (a table per search and a scatter of the first two
    objectives with the front highlighted) and the PNGs it wrote."""
    from zeta_rmt.report import plots
    from zeta_rmt.report.render import Heading, Image, Para, Table

    blocks, figs = [], {}
    for i, fr in enumerate(fronts):
        metrics = fr["metrics"]
        goals = ", ".join(f"{m} ({d})" for m, d in zip(metrics, fr["directions"]))
        blocks += [Heading(2, f"Pareto front: study {fr['name']}" if fr["name"] else "Pareto front"),
                   Para(f"Multi-objective Optuna search over {goals}: {len(fr['front'])} of {len(fr['points'])} "
                        f"completed trials are not dominated (no other trial is at least as good on every "
                        f"objective and better on one). Source: {fr['source']}.")]
        rows = [[str(f["trial"]), f["run_id"] or "-", *[_fmt(v) for v in f["values"]],
                 " ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in f["params"].items())
                 or " ".join(f["overrides"]) or "-"]
                for f in fr["front"]]
        blocks.append(Table(["trial", "run", *metrics, "searched parameters"], rows))
        name = "pareto" if i == 0 else f"pareto_{i + 1}"
        p = plots.pareto_plot(fr, out / f"{name}.png")
        if p is not None:
            figs[name] = p
            blocks.append(Image(p, f"{metrics[0]} against {metrics[1]}: every completed trial, the Pareto "
                                   f"front highlighted"))
    return blocks, figs
