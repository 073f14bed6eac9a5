"""A callback for the multi-node tests: when training starts (the process group is up) it writes
this process's placement and the global ranks all-gathered over the real process group to
``<directory>/rank<global rank>.json``."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytorch_lightning as pl
import torch


class RankProbe(pl.Callback):
    def __init__(self, directory: str):
        self.directory = Path(directory)

    def on_train_start(self, trainer, pl_module):
        env = trainer.strategy.cluster_environment
        gathered = pl_module.all_gather(torch.tensor([trainer.global_rank]))
        record = {"global_rank": trainer.global_rank, "world_size": trainer.world_size,
                  "node_rank": trainer.node_rank, "local_rank": trainer.local_rank,
                  "environment": type(env).__name__, "main_address": env.main_address, "main_port": env.main_port,
                  "all_gathered": sorted(int(r) for r in gathered.flatten().tolist()),
                  "pid": os.getpid()}
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))
