"""Progress output: plain per-epoch lines where stdout is not a terminal, and a Rich bar whose rate
column reads right for one-step (full-graph) epochs."""
from __future__ import annotations

import io

import pytest

from tests.conftest import compose_config
from zeta_rmt.callbacks.progress import PlainProgress, format_line, progress_bar, rich_bar, step_rate_text


def test_format_line_has_epoch_rate_eta_and_the_metrics():
    line = format_line(12, 150, 4.1, 34.0, {"train/loss": 152300.0, "extrap/mae_spacings": 0.0523, "other": 1.0})
    assert line == ("[zeta_rmt] epoch 12/150 | 4.1 steps/s | ETA 0:00:34 | train/loss 1.523e+05 | "
                    "extrap/mae_spacings 0.0523")
    assert "s/step" in format_line(1, 2, 0.05, None, {})  # a 20 s step reads as seconds per step


def test_step_rate_text_for_fast_and_slow_steps():
    assert step_rate_text(10, 2.0) == "5 it/s"
    assert step_rate_text(1, 4.2) == "4.2 s/it"  # was "0.00it/s" for a full-graph epoch
    assert step_rate_text(0, None) == "- it/s"


def test_auto_mode_is_plain_off_a_terminal_and_rich_bar_drops_noise(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert isinstance(progress_bar("auto"), PlainProgress)
    bar = rich_bar()
    assert type(bar).__name__ == "RichBar"
    with pytest.raises(ValueError, match="callbacks.progress.mode must be auto, plain or rich"):
        progress_bar("fancy")


def test_plain_progress_prints_one_line_per_epoch_in_a_real_run(tmp_path, capsys):
    from zeta_rmt.train import train

    cfg = compose_config(["debug=fast", "trainer.max_epochs=3", "trainer.check_val_every_n_epoch=3",
                          "print_summary=false"], output_dir=tmp_path / "run")
    train(cfg)  # pytest's captured stdout is not a TTY: the plain lines
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[zeta_rmt] epoch ")]
    assert [ln.split(" | ")[0] for ln in lines] == [f"[zeta_rmt] epoch {k}/3" for k in (1, 2, 3)]
    assert all("train/loss" in ln for ln in lines) and "extrap/mae_spacings" in lines[-1]
