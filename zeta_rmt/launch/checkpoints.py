"""Checkpoint files: written atomically, read with ``weights_only=True``, refused in one line.

:class:`AtomicCheckpointIO`
    Lightning's own writer serialises to a temporary file in the system temp folder and then
    *moves* it onto the target; across file systems that is a copy, and a full disk leaves a
    truncated ``last.ckpt`` in place of the good one (measured on a 1 MB tmpfs). This writer puts
    the temporary file beside the target and renames it (local), or uploads once (``gs://``), so a
    failed save leaves the previous checkpoint intact and no temporary behind, and a full disk is
    one :class:`~zeta_rmt.utils.fsio.DiskFullError` line.

:func:`read_meta` / :func:`check_checkpoint`
    Load with ``torch.load(weights_only=True)`` and turn every way a file can be unreadable (empty,
    text, random bytes, truncated, pickled objects) into one line that names the file. The advice
    torch prints (to pass ``weights_only=False``) is never repeated: checkpoints written by
    ``zeta_rmt.train`` hold only tensors and plain data.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any

from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from zeta_rmt.launch import storage
from zeta_rmt.utils.errors import ConfigError
from zeta_rmt.utils.fsio import atomic_local_path

__all__ = ["AtomicCheckpointIO", "CheckpointInfo", "UnreadableCheckpoint", "check_checkpoint", "read_meta"]

_ZIP_MAGIC = b"PK\x03\x04"


class UnreadableCheckpoint(ConfigError):
    """A checkpoint file cannot be used (the message names it and why)."""


@dataclass
class CheckpointInfo:
    path: str
    epoch: int        # trainer.current_epoch when it was written
    global_step: int
    epochs_done: int  # training epochs completed before it (epoch + 1 at an epoch's end, epoch inside one)

    def describe(self) -> str:
        done = "no epoch done yet" if self.epochs_done == 0 else (
            "epoch 0 done" if self.epochs_done == 1 else f"epochs 0..{self.epochs_done - 1} done")
        return f"{done}, step {self.global_step}"


def epochs_done(ckpt: dict) -> int:
    """Completed training epochs recorded in a Lightning checkpoint: its fit loop's processed-epoch count
    (Lightning counts an epoch as processed once its batches are done, before the epoch-end hooks that
    write ``last.ckpt``); ``epoch + 1`` for checkpoints without loop state."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt["epoch"]) + 1


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose saves never leave a truncated or temporary file behind."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        import torch

        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO.save_checkpoint takes no storage_options")
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        data = buf.getvalue()
        url = str(path)
        if storage.is_remote(url):
            storage.write_bytes(url, data)  # one upload: the object is whole or absent
            return
        local = url[len("file://"):] if url.startswith("file://") else url
        with atomic_local_path(local, ".ckpt.tmp") as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)


def describe_load_error(exc: BaseException, head: bytes) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words (no torch advice)."""
    if not head:
        return "the file is empty (0 bytes)"
    if isinstance(exc, pickle.UnpicklingError) and head.startswith(_ZIP_MAGIC):
        return ("it holds pickled Python objects other than tensors and plain data, which checkpoints written "
                "by zeta_rmt.train never do; it is refused unread (checkpoints load with weights_only=True)")
    if not head.startswith(_ZIP_MAGIC):
        kind = "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in head[:256]) else "binary data"
        return f"not a PyTorch checkpoint (the file is {kind}, not the zip archive torch.save writes)"
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    return f"a damaged or truncated PyTorch checkpoint ({first[:120]})"


def read_meta(url: str) -> CheckpointInfo:
    """Epoch and step of a Lightning checkpoint; :class:`UnreadableCheckpoint` naming the file."""
    import torch

    try:
        raw = storage.read_bytes(url)
    except FileNotFoundError:
        raise UnreadableCheckpoint(f"{url}: no such checkpoint file") from None
    except IsADirectoryError:
        raise UnreadableCheckpoint(f"{url}: is a directory, not a checkpoint file") from None
    try:
        ckpt = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every refusal becomes one line
        raise UnreadableCheckpoint(f"{url}: {describe_load_error(exc, raw[:512])}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "epoch" not in ckpt:
        keys = sorted(map(str, ckpt))[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UnreadableCheckpoint(f"{url}: a torch file but not a Lightning checkpoint (no 'state_dict'/'epoch'; "
                                   f"holds {keys})")
    return CheckpointInfo(url, int(ckpt["epoch"]), int(ckpt.get("global_step", 0)), epochs_done(ckpt))


def check_checkpoint(url, key: str = "ckpt_path") -> CheckpointInfo:
    """A user-given checkpoint, checked before training: one line naming ``key`` and the file."""
    try:
        return read_meta(str(url))
    except UnreadableCheckpoint as exc:
        raise UnreadableCheckpoint(f"{key}={url} cannot be resumed from: {str(exc).split(': ', 1)[-1]}") from None
