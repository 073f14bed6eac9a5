"""The LightningModule that trains a node regressor on the zeros with a composite loss."""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from zeta_rmt.baselines.smooth import smooth_zeros
from zeta_rmt.losses import CompositeLoss, LossInputs
from zeta_rmt.metrics import extrapolation_errors, skill


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the message names the step and every component."""


class ZetaGNNModule(pl.LightningModule):
    """Trains ``net`` (tensors in: x, edge_index, edge_weight; out: one value per node) with ``loss``.

    Logged every epoch (stable names, identical in both regimes):
      ``train/loss``, ``train/<component>`` and ``val/loss``, ``val/<component>``;
      at every validation: ``extrap/mse``, ``extrap/mae``, ``extrap/mae_spacings``,
      ``extrap/rmse_spacings`` for zeros N+1..N+K, the same for each baseline under
      ``extrap/baseline/<name>/…``, ``extrap/skill/<name>`` = 1 − model MAE / baseline MAE (in
      local mean spacings), and ``extrap/next_zero_abs_error`` (the groups' single N+1 check).
    """

    def __init__(
        self,
        net: nn.Module,
        loss: CompositeLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Optional[Callable[..., Any]] = None,
        baselines: tuple[str, ...] = ("smooth",),
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "loss"], logger=False)
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.baselines = tuple(baselines)
        self.last_extrapolation: dict[str, float] = {}

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x, edge_index, edge_weight):
        return self.net(x, edge_index, edge_weight)

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # PyG batches move themselves; Lightning's generic collection walk is ~10x slower here.
        if hasattr(batch, "to") and hasattr(batch, "edge_index"):
            return batch.to(device, non_blocking=True)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def _step(self, batch, mask_name: str, stage: str):
        pred_all = self(batch.x, batch.edge_index, batch.edge_weight)
        mask = batch[mask_name]
        node_index = batch.node_index[mask]
        dm = self.trainer.datamodule if self._trainer is not None else None
        to_gamma = dm.to_gamma if dm is not None else (lambda p, i: p)
        pred = pred_all[mask]

        def rerun(features):
            return self(features, batch.edge_index, batch.edge_weight)[mask]

        inputs = LossInputs(pred=pred, target=batch.y[mask], gamma_pred=to_gamma(pred, node_index),
                            node_index=node_index, features=batch.x, rerun=rerun)
        total, parts = self.loss(inputs)
        n = int(mask.sum())
        if not torch.isfinite(total):
            detail = ", ".join(f"{k}={float(v.detach()):.6g}" for k, v in parts.items())
            raise NonFiniteLossError(
                f"{stage} loss is {float(total.detach())} at epoch {self.current_epoch}, "
                f"global step {self.global_step}: components {detail}. Lower the learning rate or the "
                f"offending loss weight, or check the data."
            )
        if n > 0:
            self.log(f"{stage}/loss", total, on_step=False, on_epoch=True, batch_size=n, prog_bar=True)
            for k, v in parts.items():
                self.log(f"{stage}/{k}", v, on_step=False, on_epoch=True, batch_size=n)
        return total

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train_mask", "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val_mask", "val")

    # -- extrapolation ---------------------------------------------------------------------
    @torch.no_grad()
    def predict_window(self, batch, idx: np.ndarray) -> np.ndarray:
        """Predicted heights of the nodes ``idx`` (0-based) held by a window batch."""
        batch = batch.to(self.device)
        out = self(batch.x, batch.edge_index, batch.edge_weight)
        first = int(batch.node_index[0])
        local = torch.as_tensor(idx - first, device=self.device)
        dm = self.trainer.datamodule
        gamma = dm.to_gamma(out[local], batch.node_index[local])
        return gamma.double().cpu().numpy()

    def extrapolation_metrics(self) -> dict[str, float]:
        dm = self.trainer.datamodule
        hops = getattr(self.net, "num_hops", 2)
        batch, idx, true = dm.extrapolation_batch(hops)
        pred = self.predict_window(batch, idx)
        out = {f"extrap/{k}": v for k, v in extrapolation_errors(pred, true).items()}
        for name in self.baselines:
            if name != "smooth":
                raise ValueError(f"model.baselines: unknown baseline {name!r}; known: 'smooth'")
            base = smooth_zeros(idx + 1)
            berr = extrapolation_errors(base, true)
            out.update({f"extrap/baseline/{name}/{k}": v for k, v in berr.items()})
            out[f"extrap/skill/{name}"] = skill(out["extrap/mae_spacings"], berr["mae_spacings"])
        nb, nidx, ntrue = dm.next_zero_batch(hops)
        out["extrap/next_zero_abs_error"] = float(abs(self.predict_window(nb, nidx)[0] - ntrue[0]))
        return out

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        was_training = self.training
        self.eval()
        metrics = self.extrapolation_metrics()
        if was_training:
            self.train()
        self.last_extrapolation = metrics
        for k, v in metrics.items():
            self.log(k, v, on_step=False, on_epoch=True, prog_bar=(k == "extrap/mae_spacings"))

    # -- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
