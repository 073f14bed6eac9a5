"""What a training run needs to live on Vertex AI: outputs on ``gs://``, resumption after a
restart, and the output directory Vertex AI assigns. No cloud SDK is imported here.

Checkpoints (:class:`LastCheckpoint`)
    ``<output_dir>/checkpoints/last.ckpt`` is written with ``Trainer.save_checkpoint`` (local:
    temporary file + rename; ``gs://``: one upload, so the object is whole or absent) at the
    end of every ``every_n_epochs``-th epoch, at most once per ``min_interval_s`` seconds, and
    after the final epoch. Its folder never changes between attempts, so a restarted job finds
    it, and Lightning's ``ModelCheckpoint`` never deletes it: that callback removes only files
    it wrote itself and tracks (its top-k files; ``save_last`` is off), which is how the
    measured trap -- ``ModelCheckpoint`` deleting the checkpoint a run resumed from on a
    non-local path -- is avoided. Before each save every logger is flushed and remote copies of
    log files are synced, and again when the next epoch starts (Lightning logs an epoch's train
    metrics after every ``on_train_epoch_end`` hook), so remote logs do not lag behind the
    checkpoint; rows logged after it are dropped on resumption.

Resumption (:func:`find_resume_checkpoint`)
    With ``ckpt_path: null`` and ``auto_resume: true`` a run whose output directory already
    holds ``checkpoints/last.ckpt`` (local or ``gs://``) resumes from it. An unreadable
    ``last.ckpt`` (a write cut short) falls back to the newest readable ``*.ckpt`` there.

Log files on ``gs://`` (:func:`stage_file_loggers`, :class:`RemoteMirror`)
    Lightning's ``CSVLogger`` appends to its file, which on ``gs://`` rewrites the object and
    loses the earlier rows (measured). File loggers (CSV, TensorBoard) whose ``save_dir`` is
    remote therefore write to a local staging folder; the mirror uploads changed files whole,
    and on a restart first downloads the previous attempt's files so nothing is lost.
    On resumption, CSV rows of epochs after the checkpoint are dropped (:func:`carry_over_csv`),
    so each epoch appears once.

Output directory on Vertex AI (:func:`vertex_output_dir`, resolver ``${vertex_output_dir:}``)
    Vertex AI sets ``AIP_MODEL_DIR=<base_output_directory>/model/`` (for a tuning trial,
    ``<base>/<trial_id>/model/``); the run's output directory is its parent, so checkpoints land
    in ``AIP_CHECKPOINT_DIR`` (``<base>[/<trial_id>]/checkpoints/``).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from zeta_rmt.launch import storage
from zeta_rmt.launch.checkpoints import CheckpointInfo, UnreadableCheckpoint, read_meta
from zeta_rmt.utils.config import group_entries
from zeta_rmt.utils.errors import ConfigError

__all__ = [
    "LastCheckpoint", "RemoteMirror", "ResumeInfo", "carry_over_csv", "find_resume_checkpoint",
    "register_resolvers", "stage_file_loggers", "vertex_output_dir",
]

FILE_LOGGER_SUFFIXES = ("CSVLogger", "TensorBoardLogger")


def _log(msg: str) -> None:
    print(f"[zeta_rmt] {msg}", flush=True)


# ----------------------------------------------------------------------------- Vertex output dir
def vertex_output_dir(default: str | None = None) -> str:
    """The run's output directory on Vertex AI: ``AIP_MODEL_DIR`` without its ``/model/`` leaf."""
    model_dir = os.environ.get("AIP_MODEL_DIR")
    if model_dir:
        d = model_dir.rstrip("/")
        return d[: -len("/model")] if d.endswith("/model") else d
    if default:
        return str(default)
    raise ConfigError(
        "paths.output_dir=${vertex_output_dir:} needs AIP_MODEL_DIR, which Vertex AI sets when the job has "
        "a base_output_directory (python -m zeta_rmt.launch always sets one). Outside Vertex AI pass "
        "paths.output_dir=<dir or gs:// URL>, or give a fallback: ${vertex_output_dir:outputs/local}."
    )


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("vertex_output_dir"):
        OmegaConf.register_new_resolver("vertex_output_dir", vertex_output_dir, use_cache=False)


# ----------------------------------------------------------------------------- mirror of log files
@dataclass
class RemoteMirror:
    """Local folders whose files are copied, whole, to remote folders: ``pairs`` of
    ``(local_dir, remote_url)``. Upload-only: nothing remote is deleted."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    _sent: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def restore(self) -> int:
        """Download the remote files (a previous attempt's logs) into the local folders."""
        n = 0
        for local, remote in self.pairs:
            fs, root = storage.get_fs(remote)
            if not storage.call(fs, "exists", root, url=remote):
                continue
            root = root.rstrip("/")
            for path in storage.call(fs, "find", root, url=remote):
                rel = path[len(root):].lstrip("/")
                if not rel:
                    continue
                dest = Path(local) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(storage.call(fs, "cat_file", path, url=storage.join(remote, rel)))
                st = dest.stat()
                self._sent[str(dest)] = (st.st_size, st.st_mtime_ns)
                n += 1
        return n

    def sync(self) -> int:
        """Upload the local files that changed since the last sync; returns how many. A failed
        upload is a warning, not an error (training goes on; the next sync tries again)."""
        n = 0
        for local, remote in self.pairs:
            base = Path(local)
            if not base.exists():
                continue
            try:
                fs, root = storage.get_fs(remote)
            except storage.StorageError as exc:  # the endpoint is down: nothing to try for this folder
                _log(f"warning: not copying {local} to {remote}: {exc}; will retry at the next sync")
                continue
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                st = path.stat()
                sig = (st.st_size, st.st_mtime_ns)
                if self._sent.get(str(path)) == sig:
                    continue
                rel = path.relative_to(base).as_posix()
                try:
                    # one bounded upload (cancelled at the time limit: no late overwrite)
                    storage.call(fs, "pipe_file", storage.join(root, rel), path.read_bytes(),
                                 url=storage.join(remote, rel))
                except storage.StorageError as exc:  # unreachable / not answering: skip the rest too
                    _log(f"warning: copying {path} failed: {exc}; will retry at the next sync")
                    break
                except Exception as exc:  # noqa: BLE001 - e.g. a transient GCS error
                    _log(f"warning: copying {path} to {storage.join(remote, rel)} failed "
                         f"({type(exc).__name__}: {exc}); will retry at the next sync")
                    continue
                self._sent[str(path)] = sig
                n += 1
        return n


def _staging_root() -> Path:
    """``$ZETA_RMT_STAGING_DIR``, else ``<Hydra run dir>/remote_staging``, else a new temporary folder."""
    env = os.environ.get("ZETA_RMT_STAGING_DIR")
    if env:
        Path(env).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="staging_", dir=env))
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            run_dir = HydraConfig.get().runtime.output_dir
            if run_dir and not storage.is_remote(run_dir):
                return Path(run_dir) / "remote_staging"
    except Exception:  # noqa: BLE001 - Hydra not in use: a temporary folder
        pass
    return Path(tempfile.mkdtemp(prefix="zeta_rmt_staging_"))


def stage_file_loggers(logger_group: DictConfig | None) -> tuple[dict[str, dict[str, Any]], RemoteMirror]:
    """For file loggers (CSV, TensorBoard) whose ``save_dir`` is remote: instantiation
    overrides pointing them at a local staging folder, and the mirror that copies it up.
    The mirror has already restored the remote files of a previous attempt."""
    overrides: dict[str, dict[str, Any]] = {}
    mirror = RemoteMirror()
    if not logger_group:
        return overrides, mirror
    root: Path | None = None
    for key, node in group_entries(logger_group).items():
        if not str(node._target_).endswith(FILE_LOGGER_SUFFIXES):
            continue
        save_dir = node.get("save_dir")
        if save_dir is None or not storage.is_remote(save_dir):
            continue
        storage.prepare_protocol(save_dir)
        root = root or _staging_root()
        local = root / f"{key or 'logger'}-{hashlib.sha1(str(save_dir).encode()).hexdigest()[:8]}"
        local.mkdir(parents=True, exist_ok=True)
        sub = str(node.get("name") or "")
        overrides[str(key)] = {"save_dir": str(local)}
        mirror.pairs.append((str(local / sub) if sub else str(local),
                             storage.join(save_dir, sub) if sub else str(save_dir)))
    if mirror:
        n = mirror.restore()
        _log(f"log files for remote folders are written locally under {root} and copied to "
             f"{', '.join(r for _, r in mirror.pairs)}" + (f" ({n} files of a previous attempt restored)" if n else ""))
    return overrides, mirror


# ----------------------------------------------------------------------------- checkpoints
class LastCheckpoint(pl.callbacks.Checkpoint):
    """Writes ``<dirpath>/<filename>`` for resumption (see the module docstring).

    Subclasses ``Checkpoint`` so Lightning runs it after the other callbacks' epoch-end hooks:
    the saved callback states (metrics history, top-k bookkeeping) include the epoch.
    """

    def __init__(self, dirpath: str, filename: str = "last.ckpt", every_n_epochs: int = 1,
                 min_interval_s: float = 60.0):
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ConfigError(f"callbacks.last_checkpoint.every_n_epochs must be an integer >= 1, got {every_n_epochs!r}")
        if not isinstance(min_interval_s, (int, float)) or isinstance(min_interval_s, bool) or min_interval_s < 0:
            raise ConfigError(f"callbacks.last_checkpoint.min_interval_s must be a number >= 0, got {min_interval_s!r}")
        self.dirpath = str(dirpath).rstrip("/")
        self.filename = filename
        self.every_n_epochs = every_n_epochs
        self.min_interval_s = float(min_interval_s)
        self.mirror: RemoteMirror | None = None
        self.saved_epochs: list[int] = []
        self._last_save = -math.inf
        self._sync_pending = False

    @property
    def path(self) -> str:
        return storage.join(self.dirpath, self.filename)

    def setup(self, trainer, pl_module, stage=None):
        storage.prepare_protocol(self.dirpath)

    def flush_logs(self, trainer, sync: bool = True) -> None:
        """Save every logger; with ``sync``, also copy the remote log files up."""
        for lg in trainer.loggers:
            try:
                lg.save()
            except Exception as exc:  # noqa: BLE001 - a logger's flush must not stop training
                _log(f"warning: flushing logger {type(lg).__name__} failed: {exc}")
        if sync and self.mirror:
            self.mirror.sync()

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        epoch = int(trainer.current_epoch)
        final = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        # min_interval_s spares object stores (GCS: about one write per second to one object); a local
        # last.ckpt is rewritten every every_n_epochs epochs, so a kill -9 loses at most that many
        throttled = storage.is_remote(self.dirpath) and time.monotonic() - self._last_save < self.min_interval_s
        due = (epoch + 1) % self.every_n_epochs == 0 and not throttled
        if not (final or due):
            return
        self.save(trainer)
        self.saved_epochs.append(epoch)
        self._sync_pending = True

    def save(self, trainer, reason: str = "epoch", sync_logs: bool = True) -> None:
        """Write ``last.ckpt`` now, after flushing the loggers (and, with ``sync_logs``, copying remote log
        files up) so that logs never lag behind it."""
        self.flush_logs(trainer, sync=sync_logs)  # logs first: after a kill they are never behind the checkpoint ...
        trainer.save_checkpoint(self.path, weights_only=False)
        self._last_save = time.monotonic()
        if reason != "epoch":
            _log(f"{reason}: saved {self.path} at epoch {trainer.current_epoch}, step {trainer.global_step}")

    def on_train_epoch_start(self, trainer, pl_module):
        # ... except for the epoch's own train metrics, which Lightning logs after every
        # on_train_epoch_end hook: copy them up as the next epoch starts
        if self._sync_pending:
            self._sync_pending = False
            self.flush_logs(trainer)

    def on_train_end(self, trainer, pl_module):
        if not trainer.fast_dev_run:
            self.flush_logs(trainer)

    def on_exception(self, trainer, pl_module, exception):
        try:
            self.flush_logs(trainer)
        except Exception:  # noqa: BLE001 - best effort while failing
            pass


# ----------------------------------------------------------------------------- resumption
#: what :func:`find_resume_checkpoint` returns (path, epoch, global_step, epochs_done)
ResumeInfo = CheckpointInfo


def find_resume_checkpoint(callbacks: Iterable) -> ResumeInfo | None:
    """The checkpoint a restarted run continues from: the newest readable ``*.ckpt`` in the
    :class:`LastCheckpoint` folder (most epochs done; on a tie ``last.ckpt``, then most steps), or None
    (no such callback, or nothing saved yet). Unreadable files are skipped with a warning; an
    unreachable store is an error (not a reason to start fresh)."""
    cb = next((c for c in callbacks if isinstance(c, LastCheckpoint)), None)
    if cb is None:
        return None
    fs, root = storage.get_fs(cb.dirpath)
    if not storage.call(fs, "exists", root, url=cb.dirpath):
        return None
    last = cb.path
    candidates = [last] if storage.call(fs, "exists", storage.join(root, cb.filename), url=last) else []
    pattern = storage.join(root, "*.ckpt")
    others = [p for p in storage.call(fs, "glob", pattern, url=storage.join(cb.dirpath, "*.ckpt"))
              if not p.rstrip("/").endswith("/" + cb.filename)]
    proto = cb.dirpath.split("://", 1)[0] + "://" if storage.is_remote(cb.dirpath) else ""
    others = [proto + p if proto and "://" not in p else p for p in sorted(others)]
    found: list[ResumeInfo] = []
    for url in candidates + others:
        try:
            found.append(read_meta(url))
        except UnreadableCheckpoint as exc:  # a truncated or foreign file: try the next one
            _log(f"warning: cannot read checkpoint {exc}; not resuming from it")
    if not found:
        return None
    # most complete epochs first; on a tie last.ckpt (written at an epoch's end, after its logs) beats a
    # top-k file written at that epoch's validation: resuming there would skip the epoch's train logs
    return max(found, key=lambda r: (r.epochs_done, r.path == last, r.global_step))


def _num(key: str, value: str):
    if key in ("epoch", "step"):
        return int(float(value))
    try:
        return float(value)
    except ValueError:
        return value


def carry_over_csv(loggers: Iterable, last_epoch: int) -> int:
    """Keep a previous attempt's CSV rows up to ``last_epoch`` (``CSVLogger`` otherwise deletes
    its file when it starts). Returns how many rows were kept."""
    kept = 0
    for lg in loggers:
        if not type(lg).__name__ == "CSVLogger":
            continue
        path = os.path.join(lg.log_dir, "metrics.csv")
        fs, p = storage.get_fs(path)
        if not storage.call(fs, "isfile", p, url=path):
            continue
        text = storage.call(fs, "cat_file", p, url=path).decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        keep = []
        for row in rows:
            r = {k: _num(k, v) for k, v in row.items() if k is not None and v not in ("", None)}
            if "epoch" in r and r["epoch"] > last_epoch:
                continue
            keep.append(r)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")
            exp = lg.experiment  # creating the writer removes the old file
        exp.metrics[:0] = keep
        exp.save()
        kept += len(keep)
    return kept
