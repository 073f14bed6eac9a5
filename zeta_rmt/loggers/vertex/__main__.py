"""Command line: upload journaled runs to Vertex AI, or show what is pending.

    python -m zeta_rmt.loggers.vertex sync PATH [--api-endpoint URL] [--project P] ...
    python -m zeta_rmt.loggers.vertex status PATH

PATH: a run's journal directory (``<save_dir>/vertex/<run>``), a Hydra output directory,
or a multirun sweep directory (every journal under it). Exit status: 0 when everything is
on Vertex AI, 1 when something is left (see the messages), 2 on usage errors.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zeta_rmt.loggers.vertex", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sync", help="upload what the journal(s) hold and Vertex AI does not (idempotent)")
    s.add_argument("path")
    s.add_argument("--api-endpoint", help="override the endpoint recorded in the journal")
    s.add_argument("--project")
    s.add_argument("--location")
    s.add_argument("--experiment")
    s.add_argument("--run-name")
    s.add_argument("--tensorboard", help="TensorBoard ID or resource name for time series")
    s.add_argument("--anonymous", action="store_true", help="no credentials (local emulators/fakes only)")
    s.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    s.add_argument("--attempts", type=int, default=4, help="passes per run on transient errors (default 4)")
    s.add_argument("--retry-initial", type=float, default=2.0, help="first backoff in seconds (default 2)")
    st = sub.add_parser("status", help="show what is not uploaded yet (no network)")
    st.add_argument("path")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from .sdk import VertexUnavailable
    from .sync import find_journals, run_status, sync_run

    try:
        dirs = find_journals(args.path)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not dirs:
        print(f"error: no Vertex AI journal (journal.jsonl) under {args.path}", file=sys.stderr)
        return 2
    if args.command == "status":
        left = 0
        for d in dirs:
            st = run_status(d)
            left += st["unsent"]
            print(json.dumps(st))
        return 1 if left else 0

    overrides = dict(api_endpoint=args.api_endpoint, project=args.project, location=args.location,
                     experiment=args.experiment, run_name=args.run_name, tensorboard=args.tensorboard)
    if args.anonymous:
        overrides["credentials_mode"] = "anonymous"
    failed = 0
    for d in dirs:
        try:
            report = sync_run(d, request_timeout=args.timeout, attempts=args.attempts,
                              retry_initial=args.retry_initial, **overrides)
        except (ValueError, FileNotFoundError, ImportError, VertexUnavailable) as exc:
            print(f"{d}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
        failed += not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
