"""Benchmarks of the training spine; prints figures (no assertions).

    python scripts/bench_training.py [--quick]

* adelic graph build time at N = 10^4, 10^5, 2,001,052;
* GUE-MMD: peak memory and time of forward+backward for the groups' dense n×n form vs the
  chunked form at n = 10^4 and 3·10^4 (each in a fresh subprocess, peak RSS from getrusage);
* seconds per epoch at N = 10^4 (full graph) for the default loss (chunked MMD) and the
  groups' form (dense MMD), through the real train() entry.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MMD_CHILD = r"""
import sys, time, torch
torch.set_num_threads(1)
from zeta_rmt.losses.kernels import gaussian_kernel_sum, gaussian_kernel_sum_dense
n, mode = int(sys.argv[1]), sys.argv[2]
x = (torch.rand(n) * 3).requires_grad_()
def hwm():  # peak RSS of this process in KiB (VmHWM resets on exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
base = hwm()
t = time.perf_counter()
s = gaussian_kernel_sum_dense(x) if mode == "dense" else gaussian_kernel_sum(x)
s.backward()
dt = time.perf_counter() - t
peak = hwm()
print(dt, (peak - base) / 1024, peak / 1024)
"""


def bench_graph(sizes):
    from zeta_rmt.graph import adelic_graph

    for n in sizes:
        t = time.perf_counter()
        g = adelic_graph(n, [2, 3, 5, 7, 11, 13])
        dt = time.perf_counter() - t
        print(f"graph  N={n:>9,}  edges={g.edge_index.shape[1]:>11,}  build {dt:6.2f} s")


def bench_mmd(sizes):
    for n in sizes:
        row = {}
        for mode in ("dense", "chunked"):
            out = subprocess.run([sys.executable, "-c", MMD_CHILD, str(n), mode], capture_output=True, text=True)
            if out.returncode != 0:
                row[mode] = f"failed ({out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode})"
                continue
            dt, extra, peak = map(float, out.stdout.split())
            row[mode] = f"{dt:6.2f} s, +{extra:8.0f} MiB (peak RSS {peak:6.0f} MiB)"
        print(f"mmd self-sum f+b  n={n:>6,}  dense: {row['dense']}   chunked: {row['chunked']}")


def bench_epochs(epochs):
    import torch
    from hydra import compose, initialize_config_dir
    from zeta_rmt.train import train

    torch.set_num_threads(1)
    for label, extra in (("default (chunked MMD)", []), ("groups' form (dense MMD)", ["loss.components.gue_mmd.mode=dense"])):
        overrides = ["~logger", "callbacks=none", f"trainer.max_epochs={epochs}", "trainer.check_val_every_n_epoch=1000",
                     "print_summary=false", "paths.output_dir=/tmp/zeta_rmt_bench", *extra]
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=overrides)
        t = time.perf_counter()
        r = train(cfg)
        dt = time.perf_counter() - t
        print(f"train N=10^4 full graph, {label}: {dt / epochs:.3f} s/epoch over {epochs} epochs "
              f"(train/loss {r['final'].get('train/loss'):.4g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    a = ap.parse_args()
    bench_graph([10_000, 100_000] if a.quick else [10_000, 100_000, 2_001_052])
    bench_mmd([10_000] if a.quick else [10_000, 30_000])
    bench_epochs(5 if a.quick else 20)


if __name__ == "__main__":
    main()
