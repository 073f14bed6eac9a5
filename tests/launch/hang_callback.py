"""A callback for kill tests: at the end of epoch ``epoch`` (before ``last.ckpt`` of that epoch is
written: checkpoint callbacks run last) it writes ``marker`` and sleeps, so the test can kill the
process at a known point mid-training."""
from __future__ import annotations

import time
from pathlib import Path

import pytorch_lightning as pl


class HangAtEpoch(pl.Callback):
    def __init__(self, epoch: int, marker: str, seconds: float = 300.0):
        self.epoch, self.marker, self.seconds = int(epoch), str(marker), float(seconds)

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            Path(self.marker).write_text(str(self.epoch))
            time.sleep(self.seconds)
