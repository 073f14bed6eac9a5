"""Remote I/O through fsspec with a bounded time: what both storage layers share.

``zeta_rmt.zeros.storage`` (zero data, raises ``ZeroDataError``) and ``zeta_rmt.launch.storage``
(run outputs, raises ``StorageError``) open locations with :func:`get_fs` and run every remote
call through :func:`call`, passing the error class their callers expect.

Time limits (``ZETA_RMT_REMOTE_TIMEOUT`` seconds, else the ``remote_timeout_s`` config key via
:func:`set_timeout`, else :data:`DEFAULT_TIMEOUT_S`):

* one operation (``exists``, ``cat_file``, ``pipe_file``, ``find``...) takes at most that long
  in total, retries included: async filesystems (gcsfs) get fsspec's own ``sync(timeout=...)``,
  which cancels the coroutine on fsspec's loop (nothing is left running); other calls run in a
  worker thread that is abandoned at the deadline (only for reads and endpoint probes);
* every HTTP request of gcsfs, also those of Lightning and of code that calls the filesystem
  directly, has a connect timeout (10 s) and a read-inactivity timeout (30 s), each capped at
  the limit; a refused connection or a failed name lookup is not retried (gcsfs would retry
  it for ~35 s), and an endpoint that has not answered for the whole limit is given up on;
* before first use of an endpoint one HTTP request checks that it answers at all (any HTTP
  status counts), so a dead endpoint fails within the limit with one line naming the URL.

The default, 120 s, is the total for one call, so it also bounds a whole transfer: a zero
shard or checkpoint of ~100 MB takes a few seconds on GCS, and a live endpoint answers in
well under a second, so 120 s only ever cuts off a dead or stalled one; raise it for much
larger files on slow links.

GCS emulator (``STORAGE_EMULATOR_HOST``): anonymous credentials, and gcsfs's experimental
zonal/HNS class (a TLS gRPC call per bucket that a plain-HTTP emulator never answers: ~60 s
per bucket operation) is replaced by the plain ``gcsfs.core.GCSFileSystem`` for ``gs://``,
however and whenever gcsfs was imported (``import zeta_rmt`` also sets
``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` when gcsfs is not imported yet: the variable is
read once, when gcsfs is imported, e.g. by Lightning's ``_is_object_storage`` check).
On real GCS the experimental class stays (zonal buckets need it; for other buckets it adds
one cached bucket-type lookup); its Storage Control retries are capped at the limit.
"""
from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import urllib.error
import urllib.request

from zeta_rmt.utils.errors import ConfigError

__all__ = [
    "DEFAULT_TIMEOUT_S", "ENV_TIMEOUT", "RemoteUnavailableError", "bounded", "call", "emulator_endpoint",
    "get_fs", "get_timeout", "is_gcs", "set_timeout",
]

ENV_TIMEOUT = "ZETA_RMT_REMOTE_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
HNS_ENV = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"
GCS_ENDPOINT = "https://storage.googleapis.com"
GCS_INSTALL_HINT = "pip install 'zeta_rmt[gcp]' (or: pip install gcsfs)"

_config_timeout: float | None = None


class RemoteUnavailableError(ValueError):
    """A remote endpoint refused the connection, could not be resolved, or did not answer in time.

    A ``ValueError`` so that the command lines print it as one line; the storage layers turn
    it into their own error class, naming the URL the caller asked for."""

    def __init__(self, message: str, problem: str = ""):
        super().__init__(message)
        self.problem = problem or message


# ----------------------------------------------------------------------------- settings
def _seconds(value, what: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = float("nan")
    if isinstance(value, bool) or not t > 0 or t == float("inf"):
        raise ConfigError(f"{what} must be a number of seconds > 0, got {value!r}")
    return t


def set_timeout(seconds) -> None:
    """The ``remote_timeout_s`` config key (None: back to the default). The environment
    variable ``ZETA_RMT_REMOTE_TIMEOUT``, when set, wins."""
    global _config_timeout
    _config_timeout = None if seconds is None else _seconds(seconds, "remote_timeout_s")


def get_timeout() -> float:
    """Seconds one remote operation may take in total."""
    env = os.environ.get(ENV_TIMEOUT)
    if env not in (None, ""):
        return _seconds(env, ENV_TIMEOUT)
    return _config_timeout if _config_timeout is not None else DEFAULT_TIMEOUT_S


def _limit_hint(t: float) -> str:
    return f"{t:g} s ({ENV_TIMEOUT} or remote_timeout_s sets this limit)"


# ----------------------------------------------------------------------------- GCS set-up
def is_gcs(url) -> bool:
    return str(url).startswith(("gs://", "gcs://"))


def emulator_endpoint() -> str | None:
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return None
    return host.rstrip("/") if "://" in host else f"http://{host.rstrip('/')}"


def check_hint() -> str:
    emu = emulator_endpoint()
    where = (f"STORAGE_EMULATOR_HOST (now {emu}: is the emulator running there? unset it for real GCS)"
             if emu else "STORAGE_EMULATOR_HOST (unset: real GCS)")
    return ("check the credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS), "
            f"{where} and the network")


def _hns_wanted() -> bool:
    default = "false" if emulator_endpoint() else "true"
    return os.environ.get(HNS_ENV, default).lower() in ("true", "1")


def prepare_env_early() -> None:
    """Before gcsfs is imported: with an emulator, switch gcsfs's experimental path off."""
    if os.environ.get("STORAGE_EMULATOR_HOST") and "gcsfs" not in sys.modules:
        os.environ.setdefault(HNS_ENV, "false")


def _request_timeout(total: float):
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=min(CONNECT_TIMEOUT_S, total),
                                 sock_read=min(READ_TIMEOUT_S, total))


def configure_gcs(error: type[Exception], missing: str | None = None) -> None:
    """Make ``gs://`` usable and bounded for every fsspec user in this process (ours, Lightning's).

    Raises ``error(missing)`` when gcsfs is not installed."""
    prepare_env_early()
    try:
        import fsspec
        import gcsfs
        import gcsfs.core
    except ImportError as exc:
        raise error(missing or f"gs:// needs gcsfs, which is not installed: {GCS_INSTALL_HINT}") from exc
    if not _hns_wanted() and gcsfs.GCSFileSystem is not gcsfs.core.GCSFileSystem:
        # gcsfs was imported before the variable could be set: use its plain class for gs://
        for proto in ("gs", "gcs"):
            fsspec.register_implementation(proto, gcsfs.core.GCSFileSystem, clobber=True)
    total = get_timeout()
    defaults = {
        "requests_timeout": _request_timeout(total),
        "session_kwargs": {"middlewares": (GUARD,)},
        "retry_timeout": min(total, 60.0),  # Storage Control (experimental class only) retries
    }
    if emulator_endpoint():
        defaults["token"] = "anon"
        defaults["endpoint_url"] = emulator_endpoint()
    for proto in ("gs", "gcs"):
        conf = fsspec.config.conf.setdefault(proto, {})
        conf.update(defaults)


def endpoint_of(opts: dict) -> str:
    ep = opts.get("endpoint_url") or emulator_endpoint() or GCS_ENDPOINT
    return str(ep).rstrip("/")


# ----------------------------------------------------------------------------- the request guard
_streaks: dict[str, float] = {}  # endpoint -> when the first of its failing requests in a row started
_alive: set[str] = set()         # endpoints whose probe answered (until one of their requests fails)
_lock = threading.Lock()


def _refusal(exc: BaseException) -> str | None:
    """'connection refused' / 'name lookup failed' when that is what ``exc`` (or its causes) is."""
    import aiohttp

    seen = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, aiohttp.ClientConnectorDNSError) or type(e).__name__ == "gaierror":
            return "name lookup failed"
        stack += [e.__cause__, e.__context__, getattr(e, "os_error", None), getattr(e, "reason", None)]
    text = str(exc)
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    return None


def _gs_url(url) -> str:
    """``gs://bucket/object`` of a GCS JSON API request URL (for messages), else the URL."""
    from urllib.parse import unquote

    path = url.path
    for marker in ("/b/",):
        if marker in path:
            rest = path.split(marker, 1)[1]
            bucket, _, obj = rest.partition("/o/")
            name = url.query.get("name") if hasattr(url, "query") else None
            obj = unquote(obj) if obj else (name or "")
            return f"gs://{bucket.strip('/')}/{obj}".rstrip("/")
    return str(url)


class _Guard:
    """aiohttp client middleware on every gcsfs session: no retries against a dead endpoint."""

    def __repr__(self) -> str:  # fsspec's instance cache tokenizes it: keep it stable
        return "zeta_rmt.utils.remote.GUARD"

    async def __call__(self, req, handler):
        import aiohttp

        key = f"{req.url.scheme}://{req.url.host}:{req.url.port}"
        started = time.monotonic()
        try:
            resp = await handler(req)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
            why = _refusal(exc)
            with _lock:
                _alive.discard(key)
                first = _streaks.setdefault(key, started)
            if why:
                problem = f"cannot connect to {key} ({why})"
            else:
                limit = get_timeout()
                if time.monotonic() - first < limit:
                    raise  # gcsfs retries it
                problem = f"no answer from {key} for {_limit_hint(limit)}"
            raise RemoteUnavailableError(f"{_gs_url(req.url)}: {problem}; {check_hint()}", problem) from None
        with _lock:
            _streaks.pop(key, None)
        return resp


GUARD = _Guard()


def _probe_once(endpoint: str, timeout: float) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # gcsfs ignores proxy variables too
    try:
        with opener.open(f"{endpoint}/storage/v1/b?project=zeta-rmt-probe&maxResults=1", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # an answer, whatever it says: the endpoint is alive


def probe(endpoint: str, url: str, error: type[Exception]) -> None:
    """Raise ``error`` (naming ``url``) unless ``endpoint`` answers HTTP within the limit.
    A success is remembered until a request to the endpoint fails."""
    with _lock:
        if endpoint in _alive:
            return
    limit = get_timeout()
    try:
        # urllib's own timeout a little later than the deadline: the deadline's message wins
        bounded(_probe_once, endpoint, limit + 1.0, what=url, error=error, timeout=limit, endpoint=endpoint)
    except error:
        raise
    except Exception as exc:  # noqa: BLE001 - refused, DNS, TLS: all say the same to the user
        why = _refusal(exc) or f"{type(exc).__name__}: {_first_line(exc)}"
        raise error(f"{url}: cannot connect to {endpoint} ({why}); {check_hint()}") from None
    with _lock:
        _alive.add(endpoint)


# ----------------------------------------------------------------------------- filesystems
def get_fs(url, storage_options: dict | None, error: type[Exception], missing: str | None = None):
    """``(filesystem, path inside it)`` for a local path or an fsspec URL; ``gs://`` is set up
    (emulator, time limits) and its endpoint checked. Errors are ``error`` (``missing``: the
    message when gcsfs is not installed)."""
    import fsspec

    s = str(url)
    opts = dict(storage_options or {})
    if is_gcs(s):
        configure_gcs(error, missing)
        if emulator_endpoint():
            opts.setdefault("token", "anon")
            opts.setdefault("endpoint_url", emulator_endpoint())
    try:
        fs, inner = fsspec.core.url_to_fs(s, **opts)
    except (ImportError, ValueError) as exc:
        raise error(f"{s}: fsspec cannot open this location ({_first_line(exc)})") from exc
    if is_gcs(s):
        probe(endpoint_of(opts), s, error)
    return fs, inner


def url_of(fs, path: str) -> str:
    try:
        return fs.unstrip_protocol(path)
    except Exception:  # noqa: BLE001 - only for messages
        return str(path)


def _is_local(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local", "memory")


_PASS_THROUGH = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)


def _network_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [TimeoutError, ConnectionError, OSError]
    for mod, names in (("aiohttp", ("ClientError",)), ("fsspec.exceptions", ("FSTimeoutError",)),
                       ("gcsfs.retry", ("HttpError",)), ("google.auth.exceptions", ("GoogleAuthError",)),
                       ("requests.exceptions", ("RequestException",))):
        m = sys.modules.get(mod)
        for n in names:
            if m is not None and hasattr(m, n):
                errs.append(getattr(m, n))
    return tuple(errs)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _forget(fs) -> None:
    """After a failure: probe the endpoint again before the next use."""
    ep = getattr(fs, "_endpoint", None) or GCS_ENDPOINT
    with _lock:
        _alive.discard(str(ep).rstrip("/"))


def translate(exc: BaseException, url: str, error: type[Exception], limit: float) -> Exception | None:
    """``error`` naming ``url`` for a network/timeout/auth failure; None for anything else."""
    from fsspec.exceptions import FSTimeoutError

    if isinstance(exc, error) or isinstance(exc, _PASS_THROUGH):
        return None
    if isinstance(exc, RemoteUnavailableError):
        return error(f"{url}: {exc.problem}; {check_hint()}")
    if isinstance(exc, (FSTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return error(f"{url}: no answer within {_limit_hint(limit)}; {check_hint()}")
    if isinstance(exc, _network_errors()):
        why = _refusal(exc)
        detail = why or f"{type(exc).__name__}: {_first_line(exc)}"
        return error(f"{url}: {detail}; {check_hint()}")
    return None


def call(fs, method: str, *args, url: str | None = None, error: type[Exception] = RemoteUnavailableError,
         timeout: float | None = None, **kwargs):
    """``fs.<method>(*args, **kwargs)`` in at most ``timeout`` seconds (default: the limit).
    Network, timeout and credential failures become ``error`` naming ``url``."""
    fn = getattr(fs, method)
    if _is_local(fs):
        return fn(*args, **kwargs)
    limit = get_timeout() if timeout is None else float(timeout)
    url = url or (url_of(fs, args[0]) if args else str(fs))
    try:
        if getattr(fs, "async_impl", False) and not getattr(fs, "asynchronous", False):
            return fn(*args, timeout=limit, **kwargs)  # fsspec's sync(): cancels the coroutine at the limit
        return bounded(fn, *args, what=url, error=error, timeout=limit, **kwargs)
    except Exception as exc:
        mapped = translate(exc, url, error, limit)
        if mapped is None:
            raise
        _forget(fs)
        raise mapped from None


def write_whole(fs, path: str, data: bytes, *, url: str | None = None,
                error: type[Exception] = RemoteUnavailableError) -> None:
    """Write ``data`` so that readers never see a partial file: locally a temporary file and a rename
    (:func:`~zeta_rmt.utils.fsio.atomic_write_bytes`), remotely one upload within the limit (cancelled
    at it: the object appears whole or not at all)."""
    from zeta_rmt.utils.fsio import atomic_write_bytes, is_local_fs

    if is_local_fs(fs):  # (memory:// is an object store here: one upload, as on GCS)
        atomic_write_bytes(fs, path, data)
    else:
        call(fs, "pipe_file", path, data, url=url, error=error)


def bounded(fn, *args, what: str, error: type[Exception], timeout: float | None = None,
            endpoint: str | None = None, **kwargs):
    """``fn(*args, **kwargs)`` in a worker thread; after ``timeout`` seconds (default: the limit)
    raise ``error`` naming ``what`` and abandon the call (use it for reads and probes only: an
    abandoned call keeps running to its own end; its result is dropped). Its exceptions are
    re-raised as they are."""
    limit = get_timeout() if timeout is None else float(timeout)
    box: dict = {}
    done = threading.Event()

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"zeta_rmt-remote:{what}"[:60], daemon=True).start()
    if not done.wait(limit):
        where = f" from {endpoint}" if endpoint else ""
        raise error(f"{what}: no answer{where} within {_limit_hint(limit)}; {check_hint()}")
    if "error" in box:
        raise box["error"]
    return box.get("value")
