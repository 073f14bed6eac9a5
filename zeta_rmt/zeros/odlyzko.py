"""Odlyzko's table of the first 2,001,052 zeros (PyPI ``passagemath-database-odlyzko-zeta``).

The package ships ``sage_wheels/share/odlyzko/zeros.sobj``: a zlib-compressed pickle
(protocol 2) of a plain list of floats, gamma_1 .. gamma_2001052, accurate to about 4e-9.
It is decoded with an unpickler that refuses every global, so a tampered file cannot run
code, and cached once as a float64 ``.npy`` (memory-mapped on later loads).

The cache is not trusted blindly: when it is written, a checksum file ``<cache>.sha256.json``
(sha256, size in bytes, number of zeros) is written after it (atomically, so a crash leaves no
checksum and the cache is rebuilt). A load checks the size and the sha256 (~15-20 ms for the
16 MB file), once per process per file state (path, size, mtime, inode); a cache that is
missing its checksum, does not match it, or cannot be read is rebuilt from ``zeros.sobj``
(~1 s) with a one-line ``RuntimeWarning`` naming the file.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import json
import pickle
import uuid
import warnings
import zlib
from pathlib import Path

import numpy as np

from zeta_rmt.utils.cache import cache_dir  # noqa: F401 - also importable from here (its old home)
from zeta_rmt.utils.fsio import atomic_save_npy
from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.zeros.textfile import check_values

ODLYZKO_COUNT = 2_001_052
_RELATIVE = Path("share") / "odlyzko" / "zeros.sobj"


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickler for plain data: any reference to a class or function is refused."""

    def find_class(self, module, name):  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: the zero table must be a plain list of floats"
        )


def table_path() -> Path:
    """Locate ``zeros.sobj`` inside the installed package (a ``sage_wheels`` namespace package)."""
    spec = importlib.util.find_spec("sage_wheels")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        candidate = Path(loc) / _RELATIVE
        if candidate.is_file():
            return candidate
    raise ZeroDataError(
        "Odlyzko's zero table was not found: install it with "
        "`pip install passagemath-database-odlyzko-zeta` (it provides sage_wheels/share/odlyzko/zeros.sobj)"
    )


def decode_sobj(raw: bytes, *, origin: str = "zeros.sobj") -> np.ndarray:
    """Decode a zlib-compressed pickle of a list of floats, refusing any global."""
    try:
        payload = zlib.decompress(raw)
    except zlib.error as exc:
        raise ZeroDataError(f"{origin}: not zlib-compressed ({exc})") from exc
    try:
        obj = _NoGlobalsUnpickler(io.BytesIO(payload)).load()
    except pickle.UnpicklingError as exc:
        raise ZeroDataError(f"{origin}: {exc}") from exc
    if not isinstance(obj, (list, tuple)) or not obj:
        raise ZeroDataError(f"{origin}: expected a non-empty list of floats, got {type(obj).__name__}")
    arr = np.asarray(obj, dtype=np.float64)
    if arr.ndim != 1:
        raise ZeroDataError(f"{origin}: expected a flat list, got shape {arr.shape}")
    return arr


#: caches whose checksum this process has verified: path -> (size, mtime_ns, inode) when verified
_VERIFIED: dict[str, tuple[int, int, int]] = {}


def _checksum_path(cached: Path) -> Path:
    return cached.with_name(cached.name + ".sha256.json")


def _file_state(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cache_problem(cached: Path) -> str | None:
    """None if ``cached`` matches its checksum file, else what is wrong with it (a phrase)."""
    try:
        state = _file_state(cached)
        if _VERIFIED.get(str(cached)) == state:
            return None
        try:
            rec = json.loads(_checksum_path(cached).read_text())
        except FileNotFoundError:
            return f"has no checksum file ({_checksum_path(cached).name})"
        except ValueError:
            return f"has an unreadable checksum file ({_checksum_path(cached).name})"
        if not isinstance(rec, dict) or rec.get("count") != ODLYZKO_COUNT:
            return f"has a checksum file for another table ({_checksum_path(cached).name})"
        if rec.get("bytes") != state[0]:
            return f"is {state[0]} bytes, its checksum file says {rec.get('bytes')} (truncated?)"
        if _sha256_file(cached) != rec.get("sha256"):
            return "does not match its recorded sha256 (modified or corrupt)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    _VERIFIED[str(cached)] = state
    return None


def _build_cache(src: Path, cached: Path) -> None:
    arr = decode_sobj(src.read_bytes(), origin=str(src))
    if arr.size != ODLYZKO_COUNT:
        raise ZeroDataError(f"{src}: expected {ODLYZKO_COUNT} zeros, found {arr.size}")
    check_values(arr, str(src), unit="entry")
    atomic_save_npy(cached, arr)
    state = _file_state(cached)
    rec = {"sha256": _sha256_file(cached), "bytes": state[0], "count": int(arr.size), "source": str(src)}
    side = _checksum_path(cached)
    tmp = side.with_name(f"{side.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(json.dumps(rec) + "\n")
    os.replace(tmp, side)  # after the .npy: a checksum always describes a complete cache
    _VERIFIED[str(cached)] = state


def load_table() -> np.ndarray:
    """All 2,001,052 zeros as a read-only float64 array (memory-mapped from the checksummed cache)."""
    src = table_path()
    raw_stat = src.stat()
    key = hashlib.sha256(f"{src}:{raw_stat.st_size}:{int(raw_stat.st_mtime)}".encode()).hexdigest()[:12]
    cached = cache_dir() / f"odlyzko_{key}.npy"
    problem = None
    if cached.exists():
        problem = _cache_problem(cached)
        if problem is None:
            try:
                arr = np.load(cached, mmap_mode="r", allow_pickle=False)
                if arr.shape == (ODLYZKO_COUNT,) and arr.dtype == np.float64:
                    return arr
                problem = f"holds shape {arr.shape} dtype {arr.dtype}"
            except (OSError, ValueError) as exc:
                problem = f"cannot be read ({exc})"
    _VERIFIED.pop(str(cached), None)
    _build_cache(src, cached)
    if problem is not None:
        warnings.warn(f"Odlyzko zero cache {cached} {problem}: rebuilt it from {src}", RuntimeWarning, stacklevel=2)
    return np.load(cached, mmap_mode="r", allow_pickle=False)
