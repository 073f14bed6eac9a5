"""``python -m zeta_rmt.report PATH... [--out DIR]``: report.md + report.html (+ PNG plots and
report.json) from multirun/sweep/run folders, an Optuna study or a Vertex AI experiment."""
from __future__ import annotations

import argparse
import os
import sys

from zeta_rmt.report.collect import ReportInputError

EPILOG = """sources:
  multirun/ab_rg/2026-01-01_12-00-00    a multirun or sweep folder (every run below it)
  outputs/train/runs/<time>             one run folder, or its metrics.json
  sqlite:///multirun/optuna/train.db    an Optuna study (also: a .db file path; --study NAME)
  vertex://PROJECT/LOCATION/EXPERIMENT  a Vertex AI experiment (google-cloud-aiplatform and pandas)

The verdict compares the full-graph arm (full+rg) with the cluster arm on the final extrapolation
error with Welch's t-test; see docs/sweeps_and_report.md."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zeta_rmt.report", description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", metavar="PATH", help="run sources (see below)")
    ap.add_argument("--out", help="output folder (default: <PATH>/report for one folder)")
    ap.add_argument("--metric", help="the extrapolation error to rank and test (default: the runs' "
                                     "optimized_metric, extrap/mse)")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    ap.add_argument("--min-effect", type=float, default=0.1,
                    help="relative difference that matters, for Scenario A and the sample size (default 0.1)")
    ap.add_argument("--compare", nargs=2, metavar=("ARM_A", "ARM_B"),
                    help="the two arms of the verdict (default: full+rg vs cluster)")
    ap.add_argument("--study", help="Optuna study name (default: every study in the storage)")
    ap.add_argument("--vertex-endpoint", default=os.environ.get("ZETA_RMT_VERTEX_ENDPOINT"),
                    help="Vertex AI API endpoint (e.g. a local fake: http://127.0.0.1:PORT)")
    ap.add_argument("--vertex-credentials", choices=("adc", "anonymous"), default=None,
                    help="credentials for vertex:// (default: ADC; anonymous for a local endpoint)")
    ap.add_argument("--title", help="report title")
    args = ap.parse_args(argv)

    from zeta_rmt.report.build import build_report

    vertex = {"api_endpoint": args.vertex_endpoint, "credentials": args.vertex_credentials}
    try:
        rep = build_report(args.paths, args.out, metric=args.metric, alpha=args.alpha, min_effect=args.min_effect,
                           compare=tuple(args.compare) if args.compare else None, study=args.study,
                           vertex_options=vertex, title=args.title)
    except ReportInputError as exc:
        print(f"zeta_rmt.report: error: {exc}", file=sys.stderr)
        return 2
    n_ok = sum(r.ok for r in rep.runs)
    skipped = sum(r.skipped for r in rep.runs)
    print(f"{len(rep.runs)} runs ({n_ok} completed, {sum(r.failed for r in rep.runs)} failed or missing"
          + (f", {skipped} skipped" if skipped else "") + ")")
    if rep.scaling_verdict:  # a sweep over N: the two-part answer first
        print("As N grows, part 1: " + rep.scaling_verdict[0])
        print("As N grows, part 2: " + rep.scaling_verdict[1])
    print(rep.verdict or "No verdict: both regimes need completed runs.")
    print(f"report: {rep.markdown}\n        {rep.html}\n        {rep.json}")
    for name, p in rep.plots.items():
        print(f"plot {name}: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
