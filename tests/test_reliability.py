"""Reliability of a training run: wrong-typed values name their key, too-small N and unreadable
checkpoints are refused before training, the data source is checked first, SIGTERM inside a long
step saves a resumable checkpoint in time, a full disk leaves the old file and no temporary, and the
memory watchdog stops a run with one line."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import compose_config
from tests.fixtures.network_guard import guarded_command
from zeta_rmt.launch import checkpoints
from zeta_rmt.train import train, validate_config
from zeta_rmt.utils import memory
from zeta_rmt.utils.errors import ConfigError
from zeta_rmt.utils.fsio import DiskFullError, atomic_save_npy, atomic_write_bytes, is_local_fs

ROOT = Path(__file__).resolve().parents[1]
FAST = ["debug=fast", "print_summary=false", "+trainer.enable_progress_bar=false"]


# -- every type error names its key ----------------------------------------------------------------
@pytest.mark.parametrize("override, message", [
    ("data.num_zeros=abc", "data.num_zeros must be an integer, got 'abc'"),
    ("data.primes=[2,x]", "data.primes must be a list of integers, got [2, 'x']"),
    ("model.net.hidden_channels=abc", "model.net.hidden_channels must be an integer, got 'abc'"),
    ("model.optimizer.lr=abc", "model.optimizer.lr must be a number or a tensor, got 'abc'"),
    ("data=cluster data.num_parts=x", "data.num_parts must be an integer, got 'x'"),
    ("callbacks.model_checkpoint.save_top_k=x", "callbacks.model_checkpoint.save_top_k must be an integer, got 'x'"),
    ("callbacks.preemption.grace_s=soon", "callbacks.preemption.grace_s must be a number, got 'soon'"),
])
def test_type_errors_name_their_key(override, message):
    cfg = compose_config(override.split())
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert str(err.value) == message


def test_integral_floats_and_good_values_pass_the_type_check():
    validate_config(compose_config(["data.num_zeros=1e4", "model.optimizer.lr=1e-3", "data=cluster"]))


# -- the minimum N follows from the configured baselines -------------------------------------------
def test_too_few_zeros_for_the_ar_baseline_is_refused_before_training(tmp_path):
    cfg = compose_config([*FAST, "data.num_zeros=40"], output_dir=tmp_path / "run")
    with pytest.raises(ValueError, match=r"data\.num_zeros=40 is too small for the baseline ar .* needs at least 68"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained
    # without the AR baseline the same N trains
    cfg = compose_config([*FAST, "data.num_zeros=40", "model.baselines=[smooth,previous_spacing]"],
                         output_dir=tmp_path / "run2")
    assert train(cfg)["status"] == "completed"


# -- unreadable ckpt_path: one line naming it, never "weights_only=False" ------------------------
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("kind, reason", [
    ("text", "not a PyTorch checkpoint (the file is text"),
    ("random", "not a PyTorch checkpoint (the file is binary data"),
    ("empty", "the file is empty (0 bytes)"),
    ("truncated", "a damaged or truncated PyTorch checkpoint"),
    ("pickled_code", "holds pickled Python objects other than tensors and plain data"),
    ("not_lightning", "a torch file but not a Lightning checkpoint"),
    ("missing", "no such checkpoint file"),
])
def test_unreadable_ckpt_path_is_one_line(tmp_path, kind, reason):
    path = tmp_path / f"{kind}.ckpt"
    if kind == "text":
        path.write_text("epoch=3\nthis is not a checkpoint\n")
    elif kind == "random":
        path.write_bytes(os.urandom(2048))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        torch.save({"state_dict": {"w": torch.zeros(1000)}, "epoch": 1}, path)
        path.write_bytes(path.read_bytes()[:1500])
    elif kind == "pickled_code":
        torch.save({"state_dict": {}, "epoch": 1, "x": _Evil()}, path)
    elif kind == "not_lightning":
        torch.save({"w": torch.zeros(3)}, path)
    cfg = compose_config([*FAST, f"ckpt_path={path}"], output_dir=tmp_path / "run")
    with pytest.raises(checkpoints.UnreadableCheckpoint) as err:
        train(cfg)
    msg = str(err.value)
    assert msg.startswith(f"ckpt_path={path} cannot be resumed from: ") and reason in msg
    assert "\n" not in msg and "weights_only=False" not in msg and "weights_only` argument" not in msg


# -- the data source is validated first, and its own error comes first -----------------------------
def test_data_source_error_comes_before_anything_else(tmp_path, monkeypatch):
    import zeta_rmt.train as train_mod

    def no_hardware_check(cfg):
        raise AssertionError("the hardware check ran before the data source was validated")

    monkeypatch.setattr(train_mod, "check_hardware", no_hardware_check)
    missing = tmp_path / "zeros.txt"
    cfg = compose_config([*FAST, f"data.source={missing}"], output_dir=tmp_path / "run")
    with pytest.raises(ValueError) as err:
        train(cfg)
    assert str(err.value) == f"data.source='{missing}': zero source '{missing}': no such file or dataset"
    bad = tmp_path / "bad.txt"
    bad.write_text("14.134725\n21.022040\nabc\n")
    cfg = compose_config([*FAST, f"data.source={bad}"], output_dir=tmp_path / "run")
    with pytest.raises(ValueError) as err:
        train(cfg)
    assert str(err.value).startswith(f"data.source='{bad}': {bad}: line 3: 'abc' is not a number")
    assert "needs" not in str(err.value)  # a file error is not a "needs N zeros" error


def test_a_source_too_short_says_what_it_holds_and_what_the_run_needs(tmp_path):
    from zeta_rmt.zeros import load_zeros

    short = tmp_path / "short.txt"
    short.write_text("\n".join(map(repr, load_zeros("odlyzko", 1, 300).tolist())) + "\n")
    cfg = compose_config([*FAST, f"data.source={short}"], output_dir=tmp_path / "run")
    with pytest.raises(ValueError, match=r"holds zeros 1\.\.300, but data\.num_zeros=400 plus "
                                         r"data\.extrapolation_window=\d+ need zeros 1\.\.\d+"):
        train(cfg)


# -- SIGTERM inside a long step ------------------------------------------------------------------
def _slow_step_args(tmp_path: Path, epoch: int) -> list[str]:
    return ["+callbacks.slow._target_=tests.fixtures.slow_step.SlowStep", f"+callbacks.slow.epoch={epoch}",
            f"+callbacks.slow.marker={tmp_path / 'in_step'}", f"+callbacks.slow.weights={tmp_path / 'weights.pt'}"]


@pytest.mark.slow
def test_sigterm_inside_a_long_step_saves_and_exits_in_time_then_resumes(tmp_path):
    run = tmp_path / "run"
    common = [*FAST, "trainer.max_epochs=5", f"hydra.run.dir={run}"]
    proc = subprocess.Popen(guarded_command("zeta_rmt.train", *common, *_slow_step_args(tmp_path, 2)), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "in_step").exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "training did not reach the slow step in 180 s"
            time.sleep(0.05)
        time.sleep(1.0)  # 1 s into a step that would take 120 s
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err[-3000:]
    assert took < 25, f"exited {took:.1f} s after SIGTERM"
    last = run / "checkpoints" / "last.ckpt"
    assert f"{last} was saved: rerun the same command" in err.strip().splitlines()[-1]
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    assert (ckpt["epoch"], ckpt["global_step"]) == (2, 2)  # epochs 0 and 1 done, the interrupted one not counted
    before = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert all(torch.equal(ckpt["state_dict"][k], v) for k, v in before.items())  # no half-applied update
    assert json.loads((run / "metrics.json").read_text())["status"] == "preempted"

    # the restart (Vertex AI restarts a preempted job with the same output dir)
    done = subprocess.run(guarded_command("zeta_rmt.train", *common), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {last} (epochs 0..1 done, step 2)" in done.stdout
    result = json.loads((run / "metrics.json").read_text())
    assert result["status"] == "completed" and result["epochs"] == 5
    assert [r["epoch"] for r in json.loads((run / "history.json").read_text())] == [0, 1, 2, 3, 4]


def test_sigterm_in_process_writes_a_remote_checkpoint(tmp_path):
    """The same on an object store (``memory://``, the code path of ``gs://``): one upload."""
    import fsspec

    from zeta_rmt.launch.preemption import Preempted

    out = "memory://preempt-test/run"
    cfg = compose_config([*FAST, "trainer.max_epochs=4", *_slow_step_args(tmp_path, 1),
                          "+callbacks.slow.signal_after=0.5", "callbacks.model_checkpoint.dirpath=" + str(tmp_path)],
                         output_dir=out)
    previous = signal.getsignal(signal.SIGTERM)
    t = time.monotonic()
    with pytest.raises(Preempted):
        train(cfg)
    assert time.monotonic() - t < 60
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler is removed again
    fs = fsspec.filesystem("memory")
    ckpt = torch.load(fs.open("/preempt-test/run/checkpoints/last.ckpt", "rb"), weights_only=True)
    before = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and all(torch.equal(ckpt["state_dict"][k], v) for k, v in before.items())
    fs.rm("/preempt-test", recursive=True)


# -- a full disk: the old file stays, no temporary is left, one line names the disk --------------
@contextlib.contextmanager
def _small_disk(tmp_path: Path, size: str = "256k"):
    """A real file system of ``size`` (tmpfs, as root); else a process file-size limit (EFBIG)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                                                   capture_output=True).returncode == 0
    if mounted:
        try:
            yield mnt, "no space left on device"
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
    try:
        yield mnt, "file size limit reached"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)


def test_full_disk_keeps_the_old_files_and_leaves_no_temporary(tmp_path):
    import fsspec
    import numpy as np

    with _small_disk(tmp_path) as (disk, reason):
        ckpt = disk / "checkpoints" / "last.ckpt"
        io = checkpoints.AtomicCheckpointIO()
        io.save_checkpoint({"state_dict": {"w": torch.ones(10)}, "epoch": 3}, str(ckpt))
        good = ckpt.read_bytes()
        with pytest.raises(DiskFullError) as err:
            io.save_checkpoint({"state_dict": {"w": torch.ones(200_000)}, "epoch": 4}, str(ckpt))
        assert str(err.value).startswith(f"{ckpt}: {reason}") and "nothing was overwritten" in str(err.value)
        assert ckpt.read_bytes() == good
        metrics = disk / "metrics.json"
        atomic_write_bytes(fsspec.filesystem("file"), str(metrics), b'{"status": "completed"}')
        with pytest.raises(DiskFullError, match="metrics.json: "):
            atomic_write_bytes(fsspec.filesystem("file"), str(metrics), b"x" * 400_000)
        assert metrics.read_bytes() == b'{"status": "completed"}'
        with pytest.raises(DiskFullError):
            atomic_save_npy(disk / "cache.npy", np.zeros(100_000))
        leftovers = [p.name for p in disk.rglob("*") if p.is_file() and p.name not in ("last.ckpt", "metrics.json")]
        assert leftovers == []
    assert is_local_fs(fsspec.filesystem("file"))


# -- the memory watchdog ---------------------------------------------------------------------------
def test_memory_watchdog_stops_a_run_with_one_line(tmp_path):
    cfg = compose_config([*FAST, "memory_reserve_gb=1e6"], output_dir=tmp_path / "run")
    with pytest.raises(memory.MemoryExhausted, match=r"memory nearly exhausted: .* below 1000000\.00 GB, "
                                                     r"memory_reserve_gb\): N=400"):
        train(cfg)
    rec = json.loads((tmp_path / "run" / "metrics.json").read_text()) if (tmp_path / "run" / "metrics.json").exists() else None
    assert rec is None or rec["status"] != "completed"


def test_memory_watchdog_exits_when_the_main_thread_cannot_be_reached():
    code = ("import signal, time\n"
            "from zeta_rmt.utils.memory import Watchdog\n"
            "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])  # a main thread stuck in one C call\n"
            "with Watchdog(1e18, context='N=5', interval_s=0.05, hard_exit_s=0.5):\n"
            "    time.sleep(30)\n")
    t = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and time.monotonic() - t < 20
    assert done.stderr.strip().startswith("zeta_rmt.train: error: memory nearly exhausted")
    assert len(done.stderr.strip().splitlines()) == 1


def test_memory_reserve_must_be_a_number():
    with pytest.raises(ConfigError, match="memory_reserve_gb must be a number of GB >= 0"):
        memory.watchdog({"memory_reserve_gb": "lots"})
