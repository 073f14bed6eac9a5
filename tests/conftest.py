"""Shared test setup.

* One torch thread: on the shared 2-core machine two threads are often 10x slower.
* Nothing leaves the machine: Google clients are told there is no metadata server, and a
  socket guard fails any connection to a non-loopback address (gRPC's C core bypasses
  Python sockets, so cloud code under test must use REST transports).
"""
from __future__ import annotations

import os

from tests.fixtures.network_guard import install, set_safe_env, uninstall

# Environment for Google clients, set before anything imports them.
set_safe_env()
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from zeta_rmt.utils.config import register_resolvers  # noqa: E402  (${zeta_div:...} in experiment files)

register_resolvers()


@pytest.fixture(autouse=True, scope="session")
def _network_guard():
    install()
    yield
    uninstall()


# -- composing the real Hydra configs ---------------------------------------------------------
from pathlib import Path  # noqa: E402

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")


def compose_config(overrides=(), output_dir=None):
    """Compose ``configs/train.yaml`` with ``overrides`` exactly as the CLI would (no Hydra run dir:
    ``paths.output_dir`` is set to ``output_dir``)."""
    from hydra import compose, initialize_config_dir

    extra = [f"paths.output_dir={output_dir}"] if output_dir is not None else []
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides) + extra)


@pytest.fixture
def make_cfg(tmp_path):
    """``make_cfg(*overrides)``: the composed training config writing under ``tmp_path``."""

    def _make(*overrides):
        return compose_config(overrides, output_dir=tmp_path / "run")

    return _make
