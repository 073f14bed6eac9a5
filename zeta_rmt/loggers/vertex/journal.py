"""The on-disk journal of a Vertex AI run, and the record of what was uploaded.

A run's journal directory (``<save_dir>/vertex/<run name>/``) holds:

``journal.jsonl``
    Append-only, one JSON object per line, written *before* anything is sent:
    ``open`` (where the run goes: project, location, experiment, run, TensorBoard,
    endpoint; never credentials), ``params`` (flattened hyperparameters), ``metrics``
    (``step`` + ``{key: value}``), ``state`` (COMPLETE / FAILED). It is the source of truth.

``uploads.jsonl``
    Append-only record of what reached Vertex, written by whoever uploads (the live logger
    or ``sync``). For time-series points, whose identity is ``(key, step)``:

    - ``{"op": "try", "id": ID, "points": {key: [steps]}}`` just before a write request,
    - ``{"op": "done", "id": ID}`` after the server confirmed it,
    - ``{"op": "have", "points": {key: [steps]}}`` when a read of the server showed points,
    - ``{"op": "checked", "key": key, "tries": [ID, ...]}`` after such a read settled
      every unconfirmed try of that key.

    A ``try`` without ``done`` (a timeout, a lost answer, a crash) leaves its keys *in
    doubt*: before any of their points is written again, the uploader reads what the
    server holds and skips it. Together this uploads every point exactly once.
    Parameters, summary metrics and the run state are idempotent updates; their last
    uploaded digest is recorded (``params``/``summary``/``state`` ops) to skip repeats.

``.lock``
    ``flock``-ed during each upload pass, so that the live logger and ``sync`` never
    upload the same run at the same time.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

__all__ = ["Journal", "RunPlan", "UploadLog", "UploadState", "read_jsonl", "JOURNAL", "UPLOADS", "LOCK", "digest", "upload_lock"]

JOURNAL = "journal.jsonl"
UPLOADS = "uploads.jsonl"
LOCK = ".lock"
FORMAT = 1


def _dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"), allow_nan=True, sort_keys=False)


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, allow_nan=True).encode()).hexdigest()[:16]


def read_jsonl(path: str | os.PathLike, offset: int = 0) -> tuple[list[dict], int]:
    """Records of a JSONL file from byte ``offset``; returns them and the offset after the
    last complete line. A torn last line (no newline yet: a writer died mid-line, or is
    writing) is left for later."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line torn by a crash, then continued by a later writer
        if isinstance(rec, dict):
            records.append(rec)
    return records, offset + end


class _Appender:
    """Appends whole lines to a file (one ``write`` per record, flushed)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._f = open(path, "ab", buffering=0)
        if self._f.tell() > 0:  # repair a torn last line so the next record starts fresh
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    self._f.write(b"\n")
        self._last_sync = time.monotonic()

    def append(self, record: dict, fsync: bool = False) -> None:
        data = (_dumps(record) + "\n").encode()
        with self._lock:
            if self._f.closed:
                raise ValueError(f"{self.path} is closed")
            self._f.write(data)
            now = time.monotonic()
            if fsync or now - self._last_sync > 5.0:
                os.fsync(self._f.fileno())
                self._last_sync = now

    def close(self) -> None:
        with self._lock:
            if not self._f.closed:
                with contextlib.suppress(OSError):
                    os.fsync(self._f.fileno())
                self._f.close()


class Journal(_Appender):
    """The append-only journal of one run (``journal.jsonl``)."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        super().__init__(self.dir / JOURNAL)
        existing, _ = read_jsonl(self.path)
        self._seq = max((int(r.get("seq", -1)) for r in existing), default=-1) + 1

    def record(self, kind: str, fsync: bool = False, **fields: Any) -> dict:
        with self._lock:
            seq = self._seq
            self._seq += 1
        rec = {"v": FORMAT, "seq": seq, "t": time.time(), "kind": kind, **fields}
        self.append(rec, fsync=fsync)
        return rec

    @staticmethod
    def read(directory: str | os.PathLike) -> list[dict]:
        return read_jsonl(Path(directory) / JOURNAL)[0]


@dataclass
class RunPlan:
    """What the server should hold, folded from journal records."""

    target: dict = field(default_factory=dict)  # the last ``open`` record
    params: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)  # latest value of each key
    points: dict[str, dict[int, tuple[float, float]]] = field(default_factory=dict)  # key -> step -> (value, wall)
    state: str | None = None
    relogged: int = 0  # (key, step) pairs logged again: the first value is the one kept

    def apply(self, rec: dict) -> None:
        kind = rec.get("kind")
        if kind == "open":
            self.target = {k: v for k, v in rec.items() if k not in ("v", "seq", "t", "kind")}
            self.state = "RUNNING"
        elif kind == "params":
            self.params.update(rec.get("params", {}))
        elif kind == "metrics":
            step = int(rec["step"])
            wall = float(rec.get("t", time.time()))
            for key, value in rec.get("metrics", {}).items():
                self.summary[key] = value
                series = self.points.setdefault(key, {})
                if step in series:
                    self.relogged += 1
                else:
                    series[step] = (value, wall)
        elif kind == "state":
            self.state = rec["state"]

    @classmethod
    def from_records(cls, records: list[dict]) -> "RunPlan":
        plan = cls()
        for rec in records:
            plan.apply(rec)
        return plan

    @property
    def n_points(self) -> int:
        return sum(len(s) for s in self.points.values())


class UploadState:
    """What ``uploads.jsonl`` says is on the server (read-only view; see the module docstring)."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.path = self.dir / UPLOADS
        self.acked: dict[str, set[int]] = {}
        self.tries: dict[str, dict[str, list[int]]] = {}  # open tries: id -> points
        self.settled: dict[str, set[str]] = {}  # key -> try ids settled by a server read
        self.params_digest: str | None = None
        self.summary_digest: str | None = None
        self.state: str | None = None
        self._offset = 0
        self.refresh()

    def refresh(self) -> None:
        """Apply lines appended since the last read (by us or another uploader)."""
        records, self._offset = read_jsonl(self.path, self._offset)
        for rec in records:
            self._apply(rec)

    def _apply(self, rec: dict) -> None:
        op = rec.get("op")
        if op == "try":
            self.tries[rec["id"]] = rec.get("points", {})
        elif op == "done":
            pts = self.tries.pop(rec["id"], {})
            for key, steps in pts.items():
                self.acked.setdefault(key, set()).update(int(s) for s in steps)
        elif op == "have":
            for key, steps in rec.get("points", {}).items():
                self.acked.setdefault(key, set()).update(int(s) for s in steps)
        elif op == "checked":
            self.settled.setdefault(rec["key"], set()).update(rec.get("tries", []))
        elif op == "params":
            self.params_digest = rec.get("digest")
        elif op == "summary":
            self.summary_digest = rec.get("digest")
        elif op == "state":
            self.state = rec.get("state")

    def doubt(self) -> dict[str, list[str]]:
        """Keys with an unconfirmed write, and the try ids that left them in doubt."""
        out: dict[str, list[str]] = {}
        for tid, pts in self.tries.items():
            for key in pts:
                if tid not in self.settled.get(key, ()):
                    out.setdefault(key, []).append(tid)
        return out

    def pending(self, plan: RunPlan) -> dict[str, dict[int, tuple[float, float]]]:
        """Points of ``plan`` not confirmed on the server."""
        out = {}
        for key, series in plan.points.items():
            done = self.acked.get(key, ())
            rest = {s: v for s, v in series.items() if s not in done}
            if rest:
                out[key] = rest
        return out


class UploadLog(UploadState, _Appender):
    """``uploads.jsonl`` opened for appending by an uploader."""

    def __init__(self, directory: str | os.PathLike):
        _Appender.__init__(self, Path(directory) / UPLOADS)
        UploadState.__init__(self, directory)

    # writing -------------------------------------------------------------
    def record_try(self, points: dict[str, list[int]]) -> str:
        tid = uuid.uuid4().hex[:12]
        self._write({"op": "try", "id": tid, "points": points}, fsync=True)
        return tid

    def record_done(self, tid: str) -> None:
        self._write({"op": "done", "id": tid})

    def record_have(self, key: str, steps: list[int]) -> None:
        if steps:
            self._write({"op": "have", "points": {key: sorted(steps)}})

    def record_checked(self, key: str, tries: list[str]) -> None:
        self._write({"op": "checked", "key": key, "tries": tries})

    def record_digest(self, what: str, value: str) -> None:
        self._write({"op": what, "digest": value} if what != "state" else {"op": "state", "state": value})

    def _write(self, rec: dict, fsync: bool = False) -> None:
        rec = {"t": time.time(), **rec}
        self.append(rec, fsync=fsync)
        # keep our view in step with the file (refresh also reads other writers' lines)
        self.refresh()


@contextlib.contextmanager
def upload_lock(directory: str | os.PathLike, timeout: float) -> Iterator[bool]:
    """Hold ``.lock`` exclusively while uploading; yields False if it was not obtained
    within ``timeout`` seconds (someone else is uploading this run)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no cross-process exclusion
        yield True
        return
    path = Path(directory) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
