#!/usr/bin/env python
"""Benchmark the zero generator against mpmath.zetazero, and the loaders.

    python scripts/bench_zeros.py                 # full: 1e4, 1e5, 1e6 zeros and 1e5 at n = 1e7
    python scripts/bench_zeros.py --quick         # smaller, for a smoke run
    python scripts/bench_zeros.py --json out.json # also write the numbers

Generator: wall time of ``generate_zeros`` (numba kernels compiled and loaded by a warm-up
call first; the mpmath-polished zeros below t = 600 come from their on-disk cache, as in
normal use). mpmath: ``mpmath.zetazero(n)`` at 15 digits on a few random indices n in the
same range, seconds per zero. The ratio is mpmath s/zero ÷ generator s/zero.
Loaders: ``load_zeros("odlyzko", 1, 2001052)`` and the same zeros from a sharded dataset
(written to a temporary directory first, or ``--dataset DIR`` if given).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import mpmath
import numba
import numpy as np


def _time(fn, repeat=1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1e3/1e4/1e5 and 1e4 at n = 1e7; 2 mpmath samples")
    ap.add_argument("--mpmath-samples", type=int, default=None, help="zetazero calls per range (default 4)")
    ap.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    ap.add_argument("--dataset", help="existing sharded dataset of zeros 1..2001052 to time loading")
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    from zeta_rmt.zeros import load_zeros
    from zeta_rmt.zeros.generator import generate_zeros
    from zeta_rmt.zeros.odlyzko import ODLYZKO_COUNT
    from zeta_rmt.zeros.sharded import generate_dataset

    if a.threads:
        numba.set_num_threads(a.threads)
    samples = a.mpmath_samples or (2 if a.quick else 4)
    cases = (
        [("first 1e3", 1, 1_000), ("first 1e4", 1, 10_000), ("first 1e5", 1, 100_000), ("1e4 at n=1e7", 10**7, 10_000)]
        if a.quick
        else [("first 1e4", 1, 10_000), ("first 1e5", 1, 100_000), ("first 1e6", 1, 1_000_000),
              ("1e5 at n=1e7", 10**7, 100_000)]
    )
    rng = np.random.default_rng(a.seed)
    print(f"numba threads: {numba.get_num_threads()}, cpu count: {os.cpu_count()}")
    t_warm, _ = _time(lambda: generate_zeros(1, 1000))  # compile / load kernels, polished-zero cache
    print(f"warm-up (kernels + polished low zeros): {t_warm:.2f} s")
    results = {"threads": numba.get_num_threads(), "cases": [], "loads": {}}
    header = f"{'range':>14} {'zeros':>9} {'gen s':>8} {'gen zeros/s':>12} {'mpmath s/zero':>14} {'ratio':>10}"
    print(header)
    print("-" * len(header))
    for name, start, count in cases:
        t_gen, _ = _time(lambda: generate_zeros(start, count), repeat=2 if count <= 100_000 else 1)
        lo = max(2, start)
        idx = rng.integers(lo, start + count, size=samples)
        t_mp = 0.0
        with mpmath.workdps(15):
            for n in idx:
                t_mp += _time(lambda n=n: mpmath.zetazero(int(n)))[0]
        per_mp = t_mp / samples
        per_gen = t_gen / count
        ratio = per_mp / per_gen
        print(f"{name:>14} {count:>9,} {t_gen:>8.3f} {count / t_gen:>12,.0f} {per_mp:>14.4f} {ratio:>10.3g}")
        results["cases"].append(
            {"range": name, "start": start, "count": count, "generator_s": t_gen, "generator_zeros_per_s": count / t_gen,
             "mpmath_s_per_zero": per_mp, "mpmath_indices": [int(i) for i in idx], "ratio": ratio}
        )
    t_tab, vals = _time(lambda: load_zeros("odlyzko", 1, ODLYZKO_COUNT), repeat=3)
    results["loads"]["odlyzko_table_s"] = t_tab
    with tempfile.TemporaryDirectory() as tmp:
        ds = a.dataset
        if ds is None:
            ds = os.path.join(tmp, "ds")
            t_write = time.perf_counter()
            generate_dataset(ds, 1, ODLYZKO_COUNT, 1_000_000, progress=False)
            results["loads"]["sharded_generate_s"] = time.perf_counter() - t_write
        t_sh, vals_sh = _time(lambda: load_zeros(ds, 1, ODLYZKO_COUNT), repeat=3)
        results["loads"]["sharded_s"] = t_sh
        results["loads"]["sharded_vs_table_max_abs_error"] = float(np.max(np.abs(vals_sh - vals)))
    print(f"load {ODLYZKO_COUNT:,} zeros: table {t_tab:.3f} s, sharded dataset (sha256-verified) {t_sh:.3f} s; "
          f"max |sharded - table| = {results['loads']['sharded_vs_table_max_abs_error']:.2e}")
    if "sharded_generate_s" in results["loads"]:
        print(f"(generating that dataset took {results['loads']['sharded_generate_s']:.1f} s)")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
