"""Atomic writes through fsspec (local files and object stores alike).

Every writer here leaves either the old file or the complete new one, never a truncated file or a
stray temporary: a failed local write removes its temporary file, and a full disk (``ENOSPC``,
``EDQUOT``, ``EFBIG``) becomes one :class:`DiskFullError` line naming the path and the space left.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid

#: errno values that mean "the data does not fit here"
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFullError(OSError):
    """A write failed because the file system (or a quota / file-size limit) is full."""

    def __str__(self) -> str:  # the sentence alone, without OSError's "[Errno 28]" prefix
        return str(self.strerror)


def is_local_fs(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def _free_text(path: str) -> str:
    try:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(path)) or ".").free
    except OSError:
        return "unknown"
    return f"{free / 1e6:,.1f} MB" if free < 1e9 else f"{free / 1e9:,.2f} GB"


def disk_full_error(path: str, exc: OSError, size: int | None = None) -> DiskFullError:
    what = {errno.EFBIG: "file size limit reached", errno.EDQUOT: "disk quota exceeded"}.get(exc.errno,
                                                                                           "no space left on device")
    need = f" writing {size / 1e6:,.1f} MB" if size else ""
    return DiskFullError(exc.errno, f"{path}: {what}{need} ({_free_text(path)} free there); nothing was "
                                    f"overwritten. Free space, or write the run elsewhere (paths.output_dir=...)")


def _temp_name(path: str, suffix: str = ".tmp") -> str:
    return f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}"


@contextlib.contextmanager
def atomic_local_path(path, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` atomically,
    on any failure it is removed (a full disk raises :class:`DiskFullError`)."""
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    tmp = _temp_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS and not isinstance(exc, DiskFullError):
            raise disk_full_error(path, exc) from exc
        raise


def write_local_bytes(path, data: bytes) -> None:
    """Write ``data`` to a local ``path`` atomically (temporary file, fsync, rename)."""
    with atomic_local_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_bytes(fs, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` on ``fs`` so that readers never see a partial file.

    Local: a temporary file in the same folder, then an atomic rename. Object stores (GCS,
    memory): one upload, which is already atomic (the object appears whole or not at all); no
    rename, which GCS only emulates (copy + delete) and the GCS emulator handles very slowly.
    """
    if is_local_fs(fs):
        write_local_bytes(str(path), data)
    else:
        with fs.open(path, "wb") as fh:
            fh.write(data)


def atomic_save_npy(path, array) -> None:
    """``np.save`` to a temporary file beside ``path``, then an atomic rename (no half-written cache)."""
    import numpy as np

    arr = np.ascontiguousarray(array)
    if arr.dtype.hasobject:
        raise TypeError("atomic_save_npy writes plain numeric arrays only")
    header = np.lib.format.header_data_from_array_1_0(arr)
    with atomic_local_path(path, ".tmp.npy") as tmp:
        with open(tmp, "wb") as fh:  # Python's own writes: a full disk is a real ENOSPC, not numpy's short count
            try:
                np.lib.format.write_array_header_1_0(fh, header)
            except ValueError:  # a header over 64 KiB
                fh.seek(0)
                np.lib.format.write_array_header_2_0(fh, header)
            fh.write(memoryview(arr.reshape(-1)).cast("B"))
