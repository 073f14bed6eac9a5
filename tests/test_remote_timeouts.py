"""Every remote operation has a bounded time (issue 12, items 6-8).

A hung endpoint (accepts, never answers) fails after ``ZETA_RMT_REMOTE_TIMEOUT`` seconds, a
refused one within a few seconds, each with one line naming the URL and what to check; the
real ``python -m zeta_rmt.train`` entry point on the GCS emulator is fast even without the
test-only ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT`` setting.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.dead_endpoints import closed_port, silent_server
from tests.fixtures.gcs_emulator import gcs_emulator, gcs_filesystem, make_bucket  # noqa: F401  (fixture)
from zeta_rmt.launch import storage as run_storage
from zeta_rmt.launch.runtime import LastCheckpoint, RemoteMirror, find_resume_checkpoint
from zeta_rmt.utils.errors import ConfigError
from zeta_rmt.zeros import ZeroDataError, load_zeros

ROOT = Path(__file__).resolve().parents[1]
CHECK = r"(?s)credentials.*STORAGE_EMULATOR_HOST.*network"


def _clear_gcsfs():
    import gcsfs

    gcsfs.GCSFileSystem.clear_instance_cache()
    gcsfs.core.GCSFileSystem.clear_instance_cache()


@pytest.fixture
def dead_gcs(monkeypatch):
    """``dead_gcs("silent"|"refused")``: point gs:// at a dead endpoint, 3 s per operation."""
    stack = []

    def make(kind):
        if kind == "silent":
            cm = silent_server()
            stack.append(cm)
            port = cm.__enter__()
        else:
            port = closed_port()
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("ZETA_RMT_REMOTE_TIMEOUT", "3")
        _clear_gcsfs()
        return port

    yield make
    _clear_gcsfs()
    for cm in stack:
        cm.__exit__(None, None, None)


def _one_line(exc) -> str:
    msg = str(exc)
    assert "\n" not in msg, msg
    return msg


@pytest.mark.timeout(60)
def test_hung_endpoint_load_zeros_fails_after_the_timeout(dead_gcs):
    dead_gcs("silent")
    t0 = time.perf_counter()
    with pytest.raises(ZeroDataError, match=r"gs://bucket/x\.npy") as info:
        load_zeros("gs://bucket/x.npy", 1, 10)
    took = time.perf_counter() - t0
    assert 2.5 < took < 10, took
    msg = _one_line(info.value)
    assert "3 s" in msg and "ZETA_RMT_REMOTE_TIMEOUT" in msg
    assert re.search(CHECK, msg), msg


@pytest.mark.timeout(60)
def test_refused_endpoint_load_zeros_fails_at_once(dead_gcs):
    port = dead_gcs("refused")
    t0 = time.perf_counter()
    with pytest.raises(ZeroDataError, match=r"gs://bucket/x\.npy") as info:
        load_zeros("gs://bucket/x.npy", 1, 10)
    took = time.perf_counter() - t0
    assert took < 3, took
    msg = _one_line(info.value)
    assert "refused" in msg and f"127.0.0.1:{port}" in msg
    assert re.search(CHECK, msg), msg


@pytest.mark.timeout(60)
def test_hung_endpoint_checkpoints_and_log_mirror_are_bounded(dead_gcs, tmp_path, capsys):
    dead_gcs("silent")
    cb = LastCheckpoint("gs://bucket/run/checkpoints")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"gs://bucket/run/checkpoints") as info:
        find_resume_checkpoint([cb])
    assert time.perf_counter() - t0 < 10
    assert isinstance(info.value, run_storage.StorageError)
    _one_line(info.value)

    local = tmp_path / "logs"
    local.mkdir()
    for i in range(3):
        (local / f"f{i}.csv").write_text("a,b\n1,2\n")
    mirror = RemoteMirror([(str(local), "gs://bucket/run/csv")])
    t0 = time.perf_counter()
    assert mirror.sync() == 0  # a warning, not an error; training goes on
    assert time.perf_counter() - t0 < 10  # one bounded attempt, not one per file
    out = capsys.readouterr().out
    assert "gs://bucket/run/csv" in out and "next sync" in out


@pytest.mark.timeout(60)
def test_refused_endpoint_run_outputs_fail_at_once(dead_gcs):
    dead_gcs("refused")
    t0 = time.perf_counter()
    with pytest.raises(run_storage.StorageError, match=r"gs://bucket/out/metrics\.json.*refused"):
        run_storage.write_text("gs://bucket/out/metrics.json", "{}")
    with pytest.raises(run_storage.StorageError, match=r"gs://bucket/out/x"):
        run_storage.exists("gs://bucket/out/x")
    assert time.perf_counter() - t0 < 5


def test_timeout_setting(monkeypatch):
    from zeta_rmt.utils import remote

    monkeypatch.delenv("ZETA_RMT_REMOTE_TIMEOUT", raising=False)
    remote.set_timeout(None)
    assert remote.get_timeout() == remote.DEFAULT_TIMEOUT_S
    remote.set_timeout(42)
    assert remote.get_timeout() == 42
    monkeypatch.setenv("ZETA_RMT_REMOTE_TIMEOUT", "7.5")
    assert remote.get_timeout() == 7.5  # the environment wins over the config key
    monkeypatch.setenv("ZETA_RMT_REMOTE_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="ZETA_RMT_REMOTE_TIMEOUT"):
        remote.get_timeout()
    remote.set_timeout(None)
    with pytest.raises(ConfigError, match="remote_timeout_s"):
        remote.set_timeout(-1)


# ----------------------------------------------------------------------------- the real CLI
def _train_cli(tmp_path, *args, env_extra=None, timeout=120):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    env.pop("HYDRA_FULL_ERROR", None)
    env.pop("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", None)  # what a user's shell has: nothing
    env.update(env_extra or {})
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "zeta_rmt.train", "debug=fast", "trainer.max_epochs=1",
                        "print_summary=false", "model.baselines=[smooth]", f"hydra.run.dir={tmp_path}", *args],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return p, time.perf_counter() - t0


@pytest.mark.timeout(150)
def test_cli_trains_from_the_emulator_without_the_hns_setting(gcs_emulator, tmp_path):  # noqa: F811
    bucket = make_bucket("zeros-bucket")
    with gcs_filesystem().open(f"{bucket}/z.txt", "w") as f:
        f.write("\n".join(f"{g:.9f}" for g in load_zeros("odlyzko", 1, 500)) + "\n")
    p, wall = _train_cli(tmp_path, f"data.source={bucket}/z.txt")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Could not determine bucket type" not in p.stderr + p.stdout
    assert wall < 60, wall


@pytest.mark.timeout(60)
def test_cli_unreachable_bucket_is_one_line_rc2(tmp_path):
    port = closed_port()
    p, wall = _train_cli(tmp_path, "data.source=gs://bucket/z.txt",
                         env_extra={"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"}, timeout=50)
    assert p.returncode == 2, p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("zeta_rmt.train: error:")]
    assert len(errors) == 1 and "gs://bucket/z.txt" in errors[0] and "refused" in errors[0], p.stderr[-3000:]
    assert wall < 20, wall  # of which ~8 s is starting Python, torch and Lightning on this machine
