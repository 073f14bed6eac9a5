"""Keeps every epoch's logged metrics in memory so a run can report final *and* best values."""
from __future__ import annotations

import math

import pytorch_lightning as pl


def _scalar(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f


class MetricsHistory(pl.Callback):
    """Records ``trainer.callback_metrics`` at the end of each training epoch (after validation).

    ``rows`` is a list of ``{"epoch": e, metric: value, ...}``; ``best(metric)`` is the row with
    the smallest finite value of ``metric``.
    """

    def __init__(self):
        self.rows: list[dict] = []

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        row = {"epoch": int(trainer.current_epoch)}
        for k, v in trainer.callback_metrics.items():
            f = _scalar(v)
            if f is not None:
                row[k] = f
        self.rows.append(row)

    def best(self, metric: str) -> dict | None:
        rows = [r for r in self.rows if metric in r and math.isfinite(r[metric])]
        return min(rows, key=lambda r: r[metric]) if rows else None

    def state_dict(self):
        return {"rows": self.rows}

    def load_state_dict(self, state_dict):
        self.rows = list(state_dict.get("rows", []))
