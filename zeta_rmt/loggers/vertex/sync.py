"""Replaying journals to Vertex AI after the fact (``python -m zeta_rmt.loggers.vertex sync``)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal import JOURNAL, Journal, RunPlan, UploadLog, UploadState, upload_lock
from .sdk import PermanentError, Target, TransientError, VertexRun, bounded_calls
from .uploader import PassStats, count_unsent, upload_pass

__all__ = ["SyncReport", "find_journals", "sync_run", "run_status"]

log = logging.getLogger("zeta_rmt.loggers.vertex")


@dataclass
class SyncReport:
    directory: Path
    run: str = ""
    experiment: str = ""
    points_total: int = 0
    stats: PassStats = field(default_factory=PassStats)
    remaining: int = 0
    has_tensorboard: bool | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.remaining == 0

    def summary(self) -> str:
        s = self.stats
        head = f"{self.directory}: run {self.experiment}/{self.run}: "
        if self.error:
            return head + f"FAILED ({self.error}); {self.remaining} item(s) still to upload"
        parts = [f"{s.points_written} point(s) uploaded in {s.write_requests} request(s)"]
        if s.points_found:
            parts.append(f"{s.points_found} found already on the server")
        if self.has_tensorboard is False and self.points_total:
            parts.append(f"{self.points_total} point(s) not uploaded: the run has no TensorBoard")
        parts.append("params " + ("updated" if s.params else "up to date"))
        parts.append("summary " + ("updated" if s.summary else "up to date"))
        parts.append(f"state {s.state} set" if s.state else "state up to date")
        return head + "; ".join(parts)


def find_journals(path: str | Path) -> list[Path]:
    """Journal directories at or under ``path`` (a journal file, a run's journal directory,
    a Hydra run directory, or a multirun sweep directory)."""
    path = Path(path)
    if path.is_file() and path.name == JOURNAL:
        return [path.parent]
    if (path / JOURNAL).is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return sorted(p.parent for p in path.rglob(JOURNAL))


def run_status(directory: str | Path) -> dict[str, Any]:
    """What a journal holds and what is not confirmed uploaded yet (no network)."""
    directory = Path(directory)
    plan = RunPlan.from_records(Journal.read(directory))
    ulog = UploadState(directory)
    return {"directory": str(directory), "run": plan.target.get("run_name"), "experiment": plan.target.get("experiment"),
            "points": plan.n_points, "pending_points": sum(len(v) for v in ulog.pending(plan).values()),
            "in_doubt_keys": sorted(ulog.doubt()), "unsent": count_unsent(plan, ulog), "state": plan.state}


def sync_run(directory: str | Path, *, credentials: Any = None, request_timeout: float = 30.0, attempts: int = 4,
             retry_initial: float = 2.0, lock_timeout: float = 60.0, **overrides: Any) -> SyncReport:
    """Upload what a journal holds and Vertex AI does not; safe to repeat (exactly-once).

    ``overrides``: project, location, experiment, run_name, tensorboard, api_endpoint,
    api_transport, credentials mode ("adc"/"anonymous") — replace what the journal says."""
    directory = Path(directory)
    records = Journal.read(directory)
    if not records:
        raise FileNotFoundError(f"no journal records in {directory / JOURNAL}")
    plan = RunPlan.from_records(records)
    mode = overrides.pop("credentials_mode", None)
    target = Target.from_record(plan.target, **overrides, **({"credentials": mode} if mode else {}))
    if credentials is None and target.credentials == "object":
        target = Target.from_record(target.to_record(), credentials="auto")
    report = SyncReport(directory=directory, run=target.run_name, experiment=target.experiment,
                        points_total=plan.n_points)
    run = VertexRun(target, credentials=credentials)
    with bounded_calls(request_timeout), upload_lock(directory, lock_timeout) as locked:
        if not locked:
            report.error = f"another process is uploading {directory} (a live logger?); try again later"
        else:
            # read again under the lock: a live logger may have appended in the meantime
            plan = RunPlan.from_records(Journal.read(directory))
            report.points_total = plan.n_points
            ulog = UploadLog(directory)
            try:
                for attempt in range(attempts):
                    try:
                        upload_pass(run, plan, ulog, stats=report.stats)
                        report.error = None
                        break
                    except TransientError as exc:
                        report.error = str(exc)
                        if attempt + 1 < attempts:
                            delay = retry_initial * 2 ** attempt
                            log.info("sync %s: %s; retrying in %.1f s", directory, exc, delay)
                            time.sleep(delay)
                    except PermanentError as exc:
                        report.error = str(exc)
                        break
            finally:
                ulog.close()
    report.has_tensorboard = run.has_tensorboard if run.connected else None
    state = UploadState(directory)
    report.remaining = count_unsent(plan, state, with_points=run.has_tensorboard or not run.connected)
    return report
