"""One entry point for zeros: ``load_zeros(source, start, count)``.

Indices are 1-based as in mathematics: ``load_zeros("odlyzko", 1, 10)`` returns
γ_1 … γ_10. ``source`` is one of

* ``"odlyzko"`` — Odlyzko's table (n ≤ 2,001,052), the default;
* ``"generate"`` — the project's generator (any n up to the height limit ~3.4·10⁸),
  results cached under the zeta_rmt cache directory;
* a local path or an fsspec URL (``file://``, ``gs://`` via gcsfs, ``memory://``) to
  - a sharded dataset (a directory or URL holding ``manifest.json``, or that file),
  - a ``.npy`` file of γ_1, γ_2, … (float64; memory-mapped when local),
  - a text file with one γ per line (the groups' format; an optional first line
    ``# zeta_rmt zeros start=N count=M`` numbers them from N).

Every source validates what it returns (finite, positive, strictly increasing) and says
how many zeros it holds when a request runs past its end. ``.npy`` files and shards must be
float64 (a float32 γ near 10⁶ is off by up to 0.03, ~6% of a mean spacing) unless the caller
passes ``allow_low_precision=True``; a file shorter than its ``.npy`` header says is refused.
"""
from __future__ import annotations

import abc
import io

import os

import numpy as np

from zeta_rmt.zeros import storage
from zeta_rmt.utils.fsio import atomic_save_npy
from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.utils.cache import cache_dir
from zeta_rmt.zeros.odlyzko import ODLYZKO_COUNT, load_table
from zeta_rmt.zeros.textfile import check_float64, check_values, parse_text_file


def _check_range(start: int, count: int) -> None:
    if isinstance(start, bool) or int(start) != start or start < 1:
        raise ZeroDataError(f"start must be a 1-based index >= 1, got {start!r}")
    if isinstance(count, bool) or int(count) != count or count < 1:
        raise ZeroDataError(f"count must be a positive integer, got {count!r}")


class ZeroSource(abc.ABC):
    """Zeros γ_first … γ_last (``last`` None: unbounded)."""

    name = "?"
    first = 1
    last: int | None = None

    def _range_error(self, start: int, end: int) -> ZeroDataError:
        held = f"{self.first}..{self.last} ({self.last - self.first + 1} zeros)"
        return ZeroDataError(f"source {self.name!r} holds zeros {held}; requested {start}..{end}")

    def load(self, start: int, count: int) -> np.ndarray:
        _check_range(start, count)
        end = start + count - 1
        if start < self.first or (self.last is not None and end > self.last):
            raise self._range_error(start, end)
        return self._load(int(start), int(count))

    @abc.abstractmethod
    def _load(self, start: int, count: int) -> np.ndarray:
        """gamma_start .. gamma_{start+count-1}; the range is already checked."""

    def describe(self) -> dict:
        return {"source": self.name, "first": self.first, "last": self.last}


class TableSource(ZeroSource):
    name = "odlyzko"
    last = ODLYZKO_COUNT

    def _load(self, start, count):
        return np.array(load_table()[start - 1 : start - 1 + count], dtype=np.float64)


class GeneratorSource(ZeroSource):
    """The project's generator; each (start, count) result is cached as ``.npy``."""

    name = "generate"

    def __init__(self):
        from zeta_rmt.zeros.generator import max_index

        self.last = max_index()

    def _load(self, start, count):
        from zeta_rmt.zeros.generator import GENERATOR_VERSION, generate_zeros

        use_cache = os.environ.get("ZETA_RMT_GENERATE_CACHE", "1") != "0"
        path = None
        if use_cache:
            try:
                d = cache_dir() / "generated"
                d.mkdir(parents=True, exist_ok=True)
                path = d / f"zeros_{start}_{count}_{GENERATOR_VERSION}.npy"
                if path.is_file():
                    arr = np.load(path, mmap_mode="r")
                    if arr.shape == (count,) and arr.dtype == np.float64:
                        check_values(arr, str(path), unit="index", first=start)
                        return np.array(arr)
            except (OSError, ValueError, ZeroDataError):
                path = None
        vals = generate_zeros(start, count)
        if path is not None:
            try:
                atomic_save_npy(path, vals)
            except OSError:
                pass
        return vals


class TextSource(ZeroSource):
    """A text file of one γ per line (:mod:`zeta_rmt.zeros.textfile`), read whole; gzip-compressed
    text (a name ending in ``.gz``, or the gzip magic 1f 8b) is decompressed first."""

    def __init__(self, url: str, storage_options=None):
        self.name = url
        fs, path = storage.get_fs(url, storage_options)
        try:
            raw = storage.read_bytes(fs, path)
        except FileNotFoundError:
            raise ZeroDataError(f"{url}: no such file") from None
        self.first, self.values = parse_text_file(raw, url)
        self.last = self.first + self.values.size - 1

    def _load(self, start, count):
        k = start - self.first
        return np.array(self.values[k : k + count])


def read_npy_header(fh, origin: str):
    """(shape, dtype, data offset) from an open ``.npy``; ZeroDataError if it is not one."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, EOFError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ZeroDataError(f"{origin}: not a valid .npy file ({why})") from exc
    return shape, np.dtype(dtype), fh.tell()


class NpySource(ZeroSource):
    """γ_1, γ_2, … in a ``.npy``: memory-mapped when local; remote files are read by range.

    The file's size must be what its header says (a truncated copy is refused when opened),
    every remote read must return the bytes it asked for, and the dtype must be float64
    unless ``allow_low_precision``."""

    def __init__(self, url: str, storage_options=None, *, allow_low_precision: bool = False):
        self.name = url
        self.fs, self.path = storage.get_fs(url, storage_options)
        try:  # the header is in the first bytes (a 1.0 header is at most 64 KiB, a 2.0 one rarely more)
            head = storage.read_range(self.fs, self.path, 0, 1 << 16)
            shape, dtype, self.offset = read_npy_header(io.BytesIO(head), url)
            actual = storage.size(self.fs, self.path)
        except FileNotFoundError:
            raise ZeroDataError(f"{url}: no such file") from None
        except OSError as exc:
            raise ZeroDataError(f"{url}: cannot read it ({exc.strerror or exc})") from exc
        self._check_layout(shape, dtype)
        self.dtype = dtype
        expected = self.offset + int(shape[0]) * dtype.itemsize
        if actual != expected:
            what = "truncated?" if actual < expected else "larger than its header says: not a plain .npy?"
            raise ZeroDataError(
                f"{url}: file has {actual} bytes, its .npy header ({shape[0]} zeros of {dtype.name}) needs "
                f"{expected}: {what} Copy or write the file again"
            )
        self.last = int(shape[0])
        if self.last == 0:
            raise ZeroDataError(f"{url}: holds no zeros (empty array)")
        self.mm = None
        if storage.is_local(self.fs):
            try:
                self.mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except ValueError as exc:
                raise ZeroDataError(f"{url}: not a valid .npy file ({exc})") from exc
        if not (dtype.kind == "f" and dtype.itemsize == 8):
            top = self.mm[-1] if self.mm is not None else self._read_raw(self.last, 1)[0]
            check_float64(dtype, url, top, allow_low_precision=allow_low_precision)

    def _check_layout(self, shape, dtype):
        if len(shape) != 1 or np.dtype(dtype).kind != "f":
            raise ZeroDataError(f"{self.name}: expected a 1-D float array of zeros, got shape {shape} dtype {dtype}")

    def _read_raw(self, start, count):
        size = self.dtype.itemsize
        want = count * size
        raw = storage.read_range(self.fs, self.path, self.offset + (start - 1) * size, want)
        if len(raw) != want:
            raise ZeroDataError(
                f"{self.name}: read {len(raw)} of {want} bytes for zeros {start}..{start + count - 1}: the file is "
                "shorter than when it was opened (truncated or being rewritten?); open it again"
            )
        return np.frombuffer(raw, dtype=self.dtype)

    def _load(self, start, count):
        if self.mm is not None:
            vals = np.array(self.mm[start - 1 : start - 1 + count], dtype=np.float64)
        else:
            vals = self._read_raw(start, count).astype(np.float64)
        check_values(vals, self.name, unit="index", first=start)
        return vals


class ShardedSource(ZeroSource):
    def __init__(self, url: str, storage_options=None, *, allow_low_precision: bool = False):
        from zeta_rmt.zeros.sharded import Dataset

        self.name = url
        self.ds = Dataset(url, storage_options, allow_low_precision=allow_low_precision)
        self.first, self.last = self.ds.start, self.ds.end

    def _load(self, start, count):
        return self.ds.load(start, count)

    def describe(self):
        d = super().describe()
        d["manifest"] = self.ds.manifest
        return d


def open_source(
    source: str = "odlyzko", *, storage_options: dict | None = None, allow_low_precision: bool = False
) -> ZeroSource:
    """Resolve a source string (see module docstring) to a :class:`ZeroSource`.

    ``allow_low_precision``: accept ``.npy`` files and shards stored as float32/float16 (refused
    by default: their resolution is a sizeable fraction of a mean spacing at large heights)."""
    if not isinstance(source, (str, os.PathLike)):
        raise ZeroDataError(f"zero source must be a string or path, got {type(source).__name__}")
    source = os.fspath(source)
    if source == "odlyzko":
        return TableSource()
    if source == "generate":
        return GeneratorSource()
    from zeta_rmt.zeros.sharded import MANIFEST

    low = source.lower().rstrip("/")
    lp = {"allow_low_precision": bool(allow_low_precision)}
    if low.endswith(".npy"):
        return NpySource(source, storage_options, **lp)
    if low.endswith("/" + MANIFEST) or low == MANIFEST:
        return ShardedSource(source, storage_options, **lp)
    fs, path = storage.get_fs(source, storage_options)
    if storage.exists(fs, storage.join(path, MANIFEST)):
        return ShardedSource(source, storage_options, **lp)
    if not storage.exists(fs, path):
        hint = "" if storage.is_url(source) or os.sep in source or "." in source else (
            "; known source names are 'odlyzko' and 'generate'"
        )
        raise ZeroDataError(f"zero source {source!r}: no such file or dataset{hint}")
    if storage.isdir(fs, path):
        raise ZeroDataError(f"{source}: a directory without {MANIFEST}, so not a sharded zero dataset")
    return TextSource(source, storage_options)


def load_zeros(
    source: str = "odlyzko",
    start: int = 1,
    count: int = 10_000,
    *,
    storage_options: dict | None = None,
    allow_low_precision: bool = False,
) -> np.ndarray:
    """Return γ_start … γ_{start+count−1} (1-based) as a float64 array.

    ``source``: ``"odlyzko"`` (default), ``"generate"``, or a path / fsspec URL of a text
    file, a ``.npy`` or a sharded dataset. Raises :class:`ZeroDataError` on malformed
    data (naming file and line or index), a corrupt shard or manifest, a truncated file, a
    ``.npy``/shard not stored as float64 (unless ``allow_low_precision=True``), or a request
    outside the source.
    """
    _check_range(start, count)
    src = open_source(source, storage_options=storage_options, allow_low_precision=allow_low_precision)
    return src.load(start, count)
