"""Progress that shows where the output is not a terminal (Vertex AI job logs, ``nohup``, ``> log``).

Lightning's Rich bar draws nothing until the end when stdout is not a TTY, so a 10-minute run looked
hung. :class:`PlainProgress` prints one plain line per epoch, and also every ``every_s`` seconds inside
a long epoch (a full-graph epoch is one step)::

    [zeta_rmt] epoch 12/150 | 4.1 steps/s | ETA 0:00:34 | train/loss 1.523e+05 | extrap/mae_spacings 0.052

:func:`progress_bar` picks it, or Lightning's Rich bar on a terminal (``callbacks.progress.mode``:
``auto`` | ``plain`` | ``rich``).
"""
from __future__ import annotations

import math
import sys
import time

from pytorch_lightning.callbacks.progress.progress_bar import ProgressBar

__all__ = ["PlainProgress", "progress_bar", "format_line"]

SHOWN = ("train/loss", "val/loss", "extrap/mae_spacings")


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _num(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}" if 1e-3 <= abs(v) < 1e5 or v == 0 else f"{v:.3e}"


def format_line(epoch: int, max_epochs: int | None, rate: float | None, eta: float | None,
                metrics: dict[str, float], *, within: str = "") -> str:
    """One progress line (epoch counted from 1)."""
    parts = [f"epoch {epoch}/{max_epochs if max_epochs and max_epochs > 0 else '?'}{within}"]
    if rate is not None and math.isfinite(rate):
        parts.append(f"{rate:.3g} steps/s" if rate >= 0.1 else f"{1 / rate:.3g} s/step" if rate > 0 else "- steps/s")
    if eta is not None:
        parts.append(f"ETA {_clock(eta)}")
    parts += [f"{k} {_num(metrics[k])}" for k in SHOWN if k in metrics]
    return "[zeta_rmt] " + " | ".join(parts)


class PlainProgress(ProgressBar):
    """One line per epoch (and every ``every_s`` seconds within an epoch) on stdout."""

    def __init__(self, every_s: float = 30.0, stream=None):
        super().__init__()
        if isinstance(every_s, bool) or not isinstance(every_s, (int, float)) or every_s <= 0:
            raise ValueError(f"callbacks.progress.every_s must be a number of seconds > 0, got {every_s!r}")
        self.every_s = float(every_s)
        self.stream = stream
        self._enabled = True
        self._t0 = self._epoch_t0 = self._last_print = 0.0
        self._step0 = 0
        self._loss_sum, self._loss_n = None, 0
        self._epoch_times: list[float] = []

    # ProgressBar's interface
    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    def _metrics(self, trainer) -> dict[str, float]:
        out = {}
        for k, v in trainer.callback_metrics.items():
            try:
                out[str(k)] = float(v)
            except (TypeError, ValueError):
                continue
        return out

    def on_train_start(self, trainer, pl_module):
        self._t0 = self._last_print = time.monotonic()
        self._step0 = int(trainer.global_step)

    def on_train_epoch_start(self, trainer, pl_module):
        self._epoch_t0 = time.monotonic()
        self._loss_sum, self._loss_n = None, 0

    def _add_loss(self, outputs) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None or not hasattr(loss, "detach"):
            return
        loss = loss.detach()  # summed on its device: no host sync per step
        self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
        self._loss_n += 1

    def _with_epoch_loss(self, metrics: dict[str, float]) -> dict[str, float]:
        # Lightning reduces the epoch's train/loss only after the epoch-end hooks: show this epoch's own mean
        if self._loss_n:
            metrics["train/loss"] = float(self._loss_sum) / self._loss_n
        return metrics

    def _rate(self, trainer) -> float | None:
        dt = time.monotonic() - self._t0
        steps = int(trainer.global_step) - self._step0
        return steps / dt if dt > 0 and steps > 0 else None

    def _eta(self, trainer, epoch_done: int) -> float | None:
        if not self._epoch_times or not trainer.max_epochs or trainer.max_epochs < 0:
            return None
        per_epoch = sum(self._epoch_times[-5:]) / len(self._epoch_times[-5:])
        return max(0, trainer.max_epochs - epoch_done) * per_epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._add_loss(outputs)
        now = time.monotonic()
        if not self._enabled or not trainer.is_global_zero or now - self._last_print < self.every_s:
            return
        self._last_print = now
        total = trainer.num_training_batches
        within = f", step {batch_idx + 1}/{total}" if isinstance(total, int) and total > 1 else ""
        self._print(format_line(trainer.current_epoch + 1, trainer.max_epochs, self._rate(trainer),
                                self._eta(trainer, trainer.current_epoch), self._with_epoch_loss(self._metrics(trainer)),
                                within=within))

    def on_train_epoch_end(self, trainer, pl_module):
        self._epoch_times.append(time.monotonic() - self._epoch_t0)
        if not self._enabled or not trainer.is_global_zero or trainer.sanity_checking:
            return
        self._last_print = time.monotonic()
        done = trainer.current_epoch + 1
        self._print(format_line(done, trainer.max_epochs, self._rate(trainer), self._eta(trainer, done),
                                self._with_epoch_loss(self._metrics(trainer))))


def step_rate_text(completed: float, elapsed: float | None) -> str:
    """``12.3 it/s``, or ``4.21 s/it`` when a step takes longer than a second (a full-graph epoch is one
    step: Rich's own rate column showed ``0.00it/s`` for it)."""
    if not completed or not elapsed or elapsed <= 0:
        return "- it/s"
    rate = completed / elapsed
    return f"{rate:.3g} it/s" if rate >= 1 else f"{1 / rate:.3g} s/it"


def rich_bar():
    """Lightning's Rich bar with a rate column that reads right for one-step epochs, and without the
    ``v_num`` and validation-loss fields that pushed ``extrap/mae_spacings`` off narrow terminals."""
    from pytorch_lightning.callbacks import RichProgressBar
    from rich.progress import ProgressColumn
    from rich.text import Text

    class StepRateColumn(ProgressColumn):
        def __init__(self, style):
            self.style = style
            super().__init__()

        def render(self, task):
            return Text(step_rate_text(task.completed, task.elapsed), style=self.style)

    class RichBar(RichProgressBar):
        def configure_columns(self, trainer):
            cols = super().configure_columns(trainer)
            return [*cols[:-1], StepRateColumn(self.theme.processing_speed)]

        def get_metrics(self, trainer, pl_module):
            items = super().get_metrics(trainer, pl_module)
            return {k: v for k, v in items.items() if k != "v_num" and not str(k).startswith("val/")}

    return RichBar()


def progress_bar(mode: str = "auto", every_s: float = 30.0):
    """``auto``: the Rich bar when stdout is a terminal, else :class:`PlainProgress`."""
    if mode not in ("auto", "plain", "rich"):
        raise ValueError(f"callbacks.progress.mode must be auto, plain or rich, got {mode!r}")
    if mode == "rich" or (mode == "auto" and sys.stdout.isatty()):
        return rich_bar()
    return PlainProgress(every_s=every_s)
