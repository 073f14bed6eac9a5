"""Shared test setup.

* One torch thread: on the shared 2-core machine two threads are often 10x slower.
* Nothing leaves the machine: Google clients are told there is no metadata server, and a
  socket guard fails any connection to a non-loopback address (gRPC's C core bypasses
  Python sockets, so cloud code under test must use REST transports).
"""
from __future__ import annotations

import ipaddress
import os
import socket

# Environment for Google clients, set before anything imports them.
os.environ["NO_GCE_CHECK"] = "true"
os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def _is_loopback(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host)
    if host in ("localhost", "", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a DNS name other than localhost


class NetworkGuardError(RuntimeError):
    """A test tried to reach a host that is not on this machine."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address, *a, **k):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise NetworkGuardError(f"test tried to connect to non-loopback address {address!r}")
    return _real_connect(self, address, *a, **k)


def _guarded_connect_ex(self, address, *a, **k):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise NetworkGuardError(f"test tried to connect to non-loopback address {address!r}")
    return _real_connect_ex(self, address, *a, **k)


def _guarded_getaddrinfo(host, *a, **k):
    if not _is_loopback(host):
        raise NetworkGuardError(f"test tried to resolve non-loopback host {host!r}")
    return _real_getaddrinfo(host, *a, **k)


@pytest.fixture(autouse=True, scope="session")
def _network_guard():
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex
    socket.getaddrinfo = _real_getaddrinfo


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
