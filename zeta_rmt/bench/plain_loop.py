"""The framework's full-graph training step without Lightning: the same data module, network,
composite loss and optimiser, instantiated from the same composed config, driven by a plain loop.

One step is what ``ZetaGNNModule.training_step`` computes on the full graph: the network on the
whole graph, the loss components on the train nodes (the rg re-run and dilation closures as in
``ZetaGNNModule.loss_inputs``), backward, optimiser step.  No Trainer, no hooks, no logging.
"""
from __future__ import annotations

import hydra
import torch

from zeta_rmt.losses import LossInputs


class PlainLoop:
    def __init__(self, cfg):
        if cfg.get("seed") is not None:
            torch.manual_seed(int(cfg.seed))
        self.dm = hydra.utils.instantiate(cfg.data)
        self.dm.setup("fit")
        self.batch = self.dm.graph_data
        self.loss = hydra.utils.instantiate(cfg.loss)
        module = hydra.utils.instantiate(cfg.model, loss=self.loss)
        self.net = module.net  # the nn.Module; the LightningModule wrapper is not used
        self.opt = hydra.utils.instantiate(cfg.model.optimizer)(params=self.net.parameters())

    def forward(self, x):
        """The network on the batch graph, as ``ZetaGNNModule.run_batch``: its ``adj`` operator when it
        has one (the banded Â), else (``edge_index``, ``edge_weight``)."""
        b = self.batch
        return self.net(x, getattr(b, "edge_index", None), getattr(b, "edge_weight", None), adj=getattr(b, "adj", None))

    def inputs(self) -> LossInputs:
        b, dm = self.batch, self.dm
        mask = b.train_mask
        idx = b.node_index[mask]
        pred = self.forward(b.x)[mask]

        def rerun(features):
            return self.forward(features)[mask]

        def dilated(lam: float):
            feats = dm.features_at((b.node_index + 1).double() * lam).to(b.x)
            return dm.gamma_at(rerun(feats), (idx + 1).double() * lam)

        return LossInputs(pred=pred, target=b.y[mask], gamma_pred=dm.to_gamma(pred, idx), node_index=idx,
                          features=b.x, rerun=rerun, dilated=dilated if dm.target != "spacing" else None)

    def epoch(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        total, _ = self.loss(self.inputs())
        total.backward()
        self.opt.step()
        return float(total.detach())
