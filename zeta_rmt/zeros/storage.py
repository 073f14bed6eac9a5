"""Paths and URLs through fsspec: local paths, ``file://``, ``memory://``, ``gs://`` (gcsfs).

gcsfs is an optional dependency (the ``gcp`` extra) and is imported only when a ``gs://``
URL is used. With ``STORAGE_EMULATOR_HOST`` set (a local GCS emulator) the client is
pointed at it with anonymous credentials, and gcsfs's experimental zonal/HNS code path
(which makes a gRPC TLS call the plain-HTTP emulator cannot answer) is switched off.
"""
from __future__ import annotations

import hashlib
import os

from zeta_rmt.utils.fsio import atomic_write_bytes, is_local_fs
from zeta_rmt.zeros.errors import ZeroDataError


def is_url(path: str) -> bool:
    return "://" in str(path)


def get_fs(path: str, storage_options: dict | None = None):
    """(filesystem, path inside it) for a local path or an fsspec URL."""
    import fsspec

    path = str(path)
    opts = dict(storage_options or {})
    protocol = path.split("://", 1)[0] if is_url(path) else "file"
    if protocol in ("gs", "gcs"):
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
            opts.setdefault("token", "anon")
            opts.setdefault("endpoint_url", emulator if is_url(emulator) else f"http://{emulator}")
        try:
            import gcsfs  # noqa: F401
        except ImportError as exc:
            raise ZeroDataError(
                f"{path}: reading or writing gs:// needs gcsfs, which is not installed; "
                "install the GCP extra: pip install 'zeta_rmt[gcp]' (or pip install gcsfs)"
            ) from exc
    try:
        fs, inner = fsspec.core.url_to_fs(path, **opts)
    except (ImportError, ValueError) as exc:
        raise ZeroDataError(f"{path}: cannot open this location with fsspec ({exc})") from exc
    return fs, inner


is_local = is_local_fs


def join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


def read_bytes(fs, path: str) -> bytes:
    with fs.open(path, "rb") as fh:
        return fh.read()


def write_bytes(fs, path: str, data: bytes) -> None:
    """Write ``data`` so that readers never see a partial file (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(fs, path, data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
