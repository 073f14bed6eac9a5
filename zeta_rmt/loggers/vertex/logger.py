"""``VertexAIExperimentsLogger``: a Lightning logger for Vertex AI Experiments.

Every call is first appended to the run's journal (``<save_dir>/vertex/<run>/journal.jsonl``),
then uploaded by a background thread. Training never waits on Vertex AI except in
``finalize`` (at most ``flush_timeout`` seconds) and never fails because of it.
"""
from __future__ import annotations

import atexit
import logging
import os
import socket
import tempfile
import threading
import weakref
from argparse import Namespace
from pathlib import Path
from typing import Any, Mapping

from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from .journal import Journal, RunPlan
from .naming import default_run_name, existing_run_name, is_job_output_dir, validate_experiment, validate_run_name
from .params import flatten_params, scalar
from .sdk import Target, check_credentials, require_sdk
from .uploader import BackgroundUploader, reopen_message

__all__ = ["VertexAIExperimentsLogger"]

log = logging.getLogger("zeta_rmt.loggers.vertex")

_PROJECT_ENV = ("GOOGLE_CLOUD_PROJECT", "CLOUD_ML_PROJECT_ID", "GCLOUD_PROJECT")
_LOCATION_ENV = ("CLOUD_ML_REGION", "GOOGLE_CLOUD_REGION")
_STATUS = {"success": "COMPLETE", "finished": "COMPLETE", "failed": "FAILED"}


def _from_env(names) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


class VertexAIExperimentsLogger(Logger):
    """Log hyperparameters, metrics and the final state of a run to Vertex AI Experiments.

    Args:
        project: Google Cloud project (default: ``$GOOGLE_CLOUD_PROJECT`` / ``$CLOUD_ML_PROJECT_ID``).
        location: Vertex AI region, e.g. ``europe-west4`` (default: ``$CLOUD_ML_REGION``).
        experiment: the Vertex AI experiment (created if missing); ``[a-z0-9-]``.
        run_name: the run in the experiment. Default: derived from the job, unique per
            multirun job, stable across restarts of a Vertex AI job (see
            :func:`naming.default_run_name`). An existing run of that name is resumed, not
            duplicated (reopening a COMPLETE run is said in one line).
        resume: continue the run journaled in ``save_dir`` (a restarted script). Without it a
            journaled run is continued only when ``save_dir`` is the running Hydra job's output
            directory, which names the job; two scripts started from one folder get two runs.
        tensorboard: a Vertex AI TensorBoard instance (ID or full resource name) for time
            series; without one (and without a backing TensorBoard on the experiment) only
            summary metrics (latest values) are uploaded.
        api_endpoint: override the API endpoint (e.g. ``http://127.0.0.1:PORT`` for a fake).
            The logger always uses the SDK's REST transport (the only one whose requests it
            can bound with timeouts).
        save_dir: where the journal goes (``<save_dir>/vertex/<run>/``); must be local.
        credentials: ``"auto"`` (the default: Application Default Credentials, or none for a
            plain-``http://`` local endpoint), ``"adc"``, ``"anonymous"`` (emulators/fakes
            only) or a ``google.auth`` credentials object. Never written to the journal or logs.
        offline: only journal; upload later with ``python -m zeta_rmt.loggers.vertex sync``.
        request_timeout: seconds before one HTTP request to Vertex AI is abandoned.
        flush_interval: seconds between background uploads while metrics arrive.
        flush_timeout: at most this long is spent in ``finalize`` waiting for uploads.
        retry_initial, retry_max: exponential backoff between failed upload attempts.
        prefix: prepended to metric keys (Lightning's convention, joined with '-').
        max_param_length: longer parameter values (e.g. long lists) are cut to this length.
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        project: str | None = None,
        location: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        resume: bool = False,
        tensorboard: str | None = None,
        api_endpoint: str | None = None,
        save_dir: str | os.PathLike = ".",
        credentials: Any = "auto",
        offline: bool = False,
        request_timeout: float = 15.0,
        flush_interval: float = 5.0,
        flush_timeout: float = 30.0,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        prefix: str = "",
        max_param_length: int = 500,
    ):
        super().__init__()
        project = project or _from_env(_PROJECT_ENV)
        location = location or _from_env(_LOCATION_ENV)
        if not project:
            raise ValueError("VertexAIExperimentsLogger: no Google Cloud project: set logger.project=PROJECT "
                             "(logger.vertex.project with logger=many; or the GOOGLE_CLOUD_PROJECT environment variable)")
        if not location:
            raise ValueError("VertexAIExperimentsLogger: no Vertex AI location: set logger.location=REGION, "
                             "e.g. europe-west4 (logger.vertex.location with logger=many; or CLOUD_ML_REGION)")
        experiment = validate_experiment(experiment)
        if credentials is None:
            credentials = "auto"
        if isinstance(credentials, str) and credentials not in ("auto", "adc", "anonymous"):
            raise ValueError(f"VertexAIExperimentsLogger: credentials must be 'auto', 'adc', 'anonymous' or a "
                             f"google.auth credentials object, got {credentials!r}")
        try:
            check_credentials(credentials, api_endpoint)
        except ValueError as exc:
            raise ValueError(f"VertexAIExperimentsLogger: {exc}") from None
        if not offline:
            require_sdk()

        self._save_dir = os.fspath(save_dir)
        self._journal_root = self._local_root(self._save_dir)
        if run_name:
            run_name = validate_run_name(str(run_name), experiment)
        else:
            # The run's identity comes from the job, not from the folder: a restarted Vertex AI job has
            # the same CLOUD_ML_JOB_ID (default_run_name), a restarted Hydra job the same output dir; a
            # plain script continues its journaled run only when asked to (resume=True).
            local = "://" not in self._save_dir
            continue_journal = local and (bool(resume) or is_job_output_dir(self._save_dir))
            run_name = (continue_journal and existing_run_name(self._journal_root, experiment)) or \
                default_run_name(experiment)
        self._target = Target(project=project, location=location, experiment=experiment, run_name=run_name,
                              tensorboard=tensorboard or None, api_endpoint=api_endpoint or None,
                              api_transport="rest",
                              credentials=credentials if isinstance(credentials, str) else "object")
        self._credentials = None if isinstance(credentials, str) else credentials
        self._offline = bool(offline)
        self._settings = dict(request_timeout=float(request_timeout), flush_interval=float(flush_interval),
                              retry_initial=float(retry_initial), retry_max=float(retry_max))
        self._flush_timeout = float(flush_timeout)
        self._flush_cap: float | None = None  # limit_flush_time
        self._prefix = prefix
        self._max_param_length = int(max_param_length)
        self._journal: Journal | None = None
        self._uploader: BackgroundUploader | None = None
        self._next_step = 0
        self._warned = False
        self._refused_noted = False
        self._skipped_keys: set[str] = set()
        self._start_lock = threading.Lock()

    # ----------------------------------------------------------------- Lightning API
    @property
    def name(self) -> str:
        return self._target.experiment

    @property
    def version(self) -> str:
        return self._target.run_name

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def root_dir(self) -> str:
        return os.fspath(self._journal_root)

    @property
    def log_dir(self) -> str:
        """The run's journal directory (what ``sync`` takes)."""
        return os.fspath(self._journal_root / self.version)

    @property
    def target(self) -> Target:
        return self._target

    @property
    @rank_zero_experiment
    def experiment(self) -> BackgroundUploader | None:
        """The background uploader (``.vertex_run.run`` is the ``aiplatform.ExperimentRun``
        once connected); None in offline mode."""
        self._start()
        return self._uploader

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | Any, *args: Any, **kwargs: Any) -> None:
        flat = flatten_params(params, max_len=self._max_param_length)
        if flat:
            self._record("params", params=flat)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if self._prefix:
            metrics = {f"{self._prefix}{self.LOGGER_JOIN_CHAR}{k}": v for k, v in metrics.items()}
        values: dict[str, float] = {}
        for key, value in metrics.items():
            v = scalar(value)
            if v is None:
                if key not in self._skipped_keys:
                    self._skipped_keys.add(key)
                    log.debug("Vertex AI logger: metric %r is not a number; not logged", key)
                continue
            values[str(key)] = v
        if not values:
            return
        if not self._ensure_started():  # first: starting loads the step counter from the journal
            return
        if step is None:
            step = self._next_step
        step = int(step)
        self._next_step = max(self._next_step, step + 1)
        self._record("metrics", step=step, metrics=values)

    @rank_zero_only
    def save(self) -> None:
        self._fsync()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Record the run's final state (success → COMPLETE, otherwise FAILED) and wait up
        to ``flush_timeout`` seconds for the uploads. Can be called more than once."""
        self._record("state", fsync=True, state=_STATUS.get(status, "FAILED"))
        self.flush(self.flush_time_limit)

    # ----------------------------------------------------------------- extras
    def limit_flush_time(self, seconds: float) -> None:
        """Cap the time ``finalize``/``flush``/``close`` may wait for uploads from now on at
        ``min(flush_timeout, seconds)`` (limits only tighten). Called by the preemption handler
        so that the final flush fits in the grace period after SIGTERM; what is not uploaded in
        time stays in the journal for ``sync``, as always."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError(f"limit_flush_time: seconds must be a number >= 0, got {seconds!r}")
        self._flush_cap = float(seconds) if self._flush_cap is None else min(self._flush_cap, float(seconds))

    @property
    def flush_time_limit(self) -> float:
        """The longest a flush waits now: ``flush_timeout``, or less after ``limit_flush_time``."""
        return self._flush_timeout if self._flush_cap is None else min(self._flush_timeout, self._flush_cap)

    def _wait_limit(self, timeout: float | None) -> float:
        wait = self._flush_timeout if timeout is None else float(timeout)
        return wait if self._flush_cap is None else min(wait, self._flush_cap)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s, default ``flush_timeout``, never longer than a
        ``limit_flush_time`` cap) until Vertex AI holds everything logged so far.
        Returns False when something is left for ``sync`` (offline, unreachable, refused)."""
        if self._uploader is None:
            if self._journal is not None and self._offline:
                log.info("Vertex AI logger is offline: upload the run later with `%s`", self.sync_command)
            return False
        ok = self._uploader.flush(self._wait_limit(timeout))
        if not ok and self._uploader.status.refused and not self._uploader.status.disabled:
            # a refused connection: Vertex AI is down here, waiting flush_timeout would not help
            if not self._refused_noted:  # one line; a warning unless the logger has warned already
                self._refused_noted = True
                self._warn_once(
                    f"Vertex AI logger: {self._target.endpoint_description()} refused the connection; not "
                    f"waiting for it. {self._uploader.unsent()} item(s) of run {self.version!r} are kept in the "
                    f"journal {self.log_dir}: upload them with `{self.sync_command}`.", level=logging.WARNING)
            return ok
        if not ok:
            reason = self._uploader.status.disabled or self._uploader.status.last_error or "uploads are slow"
            unsent = self._uploader.unsent()
            msg = (f"Vertex AI logger: {unsent} item(s) of run {self.version!r} are not on Vertex AI yet "
                   f"({reason}). Nothing is lost: they are journaled in {self.log_dir}; the logger keeps "
                   f"trying while the process runs, and `{self.sync_command}` uploads them later.")
            self._warn_once(msg, level=logging.WARNING)
        return ok

    @property
    def sync_command(self) -> str:
        return f"python -m zeta_rmt.loggers.vertex sync {self.log_dir}"

    # ----------------------------------------------------------------- internals
    @staticmethod
    def _local_root(save_dir: str) -> Path:
        if "://" in save_dir:
            root = Path(tempfile.gettempdir()) / "zeta_rmt-vertex"
            log.warning("Vertex AI logger: save_dir %s is not a local path; the journal goes to %s", save_dir, root)
            return root
        return Path(save_dir) / "vertex"

    def _start(self) -> None:
        with self._start_lock:
            if self._journal is not None:
                return
            directory = Path(self.log_dir)
            journal = Journal(directory)
            records = Journal.read(directory)
            journal.record("open", fsync=True, **self._target.to_record(), host=socket.gethostname(), pid=os.getpid())
            steps = [int(r["step"]) for r in records if r.get("kind") == "metrics"]
            self._next_step = max(self._next_step, max(steps, default=-1) + 1)
            self._journal = journal
            reopened = bool(records) and RunPlan.from_records(records).state == "COMPLETE"
            if reopened:
                log.warning(reopen_message(self.version, self._target.experiment, f"journal {self.log_dir}"))
            if self._offline:
                return
            self._uploader = BackgroundUploader(directory, self._target, credentials=self._credentials,
                                                warn=self._on_upload_problem, reopen_noted=reopened,
                                                **self._settings)
            _LIVE.add(self)

    def _ensure_started(self) -> bool:
        try:
            self._start()
            return True
        except OSError as exc:  # a full or read-only disk must not stop training either
            self._warn_once(f"Vertex AI logger: cannot write the journal in {self.log_dir} ({exc}); "
                            f"nothing is recorded", level=logging.ERROR)
            return False

    def _record(self, kind: str, fsync: bool = False, **fields: Any) -> None:
        try:
            self._start()
            rec = self._journal.record(kind, fsync=fsync, **fields)
        except OSError as exc:  # a full or read-only disk must not stop training either
            self._warn_once(f"Vertex AI logger: cannot write the journal in {self.log_dir} ({exc}); "
                            f"this {kind} record is lost", level=logging.ERROR)
            return
        if self._uploader is not None:
            self._uploader.submit(rec)

    def _fsync(self) -> None:
        if self._journal is not None:
            try:
                os.fsync(self._journal._f.fileno())
            except (OSError, ValueError):
                pass

    def _on_upload_problem(self, message: str, permanent: bool) -> None:
        if permanent:
            log.error("Vertex AI logging is off for run %r: %s. Training continues; everything is journaled in %s. "
                      "Fix the problem, then run `%s`.", self.version, message, self.log_dir, self.sync_command)
            self._warned = True
            return
        if self._warned:  # one warning per logger; later failures only at debug level
            log.debug("Vertex AI logger: upload attempt failed: %s", message)
            return
        self._warn_once(
            f"Vertex AI logger: uploads of run {self.version!r} are failing ({message}). Training continues; "
            f"everything is journaled in {self.log_dir} and retried in the background (this is the only "
            f"warning). If it does not recover, run `{self.sync_command}` later.", level=logging.WARNING)

    def _warn_once(self, message: str, level: int) -> None:
        if self._warned:
            log.info(message)
            return
        self._warned = True
        log.log(level, message)

    def close(self, timeout: float | None = None, join: float = 5.0) -> bool:
        """Flush (at most ``timeout`` s, default ``flush_timeout``), stop the uploader thread
        (waiting at most ``join`` s for a request in flight) and close the journal.
        Returns True when everything is on Vertex AI. Logging again reopens the journal."""
        ok = False
        with self._start_lock:
            uploader, journal = self._uploader, self._journal
            self._uploader = self._journal = None
        if uploader is not None:
            ok = uploader.up_to_date or (not uploader.status.disabled and uploader.flush(self._wait_limit(timeout)))
            uploader.close(join)
        if journal is not None:
            journal.close()
        _LIVE.discard(self)
        return ok

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_journal=None, _uploader=None, _start_lock=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._start_lock = threading.Lock()

    def __repr__(self) -> str:
        t = self._target
        return (f"VertexAIExperimentsLogger(project={t.project!r}, location={t.location!r}, "
                f"experiment={t.experiment!r}, run_name={t.run_name!r}, tensorboard={t.tensorboard!r}, "
                f"offline={self._offline})")


_LIVE: "weakref.WeakSet[VertexAIExperimentsLogger]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:  # pragma: no cover - exercised by the subprocess tests
    """Give records logged after the last ``finalize`` a short chance to reach Vertex AI."""
    for logger in list(_LIVE):
        try:
            logger.close(min(10.0, logger.flush_time_limit), join=0.5)
        except Exception:  # noqa: BLE001
            pass
