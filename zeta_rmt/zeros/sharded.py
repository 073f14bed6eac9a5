"""Sharded zero datasets: ``.npy`` shards plus a JSON manifest, on any fsspec location.

Layout of a dataset directory (local path, ``file://``, ``gs://``, ``memory://``)::

    manifest.json                  plan + (when complete) every shard's checksum
    zeros_000000000001.npy         γ_1 … γ_S   (float64, little-endian, 1-D)
    zeros_000000000001.json        the shard's sidecar: range, sha256, generator, proof
    zeros_000001000001.npy         γ_{S+1} … γ_{2S}
    …

A shard is *complete* when its sidecar exists and the ``.npy`` bytes hash to the sidecar's
sha256; sidecars are written after their shard, so a crash leaves at worst an orphan
``.npy`` that the next run overwrites. ``manifest.json`` is written first as a plan
(``"complete": false``) and rewritten with all shard entries once every shard is
complete — by the local ``generate`` command, by whichever Batch task finishes last, or by
``finalize``. Its content is a pure function of the sidecars, so concurrent writers agree.
Readers verify each shard's sha256 before using it and refuse a mismatch.

Readers also refuse a manifest that does not describe the data exactly (hand edits, a torn
copy): the shard entries must tile the dataset's range — ordered, no gap, no overlap, the first
starting at the manifest's ``start`` and the last ending at its ``end``, each ``end`` equal to
``start + count − 1``; ``file`` must be a bare ``.npy`` name in the dataset directory (no
``/``, ``..`` or absolute path). A shard's sidecar, where present, must give the same range as
its manifest entry, the entry's ``first``/``last`` must be the shard's first and last values,
and zeros must increase across shard borders (checked from ``first``/``last`` and again on the
values a load joins). Shards must be float64 unless ``allow_low_precision``.
"""
from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass

import numpy as np

from zeta_rmt.zeros import storage
from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.zeros.textfile import check_float64, check_values, fmt_num

MANIFEST = "manifest.json"
FORMAT = "zeta_rmt.zeros/sharded"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (0-based) holds zeros start … start + count − 1 (1-based indices)."""

    index: int
    start: int
    count: int

    @property
    def end(self) -> int:
        return self.start + self.count - 1

    @property
    def stem(self) -> str:
        return f"zeros_{self.start:012d}"

    @property
    def npy(self) -> str:
        return self.stem + ".npy"

    @property
    def sidecar(self) -> str:
        return self.stem + ".json"


def plan_shards(start: int, count: int, shard_size: int) -> list[ShardSpec]:
    """Split zeros start … start + count − 1 into consecutive shards of ``shard_size``."""
    for name, v in (("start", start), ("count", count), ("shard_size", shard_size)):
        if int(v) != v or v < 1:
            raise ZeroDataError(f"{name} must be a positive integer, got {v!r}")
    out = []
    pos = 0
    while pos < count:
        c = min(shard_size, count - pos)
        out.append(ShardSpec(len(out), start + pos, c))
        pos += c
    return out


def npy_bytes(values: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(values, dtype="<f8"), allow_pickle=False)
    return buf.getvalue()


def decode_npy(data: bytes, origin: str, *, allow_low_precision: bool = False) -> np.ndarray:
    """A shard's values as float64; refuses anything but a 1-D float64 array (any float with
    ``allow_low_precision``)."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ZeroDataError(f"{origin}: not a valid .npy file ({exc})") from exc
    if arr.ndim != 1 or arr.dtype.kind != "f":
        raise ZeroDataError(f"{origin}: expected a 1-D float array, got shape {arr.shape} dtype {arr.dtype}")
    check_float64(arr.dtype, origin, arr[-1] if arr.size else None, allow_low_precision=allow_low_precision)
    return arr.astype(np.float64, copy=False)


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()


def _plan_manifest(start: int, count: int, shard_size: int, generator_version: str) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "start": start,
        "count": count,
        "end": start + count - 1,
        "shard_size": shard_size,
        "generator": {"name": "zeta_rmt.zeros.generator", "version": generator_version},
        "complete": False,
        "shards": [
            {"file": s.npy, "start": s.start, "count": s.count, "end": s.end}
            for s in plan_shards(start, count, shard_size)
        ],
    }


_ENTRY_KEYS = ("file", "start", "count", "end", "sha256", "bytes", "first", "last", "generator_version", "turing_anchors")

_REPAIR = (
    "restore manifest.json, or delete it and rerun the `python -m zeta_rmt.zeros generate` command that made the "
    "dataset (complete shards are verified and kept)"
)


class _Incomplete(ZeroDataError):
    """Some shards have no sidecar yet (the dataset is being generated)."""


def _is_pos_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _bad_file_name(name) -> bool:
    """A shard ``file`` must be a bare ``*.npy`` name inside the dataset directory."""
    return (
        not isinstance(name, str)
        or not name.endswith(".npy")
        or name in (".npy", "..npy")
        or any(c in name for c in "/\\:\0")
        or name.startswith(".")
        or os.path.isabs(name)
    )


def _sidecar_name(npy_name: str) -> str:
    return npy_name[: -len(".npy")] + ".json"


class Dataset:
    """A sharded dataset at ``url`` (its directory, or its ``manifest.json``)."""

    def __init__(self, url: str, storage_options: dict | None = None, *, allow_low_precision: bool = False):
        url = str(url)
        self.allow_low_precision = bool(allow_low_precision)
        if url.rstrip("/").endswith("/" + MANIFEST) or url == MANIFEST:
            url = url.rstrip("/")[: -len(MANIFEST)].rstrip("/") or "."
        self.url = url
        self.fs, self.root = storage.get_fs(url, storage_options)
        self._manifest = None

    # -- paths -------------------------------------------------------------------------
    def path(self, name: str) -> str:
        return storage.join(self.root, name)

    def exists(self) -> bool:
        return storage.exists(self.fs, self.path(MANIFEST))

    # -- manifest ----------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        if self._manifest is None:
            p = self.path(MANIFEST)
            try:
                raw = storage.read_bytes(self.fs, p)
            except FileNotFoundError:
                raise ZeroDataError(
                    f"{self.url}: no {MANIFEST} here, so this is not a sharded zero dataset "
                    "(create one with `python -m zeta_rmt.zeros generate --out ...`)"
                ) from None
            try:
                man = json.loads(raw)
            except ValueError as exc:
                raise ZeroDataError(f"{self.url}/{MANIFEST}: not valid JSON ({exc})") from exc
            if man.get("format") != FORMAT:
                raise ZeroDataError(f"{self.url}/{MANIFEST}: format is {man.get('format')!r}, expected {FORMAT!r}")
            if man.get("format_version", 0) > FORMAT_VERSION:
                raise ZeroDataError(
                    f"{self.url}/{MANIFEST}: format_version {man['format_version']} is newer than this code "
                    f"understands ({FORMAT_VERSION}); upgrade zeta_rmt"
                )
            for key in ("start", "count", "shard_size"):
                if not _is_pos_int(man.get(key)):
                    raise ZeroDataError(
                        f"{self.url}/{MANIFEST}: {key} is {man.get(key)!r}, expected a positive integer; {_REPAIR}"
                    )
            if "end" in man and man["end"] != man["start"] + man["count"] - 1:
                raise ZeroDataError(
                    f"{self.url}/{MANIFEST}: end {man['end']!r} is not start + count - 1 = "
                    f"{man['start'] + man['count'] - 1}; {_REPAIR}"
                )
            self._manifest = man
        return self._manifest

    @property
    def start(self) -> int:
        return int(self.manifest["start"])

    @property
    def count(self) -> int:
        return int(self.manifest["count"])

    @property
    def end(self) -> int:
        return self.start + self.count - 1

    def specs(self) -> list[ShardSpec]:
        m = self.manifest
        return plan_shards(int(m["start"]), int(m["count"]), int(m["shard_size"]))

    def read_sidecar(self, spec: ShardSpec) -> dict | None:
        """The shard's sidecar; None if absent, torn or foreign (the shard is then not done)."""
        return self._read_sidecar_file(spec.sidecar)

    def entries(self) -> list[dict]:
        """Shard entries with checksums: from a complete manifest, else from the sidecars
        if every shard has one; otherwise a ZeroDataError lists what is missing.

        The entries are checked to tile the dataset's range exactly (see the module docstring)
        and, where they carry ``first``/``last``, to increase across shard borders."""
        m = self.manifest
        if m.get("complete"):
            out = m.get("shards")
            if not isinstance(out, list) or not all(isinstance(e, dict) for e in out):
                raise ZeroDataError(f"{self.url}/{MANIFEST}: complete, but 'shards' is not a list of entries; {_REPAIR}")
        else:
            out, missing = [], []
            for spec in self.specs():
                side = self.read_sidecar(spec)
                if side is None:
                    missing.append(spec)
                    continue
                if (side.get("file"), side.get("start"), side.get("count")) != (spec.npy, spec.start, spec.count):
                    raise ZeroDataError(
                        f"{self.url}/{spec.sidecar}: says file {side.get('file')!r}, zeros {side.get('start')!r} + "
                        f"{side.get('count')!r}; the plan in {MANIFEST} says {spec.npy}, zeros {spec.start}..{spec.end}: "
                        "delete the sidecar and its .npy and rerun the `generate` command to rebuild that shard"
                    )
                out.append({k: side[k] for k in _ENTRY_KEYS if k in side})
            if missing:
                shown = ", ".join(f"{s.index} ({s.start}..{s.end})" for s in missing[:8])
                raise _Incomplete(
                    f"{self.url}: dataset incomplete, {len(missing)} of {len(out) + len(missing)} shards missing "
                    f"[{shown}{', ...' if len(missing) > 8 else ''}]; rerun the same `python -m zeta_rmt.zeros generate` "
                    "command to resume"
                )
        self._check_tiling(out)
        return out

    def _check_tiling(self, entries: list[dict]) -> None:
        """The entries cover start..end of the manifest exactly once, in order, with bare file names."""
        where = f"{self.url}/{MANIFEST}"
        if not entries:
            raise ZeroDataError(f"{where}: no shard entries; {_REPAIR}")
        prev = None
        for i, e in enumerate(entries):
            name = e.get("file")
            if _bad_file_name(name):
                raise ZeroDataError(
                    f"{where}: shard entry {i} has file {name!r}, not a bare .npy file name inside the dataset "
                    f"directory (no path separators, '..' or absolute paths); refusing it: {_REPAIR}"
                )
            for key in ("start", "count"):
                if not _is_pos_int(e.get(key)):
                    raise ZeroDataError(
                        f"{where}: shard entry {i} ({name}): {key} is {e.get(key)!r}, expected a positive integer; {_REPAIR}"
                    )
            s, c = e["start"], e["count"]
            if "end" in e and e["end"] != s + c - 1:
                raise ZeroDataError(
                    f"{where}: shard entry {i} ({name}): end {e['end']!r} is not start + count - 1 = {s + c - 1}; {_REPAIR}"
                )
            if not isinstance(e.get("sha256"), str):
                raise ZeroDataError(f"{where}: shard entry {i} ({name}) has no sha256; {_REPAIR}")
            if prev is None:
                if s != self.start:
                    raise ZeroDataError(
                        f"{where}: first shard {name} starts at zero {s}, but the dataset starts at {self.start}; {_REPAIR}"
                    )
            else:
                ps, pe = prev["start"], prev["start"] + prev["count"] - 1
                if s > pe + 1:
                    raise ZeroDataError(f"{where}: zeros {pe + 1}..{s - 1} are in no shard (gap before {name}); {_REPAIR}")
                if s <= pe:
                    raise ZeroDataError(
                        f"{where}: {name} starts at zero {s}, inside the previous shard {prev['file']} ({ps}..{pe}) "
                        f"(overlap or out of order); {_REPAIR}"
                    )
                if isinstance(prev.get("last"), (int, float)) and isinstance(e.get("first"), (int, float)):
                    if not e["first"] > prev["last"]:
                        raise ZeroDataError(
                            self._border_message(name, e["first"], prev["file"], prev["last"], "(by the entries' first/last)")
                        )
            prev = e
        end = prev["start"] + prev["count"] - 1
        if end != self.end:
            raise ZeroDataError(
                f"{where}: last shard {prev['file']} ends at zero {end}, but the dataset ends at {self.end}; {_REPAIR}"
            )

    def _border_message(self, name, first, prev_name, prev_last, how: str = "") -> str:
        return (
            f"{self.url}: shard {name} starts at γ = {fmt_num(first)}, not above the last zero of {prev_name} "
            f"(γ = {fmt_num(prev_last)}){' ' + how if how else ''}; zeros must increase across shards: the dataset is inconsistent, regenerate "
            "those shards (delete them and their sidecars, then rerun `generate`)"
        )

    # -- reading -----------------------------------------------------------------------
    def read_shard(self, entry: dict, *, check_sidecar: bool = True) -> np.ndarray:
        """A shard's values after checking its sha256, dtype, length and ordering, that its
        sidecar (if any) gives the same range as ``entry`` and that ``entry``'s first/last (if
        given) are its first and last values."""
        name = entry.get("file")
        if _bad_file_name(name):
            raise ZeroDataError(
                f"{self.url}: shard file {name!r} is not a bare .npy file name inside the dataset directory; "
                f"refusing it: {_REPAIR}"
            )
        p = self.path(name)
        origin = f"{self.url}/{name}"
        if check_sidecar:
            side = self._read_sidecar_file(_sidecar_name(name))
            if side is not None and (side.get("start"), side.get("count")) != (entry.get("start"), entry.get("count")):
                def rng(d):
                    s, c = d.get("start"), d.get("count")
                    return f"{s}..{s + c - 1}" if _is_pos_int(s) and _is_pos_int(c) else f"{s!r} + {c!r}"

                raise ZeroDataError(
                    f"{origin}: its sidecar {_sidecar_name(name)} says zeros {rng(side)}, the manifest entry says "
                    f"{rng(entry)}; {_REPAIR}"
                )
        try:
            raw = storage.read_bytes(self.fs, p)
        except FileNotFoundError:
            raise ZeroDataError(f"{origin}: shard file missing; rerun `generate` to recreate it") from None
        digest = storage.sha256(raw)
        if digest != entry["sha256"]:
            raise ZeroDataError(
                f"{origin}: checksum mismatch (sha256 {digest[:16]}…, manifest says {entry['sha256'][:16]}…); "
                "the shard is corrupt or was modified: refusing it. Delete it and rerun `generate` to rebuild it"
            )
        arr = decode_npy(raw, origin, allow_low_precision=self.allow_low_precision)
        if arr.size != int(entry["count"]):
            raise ZeroDataError(f"{origin}: holds {arr.size} zeros, manifest says {entry['count']}")
        check_values(arr, origin, unit="index", first=int(entry["start"]))
        for key, k in (("first", 0), ("last", -1)):
            if key in entry and not (isinstance(entry[key], (int, float)) and float(entry[key]) == float(arr[k])):
                raise ZeroDataError(
                    f"{origin}: the manifest entry says {key} zero {fmt_num(entry[key])}, the shard's {key} value is "
                    f"{fmt_num(arr[k])}; {_REPAIR}"
                )
        return arr

    def _read_sidecar_file(self, name: str) -> dict | None:
        try:
            side = json.loads(storage.read_bytes(self.fs, self.path(name)))
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # torn or foreign: nothing to compare with
        return side if isinstance(side, dict) else None

    def load(self, start: int, count: int) -> np.ndarray:
        end = start + count - 1
        if start < self.start or end > self.end:
            raise ZeroDataError(
                f"{self.url}: holds zeros {self.start}..{self.end} ({self.count} zeros); requested {start}..{end}"
            )
        out = np.full(count, np.nan, dtype=np.float64)
        filled = 0
        prev = None  # (file, its last value placed in out)
        for e in self.entries():  # tiling checked: ordered, no gap, no overlap
            s, c = int(e["start"]), int(e["count"])
            lo, hi = max(s, start), min(s + c - 1, end)
            if lo > hi:
                continue
            arr = self.read_shard(e)
            seg = arr[lo - s : hi - s + 1]
            if prev is not None and not seg[0] > prev[1]:
                raise ZeroDataError(self._border_message(e["file"], seg[0], prev[0], prev[1]))
            out[lo - start : hi - start + 1] = seg
            filled += seg.size
            prev = (e["file"], float(seg[-1]))
        if filled != count:  # cannot happen after the tiling check; never hand out unfilled memory
            raise ZeroDataError(f"{self.url}: shards cover {filled} of zeros {start}..{end}; {_REPAIR}")
        check_values(out, self.url, unit="index", first=start)
        return out

    # -- writing -----------------------------------------------------------------------
    def write_plan(self, start: int, count: int, shard_size: int, generator_version: str) -> None:
        """Create the manifest plan, or check that an existing one has the same parameters."""
        plan = _plan_manifest(start, count, shard_size, generator_version)
        if self.exists():
            m = self.manifest
            have = (m.get("start"), m.get("count"), m.get("shard_size"), m.get("generator", {}).get("version"))
            want = (start, count, shard_size, generator_version)
            if have != want:
                raise ZeroDataError(
                    f"{self.url}: a dataset with start={have[0]} count={have[1]} shard_size={have[2]} "
                    f"generator={have[3]} already exists here; requested start={start} count={count} "
                    f"shard_size={shard_size} generator={generator_version}. Use another --out or delete it"
                )
            return
        if storage.is_local(self.fs):
            if os.path.exists(self.root) and not os.path.isdir(self.root):
                raise ZeroDataError(
                    f"{self.url}: exists and is not a directory, so it cannot hold a sharded dataset; choose another --out"
                )
            os.makedirs(self.root, exist_ok=True)
        storage.write_bytes(self.fs, self.path(MANIFEST), _json_bytes(plan))
        self._manifest = plan

    def shard_done(self, spec: ShardSpec, generator_version: str) -> bool:
        """Complete and verified: sidecar matches the plan and the bytes hash to its sha256."""
        side = self.read_sidecar(spec)
        if side is None or side.get("start") != spec.start or side.get("count") != spec.count:
            return False
        if side.get("generator_version") != generator_version:
            return False
        try:
            self.read_shard(side, check_sidecar=False)
        except ZeroDataError:
            return False
        return True

    def write_shard(self, spec: ShardSpec, values: np.ndarray, extra: dict) -> dict:
        if values.shape != (spec.count,):
            raise ZeroDataError(f"shard {spec.index}: {values.size} values for {spec.count} zeros")
        check_values(values, f"shard {spec.index}", unit="index", first=spec.start)
        data = npy_bytes(values)
        entry = {
            "file": spec.npy,
            "start": spec.start,
            "count": spec.count,
            "end": spec.end,
            "sha256": storage.sha256(data),
            "bytes": len(data),
            "first": float(values[0]),
            "last": float(values[-1]),
        }
        entry.update(extra)
        storage.write_bytes(self.fs, self.path(spec.npy), data)
        storage.write_bytes(self.fs, self.path(spec.sidecar), _json_bytes(entry))
        return entry

    def finalize(self) -> bool:
        """Rewrite the manifest as complete if every shard has a sidecar; True if complete."""
        m = self.manifest
        if m.get("complete"):
            return True
        try:
            entries = self.entries()  # sidecars match the plan, tile it, and increase across borders
        except _Incomplete:
            return False
        for prev, nxt in zip(entries, entries[1:]):
            if not nxt["first"] > prev["last"]:
                raise ZeroDataError(self._border_message(nxt["file"], nxt["first"], prev["file"], prev["last"]))
        done = dict(m)
        done["complete"] = True
        done["shards"] = [{k: e[k] for k in _ENTRY_KEYS if k in e} for e in entries]
        storage.write_bytes(self.fs, self.path(MANIFEST), _json_bytes(done))
        self._manifest = done
        return True


# --------------------------------------------------------------------------------------
# Generation (local processes or one Batch task)
# --------------------------------------------------------------------------------------
def generate_shard(ds: Dataset, spec: ShardSpec, *, chunk: int = 100_000, threads=None, progress=None) -> dict:
    """Generate one shard with the project's generator and write it (npy, then sidecar)."""
    from zeta_rmt.zeros.generator import GENERATOR_VERSION, GenerationReport, generate_zeros

    rep = GenerationReport()
    t = time.perf_counter()
    vals = generate_zeros(spec.start, spec.count, chunk=chunk, threads=threads, progress=progress, report=rep)
    extra = {
        "generator_version": GENERATOR_VERSION,
        "turing_anchors": [[int(a[0]), int(a[1])] for a in rep.anchors],
        "rosser_exceptions": [list(x) for x in rep.rosser_exceptions],
        "polished_below_600": rep.polished,
        "seconds": round(time.perf_counter() - t, 3),
    }
    return ds.write_shard(spec, vals, extra)


def _worker_init(threads: int) -> None:
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def _worker_run(url, storage_options, spec, chunk, queue):
    ds = Dataset(url, storage_options)

    def report(done, _spec=spec):
        if queue is not None:
            queue.put((_spec.index, done))

    return generate_shard(ds, spec, chunk=chunk, progress=report)


def generate_dataset(
    out: str,
    start: int,
    count: int,
    shard_size: int,
    *,
    workers: int = 1,
    chunk: int = 100_000,
    progress: bool = True,
    storage_options: dict | None = None,
    console=None,
) -> dict:
    """Write zeros start … start + count − 1 as a sharded dataset at ``out``; resumable.

    Shards already complete and verified (sidecar + sha256) are skipped. ``workers``
    processes generate shards in parallel (each with cpu_count // workers numba threads);
    ``workers=1`` runs in this process with all threads. Returns a summary dict.
    """
    from zeta_rmt.zeros.generator import GENERATOR_VERSION, check_height

    specs = plan_shards(start, count, shard_size)
    check_height(start + count - 1)  # before anything is written
    ds = Dataset(out, storage_options)
    ds.write_plan(start, count, shard_size, GENERATOR_VERSION)
    todo = [s for s in specs if not ds.shard_done(s, GENERATOR_VERSION)]
    skipped = len(specs) - len(todo)
    t0 = time.perf_counter()
    done_zeros = {s.index: 0 for s in todo}
    total = sum(s.count for s in todo)
    bar = _Progress(progress, total, console, f"{len(todo)} shard(s) to generate, {skipped} complete")
    try:
        if workers <= 1 or len(todo) <= 1:
            for s in todo:
                def cb(d, _s=s):
                    done_zeros[_s.index] = d
                    bar.update(sum(done_zeros.values()))

                generate_shard(ds, s, chunk=chunk, progress=cb)
        else:
            _run_pool(out, storage_options, todo, workers, chunk, done_zeros, bar)
    finally:
        bar.close()
    complete = ds.finalize()
    return {
        "out": out,
        "shards": len(specs),
        "generated": len(todo),
        "skipped": skipped,
        "zeros_generated": total,
        "seconds": time.perf_counter() - t0,
        "complete": complete,
    }


def _run_pool(out, storage_options, todo, workers, chunk, done_zeros, bar) -> None:
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")  # numba's thread pool is not fork-safe
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ctx.Manager() as manager:
        q = manager.Queue()
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(threads,)) as pool:
            pending = {pool.submit(_worker_run, out, storage_options, s, chunk, q) for s in todo}
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in finished:
                    f.result()  # re-raise a worker's error
                while True:
                    try:
                        idx, d = q.get_nowait()
                    except queue_mod.Empty:
                        break
                    done_zeros[idx] = d
                bar.update(sum(done_zeros.values()))


class _Progress:
    """A rich progress bar over zeros (or nothing when disabled)."""

    def __init__(self, enabled: bool, total: int, console, title: str):
        self.p = None
        if enabled and total > 0:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.p = Progress(
                TextColumn("[bold]zeros"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.p.start()
            self.task = self.p.add_task(title, total=total, rate="")
            self.t0 = time.perf_counter()

    def update(self, done: int) -> None:
        if self.p is not None:
            dt = max(time.perf_counter() - self.t0, 1e-9)
            self.p.update(self.task, completed=done, rate=f"{done / dt:,.0f}/s")

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
