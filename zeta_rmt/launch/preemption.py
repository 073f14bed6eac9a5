"""SIGTERM (Vertex AI Spot preemption, job cancellation): save a resumable checkpoint and exit in time.

Vertex AI sends SIGTERM and kills the container about 30 s later. Lightning on its own notices a
SIGTERM only between steps, and a full-graph epoch is one step (36 s at N = 2·10⁶ here), so the
signal used to be ignored for minutes and then the job ended with exit status 0 and nothing saved.
:class:`PreemptionCheckpoint` makes the signal act at once:

* inside a step's forward and backward (and inside validation), the handler raises
  :class:`Preempted` right away: nothing has changed the weights or the optimizer yet, so the
  state to save is the one after the last completed step;
* inside the optimizer update, a checkpoint save, or anywhere else, the signal is noted and acts
  at the next safe point (the end of the update, the next batch), never leaving a half-applied
  update;
* on the way out (Lightning's ``on_exception``) it writes ``last.ckpt`` through the run's
  :class:`~zeta_rmt.launch.runtime.LastCheckpoint` (local: temporary file + rename; ``gs://``: one
  upload), then ``zeta_rmt.train`` records ``status: preempted`` and exits with status 143
  (128 + SIGTERM), all within ``grace_s``. A restarted job with the same output directory resumes
  from that checkpoint and redoes at most the interrupted epoch.

Under DDP (several processes) the handler never raises mid-step: ranks must stay in step, so
Lightning's own between-steps stop (broadcast to every rank) is used, and the checkpoint is saved
by every rank together.
"""
from __future__ import annotations

import signal
import threading
import time

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException

__all__ = ["Preempted", "PreemptionCheckpoint", "EXIT_CODE"]

#: exit status of a preempted run: 128 + SIGTERM, what a shell reports for a process ended by it
EXIT_CODE = 128 + int(signal.SIGTERM)


class Preempted(SIGTERMException):
    """Raised out of a step by SIGTERM. A ``SystemExit``: an ``except Exception`` does not swallow it."""

    def __init__(self, message: str = "SIGTERM received"):
        super().__init__(EXIT_CODE)
        self.message = message

    def __str__(self) -> str:
        return self.message


_last_saved: str | None = None


def last_saved_path() -> str | None:
    """The checkpoint written by the most recent SIGTERM in this process (None: none was)."""
    return _last_saved


def _log(msg: str) -> None:
    print(f"[zeta_rmt] {msg}", flush=True)


class PreemptionCheckpoint(pl.Callback):
    """On SIGTERM, stop now (even inside a long step), save ``last.ckpt`` and let the run exit.

    Args:
        grace_s: the time the platform gives after SIGTERM (Vertex AI: about 30 s); the checkpoint
            write and the loggers' final flush are bounded to fit in it.
    """

    def __init__(self, grace_s: float = 25.0):
        if isinstance(grace_s, bool) or not isinstance(grace_s, (int, float)) or not grace_s > 0:
            raise ValueError(f"callbacks.preemption.grace_s must be a number of seconds > 0, got {grace_s!r}")
        self.grace_s = float(grace_s)
        self.received_at: float | None = None
        self._interruptible = False
        self._installed = False
        self._previous = None
        self._trainer = None

    # -- the handler ---------------------------------------------------------------------------
    def _handle(self, signum, frame) -> None:
        first = self.received_at is None
        if first:
            self.received_at = time.monotonic()
        if callable(self._previous) and self._previous not in (signal.SIG_DFL, signal.SIG_IGN):
            self._previous(signum, frame)
        if first and self._interruptible:
            self._interruptible = False
            raise Preempted("SIGTERM received inside a step: stopping it")

    def remaining(self) -> float:
        """Seconds left of the grace period (the full period before any SIGTERM)."""
        if self.received_at is None:
            return self.grace_s
        return self.grace_s - (time.monotonic() - self.received_at)

    def _raise_if_pending(self) -> None:
        if self.received_at is not None:
            self._interruptible = False
            raise Preempted("SIGTERM received: stopping after the current update")

    # -- Lightning hooks -----------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module):
        # after Lightning has installed its own SIGTERM handler (which only sets a flag): ours runs first
        # and calls it, and is removed again when training ends
        self._trainer = trainer
        if threading.current_thread() is not threading.main_thread() or self._installed:
            return
        self._previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._handle)
        self._installed = True

    def teardown(self, trainer, pl_module, stage=None):
        if self._installed:
            if signal.getsignal(signal.SIGTERM) == self._handle:  # (Lightning may have restored its own already)
                signal.signal(signal.SIGTERM, self._previous if self._previous is not None else signal.SIG_DFL)
            self._installed = False

    def _mid_step_ok(self, trainer) -> bool:
        return trainer.world_size == 1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._raise_if_pending()
        self._interruptible = self._mid_step_ok(trainer)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self._interruptible = False  # the update itself runs to its end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._interruptible = False
        if self._mid_step_ok(trainer):
            self._raise_if_pending()

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking:
            self._raise_if_pending() if self._mid_step_ok(trainer) else None
            self._interruptible = self._mid_step_ok(trainer)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._interruptible = False

    def on_validation_epoch_end(self, trainer, pl_module):
        self._interruptible = False

    def on_train_epoch_end(self, trainer, pl_module):
        self._interruptible = False

    def _bounded(self, fn, trainer, what: str) -> bool:
        """Run ``fn`` within the grace period left (a worker thread that is abandoned when time is up; an
        abandoned upload leaves the previous object whole). True if it finished without error."""
        if not self._mid_step_ok(trainer):  # DDP: saving is collective, every rank in its main thread
            fn()
            return True
        err: list[BaseException] = []

        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                err.append(exc)

        worker = threading.Thread(target=run, name="zeta-rmt-preemption-save", daemon=True)
        worker.start()
        worker.join(max(0.5, self.remaining() - 2.0))
        if worker.is_alive():
            _log(f"SIGTERM: {what} did not finish within the {self.grace_s:g} s grace period; exiting without it "
                 f"(a restart resumes from the previous checkpoint)")
            return False
        if err:
            _log(f"SIGTERM: {what} failed ({type(err[0]).__name__}: {err[0]}); a restart resumes from the previous "
                 f"checkpoint")
            return False
        return True

    def on_exception(self, trainer, pl_module, exception):
        self._interruptible = False
        self.teardown(trainer, pl_module)  # Lightning calls no teardown hook on this path
        if not isinstance(exception, SIGTERMException):
            return
        if self.received_at is None:  # Lightning's own between-steps stop
            self.received_at = time.monotonic()
        from zeta_rmt.launch.runtime import LastCheckpoint

        last = next((c for c in trainer.callbacks if isinstance(c, LastCheckpoint)), None)
        if last is None:
            _log("SIGTERM: no callbacks.last_checkpoint in this run, so nothing is saved for a restart")
            return
        if not self._bounded(lambda: last.save(trainer, reason="preempted", sync_logs=False), trainer,
                             f"saving {last.path}"):
            return
        global _last_saved
        _last_saved = last.path
        if last.mirror:  # remote copies of the log files, in what is left of the grace period
            self._bounded(last.mirror.sync, trainer, "copying the log files up")
        # the loggers' final flush comes next (Lightning finalizes them after this hook): keep it in the grace
        budget = max(1.0, self.remaining() - 3.0)
        for lg in trainer.loggers:
            if hasattr(lg, "limit_flush_time"):
                lg.limit_flush_time(budget)
