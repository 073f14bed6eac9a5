"""Atomic writes through fsspec (local files and object stores alike)."""
from __future__ import annotations

import os
import uuid


def is_local_fs(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def atomic_write_bytes(fs, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` on ``fs`` so that readers never see a partial file.

    Local: a temporary file in the same folder, then an atomic rename. Object stores (GCS,
    memory): one upload, which is already atomic (the object appears whole or not at all); no
    rename, which GCS only emulates (copy + delete) and the GCS emulator handles very slowly.
    """
    if is_local_fs(fs):
        path = str(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    else:
        with fs.open(path, "wb") as fh:
            fh.write(data)


def atomic_save_npy(path, array) -> None:
    """``np.save`` to a temporary file beside ``path``, then an atomic rename (no half-written cache)."""
    import numpy as np

    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp.npy"
    np.save(tmp, array)
    os.replace(tmp, path)
