"""Paths and URLs through fsspec: local paths, ``file://``, ``memory://``, ``gs://`` (gcsfs).

gcsfs is an optional dependency (the ``gcp`` extra) and is imported only when a ``gs://``
URL is used. Remote calls go through :mod:`zeta_rmt.utils.remote`: each has a bounded total
time (``ZETA_RMT_REMOTE_TIMEOUT``, default 120 s), a dead endpoint fails fast, and every
failure is one :class:`ZeroDataError` naming the URL and what to check. With
``STORAGE_EMULATOR_HOST`` set (a local GCS emulator) the client is pointed at it with
anonymous credentials and without gcsfs's experimental zonal/HNS path.

Callers that need more than the helpers here should add one rather than call the filesystem
directly: a direct ``fs.open``/``fs.exists`` has per-request timeouts but no total limit and
no :class:`ZeroDataError`.
"""
from __future__ import annotations

import hashlib

from zeta_rmt.utils import remote
from zeta_rmt.utils.fsio import is_local_fs
from zeta_rmt.zeros.errors import ZeroDataError


def is_url(path: str) -> bool:
    return "://" in str(path)


def get_fs(path: str, storage_options: dict | None = None):
    """(filesystem, path inside it) for a local path or an fsspec URL."""
    missing = (f"{path}: reading or writing gs:// needs gcsfs, which is not installed; "
               "install the GCP extra: pip install 'zeta_rmt[gcp]' (or pip install gcsfs)")
    return remote.get_fs(str(path), storage_options, ZeroDataError, missing)


is_local = is_local_fs


def join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


def _call(fs, method: str, path: str, *args, **kwargs):
    return remote.call(fs, method, path, *args, url=remote.url_of(fs, path), error=ZeroDataError, **kwargs)


def read_bytes(fs, path: str) -> bytes:
    return _call(fs, "cat_file", path)


def read_range(fs, path: str, start: int, length: int) -> bytes:
    """``length`` bytes of ``path`` from offset ``start`` (fewer at the end of the file)."""
    if is_local_fs(fs):
        with fs.open(path, "rb") as fh:
            fh.seek(start)
            return fh.read(length)
    return _call(fs, "cat_file", path, start=start, end=start + length)


def exists(fs, path: str) -> bool:
    return bool(_call(fs, "exists", path))


def isdir(fs, path: str) -> bool:
    return bool(_call(fs, "isdir", path))


def size(fs, path: str) -> int:
    return int(_call(fs, "size", path))


def write_bytes(fs, path: str, data: bytes) -> None:
    """Write ``data`` so that readers never see a partial file (see :func:`remote.write_whole`):
    locally a temporary file and a rename, remotely one upload (cancelled at the time limit)."""
    remote.write_whole(fs, path, data, url=remote.url_of(fs, path), error=ZeroDataError)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
