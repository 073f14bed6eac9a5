#!/usr/bin/env python
"""Print SPEC 4b's baseline table (mean |gamma_hat - gamma| in local mean spacings) with timings.

    python scripts/bench_baselines.py                      # windows 10^4 and 10^6, 10^4 zeros each
    python scripts/bench_baselines.py --starts 10000 --count 2000 --stride 5

For each window n = start .. start + count - 1 (true zeros from Odlyzko's table):

* one-step predictors see the true zeros up to n - 1;
* free-running predictors see only the zeros before the window (the "training end");
* AR(k) is fitted on the ``--train`` zeros just before the window (all of them if fewer);
* the explicit formula uses no zeros, only the primes up to ``--prime-cutoff``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from zeta_rmt.baselines import ZeroHistory, make_baseline, mean_abs_error_in_spacings

ROWS = [
    ("smooth: N0^-1(n - 1/2)", "smooth", {}, None),
    ("previous zero + mean spacing (one-step)", "previous_spacing", {"mode": "one_step"}, "all"),
    ("previous zero + mean spacing (free-running)", "previous_spacing", {"mode": "free_running"}, "train"),
    ("AR({k}) on x_n - (n - 1/2) (one-step)", "ar", {"mode": "one_step"}, "all"),
    ("AR({k}) on x_n - (n - 1/2) (free-running)", "ar", {"mode": "free_running"}, "train"),
    ("explicit formula, primes <= {X:g}", "explicit_formula", {}, None),
]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--starts", type=int, nargs="+", default=[10_000, 1_000_000], help="first index of each window")
    ap.add_argument("--count", type=int, default=10_000, help="zeros per window")
    ap.add_argument("--stride", type=int, default=1, help="score every stride-th zero of the window")
    ap.add_argument("--train", type=int, default=100_000, help="AR training zeros before the window")
    ap.add_argument("--ar-order", type=int, default=16)
    ap.add_argument("--prime-cutoff", type=float, default=1e5)
    args = ap.parse_args(argv)

    results: dict[tuple[int, int], tuple[float, float, float]] = {}
    for start in args.starts:
        first = max(1, start - args.train)
        history = ZeroHistory.load("odlyzko", first, start + args.count - first)
        train = ZeroHistory(history.take(np.arange(first, start)), first)
        window = np.arange(start, start + args.count)[:: args.stride]
        true = history.take(window)
        for r, (_, name, kw, hist) in enumerate(ROWS):
            kwargs = dict(kw)
            if name == "ar":
                kwargs["order"] = args.ar_order
            if name == "explicit_formula":
                kwargs["prime_cutoff"] = args.prime_cutoff
            t, c = time.perf_counter(), time.process_time()
            b = make_baseline(name, **kwargs).fit(train)
            pred = b.predict(window, history={"all": history, "train": train, None: None}[hist])
            results[(r, start)] = (
                mean_abs_error_in_spacings(pred, true),
                time.perf_counter() - t,
                time.process_time() - c,
            )

    heads = [f"zeros {s}..{s + args.count - 1}" + (f" (every {args.stride})" if args.stride > 1 else "") for s in args.starts]
    print("| predictor | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for r, (label, *_rest) in enumerate(ROWS):
        cells = [f"{results[(r, s)][0]:.3f} ({results[(r, s)][1]:.2f} s / {results[(r, s)][2]:.2f} s)" for s in args.starts]
        print(f"| {label.format(k=args.ar_order, X=args.prime_cutoff)} | " + " | ".join(cells) + " |")
    print("\nmean absolute error in local mean spacings 2 pi / log(gamma/2pi); (wall / CPU time of fit + predict)")


if __name__ == "__main__":
    main()
