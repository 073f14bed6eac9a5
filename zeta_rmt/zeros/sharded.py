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
from zeta_rmt.zeros.textfile import check_values

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


def decode_npy(data: bytes, origin: str) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ZeroDataError(f"{origin}: not a valid .npy file ({exc})") from exc
    if arr.ndim != 1 or arr.dtype.kind != "f":
        raise ZeroDataError(f"{origin}: expected a 1-D float array, got shape {arr.shape} dtype {arr.dtype}")
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


class Dataset:
    """A sharded dataset at ``url`` (its directory, or its ``manifest.json``)."""

    def __init__(self, url: str, storage_options: dict | None = None):
        url = str(url)
        if url.rstrip("/").endswith("/" + MANIFEST) or url == MANIFEST:
            url = url.rstrip("/")[: -len(MANIFEST)].rstrip("/") or "."
        self.url = url
        self.fs, self.root = storage.get_fs(url, storage_options)
        self._manifest = None

    # -- paths -------------------------------------------------------------------------
    def path(self, name: str) -> str:
        return storage.join(self.root, name)

    def exists(self) -> bool:
        return self.fs.exists(self.path(MANIFEST))

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
        try:
            return json.loads(storage.read_bytes(self.fs, self.path(spec.sidecar)))
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a torn or foreign sidecar: the shard is treated as not done

    def entries(self) -> list[dict]:
        """Shard entries with checksums: from a complete manifest, else from the sidecars
        if every shard has one; otherwise a ZeroDataError lists what is missing."""
        m = self.manifest
        if m.get("complete"):
            return m["shards"]
        out, missing = [], []
        for spec in self.specs():
            side = self.read_sidecar(spec)
            if side is None:
                missing.append(spec)
            else:
                out.append({k: side[k] for k in _ENTRY_KEYS if k in side})
        if missing:
            shown = ", ".join(f"{s.index} ({s.start}..{s.end})" for s in missing[:8])
            raise ZeroDataError(
                f"{self.url}: dataset incomplete, {len(missing)} of {len(out) + len(missing)} shards missing "
                f"[{shown}{', ...' if len(missing) > 8 else ''}]; rerun the same `python -m zeta_rmt.zeros generate` "
                "command to resume"
            )
        return out

    # -- reading -----------------------------------------------------------------------
    def read_shard(self, entry: dict) -> np.ndarray:
        """A shard's values after checking its sha256, length and ordering."""
        p = self.path(entry["file"])
        origin = f"{self.url}/{entry['file']}"
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
        arr = decode_npy(raw, origin)
        if arr.size != int(entry["count"]):
            raise ZeroDataError(f"{origin}: holds {arr.size} zeros, manifest says {entry['count']}")
        check_values(arr, origin, unit="index", first=int(entry["start"]))
        return arr

    def load(self, start: int, count: int) -> np.ndarray:
        end = start + count - 1
        if start < self.start or end > self.end:
            raise ZeroDataError(
                f"{self.url}: holds zeros {self.start}..{self.end} ({self.count} zeros); requested {start}..{end}"
            )
        out = np.empty(count, dtype=np.float64)
        for e in self.entries():
            s, c = int(e["start"]), int(e["count"])
            lo, hi = max(s, start), min(s + c - 1, end)
            if lo > hi:
                continue
            arr = self.read_shard(e)
            out[lo - start : hi - start + 1] = arr[lo - s : hi - s + 1]
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
            self.read_shard(side)
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
            entries = self.entries()
        except ZeroDataError:
            return False
        for e, spec in zip(entries, self.specs()):
            if e["start"] != spec.start or e["count"] != spec.count:
                raise ZeroDataError(f"{self.url}: sidecar of shard {spec.index} does not match the plan")
        for prev, nxt in zip(entries, entries[1:]):
            if not nxt["first"] > prev["last"]:
                raise ZeroDataError(
                    f"{self.url}: shard {nxt['file']} starts at {nxt['first']!r}, not above the end of "
                    f"{prev['file']} ({prev['last']!r})"
                )
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
