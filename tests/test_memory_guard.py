"""The peak-memory estimator against measured peaks, and the refusal before training."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import compose_config
from zeta_rmt.utils import memory
from zeta_rmt.utils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


# One child trains the sizes in ascending order and reads its own VmHWM after each run: peaks grow
# with N, so the high-water mark after run k is run k's peak (VmHWM is reset by exec, unlike the
# ru_maxrss of a child forked from the large pytest process).
CHILD = """
import json, sys
import torch
torch.set_num_threads(1)
from hydra import compose, initialize_config_dir
from zeta_rmt.train import train
conf, out, sizes = sys.argv[1], sys.argv[2], [int(n) for n in sys.argv[3:]]
peaks = {}
for n in sizes:
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"data.num_zeros={n}", "trainer.max_epochs=1",
                                                      "print_summary=false", f"paths.output_dir={out}/{n}"])
    train(cfg)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            peaks[n] = int(line.split()[1]) * 1024
json.dump(peaks, open(f"{out}/peaks.json", "w"))
"""
SIZES = (30_000, 150_000, 400_000)


@pytest.fixture(scope="module")
def measured_peaks(tmp_path_factory):
    out = tmp_path_factory.mktemp("peaks")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "configs"), str(out), *map(str, SIZES)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    return {int(k): float(v) for k, v in json.loads((out / "peaks.json").read_text()).items()}


@pytest.mark.parametrize("n", SIZES)
def test_estimate_within_25_percent_of_the_measured_peak(tmp_path, measured_peaks, n):
    measured = measured_peaks[n]
    est = memory.estimate_from_config(compose_config([f"data.num_zeros={n}"], output_dir=tmp_path))
    assert abs(est.total - measured) <= 0.25 * measured, (est.total / 1e9, measured / 1e9)


def test_measured_peaks_grow_with_n_as_the_activations_do(measured_peaks):
    """The sequential measurement sees each run's own peak: the growth from 3·10⁴ to 4·10⁵ is the
    per-node cost (≈ 3 kB/node for the groups' model), not the first run's high-water mark."""
    grow = measured_peaks[SIZES[-1]] - measured_peaks[SIZES[0]]
    per_node = grow / (SIZES[-1] - SIZES[0])
    assert 1500 < per_node < 6000, per_node


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


def test_streaming_estimate_reads_the_halo_as_the_data_module_does(tmp_path):
    base = ["data=cluster", "data.backend=stream", "data.num_zeros=1000000", "data.num_parts=1000"]
    plain = memory.estimate_from_config(compose_config(base, output_dir=tmp_path))
    exact = memory.estimate_from_config(compose_config([*base, "data.halo=exact"], output_dir=tmp_path))
    assert plain.nodes == 1000 and exact.nodes == 1000 + 2 * 2 * 11  # layers * max(prime) each side
