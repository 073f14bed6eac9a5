"""Experiment and run names: validation, and the default run name of a Hydra job."""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from .journal import JOURNAL, read_jsonl

__all__ = ["validate_experiment", "validate_run_name", "default_run_name", "existing_run_name", "sanitize",
           "hydra_output_dir", "is_job_output_dir"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_RUN_ID = 128  # Vertex: len(f"{experiment}-{run}") <= 128


def sanitize(text: str) -> str:
    """Lower-case, characters outside [a-z0-9-] become '-', no leading/trailing '-'."""
    text = re.sub(r"[^a-z0-9-]+", "-", str(text).lower())
    return re.sub(r"-{2,}", "-", text).strip("-")


def validate_experiment(name: str | None) -> str:
    if not name:
        raise ValueError("VertexAIExperimentsLogger: no experiment name: set logger.experiment=NAME "
                         "(logger.vertex.experiment with logger=many) "
                         "(lower-case letters, digits and '-')")
    if not _NAME_RE.match(name) or len(name) > MAX_RUN_ID - 2:
        raise ValueError(f"VertexAIExperimentsLogger: invalid experiment name {name!r}: Vertex AI accepts "
                         f"lower-case letters, digits and '-', starting with a letter or digit, at most "
                         f"{MAX_RUN_ID - 2} characters (e.g. {sanitize(name)[:MAX_RUN_ID - 2]!r})")
    return name


def validate_run_name(run_name: str, experiment: str) -> str:
    if not _NAME_RE.match(run_name):
        raise ValueError(f"VertexAIExperimentsLogger: invalid run name {run_name!r}: Vertex AI accepts "
                         f"lower-case letters, digits and '-' (e.g. {sanitize(run_name)!r})")
    if len(experiment) + 1 + len(run_name) > MAX_RUN_ID:
        raise ValueError(f"VertexAIExperimentsLogger: run name {run_name!r} is too long: "
                         f"'{experiment}-{run_name}' must be at most {MAX_RUN_ID} characters")
    return run_name


def _hydra_job() -> tuple[str | None, int | None]:
    """(job name, job number in a multirun) when running inside a Hydra app."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return None, None
        hc = HydraConfig.get()
        num = hc.job.get("num") if hc.mode == RunMode.MULTIRUN else None
        return hc.job.name, (int(num) if num is not None else None)
    except Exception:  # noqa: BLE001 - naming must never fail a run
        return None, None


def hydra_output_dir() -> str | None:
    """The output directory of the running Hydra job (None outside a Hydra app)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return None
        return str(HydraConfig.get().runtime.output_dir) or None
    except Exception:  # noqa: BLE001 - naming must never fail a run
        return None


def is_job_output_dir(save_dir: str) -> bool:
    """True when ``save_dir`` is the running Hydra job's output directory: a directory that
    names one job (a restart of the job reuses it), unlike e.g. the current directory."""
    out = hydra_output_dir()
    if not out or "://" in str(save_dir):
        return False
    try:
        return Path(save_dir).resolve() == Path(out).resolve()
    except OSError:
        return False


def default_run_name(experiment: str, env: dict | None = None) -> str:
    """A run name unique per Hydra job.

    On Vertex AI (``CLOUD_ML_JOB_ID`` set) it is stable across restarts of the same job
    (preemption): ``<job>-<vertex job id>[-t<trial>][-<multirun num>]``. Elsewhere:
    ``<job>-<YYYYmmdd-HHMMSS>-<4 random hex>[-<multirun num>]``; a restart in the same
    output directory finds the name in the existing journal (:func:`existing_run_name`)."""
    env = os.environ if env is None else env
    job_name, num = _hydra_job()
    job = sanitize(job_name or "run") or "run"
    if env.get("CLOUD_ML_JOB_ID"):
        parts = [sanitize(env["CLOUD_ML_JOB_ID"])]
        if env.get("CLOUD_ML_TRIAL_ID"):
            parts.append("t" + sanitize(env["CLOUD_ML_TRIAL_ID"]))
    else:
        parts = [time.strftime("%Y%m%d-%H%M%S"), secrets.token_hex(2)]
    if num is not None:
        parts.append(str(num))
    tail = "-".join(p for p in parts if p)
    room = MAX_RUN_ID - len(experiment) - 2 - len(tail)
    job = job[:max(1, room)].strip("-") or "run"
    return validate_run_name(f"{job}-{tail}", experiment)


def existing_run_name(root: Path, experiment: str) -> str | None:
    """The run of ``experiment`` already journaled under ``root`` (``<save_dir>/vertex``), if
    there is exactly one: a job restarted in the same directory continues that run."""
    if not root.is_dir():
        return None
    found = []
    for journal in sorted(root.glob(f"*/{JOURNAL}")):
        records, _ = read_jsonl(journal)
        opens = [r for r in records if r.get("kind") == "open"]
        if opens and opens[-1].get("experiment") == experiment and opens[-1].get("run_name"):
            found.append(opens[-1]["run_name"])
    return found[0] if len(found) == 1 else None
