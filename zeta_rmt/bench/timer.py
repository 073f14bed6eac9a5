"""A Lightning callback that records when each training epoch starts and ends.

The epoch and stream cases add it to a real ``python -m zeta_rmt.train`` run with

    +callbacks.bench_timer._target_=zeta_rmt.bench.timer.EpochTimer +callbacks.bench_timer.path=FILE

and read ``FILE`` (JSON, rewritten at every epoch end and at the end of fit): wall-clock stamps
(``time.time()``, comparable with the parent's spawn time) of fit start and of each epoch's start
and end, the process's peak RSS (``VmHWM``) at each epoch end, the number of training nodes and
torch's intra-op thread count.  So the steady per-epoch time is separated from setup (imports,
zeros, graph) and from the first epoch's warm-up, without an extra run.
"""
from __future__ import annotations

import json
import os
import time

import pytorch_lightning as pl
import torch

from zeta_rmt.bench.measures import vm_hwm_gb


def used_settings(trainer, pl_module) -> dict:
    """What the run actually trains with (read off the objects, whatever the config spelled out)."""
    net = getattr(pl_module, "net", None)
    loss = getattr(pl_module, "loss", None)
    dm = getattr(trainer, "datamodule", None)
    out = {
        "net": type(net).__name__ if net is not None else None,
        "conv": getattr(net, "conv", None),
        "head_dtype": getattr(net, "head_dtype", None),
        "fused": getattr(net, "fused", None),
        "parameters": sum(p.numel() for p in pl_module.parameters()),
        "loss_components": list(getattr(loss, "active", []) or []),
        "data": type(dm).__name__ if dm is not None else None,
        "graph": getattr(dm, "graph", None) if isinstance(getattr(dm, "graph", None), str) else None,
        "backend": getattr(dm, "backend", None) if isinstance(getattr(dm, "backend", None), str) else None,
        "precision": str(getattr(trainer, "precision", None)),
    }
    components = getattr(loss, "components", {}) or {}
    if "gue_mmd" in components:
        out["gue_mmd_mode"] = getattr(components["gue_mmd"], "mode", None)
    return out


class EpochTimer(pl.Callback):
    def __init__(self, path: str):
        self.path = str(path)
        self.record: dict = {"fit_start": None, "epochs": [], "fit_end": None, "threads": None,
                             "num_train_nodes": None, "pid": os.getpid()}
        self._start: float | None = None

    def _dump(self) -> None:
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as fh:
            json.dump(self.record, fh)
        os.replace(tmp, self.path)

    def on_fit_start(self, trainer, pl_module):
        dm = getattr(trainer, "datamodule", None)
        self.record["fit_start"] = time.time()
        self.record["threads"] = torch.get_num_threads()
        self.record["num_train_nodes"] = getattr(dm, "num_train", None)
        self.record["num_zeros"] = getattr(dm, "num_zeros", None)
        self.record["hwm_fit_start_gb"] = vm_hwm_gb()
        self.record["used"] = used_settings(trainer, pl_module)
        self._dump()

    @staticmethod
    def _sync(pl_module) -> None:
        if pl_module.device.type == "cuda":  # queued kernels belong to the epoch they were launched in
            torch.cuda.synchronize(pl_module.device)

    def on_train_epoch_start(self, trainer, pl_module):
        self._sync(pl_module)
        self._start = time.time()

    def on_train_epoch_end(self, trainer, pl_module):
        # before Lightning's own epoch-end work of later callbacks; validation (if any) runs after
        self._sync(pl_module)
        self.record["epochs"].append({"start": self._start, "end": time.time(), "hwm_gb": vm_hwm_gb()})
        self._dump()

    def on_fit_end(self, trainer, pl_module):
        self.record["fit_end"] = time.time()
        self.record["hwm_fit_end_gb"] = vm_hwm_gb()
        self._dump()
