"""Preemption: a run killed mid-training and restarted with the same output directory resumes from
its last checkpoint (local path and ``gs://`` in the GCS emulator), and the two measured traps of
Lightning on ``gs://`` -- CSVLogger losing rows, ModelCheckpoint deleting the checkpoint a run
resumed from -- do not bite."""
from __future__ import annotations

import csv
import io
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
from tests.fixtures.gcs_emulator import gcs_emulator, gcs_filesystem, make_bucket  # noqa: F401  (fixture)
from zeta_rmt.launch.runtime import LastCheckpoint, find_resume_checkpoint
from zeta_rmt.train import train

ROOT = Path(__file__).resolve().parents[1]
EPOCHS, HANG_AT = 12, 5
# local runs keep the default last_checkpoint.min_interval_s (60 s): it throttles object stores only
COMMON = ["debug=fast", f"trainer.max_epochs={EPOCHS}", "trainer.check_val_every_n_epoch=3", "print_summary=false",
          "+trainer.enable_progress_bar=false"]
ON_GCS = ["callbacks.last_checkpoint.min_interval_s=0"]  # every epoch on gs:// as well, for the test


@pytest.fixture(autouse=True)
def _staging_in_tmp(monkeypatch, tmp_path):
    """Local copies of gs:// log files go under the test's folder, not /tmp."""
    monkeypatch.setenv("ZETA_RMT_STAGING_DIR", str(tmp_path / "staging"))


def ckpt_meta(data: bytes) -> tuple[int, int]:
    ckpt = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    return ckpt["epoch"], ckpt["global_step"]


def run_and_kill(tmp_path: Path, overrides: list[str], env: dict | None = None) -> None:
    """Start a training process, SIGKILL it while it hangs at the end of epoch HANG_AT."""
    marker = tmp_path / "hung"
    args = [*overrides, "+callbacks.hang._target_=tests.launch.hang_callback.HangAtEpoch",
            f"+callbacks.hang.epoch={HANG_AT}", f"+callbacks.hang.marker={marker}", f"hydra.run.dir={tmp_path / 'h1'}"]
    # `python -m zeta_rmt.train ARGS` behind the tests' network guard
    proc = subprocess.Popen(guarded_command("zeta_rmt.train", *args), cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"training exited ({proc.returncode}) before epoch {HANG_AT}:\n{proc.stdout.read()[-4000:]}")
            assert time.monotonic() < deadline, "training did not reach the hang point in 180 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def csv_epochs(text: str) -> tuple[list[int], list[int]]:
    """Epochs of the train rows and of the validation rows of a Lightning CSV."""
    rows = list(csv.DictReader(io.StringIO(text)))
    train_rows = [int(r["epoch"]) for r in rows if r.get("train/loss")]
    val_rows = [int(r["epoch"]) for r in rows if r.get("val/loss")]
    return train_rows, val_rows


def assert_continuous(text: str) -> None:
    train_rows, val_rows = csv_epochs(text)
    assert train_rows == list(range(EPOCHS)), train_rows  # each epoch once: none lost, none repeated
    assert val_rows == [2, 5, 8, 11], val_rows


@pytest.mark.slow
def test_killed_local_run_resumes_from_last_epoch(tmp_path, capsys):
    out = tmp_path / "run"
    run_and_kill(tmp_path, [*COMMON, f"paths.output_dir={out}"])
    last = out / "checkpoints" / "last.ckpt"
    assert ckpt_meta(last.read_bytes()) == (HANG_AT - 1, HANG_AT)  # epoch 4 done; epoch 5 lost with the kill
    before = csv_epochs((out / "csv" / "metrics.csv").read_text())[0]
    assert before == list(range(HANG_AT))  # logs were flushed with each checkpoint

    # the restart: same command, same output dir (what Vertex AI does after a preemption)
    result = train(compose_config(COMMON, output_dir=out))
    stdout = capsys.readouterr().out
    # last.ckpt, not the best-so-far file of epoch 5's validation (the same epochs done, epoch 5's logs not)
    assert f"resuming from {last} (epochs 0..{HANG_AT - 1} done, step {HANG_AT})" in stdout
    assert result["epochs"] == EPOCHS
    assert ckpt_meta(last.read_bytes())[0] == EPOCHS - 1
    assert_continuous((out / "csv" / "metrics.csv").read_text())
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["best"]["epoch"] in (2, 5, 8, 11)  # history restored with the checkpoint: all epochs compared


@pytest.mark.slow
def test_killed_gcs_run_resumes_from_last_epoch(tmp_path, gcs_emulator, capsys, monkeypatch):
    """The same on gs:// (emulator), with the zeros read from gs:// too."""
    from zeta_rmt.zeros import load_zeros

    bucket = make_bucket("zeta-resume")
    fs = gcs_filesystem()
    fs.pipe("zeta-resume/zeros.txt", "\n".join(f"{g:.9f}" for g in load_zeros("odlyzko", 1, 500)).encode())
    out = f"{bucket}/team1/job1"
    overrides = [*COMMON, *ON_GCS, f"data.source={bucket}/zeros.txt"]
    run_and_kill(tmp_path, [*overrides, f"paths.output_dir={out}"],
                 env={"STORAGE_EMULATOR_HOST": gcs_emulator, "ZETA_RMT_STAGING_DIR": str(tmp_path / "stage1")})
    fs.invalidate_cache()
    assert ckpt_meta(fs.cat("zeta-resume/team1/job1/checkpoints/last.ckpt")) == (HANG_AT - 1, HANG_AT)
    assert csv_epochs(fs.cat("zeta-resume/team1/job1/csv/metrics.csv").decode())[0] == list(range(HANG_AT))

    monkeypatch.setenv("ZETA_RMT_STAGING_DIR", str(tmp_path / "stage2"))  # a new machine: empty local disk
    result = train(compose_config(overrides, output_dir=out))
    stdout = capsys.readouterr().out
    assert f"resuming from {out}/checkpoints/last.ckpt (epochs 0..{HANG_AT - 1} done" in stdout
    assert "files of a previous attempt restored" in stdout
    assert result["epochs"] == EPOCHS and result["data"]["source"] == f"{bucket}/zeros.txt"
    fs.invalidate_cache()
    # the checkpoint resumed from was overwritten by later epochs, never deleted
    assert ckpt_meta(fs.cat("zeta-resume/team1/job1/checkpoints/last.ckpt"))[0] == EPOCHS - 1
    assert_continuous(fs.cat("zeta-resume/team1/job1/csv/metrics.csv").decode())
    assert json.loads(fs.cat("zeta-resume/team1/job1/metrics.json"))["epochs"] == EPOCHS


def test_csv_on_gcs_keeps_every_row_where_plain_csvlogger_loses_them(tmp_path, gcs_emulator):
    """The trap, measured here: CSVLogger writing to gs:// itself keeps only its last save. Through
    train() (local staging + mirror) every epoch's row arrives."""
    from pytorch_lightning.loggers import CSVLogger

    bucket = make_bucket("zeta-csv")
    fs = gcs_filesystem()
    naive = CSVLogger(save_dir=f"{bucket}/naive", name="csv", version="")
    for step in range(3):
        naive.log_metrics({"x": float(step)}, step=step)
        naive.save()
    fs.invalidate_cache()
    assert fs.cat("zeta-csv/naive/csv/metrics.csv").decode().count("\n") < 4  # header + 3 rows expected; lost

    result = train(compose_config(["debug=fast", "trainer.max_epochs=4", "trainer.check_val_every_n_epoch=2",
                                   "print_summary=false", "callbacks.last_checkpoint.min_interval_s=0",
                                   "logger=[csv,tensorboard]"], output_dir=f"{bucket}/ours"))
    fs.invalidate_cache()
    train_rows, val_rows = csv_epochs(fs.cat("zeta-csv/ours/csv/metrics.csv").decode())
    assert train_rows == [0, 1, 2, 3] and val_rows == [1, 3]
    [events] = fs.glob("zeta-csv/ours/tensorboard/events.out.tfevents.*")  # staged and copied up too
    assert fs.size(events) > 0
    assert result["epochs"] == 4


def test_explicit_ckpt_path_never_deletes_the_source_run_on_gcs(tmp_path, gcs_emulator, capsys):
    """ModelCheckpoint deletes the checkpoint a run resumed from when that run writes elsewhere on a
    non-local filesystem (measured). Resuming run A's last.ckpt into run B leaves A untouched."""
    bucket = make_bucket("zeta-ab")
    fs = gcs_filesystem()
    base = ["debug=fast", "trainer.check_val_every_n_epoch=1", "print_summary=false",
            "callbacks.last_checkpoint.min_interval_s=0"]
    train(compose_config([*base, "trainer.max_epochs=2"], output_dir=f"{bucket}/A"))
    fs.invalidate_cache()
    before = {p: fs.cat(p) for p in fs.find("zeta-ab/A")}
    assert "zeta-ab/A/checkpoints/last.ckpt" in before and len([p for p in before if p.endswith(".ckpt")]) == 2
    result = train(compose_config([*base, "trainer.max_epochs=5", f"ckpt_path={bucket}/A/checkpoints/last.ckpt"],
                                  output_dir=f"{bucket}/B"))
    assert result["epochs"] == 5
    fs.invalidate_cache()
    assert {p: fs.cat(p) for p in fs.find("zeta-ab/A")} == before
    assert ckpt_meta(fs.cat("zeta-ab/B/checkpoints/last.ckpt"))[0] == 4


def test_auto_resume_off_and_finished_runs(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["debug=fast", "trainer.max_epochs=2", "print_summary=false"]
    train(compose_config(base, output_dir=out))
    capsys.readouterr()
    # a restart of a finished run: resumes at the end, trains nothing more
    assert train(compose_config(base, output_dir=out))["epochs"] == 2
    assert "resuming from" in capsys.readouterr().out
    # auto_resume=false starts again from scratch in the same folder
    result = train(compose_config([*base, "auto_resume=false"], output_dir=out))
    assert "resuming from" not in capsys.readouterr().out and result["epochs"] == 2


def test_unreadable_last_checkpoint_falls_back_to_the_newest_readable(tmp_path, capsys):
    d = tmp_path / "checkpoints"
    d.mkdir()
    for name, epoch in (("epoch0002.ckpt", 2), ("epoch0005.ckpt", 5)):
        torch.save({"state_dict": {}, "epoch": epoch, "global_step": 10 * epoch}, d / name)
    (d / "last.ckpt").write_bytes(b"PK\x03\x04 truncated by a kill")
    cb = LastCheckpoint(dirpath=str(d))
    info = find_resume_checkpoint([cb])
    assert (Path(info.path).name, info.epoch, info.global_step) == ("epoch0005.ckpt", 5, 50)
    assert "cannot read checkpoint" in capsys.readouterr().out
    torch.save({"state_dict": {}, "epoch": 7, "global_step": 70}, d / "last.ckpt")
    assert find_resume_checkpoint([cb]).path == cb.path
    # a last.ckpt older than a top-k checkpoint (written before a kill -9): the newest readable wins
    torch.save({"state_dict": {}, "epoch": 0, "global_step": 1}, d / "last.ckpt")
    assert Path(find_resume_checkpoint([cb]).path).name == "epoch0005.ckpt"
    assert find_resume_checkpoint([]) is None
    assert find_resume_checkpoint([LastCheckpoint(dirpath=str(tmp_path / "none"))]) is None


def test_mirror_upload_failure_is_retried_not_fatal(tmp_path, capsys, monkeypatch):
    import fsspec

    from zeta_rmt.launch.runtime import RemoteMirror

    local = tmp_path / "stage"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "metrics.csv").write_text("epoch\n0\n")
    mirror = RemoteMirror([(str(local), "memory://zr-mirror/run/csv")])
    fs = fsspec.filesystem("memory")
    real = type(fs).pipe_file
    calls = {"n": 0}

    def flaky(self, path, value, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("503 backend error")
        return real(self, path, value, **kw)

    monkeypatch.setattr(type(fs), "pipe_file", flaky)
    assert mirror.sync() == 0
    assert "will retry at the next sync" in capsys.readouterr().out
    assert mirror.sync() == 1 and mirror.sync() == 0  # uploaded once, then unchanged
    assert fs.cat("/zr-mirror/run/csv/sub/metrics.csv") == b"epoch\n0\n"
    fs.rm("/zr-mirror", recursive=True)


def test_local_file_loggers_are_not_staged(make_cfg):
    from zeta_rmt.launch.runtime import stage_file_loggers

    overrides, mirror = stage_file_loggers(make_cfg("logger=[csv,tensorboard]").logger)
    assert overrides == {} and not mirror


def test_gs_url_without_gcsfs_is_a_clear_error(monkeypatch):
    from zeta_rmt.launch import storage

    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if the gcp extra were not installed
    with pytest.raises(storage.StorageError, match=r"gs:// outputs need gcsfs.*pip install 'zeta_rmt\[gcp\]'"):
        storage.get_fs("gs://bucket/run")
