"""The guard that keeps every test on this machine really refuses the outside world."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.network_guard import NetworkGuardError, guarded_command

ROOT = Path(__file__).resolve().parents[1]


def test_outside_addresses_and_names_are_refused():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkGuardError, match="8.8.8.8"):
            s.connect(("8.8.8.8", 53))
        with pytest.raises(NetworkGuardError, match="169.254.169.254"):
            s.connect_ex(("169.254.169.254", 80))
    finally:
        s.close()
    with pytest.raises(NetworkGuardError, match="metadata.google.internal"):
        socket.getaddrinfo("metadata.google.internal", 80)


def test_loopback_is_allowed():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=5)
    c.close()
    srv.close()
    assert socket.getaddrinfo("localhost", 80)


def test_guard_applies_in_child_processes():
    # `python -m tests.fixtures.network_guard http.client`-style: run a module that connects out
    p = subprocess.run(guarded_command("tests.fixtures.connect_out", "10.1.2.3", "80"),
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode != 0 and "NetworkGuardError" in p.stderr
    # without the guard the same module reaches the socket layer (it fails differently or times out)
    q = subprocess.run([sys.executable, "-m", "tests.fixtures.connect_out", "127.0.0.1", "9"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "NetworkGuardError" not in q.stderr
