"""Uploading a journaled run: one idempotent pass, and the background thread that repeats it.

:func:`upload_pass` brings the server up to date with a :class:`RunPlan` (what the journal
says) and an :class:`UploadLog` (what is known to be there). The live logger runs it in a
background thread (:class:`BackgroundUploader`); ``sync`` runs it from the command line.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .journal import JOURNAL, RunPlan, UploadLog, UploadState, digest, read_jsonl, upload_lock
from .params import summary_value
from .sdk import MAX_POINTS_PER_WRITE, PermanentError, Target, TransientError, VertexRun, bounded_calls

__all__ = ["PassStats", "upload_pass", "BackgroundUploader"]

log = logging.getLogger("zeta_rmt.loggers.vertex")


@dataclass
class PassStats:
    points_written: int = 0
    points_found: int = 0  # in doubt, and found on the server by a read: not written again
    series_read: int = 0
    params: bool = False
    summary: bool = False
    state: str | None = None
    write_requests: int = 0

    def merge(self, other: "PassStats") -> None:
        self.points_written += other.points_written
        self.points_found += other.points_found
        self.series_read += other.series_read
        self.params |= other.params
        self.summary |= other.summary
        self.state = other.state or self.state
        self.write_requests += other.write_requests


def _batches(pending: dict[str, dict[int, Any]], limit: int):
    batch: dict[str, dict[int, Any]] = {}
    n = 0
    for key in sorted(pending):
        for step in sorted(pending[key]):
            if n >= limit:
                yield batch
                batch, n = {}, 0
            batch.setdefault(key, {})[step] = pending[key][step]
            n += 1
    if batch:
        yield batch


def upload_pass(run: VertexRun, plan: RunPlan, ulog: UploadLog, max_points: int = MAX_POINTS_PER_WRITE,
                stats: PassStats | None = None) -> PassStats:
    """Make the server hold ``plan``. Idempotent; raises Transient/PermanentError.

    Order: run (create/resume) → parameters → time-series points → summary metrics and
    state (last, so COMPLETE is set only once the data is there)."""
    stats = stats if stats is not None else PassStats()
    ulog.refresh()
    run.connect()
    if (plan.state == "RUNNING" and ulog.state != "RUNNING" and run.state_at_connect == "COMPLETE"
            and not run.reopen_noted):
        run.reopen_noted = True
        log.warning(reopen_message(run.target.run_name, run.target.experiment, "on Vertex AI"))

    params_digest = digest(plan.params) if plan.params else None
    if params_digest and params_digest != ulog.params_digest:
        run.update_run(params=plan.params)
        ulog.record_digest("params", params_digest)
        stats.params = True

    if not run.has_tensorboard and plan.points and not run.no_tensorboard_noted:
        run.no_tensorboard_noted = True
        n = sum(len(v) for v in plan.points.values())
        log.warning(f"Vertex AI run {run.target.experiment}/{run.target.run_name} has no TensorBoard (logger.tensorboard "
                    f"is unset and the experiment has no backing one): its {n}+ time-series point(s) stay in the "
                    f"journal {ulog.dir} and only summary metrics are uploaded. Set logger.tensorboard=<TensorBoard "
                    f"ID> (or assign one to the experiment), then `python -m zeta_rmt.loggers.vertex sync "
                    f"{ulog.dir}` uploads them")
    if run.has_tensorboard:
        pending = ulog.pending(plan)
        # Settle writes whose outcome is unknown: read what the server holds, skip it.
        for key, tries in sorted(ulog.doubt().items()):
            if key in pending:
                have = run.server_steps(key) & set(pending[key])
                stats.series_read += 1
                stats.points_found += len(have)
                ulog.record_have(key, sorted(have))
            ulog.record_checked(key, tries)
        pending = ulog.pending(plan)
        for batch in _batches(pending, max_points):
            run.ensure_series(list(batch))
            tid = ulog.record_try({k: sorted(v) for k, v in batch.items()})
            run.write_points(batch)  # on failure the try stays open: its keys are in doubt
            ulog.record_done(tid)
            stats.write_requests += 1
            stats.points_written += sum(len(v) for v in batch.values())

    summary = {k: summary_value(float(v)) for k, v in plan.summary.items()}
    summary_digest = digest(summary) if summary else None
    send_summary = summary if summary_digest and summary_digest != ulog.summary_digest else None
    send_state = plan.state if plan.state and plan.state != ulog.state else None
    if send_summary or send_state:
        run.update_run(summary=send_summary, state=send_state)
        if send_summary:
            ulog.record_digest("summary", summary_digest)
            stats.summary = True
        if send_state:
            ulog.record_digest("state", send_state)
            stats.state = send_state
    return stats


def reopen_message(run_name: str, experiment: str, where: str) -> str:
    """The one line that says a COMPLETE run is being reopened."""
    return (f"Vertex AI logger: run {run_name!r} of experiment {experiment!r} is already COMPLETE ({where}); "
            f"reopening it: its state is RUNNING again until this job ends (give another run_name for a new run)")


def count_unsent(plan: RunPlan, ulog: UploadState, with_points: bool = True) -> int:
    """Items of ``plan`` not confirmed on the server (points + params/summary/state)."""
    n = sum(len(v) for v in ulog.pending(plan).values()) if with_points else 0
    n += bool(plan.params) and digest(plan.params) != ulog.params_digest
    summary = {k: summary_value(float(v)) for k, v in plan.summary.items()}
    n += bool(summary) and digest(summary) != ulog.summary_digest
    n += bool(plan.state) and plan.state != ulog.state
    return int(n)


@dataclass
class _Settings:
    request_timeout: float = 15.0
    flush_interval: float = 5.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    flush_retry: float = 0.25
    batch_points: int = 1000  # upload early when this many points are waiting
    lock_timeout: float = 5.0


@dataclass
class _Status:
    failures: int = 0
    degraded_since: float | None = None
    last_error: str | None = None
    disabled: str | None = None  # a permanent error: uploads are off for this process
    refused: bool = False  # the last attempt's connection was refused (the endpoint is down, not slow)
    successes: int = 0
    stats: PassStats = field(default_factory=PassStats)


class BackgroundUploader:
    """Uploads a run's journal from a daemon thread; never raises into training.

    The journal file is the only input: each pass first reads what was appended to it
    since the last pass (by this process or any other writer of the run), so the plan is
    always the whole journal; ``submit(record)`` only says that something was appended.
    Passes run every ``flush_interval`` seconds while there is something new, sooner when
    ``batch_points`` points wait, and at once on ``flush()``. Failures are retried with
    exponential backoff (``retry_initial`` … ``retry_max``)."""

    def __init__(self, directory: str | Path, target: Target, credentials: Any = None,
                 warn: Callable[[str, bool], None] | None = None, reopen_noted: bool = False, **settings: Any):
        self.dir = Path(directory)
        self.target = target
        self.plan = RunPlan()  # owned by the uploader thread
        self._journal_offset = 0
        self.settings = _Settings(**settings)
        self.status = _Status()
        self.vertex_run = VertexRun(target, credentials=credentials)
        self.vertex_run.reopen_noted = reopen_noted
        self._ulog = UploadLog(self.dir)
        self._warn = warn or (lambda msg, permanent: log.warning(msg))
        self._cond = threading.Condition()
        self._gen = 1  # bumped by every submit (1: what the journal held at start)
        self._done_gen = 0  # generation of the last successful pass
        self._points_waiting = 0
        self._first_waiting: float | None = time.monotonic() - self.settings.flush_interval  # connect at once
        self._next_attempt = 0.0
        self._flushing = 0
        self._flush_gave_up = False
        self._attempts = 0  # passes finished (successful or not)
        self._last_attempt_end = 0.0
        self._stop = False
        self._thread = threading.Thread(target=self._main, name=f"vertex-uploader:{target.run_name}", daemon=True)
        self._thread.start()

    # called from the training thread --------------------------------------------
    def submit(self, record: dict) -> None:
        with self._cond:
            self._gen += 1
            if self._first_waiting is None:
                self._first_waiting = time.monotonic()
            if record.get("kind") == "metrics":
                self._points_waiting += len(record.get("metrics", {}))
            if self._points_waiting >= self.settings.batch_points or record.get("kind") == "state":
                self._cond.notify_all()

    @property
    def up_to_date(self) -> bool:
        with self._cond:
            return self._done_gen >= self._gen

    def flush(self, timeout: float) -> bool:
        """Upload everything submitted so far; wait at most ``timeout`` seconds.

        Returns True when the server holds it all. After a flush that timed out, and until
        a pass succeeds again, a flush waits for one more attempt only (Vertex AI is known
        to be failing: no point in waiting the full timeout again). A refused connection is
        not a slow server: once an attempt is refused the flush returns at once (a server
        that answers late is still waited for, up to ``timeout``)."""
        with self._cond:
            target_gen = self._gen
            if self._done_gen >= target_gen:
                return True
            if self.status.disabled:
                return False
            one_try = self._flush_gave_up or self.status.refused
            attempts_before = self._attempts
            self._flushing += 1
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            try:
                while self._done_gen < target_gen and not self.status.disabled:
                    if (one_try or self.status.refused) and self._attempts > attempts_before:
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            finally:
                self._flushing -= 1
            ok = self._done_gen >= target_gen
            self._flush_gave_up = not ok
            return ok

    def unsent(self) -> int:
        """Items not confirmed on the server (read from disk: safe while a pass runs)."""
        plan = RunPlan.from_records(read_jsonl(self.dir / JOURNAL)[0])
        with_points = self.vertex_run.has_tensorboard or not self.vertex_run.connected
        return count_unsent(plan, UploadState(self.dir), with_points=with_points)

    def close(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._ulog.close()

    # the thread --------------------------------------------------------------
    def _due(self, now: float) -> float | None:
        """Seconds until the next pass should start (0: now), None: nothing to do."""
        if self._done_gen >= self._gen or self.status.disabled or self._stop:
            return None
        wait = max(0.0, self._next_attempt - now)
        if self._flushing:  # someone waits: retry soon, whatever the backoff says
            return max(0.0, min(self._next_attempt, self._last_attempt_end + self.settings.flush_retry) - now)
        if self._points_waiting >= self.settings.batch_points:
            return wait
        since = now - (self._first_waiting or now)
        return max(wait, self.settings.flush_interval - since)

    def _main(self) -> None:
        try:
            with bounded_calls(self.settings.request_timeout):
                self._loop()
        except PermanentError as exc:  # e.g. an SDK without what the logger needs (check_sdk_compat)
            self._disable(str(exc))
        except Exception as exc:  # noqa: BLE001 - the thread must never take training down
            self._disable(f"the uploader stopped on an unexpected error: {type(exc).__name__}: {exc}")
            log.debug("vertex uploader crashed", exc_info=True)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    due = self._due(time.monotonic())
                    if due is None and self._stop:
                        return
                    if due == 0.0:
                        break
                    self._cond.wait(due if due is not None else None)
                gen = self._gen
                self._points_waiting = 0
                self._first_waiting = None
            self._attempt(gen, self.plan)

    def _attempt(self, gen: int, plan: RunPlan) -> None:
        try:
            self._attempt_once(gen, plan)
        finally:
            with self._cond:
                self._attempts += 1
                self._last_attempt_end = time.monotonic()
                self._cond.notify_all()

    def _attempt_once(self, gen: int, plan: RunPlan) -> None:
        try:
            with upload_lock(self.dir, self.settings.lock_timeout) as locked:
                if not locked:
                    raise TransientError(f"another process is uploading {self.dir}")
                # read the journal under the lock: never upload an older view than another uploader did
                records, self._journal_offset = read_jsonl(self.dir / JOURNAL, self._journal_offset)
                for rec in records:
                    plan.apply(rec)
                stats = upload_pass(self.vertex_run, plan, self._ulog)
        except TransientError as exc:
            self._failed(str(exc), refused=getattr(exc, "refused", False))
        except PermanentError as exc:
            self._disable(str(exc))
        else:
            with self._cond:
                self.status.stats.merge(stats)
                self._done_gen = max(self._done_gen, gen)
                self.status.successes += 1
                if self.status.degraded_since is not None:
                    log.info("Vertex AI logging recovered after %.0f s; the backlog has been uploaded",
                             time.monotonic() - self.status.degraded_since)
                self.status.failures = 0
                self.status.degraded_since = None
                self.status.refused = False
                self._flush_gave_up = False
                self._cond.notify_all()

    def _failed(self, message: str, refused: bool = False) -> None:
        with self._cond:
            st = self.status
            st.failures += 1
            st.last_error = message
            st.refused = refused
            if st.degraded_since is None:
                st.degraded_since = time.monotonic()
            delay = min(self.settings.retry_max, self.settings.retry_initial * 2 ** (st.failures - 1))
            delay *= random.uniform(0.8, 1.2)
            self._next_attempt = time.monotonic() + delay
            if self._first_waiting is None:
                self._first_waiting = time.monotonic()
            self._cond.notify_all()
        self._warn(message, False)

    def _disable(self, message: str) -> None:
        with self._cond:
            self.status.disabled = message
            self.status.last_error = message
            self._cond.notify_all()
        self._warn(message, True)

