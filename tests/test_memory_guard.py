"""The peak-memory estimator against measured peaks, and the refusal before training."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import compose_config
from zeta_rmt.utils import memory
from zeta_rmt.utils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


# The child reports its own VmHWM at exit: ru_maxrss of a forked child keeps the (large) pytest
# parent's high-water mark across exec, VmHWM is reset by exec.
CHILD = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(report)
sys.argv[0] = "zeta_rmt.train"
runpy.run_module("zeta_rmt.train", run_name="__main__")
"""


def peak_rss_of_train(tmp_path, *overrides) -> float:
    """Peak RSS (bytes) of one `python -m zeta_rmt.train` run in a fresh child."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    report = tmp_path / "vmhwm_kb"
    cmd = [sys.executable, "-c", CHILD, str(report), "trainer.max_epochs=1", "print_summary=false",
           f"paths.output_dir={tmp_path}", *overrides]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    return float(report.read_text()) * 1024.0


@pytest.mark.parametrize("n", [30_000, 150_000, 400_000])
def test_estimate_within_25_percent_of_the_measured_peak(tmp_path, n):
    measured = peak_rss_of_train(tmp_path, f"data.num_zeros={n}")
    est = memory.estimate_from_config(compose_config([f"data.num_zeros={n}"], output_dir=tmp_path))
    assert abs(est.total - measured) <= 0.25 * measured, (est.total / 1e9, measured / 1e9)


def test_estimate_grows_with_the_model_and_knows_the_paths():
    small = memory.estimate_peak(10**6)
    assert memory.estimate_peak(10**6, hidden=256).total > small.total
    assert memory.estimate_peak(10**6, conv="pyg").total > memory.estimate_peak(10**6, fused=False).total > small.total
    assert memory.estimate_peak(2 * 10**6).activations == pytest.approx(2 * small.activations)
    # streaming clusters: one batch of blocks, independent of N; PyG ClusterData grows with N
    a = memory.estimate_peak(10**7, regime="cluster", backend="stream", batch_nodes=5000)
    b = memory.estimate_peak(10**8, regime="cluster", backend="stream", batch_nodes=5000)
    assert a.total == b.total
    assert memory.estimate_peak(10**8, regime="cluster", backend="pyg", batch_nodes=5000).total > 10 * a.total
    # the groups' aim on one 80 GB GPU: 10^7 zeros fit
    assert memory.estimate_peak(10**7, device="gpu").total < 80e9


def test_refusal_names_the_estimate_what_is_available_and_the_ways_out(tmp_path):
    cfg = compose_config(["data.num_zeros=2000000"], output_dir=tmp_path)
    with pytest.raises(ConfigError) as err:
        memory.check_fits(cfg, available=2e9)
    msg = str(err.value)
    assert "needs about 6." in msg and "2.0 GB is available" in msg
    assert "data=cluster data.backend=stream" in msg and "hardware=a100" in msg and "\n" not in msg
    assert memory.check_fits(cfg, available=64e9).total < 8e9


def test_cli_refuses_before_building_anything(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)  # the user's view: one line, exit 2
    r = subprocess.run([sys.executable, "-m", "zeta_rmt.train", "data.num_zeros=2000000",
                        "model.net.hidden_channels=8192", f"paths.output_dir={tmp_path}"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("zeta_rmt.train: error: this run needs about") and "GB of RAM" in line
    assert "Epoch" not in r.stdout  # nothing was trained
