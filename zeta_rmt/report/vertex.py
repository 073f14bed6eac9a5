"""``vertex://PROJECT/LOCATION/EXPERIMENT``: the runs of a Vertex AI experiment as report runs.

The rows come from the SDK's experiment dataframe, ``google.cloud.aiplatform.get_experiment_df``
(needs ``google-cloud-aiplatform`` and ``pandas``): one row per run with ``run_name``, ``state``,
``param.<key>`` (the flattened, resolved training config that the Vertex logger logs) and
``metric.<key>`` (the summary metrics: the last value of every logged metric).

Mapping to a report run: status from the state (COMPLETE -> completed, FAILED -> failed, anything
else -> missing); regime from ``param.data._target_``; seed and N from ``param.seed`` and
``param.data.num_zeros``; final metrics from ``metric.*``. When ``param.paths.output_dir`` is a
folder on this machine that holds the run's files (``metrics.json``, ``history.json``,
``predictions.npz``), those fill in what Vertex does not keep (wall time, epochs, best metrics,
training curves, predicted spacings).

Anything that returns rows in that shape can stand in for the SDK (``rows=`` argument, or a
``frame_source(project, location, experiment)`` callable): a pandas DataFrame or a list of dicts.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from zeta_rmt.report.runs import ReportInputError, Run, load_run_dir

STATES = {"COMPLETE": "completed", "FAILED": "failed"}
REGIMES = {"ClusterDataModule": "cluster", "FullGraphDataModule": "full"}


def parse_vertex_url(url: str) -> tuple[str, str, str]:
    rest = url[len("vertex://"):] if url.startswith("vertex://") else None
    parts = [p for p in (rest or "").split("/") if p]
    if rest is None or len(parts) != 3:
        raise ReportInputError(f"{url}: expected vertex://PROJECT/LOCATION/EXPERIMENT")
    return parts[0], parts[1], parts[2]


def sdk_frame(project: str, location: str, experiment: str, *, api_endpoint: str | None = None,
              credentials: Any = None) -> Any:
    """``aiplatform.get_experiment_df(experiment)`` after ``aiplatform.init`` for that project and
    location (REST transport; an ``http://`` endpoint, e.g. a local fake, uses anonymous credentials)."""
    try:
        from google.cloud import aiplatform
    except ImportError as exc:
        raise ReportInputError("vertex:// sources need google-cloud-aiplatform: pip install 'zeta_rmt[gcp]'") from exc
    try:
        import pandas  # noqa: F401  (get_experiment_df needs it)
    except ImportError as exc:
        raise ReportInputError("vertex:// sources need pandas (the SDK's experiment dataframe): pip install pandas") \
            from exc
    if credentials == "anonymous" or (credentials is None and api_endpoint and api_endpoint.startswith("http://")):
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    elif credentials == "adc":
        credentials = None
    kwargs: dict[str, Any] = {"project": project, "location": location, "api_transport": "rest"}
    if api_endpoint:
        kwargs["api_endpoint"] = api_endpoint
    if credentials is not None:
        kwargs["credentials"] = credentials
    aiplatform.init(**kwargs)
    try:
        return aiplatform.get_experiment_df(experiment)
    except Exception as exc:  # noqa: BLE001 - NotFound, permission, network: one clear line
        raise ReportInputError(f"vertex://{project}/{location}/{experiment}: cannot read the experiment "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc


def _records(frame) -> list[dict]:
    if frame is None:
        return []
    if hasattr(frame, "to_dict"):
        return list(frame.to_dict("records"))
    return [dict(r) for r in frame]


def _clean(v):
    """pandas gives NaN for a column a run lacks and floats for integer params."""
    if v is None:
        return None
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
    if hasattr(v, "item") and callable(v.item):
        return _clean(v.item())
    return v


def _param(v):
    v = _clean(v)
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    if v == "null":
        return None
    return v


def run_from_row(row: dict, experiment: str) -> Run:
    params = {k[len("param."):]: _param(v) for k, v in row.items() if k.startswith("param.") and _clean(v) is not None}
    metrics = {}
    for k, v in row.items():
        if k.startswith("metric."):
            v = _clean(v)
            if v is None:
                continue
            try:
                metrics[k[len("metric."):]] = float(v)
            except (TypeError, ValueError):
                continue
    name = str(row.get("run_name"))
    state = str(_clean(row.get("state")) or "")
    out = params.get("paths.output_dir")
    run = None
    if isinstance(out, str) and "://" not in out and Path(out).is_dir():
        run = load_run_dir(Path(out), name)
        if run.status == "missing":
            run = None
    if run is None:
        target = str(params.get("data._target_", ""))
        seed, nz = params.get("seed"), params.get("data.num_zeros")
        run = Run(run_id=name, source=f"vertex:{experiment}/{name}", status=STATES.get(state, "missing"),
                  regime=REGIMES.get(target.rsplit(".", 1)[-1]), seed=seed if isinstance(seed, int) else None,
                  num_zeros=nz if isinstance(nz, int) else None, optimized_metric=params.get("optimized_metric"),
                  final=metrics)
        if run.status == "failed":
            run.error = f"Vertex AI run state {state}"
        elif run.status == "missing":
            run.error = f"Vertex AI run state {state or 'unknown'}"
    run.config = params or run.config
    run.source = f"vertex:{experiment}/{name}"
    run.extra["vertex_state"] = state
    return run


def load_vertex_runs(url: str, *, api_endpoint: str | None = None, credentials: Any = None, rows=None,
                     frame_source: Callable[..., Any] | None = None) -> list[Run]:
    project, location, experiment = parse_vertex_url(url)
    if rows is None:
        if frame_source is not None:
            rows = frame_source(project, location, experiment)
        else:
            rows = sdk_frame(project, location, experiment, api_endpoint=api_endpoint, credentials=credentials)
    records = _records(rows)
    if not records:
        raise ReportInputError(f"{url}: the experiment has no runs")
    return [run_from_row(r, experiment) for r in records]
