"""One short check of both regimes on a CUDA GPU (driven by scripts/gpu_check.sh).

Prints one JSON line per run: regime, N, epochs, seconds per epoch (after the first, which
compiles/warms up), peak VRAM (torch.cuda.max_memory_allocated) and the estimator's prediction.
Runs: the full graph at N = 2·10⁶ (all four losses), the cluster regime at N = 2·10⁶ (streaming
blocks), then the largest full-graph N the estimator says fits in the free VRAM (capped by --max-n),
on zeros made by the project's generator.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(label: str, overrides: list[str], out_dir: Path) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from zeta_rmt.train import train
    from zeta_rmt.utils import memory

    timer = out_dir / label / "timer.json"
    timer.parent.mkdir(parents=True, exist_ok=True)
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            *overrides, f"paths.output_dir={out_dir / label}", "~logger", "callbacks=none", "print_summary=false",
            "trainer.check_val_every_n_epoch=1000", "+callbacks.bench_timer._target_=zeta_rmt.bench.timer.EpochTimer",
            f"+callbacks.bench_timer.path={timer}"])
    est = memory.estimate_from_config(OmegaConf.to_container(cfg, resolve=True))
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    row = {"run": label, "overrides": overrides, "estimate_gb": round(est.total / 1e9, 2)}
    try:
        result = train(cfg)
        row.update(status="ok", train_loss=result["final"].get("train/loss"),
                   extrap_mae_spacings=result["final"].get("extrap/mae_spacings"))
    except Exception as exc:  # noqa: BLE001 - report and go on to the next run
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
    times = [e["end"] - e["start"] for e in json.loads(timer.read_text())["epochs"]] if timer.exists() else []
    steady = times[1:] or times
    row.update(epochs=len(times), first_epoch_s=round(times[0], 3) if times else None,
               epoch_s=round(sum(steady) / len(steady), 3) if steady else None,
               peak_vram_gb=round(torch.cuda.max_memory_allocated() / 1e9, 2),
               wall_s=round(time.perf_counter() - t0, 1), gpu=torch.cuda.get_device_name(0))
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("/tmp/zeta_gpu_check"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-n", type=int, default=20_000_000)
    ap.add_argument("--workers", type=int, default=16)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"status": "no CUDA device", "torch": torch.__version__}))
        return 2
    from zeta_rmt.utils import memory

    ep = f"trainer.max_epochs={a.epochs}"
    run("full_2e6", ["hardware=a100", "data.num_zeros=2000000", "data.far_window_start=null", ep], a.out)
    run("cluster_stream_2e6", ["hardware=l4", "data=cluster", "loss=rmt_only", "data.backend=stream",
                               "data.num_parts=2000", "data.batch_size=4", "data.num_zeros=2000000",
                               "data.far_window_start=null", ep], a.out)
    free = memory.available_bytes("gpu")
    n = 2_000_000
    while n < a.max_n and memory.estimate_peak(n + 1_000_000, device="gpu").total < 0.9 * free:
        n += 1_000_000
    print(json.dumps({"largest_fitting_n": n, "free_vram_gb": round(free / 1e9, 1)}), flush=True)
    data = a.out / f"zeros_{n}"
    if not (data / "manifest.json").exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "zeta_rmt.zeros", "generate", "--start", "1", "--count", str(n + 200),
                        "--out", str(data), "--shard-size", "1000000", "--workers", str(a.workers)], check=True)
        print(json.dumps({"generated": n + 200, "seconds": round(time.perf_counter() - t, 1)}), flush=True)
    run(f"full_{n}", ["hardware=a100", f"data.num_zeros={n}", f"data.source={data}", "data.far_window_start=null",
                      "trainer.max_epochs=2"], a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
