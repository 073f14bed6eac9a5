"""Odlyzko's table of the first 2,001,052 zeros (PyPI ``passagemath-database-odlyzko-zeta``).

The package ships ``sage_wheels/share/odlyzko/zeros.sobj``: a zlib-compressed pickle
(protocol 2) of a plain list of floats, gamma_1 .. gamma_2001052, accurate to about 4e-9.
It is decoded with an unpickler that refuses every global, so a tampered file cannot run
code, and cached once as a float64 ``.npy`` (memory-mapped on later loads).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
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


def load_table() -> np.ndarray:
    """All 2,001,052 zeros as a read-only float64 array (memory-mapped from the cache)."""
    src = table_path()
    raw_stat = src.stat()
    key = hashlib.sha256(f"{src}:{raw_stat.st_size}:{int(raw_stat.st_mtime)}".encode()).hexdigest()[:12]
    cached = cache_dir() / f"odlyzko_{key}.npy"
    if not cached.exists():
        arr = decode_sobj(src.read_bytes(), origin=str(src))
        if arr.size != ODLYZKO_COUNT:
            raise ZeroDataError(f"{src}: expected {ODLYZKO_COUNT} zeros, found {arr.size}")
        check_values(arr, str(src), unit="entry")
        atomic_save_npy(cached, arr)
    return np.load(cached, mmap_mode="r")
