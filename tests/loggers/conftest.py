"""Fixtures for the logger tests: the fake Vertex AI server, a tiny Lightning model, and
loggers with short timeouts that are always closed (their threads stopped) afterwards."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.fixtures.fake_vertex import FakeVertex, fake_vertex  # noqa: F401  (the fixture)

PROJECT, LOCATION = "p", "europe-west4"
STORE = f"projects/{PROJECT}/locations/{LOCATION}/metadataStores/default"


def context_name(experiment: str, run: str | None = None) -> str:
    return f"{STORE}/contexts/{experiment}" + (f"-{run}" if run else "")


def tb_run_name(experiment: str, run: str, tb: str = "tb1") -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}/tensorboards/{tb}/experiments/{experiment}/runs/{run}"


class TinyModule(pl.LightningModule):
    """Linear regression; logs train_loss every step and val_loss every epoch."""

    def __init__(self, fail_at_epoch: int | None = None):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)
        self.fail_at_epoch = fail_at_epoch

    def training_step(self, batch, idx):
        if self.fail_at_epoch is not None and self.current_epoch == self.fail_at_epoch:
            raise RuntimeError("boom: a failing training step")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.lin(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.lin(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def loaders():
    g = torch.Generator().manual_seed(0)
    ds = TensorDataset(torch.randn(32, 2, generator=g), torch.randn(32, 1, generator=g))
    return DataLoader(ds, batch_size=8), DataLoader(ds, batch_size=32)


def fit(logger, epochs: int = 3, module: TinyModule | None = None, **trainer_kwargs) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
                         **trainer_kwargs)
    train, val = loaders()
    trainer.fit(module or TinyModule(), train, val)
    return trainer


def logged_points(logger) -> dict[str, dict[int, float]]:
    """{key: {step: value}} of everything the logger journaled (first value per step)."""
    from zeta_rmt.loggers.vertex.journal import Journal, RunPlan

    plan = RunPlan.from_records(Journal.read(logger.log_dir))
    return {k: {s: v for s, (v, _) in sorted(series.items())} for k, series in plan.points.items()}


@pytest.fixture
def make_logger(tmp_path):
    """Build VertexAIExperimentsLogger(s) with test-sized timeouts; closed at teardown."""
    from zeta_rmt.loggers.vertex import VertexAIExperimentsLogger

    made = []

    def make(server: FakeVertex | None = None, **kw):
        args = dict(project=PROJECT, location=LOCATION, experiment="e", save_dir=str(tmp_path / "out"),
                    request_timeout=1.0, flush_interval=0.2, flush_timeout=8.0, retry_initial=0.1, retry_max=0.5)
        if server is not None:
            args["api_endpoint"] = server.endpoint
        args.update(kw)
        lg = VertexAIExperimentsLogger(**args)
        made.append(lg)
        return lg

    yield make
    for lg in made:
        lg.close(timeout=0.0, join=5.0)
