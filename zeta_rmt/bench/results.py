"""The results file ``docs/benchmarks/results-<host>-<date>.json``: one JSON document, always valid.

Layout (``format`` = :data:`FORMAT`)::

    {"format": "zeta_rmt.bench.results/1", "host": "...", "date": "YYYY-MM-DD",
     "runs": [{"run_id": "...", "started": "ISO-8601 UTC", "argv": [...], "threads": 1, "quick": false,
               "machine": {cpu_model, cores_usable, ram_total_gb, versions, git, gpus, ...},
               "results": [<one JSON line per case, as printed>, ...]},
              ...]}

Each invocation of ``python -m zeta_rmt.bench`` adds one run (machine info, git commit) and then
one result per case as it finishes.  Every change rereads the file, adds to it and rewrites it
whole into a temporary file that replaces the old one atomically (``os.replace``), under an
exclusive lock on the folder, so the file is valid JSON after every append, nothing is ever
overwritten, and two suites running at once do not lose each other's results.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import uuid
from pathlib import Path
from typing import Iterator

from zeta_rmt.bench.machine import REPO_ROOT, host_name

FORMAT = "zeta_rmt.bench.results/1"
ENV_OUT = "ZETA_RMT_BENCH_OUT"
PREFIX = "results-"


class ResultsFileError(ValueError):
    """A results file that is not one of ours (not JSON, or another layout)."""


def default_dir() -> Path:
    """``$ZETA_RMT_BENCH_OUT`` or the checkout's ``docs/benchmarks``."""
    env = os.environ.get(ENV_OUT)
    return Path(env) if env else REPO_ROOT / "docs" / "benchmarks"


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def results_path(out_dir: Path, host: str | None = None, date: str | None = None) -> Path:
    return Path(out_dir) / f"{PREFIX}{host or host_name()}-{date or today()}.json"


def newest_file(out_dir: Path) -> Path | None:
    """The results file in ``out_dir`` written last (by modification time)."""
    files = sorted(Path(out_dir).glob(f"{PREFIX}*.json"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


def load(path: Path) -> dict:
    """Read and check a results file; one clear error naming the file otherwise."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read the results file ({exc.strerror or exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                               f"it is not a zeta_rmt.bench results file") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("runs"), list):
        raise ResultsFileError(f"{path}: not a zeta_rmt.bench results file (expected \"format\": {FORMAT!r} "
                               f"and a \"runs\" list)")
    return doc


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class ResultsFile:
    """One results file; :meth:`start_run` once per invocation, then :meth:`append` per case."""

    def __init__(self, out_dir: Path, host: str | None = None, date: str | None = None):
        self.host = host or host_name()
        self.date = date or today()
        self.path = results_path(out_dir, self.host, self.date)

    def _update(self, change) -> None:
        with _locked(self.path.parent):
            if self.path.exists():
                doc = load(self.path)
            else:
                doc = {"format": FORMAT, "host": self.host, "date": self.date, "runs": []}
            change(doc)
            _write(self.path, doc)

    def start_run(self, machine: dict, **meta) -> str:
        run_id = f"{now_iso()}-{uuid.uuid4().hex[:6]}"
        entry = {"run_id": run_id, "started": now_iso(), **meta, "machine": machine, "results": []}
        self._update(lambda doc: doc["runs"].append(entry))
        return run_id

    def append(self, run_id: str, line: dict) -> None:
        def change(doc):
            for run in doc["runs"]:
                if run.get("run_id") == run_id:
                    run["results"].append(line)
                    return
            raise ResultsFileError(f"{self.path}: run {run_id} is not in the file (was it edited meanwhile?)")

        self._update(change)


def latest_results(doc: dict) -> dict[str, tuple[dict, dict]]:
    """``{case name: (result line, its run's machine info)}``, the newest line of each case."""
    out: dict[str, tuple[dict, dict]] = {}
    for run in doc["runs"]:
        for line in run.get("results", []):
            if isinstance(line, dict) and "case" in line:
                out[line["case"]] = (line, run.get("machine") or {})
    return out
