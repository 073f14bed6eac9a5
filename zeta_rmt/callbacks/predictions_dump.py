"""Save the trained model's predicted heights on held-out nodes, for spacing histograms in reports."""
from __future__ import annotations

import io

import numpy as np
import pytorch_lightning as pl


class PredictionsDump(pl.Callback):
    """At the end of ``fit``, write ``<dirpath>/predictions.npz`` with the model's heights on the
    validation nodes and the extrapolation window (0-based nodes ``num_train .. N+K-1``).

    The prediction is made exactly as the extrapolation metrics are: on the graph of N+K nodes
    with global GCN normalisation (:meth:`BaseZerosDataModule.window_batch`), in both regimes.
    Arrays: ``index`` (0-based node ids, increasing), ``pred`` and ``true`` (float64 heights),
    and the scalars ``num_train``, ``num_zeros``, ``window``. ``dirpath`` may be a ``gs://`` URL.
    """

    def __init__(self, dirpath: str, filename: str = "predictions.npz"):
        self.dirpath = str(dirpath)
        self.filename = filename

    def predictions(self, trainer: pl.Trainer, pl_module) -> dict[str, np.ndarray]:
        dm = trainer.datamodule
        hops = getattr(pl_module.net, "num_hops", 2)
        n_total = dm.num_zeros + dm.window
        count = n_total - dm.num_train
        limit = getattr(dm, "max_window_nodes", None)  # bounded-memory backends keep the last `limit` nodes
        batch, idx = dm.window_batch(n_total, hops, count if limit is None else min(count, limit))
        was_training = pl_module.training
        pl_module.eval()
        try:
            pred = pl_module.predict_window(batch, idx)
        finally:
            if was_training:
                pl_module.train()
        true = dm.zeros_range(int(idx[0]) + 1, int(idx.size))
        return {
            "index": idx.astype(np.int64),
            "pred": np.asarray(pred, dtype=np.float64),
            "true": np.asarray(true, dtype=np.float64),
            "num_train": np.int64(dm.num_train),
            "num_zeros": np.int64(dm.num_zeros),
            "window": np.int64(dm.window),
        }

    def on_fit_end(self, trainer: pl.Trainer, pl_module) -> None:
        if not trainer.is_global_zero or getattr(trainer, "fast_dev_run", False):
            return
        from zeta_rmt.launch import storage

        buf = io.BytesIO()
        np.savez(buf, **self.predictions(trainer, pl_module))
        storage.write_bytes(storage.join(self.dirpath, self.filename), buf.getvalue())
