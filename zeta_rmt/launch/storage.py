"""Run outputs on local paths or fsspec URLs (``gs://`` through gcsfs, ``memory://`` in tests).

gcsfs is the optional ``gcp`` extra and is imported only when a ``gs://`` URL is used; a
missing gcsfs is a clear :class:`StorageError`. With ``STORAGE_EMULATOR_HOST`` set (a local
GCS emulator) gcsfs's experimental zonal/HNS code path, which makes a TLS gRPC call the
plain-HTTP emulator cannot answer (~60 s per bucket operation), is switched off before gcsfs
is imported, and the client uses anonymous credentials.
"""
from __future__ import annotations

import os

from zeta_rmt.utils.errors import ConfigError
from zeta_rmt.utils.fsio import atomic_write_bytes

__all__ = ["StorageError", "is_remote", "get_fs", "join", "exists", "read_bytes", "write_bytes", "write_text"]

INSTALL_HINT = "pip install 'zeta_rmt[gcp]' (or: pip install gcsfs)"


class StorageError(ConfigError):
    """An output location cannot be used (missing client library, bad URL)."""


def is_remote(path) -> bool:
    """True for fsspec URLs other than local files (``gs://``, ``memory://``, ...)."""
    s = str(path)
    return "://" in s and not s.startswith("file://")


def _prepare_gcs(opts: dict) -> None:
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        opts.setdefault("token", "anon")
        opts.setdefault("endpoint_url", emulator if "://" in emulator else f"http://{emulator}")
    try:
        import gcsfs  # noqa: F401
    except ImportError as exc:
        raise StorageError(f"gs:// outputs need gcsfs, which is not installed: {INSTALL_HINT}") from exc


def prepare_protocol(url) -> None:
    """Make ``url``'s protocol usable by any later fsspec call (Lightning's included)."""
    s = str(url)
    if s.startswith(("gs://", "gcs://")):
        _prepare_gcs({})


def get_fs(url, storage_options: dict | None = None):
    """``(filesystem, path inside it)`` for a local path or an fsspec URL."""
    import fsspec

    s = str(url)
    opts = dict(storage_options or {})
    if s.startswith(("gs://", "gcs://")):
        _prepare_gcs(opts)
    try:
        return fsspec.core.url_to_fs(s, **opts)
    except (ImportError, ValueError) as exc:
        raise StorageError(f"{s}: fsspec cannot open this location ({exc})") from exc


def join(root, *names: str) -> str:
    out = str(root).rstrip("/")
    for n in names:
        out += "/" + str(n).strip("/")
    return out


def exists(url) -> bool:
    fs, p = get_fs(url)
    return fs.exists(p)


def read_bytes(url) -> bytes:
    fs, p = get_fs(url)
    with fs.open(p, "rb") as fh:
        return fh.read()


def write_bytes(url, data: bytes) -> None:
    """Write so that readers never see a partial file (see :func:`atomic_write_bytes`)."""
    fs, p = get_fs(url)
    atomic_write_bytes(fs, p, data)


def write_text(url, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))
