"""Run outputs on local paths or fsspec URLs (``gs://`` through gcsfs, ``memory://`` in tests).

gcsfs is the optional ``gcp`` extra and is imported only when a ``gs://`` URL is used; a
missing gcsfs is a clear :class:`StorageError`. Remote calls go through
:mod:`zeta_rmt.utils.remote`: each has a bounded total time (``ZETA_RMT_REMOTE_TIMEOUT`` or
the ``remote_timeout_s`` config key, default 120 s), a dead endpoint fails fast, and every
failure is one :class:`StorageError` naming the URL and what to check. With
``STORAGE_EMULATOR_HOST`` set (a local GCS emulator) the client uses anonymous credentials and
gcsfs's experimental zonal/HNS path (a TLS gRPC call the plain-HTTP emulator cannot answer,
~60 s per bucket operation) is off, also for Lightning's own fsspec calls.
"""
from __future__ import annotations

from zeta_rmt.utils import remote
from zeta_rmt.utils.errors import ConfigError

__all__ = [
    "StorageError", "is_remote", "get_fs", "join", "exists", "read_bytes", "write_bytes", "write_text",
    "call", "set_timeout",
]

INSTALL_HINT = remote.GCS_INSTALL_HINT
MISSING_GCSFS = f"gs:// outputs need gcsfs, which is not installed: {INSTALL_HINT}"


class StorageError(ConfigError):
    """An output location cannot be used (missing client library, bad URL, unreachable)."""


def is_remote(path) -> bool:
    """True for fsspec URLs other than local files (``gs://``, ``memory://``, ...)."""
    s = str(path)
    return "://" in s and not s.startswith("file://")


def set_timeout(seconds) -> None:
    """The ``remote_timeout_s`` config key: seconds one remote operation may take (None: default)."""
    try:
        remote.set_timeout(seconds)
    except ConfigError as exc:
        raise StorageError(str(exc)) from None


def prepare_protocol(url) -> None:
    """Make ``url``'s protocol usable (and bounded) by any later fsspec call, Lightning's included."""
    if remote.is_gcs(url):
        remote.configure_gcs(StorageError, MISSING_GCSFS)


def get_fs(url, storage_options: dict | None = None):
    """``(filesystem, path inside it)`` for a local path or an fsspec URL."""
    return remote.get_fs(str(url), storage_options, StorageError, MISSING_GCSFS)


def call(fs, method: str, path: str, *args, url: str | None = None, **kwargs):
    """``fs.<method>(path, ...)`` within the time limit; failures are a :class:`StorageError`."""
    return remote.call(fs, method, path, *args, url=url or remote.url_of(fs, path), error=StorageError, **kwargs)


def join(root, *names: str) -> str:
    out = str(root).rstrip("/")
    for n in names:
        out += "/" + str(n).strip("/")
    return out


def exists(url) -> bool:
    fs, p = get_fs(url)
    return bool(call(fs, "exists", p, url=str(url)))


def read_bytes(url) -> bytes:
    fs, p = get_fs(url)
    return call(fs, "cat_file", p, url=str(url))


def write_bytes(url, data: bytes) -> None:
    """Write so that readers never see a partial file (see :func:`remote.write_whole`): locally a
    temporary file and a rename, remotely one upload (cancelled at the time limit)."""
    fs, p = get_fs(url)
    remote.write_whole(fs, p, data, url=str(url), error=StorageError)


def write_text(url, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))
