"""The LightningModule that trains a node regressor on the zeros with a composite loss."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from zeta_rmt.baselines import BASELINES, Baseline, ZeroHistory, make_baseline
from zeta_rmt.losses import CompositeLoss, LossInputs
from zeta_rmt.metrics import extrapolation_errors, local_spacings, reference_statistics, skill, spacing_statistics

#: baselines with a ``mode``: in a window after the training range they can only run free
FREE_RUNNING = ("ar", "previous_spacing")
#: zeros of the training range given to the baselines as history (the most recent ones)
BASELINE_HISTORY = 100_000
#: the validation-window statistics use at most this many (the last) validation zeros
VALIDATION_WINDOW_MAX = 20_000


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss; the message names the step and every component."""


def build_baselines(entries: Sequence[Any]) -> dict[str, Baseline]:
    """``model.baselines`` entries -> {label: baseline}.

    An entry is a registered name (``smooth``, ``explicit_formula``, ``ar``, ``previous_spacing``) or a
    mapping ``{name: ..., label: ..., **constructor kwargs}`` (e.g. ``{name: ar, order: 8}``).  The
    window after the training range holds no known zero, so ``ar`` and ``previous_spacing`` are
    built ``free_running`` (another ``mode`` is refused).
    """
    out: dict[str, Baseline] = {}
    for entry in entries or ():
        if isinstance(entry, str):
            name, kwargs = entry, {}
        elif isinstance(entry, Mapping):
            kwargs = {str(k): v for k, v in entry.items()}
            name = kwargs.pop("name", None)
        else:
            raise ValueError(f"model.baselines: each entry is a name or a mapping with 'name', got {entry!r}")
        if name not in BASELINES:
            raise ValueError(f"model.baselines: unknown baseline {name!r}; known: {sorted(BASELINES)}")
        label = str(kwargs.pop("label", name))
        if name in FREE_RUNNING:
            mode = kwargs.setdefault("mode", "free_running")
            if mode != "free_running":
                raise ValueError(f"model.baselines: {name} must use mode=free_running (only zeros up to N are "
                                 f"known when zeros N+1.. are predicted), got mode={mode!r}")
        if label in out:
            raise ValueError(f"model.baselines: two baselines are labelled {label!r}; give one a 'label'")
        try:
            out[label] = make_baseline(name, **kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"model.baselines: {exc}") from exc
    return out


class ZetaGNNModule(pl.LightningModule):
    """Trains ``net`` (tensors in: x, edge_index, edge_weight; out: one value per node) with ``loss``.

    Logged every epoch (stable names, identical in both regimes):
      ``train/loss``, ``train/<component>`` and ``val/loss``, ``val/<component>``.

    At every validation (see :meth:`extrapolation_metrics`; README.md "Metrics and loss variants" has the table):

    * ``extrap/{mse,mae,mae_spacings,mse_spacings,rmse_spacings}``: the model's errors on zeros
      N+1..N+K (the graph on N+K nodes), in height units and in local mean spacings
      2π/log(γ/2π); the same for each baseline under ``extrap/baseline/<name>/…`` and
      ``extrap/skill/<name>`` = 1 − model MAE / baseline MAE (in mean spacings);
    * ``extrap/next_zero_abs_error``: the groups' single check, |γ̂_{N+1} − γ_{N+1}| on the N+1 graph;
    * ``extrap/ks/{gaudin,surmise,true}``, ``extrap/spacing/{var,nonpositive_frac}``: statistics of
      the model's locally unfolded predicted spacings in that window, and the true zeros'
      reference ``extrap/ks/zeros_{gaudin,surmise}``, ``extrap/spacing/zeros_var``;
    * ``val/ks/…``, ``val/spacing/…``, ``val/heights/{mae_spacings,…}``: the same over the validation
      zeros M+1..N (≈ 1000 at N = 10⁴, statistically more telling than K = 100; the last 20,000 of
      them at larger N), predicted on the training graph with its global normalisation;
    * ``far/…``: errors, baselines, skill and spacing statistics on the far window
      F..F+K−1 (``data.far_window_start``) when the data has it.

    Baselines get the last ≤ 10⁵ zeros of 1..N as their only history; their predictions are
    deterministic, so they and the true zeros' statistics are computed once per run.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: CompositeLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Optional[Callable[..., Any]] = None,
        baselines: Sequence[Any] = ("smooth",),
    ):
        super().__init__()
        # Nothing is pickled into checkpoints as hyperparameters (the run's config is saved by Hydra
        # and the loggers): checkpoints then hold only tensors and plain data, so resuming loads
        # them with torch.load(weights_only=True).
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.baseline_models = build_baselines(baselines)
        self.baselines = tuple(self.baseline_models)
        self.last_extrapolation: dict[str, float] = {}
        self.train_nodes_seen = 0  # train nodes in the loss, summed over this process's optimiser steps
        self._reset_caches()

    def check_data(self, datamodule) -> None:
        """Refuse, before training, a data module too small for what this model scores: each baseline
        is fitted on the known zeros 1..N (at most ``BASELINE_HISTORY`` of them)."""
        known = min(int(datamodule.num_zeros), BASELINE_HISTORY)
        for label, model in self.baseline_models.items():
            need = int(getattr(model, "min_history", 1))
            if known < need:
                raise ValueError(
                    f"data.num_zeros={datamodule.num_zeros} is too small for the baseline {label} ({model!r}), which "
                    f"is fitted on zeros 1..N and needs at least {need}: raise data.num_zeros to {need} or more, or "
                    f"drop it from model.baselines"
                )

    def _reset_caches(self) -> None:
        self._windows: dict[str, tuple] = {}
        self._fixed: dict[str, dict[str, float]] = {}

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x, edge_index=None, edge_weight=None, adj=None):
        return self.net(x, edge_index, edge_weight, adj=adj)

    def run_batch(self, batch, x=None):
        """The network on a batch graph: its ``adj`` operator when it has one (the full graph's banded Â),
        else its (``edge_index``, ``edge_weight``); ``x`` replaces the batch features (the rg re-runs)."""
        return self(batch.x if x is None else x, getattr(batch, "edge_index", None),
                    getattr(batch, "edge_weight", None), adj=getattr(batch, "adj", None))

    def setup(self, stage: str) -> None:
        self._reset_caches()
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        width = getattr(dm, "num_features", None)
        first = next((m for m in self.net.modules() if isinstance(m, nn.Linear)), None)
        if width is not None and first is not None and first.in_features != width:
            raise ValueError(
                f"data.features={dm.features} gives {width} input column(s) but the network takes "
                f"{first.in_features} (model.net.in_channels={first.in_features}): set model.net.in_channels={width}"
            )

    def loss_inputs(self, batch, mask_name: str, dm=None) -> LossInputs:
        """What the loss components see for the nodes ``batch[mask_name]`` of one batch.

        ``dm`` (the data module; default: the trainer's) maps outputs to heights and recomputes
        features at dilated indices for the scale rg penalty; everything happens on this batch's
        graph (a whole graph or one cluster).
        """
        if dm is None and self._trainer is not None:
            dm = self.trainer.datamodule
        pred_all = self.run_batch(batch)
        mask = batch[mask_name]
        node_index = batch.node_index[mask]
        to_gamma = dm.to_gamma if dm is not None else (lambda p, i: p)
        pred = pred_all[mask]

        def rerun(features):
            return self.run_batch(batch, features)[mask]

        def dilated(lam: float):
            feats = dm.features_at((batch.node_index + 1).double() * lam).to(batch.x)
            return dm.gamma_at(rerun(feats), (node_index + 1).double() * lam)

        # no dilated heights without a data module, nor for spacing targets
        has_dilation = dm is not None and getattr(dm, "target", "raw") != "spacing"
        return LossInputs(pred=pred, target=batch.y[mask], gamma_pred=to_gamma(pred, node_index),
                          node_index=node_index, features=batch.x, rerun=rerun,
                          dilated=dilated if has_dilation else None)

    def _step(self, batch, mask_name: str, stage: str):
        inputs = self.loss_inputs(batch, mask_name)
        mask = batch[mask_name]
        total, parts = self.loss(inputs)
        # streamed blocks carry their mask sizes as ints: no device-to-host sync per step
        n = getattr(batch, f"{mask_name}_count", None)
        n = int(mask.sum()) if n is None else int(n)
        if stage == "train":
            self.train_nodes_seen += n  # the budget a run spent (reported per arm by experiment=ab_rg)
        if not torch.isfinite(total):
            detail = ", ".join(f"{k}={float(v.detach()):.6g}" for k, v in parts.items())
            raise NonFiniteLossError(
                f"{stage} loss is {float(total.detach())} at epoch {self.current_epoch}, "
                f"global step {self.global_step}: components {detail}. Lower the learning rate or the "
                f"offending loss weight, or check the data."
            )
        sync = self._distributed()
        if n > 0 or sync:
            # DDP: epoch means over every rank's blocks, weighted by n; every rank logs every key
            # (a batch without scored nodes adds weight 0), so the reduction never waits on a missing key
            value = (lambda v: v) if n > 0 else (lambda v: torch.zeros_like(v).detach())
            self.log(f"{stage}/loss", value(total), on_step=False, on_epoch=True, batch_size=n, prog_bar=True,
                     sync_dist=sync)
            for k, v in parts.items():
                self.log(f"{stage}/{k}", value(v), on_step=False, on_epoch=True, batch_size=n, sync_dist=sync)
        return total

    def _distributed(self) -> bool:
        return self._trainer is not None and self.trainer.world_size > 1

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train_mask", "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val_mask", "val")

    # -- extrapolation ---------------------------------------------------------------------
    @torch.no_grad()
    def predict_window(self, batch, idx: np.ndarray) -> np.ndarray:
        """Predicted heights of the nodes ``idx`` (0-based) held by a window batch."""
        batch = batch.to(self.device)
        out = self.run_batch(batch)
        first = int(batch.node_index[0])
        local = torch.as_tensor(idx - first, device=self.device)
        dm = self.trainer.datamodule
        gamma = dm.to_gamma(out[local], batch.node_index[local])
        return gamma.double().cpu().numpy()

    def _window(self, name: str):
        """(batch, scored 0-based indices, true heights) of a scoring window, built once per run."""
        if name not in self._windows:
            dm = self.trainer.datamodule
            hops = getattr(self.net, "num_hops", 2)
            make = {"extrap": dm.extrapolation_batch, "next": dm.next_zero_batch,
                    "val": lambda h: dm.validation_batch(h, VALIDATION_WINDOW_MAX),
                    "far": getattr(dm, "far_batch", lambda h: None)}[name]
            self._windows[name] = make(hops)
        return self._windows[name]

    def _fixed_metrics(self, name: str, idx: np.ndarray, true: np.ndarray) -> dict[str, float]:
        """Baseline errors and the true zeros' statistics of a window: computed once per run."""
        if name not in self._fixed:
            dm = self.trainer.datamodule
            out = {}
            for k, v in reference_statistics(true).items():
                out[f"{k}"] = v
            if name != "val" and self.baseline_models:
                known, start = dm.baseline_history(BASELINE_HISTORY)  # by range: bounded memory at any N
                history = ZeroHistory(known, start)
                for label, model in self.baseline_models.items():
                    pred = model.fit(history).predict(idx + 1, history=history)
                    for k, v in extrapolation_errors(pred, true).items():
                        out[f"baseline/{label}/{k}"] = v
            self._fixed[name] = out
        return self._fixed[name]

    def _score_window(self, name: str, *, errors: bool = True) -> dict[str, float]:
        batch, idx, true = self._window(name)
        pred = self.predict_window(batch, idx)
        out = dict(self._fixed_metrics(name, idx, true))
        if errors:
            err = extrapolation_errors(pred, true)
            out.update(err)
            for label in self.baseline_models:
                out[f"skill/{label}"] = skill(err["mae_spacings"], out[f"baseline/{label}/mae_spacings"])
        else:
            out.update({f"heights/{k}": v for k, v in extrapolation_errors(pred, true).items()})
        if idx.size >= 2:
            out.update(spacing_statistics(pred, true))
        prefix = {"extrap": "extrap", "val": "val", "far": "far"}[name]
        return {f"{prefix}/{k}": v for k, v in out.items()}

    def extrapolation_metrics(self) -> dict[str, float]:
        """Every validation metric named in the class docstring (model in eval mode, no gradient)."""
        out = self._score_window("extrap")
        nb, nidx, ntrue = self._window("next")
        out["extrap/next_zero_abs_error"] = float(abs(self.predict_window(nb, nidx)[0] - ntrue[0]))
        out.update(self._score_window("val", errors=False))
        if self._window("far") is not None:
            out.update(self._score_window("far"))
        return out

    def spacing_samples(self) -> dict[str, Any]:
        """Locally unfolded spacings of the model's predictions and of the true zeros over the
        validation zeros and the extrapolation window (each window's spacings separately, then
        pooled): the data of the spacing-density plot."""
        pred, true, parts = [], [], []
        for name in ("val", "extrap"):
            batch, idx, t = self._window(name)
            if idx.size < 2:
                continue
            pred.append(local_spacings(self.predict_window(batch, idx)))
            true.append(local_spacings(t))
            parts.append(f"zeros {int(idx[0]) + 1}..{int(idx[-1]) + 1}")
        return {"pred": np.concatenate(pred) if pred else np.zeros(0),
                "true": np.concatenate(true) if true else np.zeros(0),
                "window": " + ".join(parts)}

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
            # every rank scores the same windows with the same weights; the sync only keeps DDP quiet
            self.log(k, v, on_step=False, on_epoch=True, prog_bar=(k == "extrap/mae_spacings"),
                     sync_dist=self._distributed())

    # -- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
