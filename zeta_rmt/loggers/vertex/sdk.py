"""Everything that touches ``google-cloud-aiplatform`` (imported lazily: the 'gcp' extra).

:class:`VertexRun` creates or resumes one Vertex AI Experiments run with the SDK's own
classes (``Experiment``, ``ExperimentRun``, ``Tensorboard*``), so the resources are exactly
what ``aiplatform.start_run`` would make and the console shows them as usual. Time-series
points are written in batches (``TensorboardRun:write``, many steps per request) and read
back with ``exportTensorboardTimeSeries`` to settle writes whose outcome is unknown.

Bounded calls. The SDK calls the REST API with no timeout (a hanging server blocks
forever) and retries some GETs for up to 120 s (measured: ~100 s against a stopped
server). Inside :func:`bounded_calls` — only there, and only in the thread that entered
it — every HTTP request gets ``timeout`` and the SDK's own retries are switched off; the
uploader retries with its own backoff. This is done by two small wrappers installed once
(on ``google.auth.transport.requests.AuthorizedSession.request`` and on
``google.cloud.aiplatform.base._DEFAULT_RETRY``) that change nothing outside the scope.

Private SDK attributes. The public SDK API is used wherever it offers what is needed; the
few private attributes that remain are listed in :data:`PRIVATE_SDK_ATTRIBUTES` (and only
there), and :func:`check_sdk_compat` verifies them on the installed SDK before the logger
connects, so that an SDK update that removes one fails at once with one clear error.

Errors are mapped to :class:`TransientError` (worth retrying: 5xx, 429, timeouts,
connection failures) or :class:`PermanentError` (configuration: credentials, permissions,
missing TensorBoard, invalid names), each with a message that says what to fix.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = [
    "VertexUnavailable", "TransientError", "PermanentError", "Target", "VertexRun",
    "bounded_calls", "require_sdk", "resolve_credentials", "sdk_available",
    "PRIVATE_SDK_ATTRIBUTES", "TESTED_SDK_VERSIONS", "SDKCompatError", "check_sdk_compat",
]

INSTALL_HINT = "pip install 'zeta_rmt[gcp]' (or: pip install google-cloud-aiplatform)"
STATES = ("RUNNING", "COMPLETE", "FAILED", "CANCELLED", "NEW", "CACHED")
MAX_POINTS_PER_WRITE = 5000  # the API's limit per TensorboardRun:write


class VertexUnavailable(RuntimeError):
    """Base class: Vertex AI could not be used for this call."""


class TransientError(VertexUnavailable):
    """Worth retrying later: the service or the network is (temporarily) failing.

    ``refused``: the connection was refused (nothing listens there: the endpoint is down, not
    slow), so nobody should wait for it."""

    def __init__(self, message: str = "", refused: bool = False):
        super().__init__(message)
        self.refused = refused


class PermanentError(VertexUnavailable):
    """Retrying will not help until the configuration is fixed."""


class SDKCompatError(PermanentError):
    """The installed Vertex AI SDK lacks a private attribute the logger relies on."""


def sdk_available() -> bool:
    try:
        return importlib.util.find_spec("google.cloud.aiplatform") is not None
    except (ImportError, ValueError):
        return False


def require_sdk() -> None:
    if not sdk_available():
        raise ImportError(
            "VertexAIExperimentsLogger needs the Vertex AI SDK (google-cloud-aiplatform), "
            f"which is not installed: {INSTALL_HINT}")


# --------------------------------------------------------------------------- SDK compatibility
#: ``google-cloud-aiplatform`` minor versions the logger is tested with (setup.cfg pins them).
TESTED_SDK_VERSIONS = ("2.7",)

#: The private SDK attributes the logger still uses, with why no public API replaces them:
#: (the module or class that has it, the attribute, why). Instance attributes (set by the
#: class's methods, not present on the class itself) are checked in the class's code.
PRIVATE_SDK_ATTRIBUTES: tuple[tuple[str, str, str], ...] = (
    ("google.cloud.aiplatform.base", "_DEFAULT_RETRY",
     "the SDK's own retry of metadata GETs (~120 s against a stopped server); no public API turns it off, "
     "so bounded_calls wraps it"),
    ("google.cloud.aiplatform.ExperimentRun", "_metadata_node",
     "the run's metadata Context: re-read (sync_resource) before merging params/metrics so that another "
     "uploader's values are kept, and its parent contexts checked on resume; ExperimentRun has no public "
     "accessor or refresh"),
)

_COMPAT_CHECKED = False


def _resolve(path: str) -> Any:
    """Import ``a.b.c`` (a module, or an attribute of one, e.g. a class)."""
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _source_of(obj: Any) -> str:
    import inspect

    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _has_private(owner: Any, attr: str) -> bool:
    if hasattr(owner, attr):
        return True
    if isinstance(owner, type):  # an instance attribute: some method of the class sets it
        import re

        return any(re.search(rf"\.{re.escape(attr)}\s*(:[^=\n]*)?=(?!=)", _source_of(cls))
                   for cls in owner.__mro__ if cls.__module__.startswith("google."))
    return False


def check_sdk_compat(force: bool = False) -> None:
    """Verify that every attribute of :data:`PRIVATE_SDK_ATTRIBUTES` exists on the installed SDK.

    Raises :class:`SDKCompatError` naming the first missing one and the tested SDK versions.
    Checked once per process (``force``: again)."""
    global _COMPAT_CHECKED
    if _COMPAT_CHECKED and not force:
        return
    require_sdk()
    from google.cloud import aiplatform

    installed = getattr(aiplatform, "__version__", "?")
    tested = ", ".join(f"{v}.x" for v in TESTED_SDK_VERSIONS)
    for path, attr, why in PRIVATE_SDK_ATTRIBUTES:
        try:
            present = _has_private(_resolve(path), attr)
        except (ImportError, AttributeError):
            present = False
        if not present:
            raise SDKCompatError(
                f"the installed Vertex AI SDK (google-cloud-aiplatform {installed}) has no {path}.{attr}, which "
                f"the logger relies on ({why}); it is tested with google-cloud-aiplatform {tested}: install "
                f"that (pip install 'zeta_rmt[gcp]'), or update zeta_rmt/loggers/vertex/sdk.py for this SDK")
    _COMPAT_CHECKED = True


# --------------------------------------------------------------------------- bounded calls
@dataclass(frozen=True)
class _Limits:
    timeout: float


_LIMITS: contextvars.ContextVar[_Limits | None] = contextvars.ContextVar("zeta_rmt_vertex_limits", default=None)
_INSTALLED = False


def _install_scoped_wrappers() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from google.auth.transport import requests as auth_requests
    from google.cloud.aiplatform import base as aip_base

    original_request = auth_requests.AuthorizedSession.request
    if not getattr(original_request, "_zeta_rmt_scoped", False):
        @functools.wraps(original_request)
        def request(self, method, url, *args, **kwargs):
            limits = _LIMITS.get()
            if limits is not None and len(args) < 4:  # timeout not given positionally
                t = kwargs.get("timeout")
                if t is None or not isinstance(t, (int, float)) or t > limits.timeout:
                    kwargs["timeout"] = limits.timeout
            return original_request(self, method, url, *args, **kwargs)

        request._zeta_rmt_scoped = True
        auth_requests.AuthorizedSession.request = request

    default_retry = aip_base._DEFAULT_RETRY
    if not getattr(default_retry, "_zeta_rmt_scoped", False):
        aip_base._DEFAULT_RETRY = _ScopedRetry(default_retry)
    _INSTALLED = True


class _ScopedRetry:
    """Stands in for the SDK's default ``Retry``: the same retry outside :func:`bounded_calls`,
    none inside (the uploader retries with its own backoff). Everything else is delegated."""

    _zeta_rmt_scoped = True

    def __init__(self, inner: Any):
        self._inner = inner

    def __call__(self, func, on_error=None):
        if _LIMITS.get() is not None:
            return func
        return self._inner(func, on_error=on_error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<scoped {self._inner!r}>"


@contextlib.contextmanager
def bounded_calls(timeout: float) -> Iterator[None]:
    """Within this block (this thread only) every Vertex HTTP request times out after
    ``timeout`` seconds and the SDK does not retry on its own."""
    require_sdk()
    check_sdk_compat()
    _install_scoped_wrappers()
    token = _LIMITS.set(_Limits(float(timeout)))
    try:
        yield
    finally:
        _LIMITS.reset(token)


# --------------------------------------------------------------------------- errors
def classify(exc: BaseException, target: "Target") -> VertexUnavailable:
    """Map an exception from the SDK / transport to a Transient or Permanent error."""
    if isinstance(exc, VertexUnavailable):
        return exc
    where = target.endpoint_description()
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    short = f"{type(exc).__name__}: {_first_line(exc)}"
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"{where} did not answer in time ({short})")
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                        auth_exc.TransportError, ConnectionError)):
        if is_refused(exc):
            return TransientError(f"cannot reach {where}: connection refused ({short})", refused=True)
        return TransientError(f"cannot reach {where} ({short})")
    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return PermanentError(
            "no Google Cloud credentials: Application Default Credentials were not found. Run "
            "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
            "service-account key file, or run on Vertex AI / GCE with a service account "
            f"({short})")
    if isinstance(exc, auth_exc.RefreshError):
        err = TransientError if getattr(exc, "retryable", False) else PermanentError
        return err(f"the Google Cloud credentials could not be refreshed ({short})")
    if isinstance(exc, gexc.RetryError):
        return TransientError(f"{where} kept failing ({short})")
    if isinstance(exc, (gexc.Unauthorized, gexc.Forbidden)):
        return PermanentError(
            f"{where} refused the credentials for project {target.project!r} ({short}). Check that the "
            "Vertex AI API (aiplatform.googleapis.com) is enabled in the project and that the "
            "credentials have the role roles/aiplatform.user")
    if isinstance(exc, gexc.MethodNotImplemented):
        return PermanentError(f"{where} does not implement a call the logger needs ({short})")
    if isinstance(exc, (gexc.ServerError, gexc.TooManyRequests, gexc.Aborted)):
        return TransientError(f"{where} answered with an error ({short})")
    if isinstance(exc, gexc.GoogleAPICallError):
        return PermanentError(f"{where} rejected a request ({short})")
    return PermanentError(f"unexpected error while talking to {where} ({short})")


def is_refused(exc: BaseException) -> bool:
    """True when ``exc`` comes from a refused TCP connection. Against a closed port the REST
    transport raises ``requests.exceptions.ConnectionError`` wrapping urllib3's ``MaxRetryError``,
    whose ``reason`` is a ``NewConnectionError`` caused by ``ConnectionRefusedError``."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return True
        stack += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
    return "Connection refused" in str(exc) or "[Errno 111]" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "")[:300]


# --------------------------------------------------------------------------- target
@dataclass(frozen=True)
class Target:
    """Where a run goes. Holds no credentials (only how to obtain them)."""

    project: str
    location: str
    experiment: str
    run_name: str
    tensorboard: str | None = None
    api_endpoint: str | None = None
    api_transport: str = "rest"
    credentials: str = "auto"  # "auto" | "adc" | "anonymous" | "object" (passed separately)

    @property
    def tensorboard_resource(self) -> str | None:
        tb = self.tensorboard
        if not tb:
            return None
        if tb.startswith("projects/"):
            return tb
        return f"projects/{self.project}/locations/{self.location}/tensorboards/{tb}"

    def endpoint_description(self) -> str:
        return f"Vertex AI at {self.api_endpoint}" if self.api_endpoint else \
            f"Vertex AI ({self.location}-aiplatform.googleapis.com)"

    def to_record(self) -> dict:
        return {"project": self.project, "location": self.location, "experiment": self.experiment,
                "run_name": self.run_name, "tensorboard": self.tensorboard,
                "api_endpoint": self.api_endpoint, "api_transport": self.api_transport,
                "credentials": self.credentials}

    @classmethod
    def from_record(cls, rec: dict, **overrides: Any) -> "Target":
        fields = {k: rec.get(k) for k in ("project", "location", "experiment", "run_name", "tensorboard",
                                           "api_endpoint", "api_transport", "credentials")}
        fields.update({k: v for k, v in overrides.items() if v is not None})
        fields["api_transport"] = fields.get("api_transport") or "rest"
        fields["credentials"] = fields.get("credentials") or "auto"
        missing = [k for k in ("project", "location", "experiment", "run_name") if not fields.get(k)]
        if missing:
            raise ValueError(f"the journal does not say which {', '.join(missing)} to use; pass them explicitly")
        return cls(**fields)


def is_plain_http(endpoint: str | None) -> bool:
    return bool(endpoint) and endpoint.lower().startswith("http://")


def is_loopback_endpoint(endpoint: str | None) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(endpoint if "://" in (endpoint or "") else f"//{endpoint}").hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def check_credentials(spec: Any, endpoint: str | None) -> None:
    """Refuse to send real credentials in clear text to a host other than this machine."""
    if spec == "anonymous" or spec == "auto" or spec is None:
        return
    if is_plain_http(endpoint) and not is_loopback_endpoint(endpoint):
        raise ValueError(f"refusing to send Google credentials over plain HTTP to {endpoint}: use https, "
                         "or credentials=anonymous for an emulator")


def resolve_credentials(spec: Any, endpoint: str | None = None) -> Any:
    """``"auto"``/None: Application Default Credentials, but none (anonymous) for a plain
    ``http://`` endpoint (a local emulator or fake: real Vertex AI is https only);
    ``"adc"``: Application Default Credentials; ``"anonymous"``: no credentials;
    a ``google.auth`` credentials object: used as is."""
    if spec in (None, "auto"):
        spec = "anonymous" if is_plain_http(endpoint) else "adc"
    check_credentials(spec, endpoint)
    if spec == "adc":
        import google.auth

        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        return creds
    if spec == "anonymous":
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    if isinstance(spec, str):
        raise ValueError(f"credentials must be 'auto', 'adc', 'anonymous' or a google.auth credentials object, "
                         f"got {spec!r}")
    return spec


# --------------------------------------------------------------------------- the run
class VertexRun:
    """One Experiments run on Vertex AI. Every method raises Transient/PermanentError."""

    def __init__(self, target: Target, credentials: Any = None):
        self.target = target
        self._credentials_spec = credentials if credentials is not None else target.credentials
        self._credentials = None
        self.run = None  # aiplatform.ExperimentRun
        self.tb_run = None  # aiplatform.TensorboardRun (None: no time series)
        self.experiment = None
        self.state_at_connect: str | None = None  # the run's state on Vertex AI when it was resumed
        self.reopen_noted = False  # "already COMPLETE; reopening" was said (by the logger or here)
        self.no_tensorboard_noted = False  # "time series stay journaled: no TensorBoard" was said
        self._series: dict[str, str] = {}  # time-series display name -> id, in tb_run

    @property
    def connected(self) -> bool:
        return self.run is not None

    @property
    def has_tensorboard(self) -> bool:
        return self.tb_run is not None

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - classified, never swallowed silently
            raise classify(exc, self.target) from exc

    # setup ---------------------------------------------------------------
    def connect(self) -> None:
        """Create or resume the experiment and the run (idempotent)."""
        if self.connected:
            return
        check_sdk_compat()
        self._call(self._connect)

    def _connect(self) -> None:
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform

        t = self.target
        if self._credentials is None:
            self._credentials = resolve_credentials(self._credentials_spec, t.api_endpoint)
        init_kwargs = dict(project=t.project, location=t.location, credentials=self._credentials,
                           api_transport=t.api_transport)
        if t.api_endpoint:
            init_kwargs["api_endpoint"] = t.api_endpoint
        aiplatform.init(**init_kwargs)
        where = dict(project=t.project, location=t.location, credentials=self._credentials)

        experiment = aiplatform.Experiment.get_or_create(t.experiment, **where)
        tensorboard = None
        if t.tensorboard_resource:
            try:
                tensorboard = aiplatform.Tensorboard(t.tensorboard_resource, **where)
            except gexc.NotFound as exc:
                raise PermanentError(
                    f"TensorBoard {t.tensorboard_resource} does not exist: create it (console: Vertex AI > "
                    "Experiments > TensorBoard instances, or `gcloud ai tensorboards create`) or leave "
                    "the tensorboard option (logger.tensorboard, or logger.vertex.tensorboard with logger=many) unset") from exc
            if not experiment.backing_tensorboard_resource_name:
                experiment.assign_backing_tensorboard(tensorboard)

        try:
            run = aiplatform.ExperimentRun(t.run_name, experiment=experiment, **where)
        except gexc.NotFound:
            run = None
        tb_name = tensorboard.resource_name if tensorboard is not None else \
            experiment.backing_tensorboard_resource_name
        if run is None:
            try:
                run = aiplatform.ExperimentRun.create(
                    t.run_name, experiment=experiment, tensorboard=tensorboard, **where)
            except (gexc.AlreadyExists, RuntimeError) as exc:
                if isinstance(exc, RuntimeError) and "already exists" not in str(exc):
                    raise
                # created by an earlier attempt whose answer was lost: resume it next time
                raise TransientError(f"run {t.run_name!r} was being created; retrying ({exc})") from exc
            tb_run = self._find_tb_run(tb_name)
        else:  # resume (a restarted job, or an earlier attempt that got half way)
            self.state_at_connect = str(run.get_state())
            tb_run = self._find_tb_run(tb_name)
            if tb_run is None and tensorboard is not None:
                run.assign_backing_tensorboard(tensorboard)
                tb_run = self._find_tb_run(tb_name)
            node = run._metadata_node  # see PRIVATE_SDK_ATTRIBUTES
            if experiment.resource_name not in list(node.gca_resource.parent_contexts or []):
                aiplatform.Context(experiment.resource_name, **where).add_context_children([node])
        self.experiment = experiment
        self.tb_run = tb_run
        self._series = {}
        self.run = run

    def _find_tb_run(self, tensorboard_name: str | None):
        """The run's TensorboardRun in ``tensorboard_name`` (named as the SDK names it:
        ``<tensorboard>/experiments/<experiment>/runs/<run>``), None if there is none."""
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform

        if not tensorboard_name:
            return None
        name = f"{tensorboard_name}/experiments/{self.target.experiment}/runs/{self.target.run_name}"
        try:
            return aiplatform.TensorboardRun(name, credentials=self._credentials)
        except gexc.NotFound:
            return None

    # run metadata (idempotent) --------------------------------------------------
    def update_run(self, params: dict | None = None, summary: dict | None = None, state: str | None = None) -> None:
        """Merge parameters / summary metrics and set the state, on a fresh copy of the run."""
        def _update():
            from google.cloud import aiplatform_v1

            self.run._metadata_node.sync_resource()  # do not overwrite what another uploader wrote
            if params:
                self.run.log_params(params)
            if summary:
                self.run.log_metrics(summary)
            if state:
                self.run.update_state(aiplatform_v1.types.Execution.State[state])

        self._call(_update)

    # time series --------------------------------------------------------
    def _series_ids(self, keys) -> dict[str, str]:
        """``{key: time-series id}`` of the keys whose series exist (listed again when one is unknown)."""
        if any(k not in self._series for k in keys):
            from google.cloud import aiplatform

            listed = aiplatform.TensorboardTimeSeries.list(tensorboard_run_name=self.tb_run.resource_name,
                                                           credentials=self._credentials)
            self._series.update({ts.display_name: ts.name for ts in listed})
        return {k: self._series[k] for k in keys if k in self._series}

    def server_steps(self, key: str) -> set[int]:
        """Steps of ``key`` already on the server (empty if the series does not exist)."""
        def _read():
            ids = self._series_ids([key])
            if key not in ids:
                return set()
            name = f"{self.tb_run.resource_name}/timeSeries/{ids[key]}"
            pager = self.tb_run.api_client.export_tensorboard_time_series_data(
                request={"tensorboard_time_series": name, "page_size": 10000},
                timeout=_LIMITS.get().timeout if _LIMITS.get() else None)
            return {int(p.step) for p in pager}

        return self._call(_read)

    def ensure_series(self, keys) -> None:
        """Create the TensorboardTimeSeries that do not exist yet (display name = metric key)."""
        def _ensure():
            ids = self._series_ids(keys)
            for key in keys:
                if key not in ids:
                    ts = self.tb_run.create_tensorboard_time_series(display_name=key)
                    self._series[key] = ts.name

        self._call(_ensure)

    def write_points(self, points: dict[str, dict[int, tuple[float, float]]]) -> None:
        """One ``TensorboardRun:write`` with ``{key: {step: (value, wall_time)}}`` (≤ 5000 points)."""
        def _write():
            from google.cloud.aiplatform_v1 import types
            from google.protobuf import timestamp_pb2

            ids = self._series_ids(points)
            missing = [k for k in points if k not in ids]
            if missing:
                raise TransientError(f"time series {missing} not listed yet in {self.tb_run.resource_name}")
            scalar_type = types.TensorboardTimeSeries.ValueType.SCALAR
            data = []
            for key, series in points.items():
                values = []
                for step, (value, wall) in sorted(series.items()):
                    ts = timestamp_pb2.Timestamp()
                    ts.FromNanoseconds(int(wall * 1e9))
                    values.append(types.TimeSeriesDataPoint(
                        step=int(step), wall_time=ts, scalar=types.Scalar(value=float(value))))
                data.append(types.TimeSeriesData(
                    tensorboard_time_series_id=ids[key], value_type=scalar_type, values=values))
            self.tb_run.api_client.write_tensorboard_run_data(
                tensorboard_run=self.tb_run.resource_name, time_series_data=data,
                timeout=_LIMITS.get().timeout if _LIMITS.get() else None)

        self._call(_write)

