"""``python -m zeta_rmt.bench`` — the benchmark suite.

    python -m zeta_rmt.bench [--quick] [--case NAME ...] [--threads N] [--timeout S] [--mem-cap-gb G] [--out DIR]
    python -m zeta_rmt.bench --list [--quick]
    python -m zeta_rmt.bench table [FILE] [--out DIR]

Each case runs in a fresh child process with N threads (default 1), a time limit and a memory
cap (default 8 GB), prints one JSON line and appends it to DIR/results-<host>-<date>.json (DIR:
--out, else $ZETA_RMT_BENCH_OUT, else docs/benchmarks of this checkout) together with the
machine's description.  ``table`` renders the newest result of every case in FILE (default: the
newest results file in DIR) as Markdown.  Exit status: 0 when every case ran (or its feature is
not in this checkout yet), 1 when a case failed (its JSON line says why), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zeta_rmt.bench import cases as case_registry
from zeta_rmt.bench.results import ResultsFile, ResultsFileError, default_dir, load, newest_file


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value
    return parse


def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zeta_rmt.bench", description=__doc__.split("\n\n")[0],
                                epilog="`python -m zeta_rmt.bench table [FILE]` renders results as Markdown.")
    p.add_argument("--quick", action="store_true", help="a subset at small sizes (under 2 minutes on 2 cores)")
    p.add_argument("--case", action="extend", nargs="+", default=[], metavar="NAME",
                   help="case names, prefixes at '/' (e.g. loss/gue_mmd) or shell patterns; default: all")
    p.add_argument("--threads", type=_positive(int), default=1, help="torch/OpenMP threads per case (default 1)")
    p.add_argument("--timeout", type=_positive(float), default=None,
                   help="seconds allowed per case (default: each case's own limit)")
    p.add_argument("--mem-cap-gb", type=_positive(float), default=8.0,
                   help="kill a case whose resident set passes this (default 8 GB)")
    p.add_argument("--out", type=Path, default=None, help="results folder (default: $ZETA_RMT_BENCH_OUT or "
                                                          "docs/benchmarks)")
    p.add_argument("--list", action="store_true", help="list the cases (with --quick: the quick set) and exit")
    return p


def table_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zeta_rmt.bench table",
                                description="Render the newest result of every case as Markdown tables.")
    p.add_argument("file", nargs="?", type=Path, help="a results file (default: the newest in --out)")
    p.add_argument("--out", type=Path, default=None, help="results folder to look in")
    return p


def cmd_table(argv: list[str]) -> int:
    from zeta_rmt.bench.table import render

    a = table_parser().parse_args(argv)
    path = a.file
    if path is None:
        folder = a.out or default_dir()
        path = newest_file(folder)
        if path is None:
            print(f"zeta_rmt.bench table: error: no results-*.json in {folder}; run `python -m zeta_rmt.bench` "
                  f"first or pass a FILE", file=sys.stderr)
            return 2
    try:
        doc = load(path)
    except ResultsFileError as exc:
        print(f"zeta_rmt.bench table: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(doc, str(path)))
    return 0


def cmd_run(argv: list[str]) -> int:
    from zeta_rmt.bench.kinds import Context
    from zeta_rmt.bench.machine import machine_info
    from zeta_rmt.bench.suite import run_suite

    parser = run_parser()
    a = parser.parse_args(argv)
    available = case_registry.all_cases(a.quick)
    try:
        chosen = case_registry.select(available, a.case)
    except case_registry.CaseSelectionError as exc:
        parser.error(str(exc))
    if a.list:
        for c in chosen:
            limit = "" if c.kind == "derived" else f"  (limit {c.timeout_s:g} s)"
            print(f"{c.name}{limit}")
        return 0
    results = ResultsFile(a.out or default_dir())
    try:
        run_id = results.start_run(machine_info(), argv=["python", "-m", "zeta_rmt.bench", *argv], threads=a.threads,
                                   quick=a.quick, mem_cap_gb=a.mem_cap_gb, timeout_s=a.timeout)
    except (ResultsFileError, OSError) as exc:
        print(f"zeta_rmt.bench: error: {exc}", file=sys.stderr)
        return 2
    print(f"[bench] {len(chosen)} case(s); results -> {results.path}", file=sys.stderr, flush=True)
    ctx = Context(threads=a.threads, mem_cap_gb=a.mem_cap_gb, timeout_s=a.timeout)
    lines = run_suite(chosen, ctx, results, run_id)
    failed = [line["case"] for line in lines if line["status"] == "failed"]
    print(f"[bench] done: {len(lines) - len(failed)} ok or not available, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else "") + f"; {results.path}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "table":
        return cmd_table(argv[1:])
    return cmd_run(argv)
