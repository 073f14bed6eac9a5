"""Run the selected cases one after the other; print each JSON line and append it to the results file."""
from __future__ import annotations

import json
import sys
import traceback

from zeta_rmt.bench.cases import Case
from zeta_rmt.bench.kinds import RUNNERS, Context, Outcome
from zeta_rmt.bench.results import ResultsFile, now_iso


def make_line(case: Case, outcome: Outcome, ctx: Context, run_id: str) -> dict:
    child = outcome.child
    line = {
        "case": case.name,
        "kind": case.kind,
        "status": outcome.status,
        "params": case.params,
        "threads": ctx.threads,
        "figures": outcome.figures,
        "units": outcome.units,
        "notes": outcome.notes,
        "error": outcome.error,
        "child_peak_rss_gb": child.peak_rss_gb if child else None,
        "child_wall_s": child.wall_s if child else None,
        "timeout_s": ctx.limit(case) if case.kind != "derived" else None,
        "mem_cap_gb": ctx.mem_cap_gb if case.kind != "derived" else None,
        "finished": now_iso(),
        "run_id": run_id,
    }
    return line


def run_suite(cases: list[Case], ctx: Context, results: ResultsFile, run_id: str, out=sys.stdout,
              log=sys.stderr) -> list[dict]:
    lines = []
    for i, case in enumerate(cases, 1):
        limit = "" if case.kind == "derived" else f", limit {ctx.limit(case):g} s, cap {ctx.mem_cap_gb:g} GB"
        print(f"[bench] {i}/{len(cases)} {case.name} ({ctx.threads} thread(s){limit})", file=log, flush=True)
        try:
            outcome = RUNNERS[case.kind](case, ctx)
        except Exception as exc:  # noqa: BLE001 - a bug in one case must not stop the suite
            traceback.print_exc(file=log)
            outcome = Outcome("failed", error=f"benchmark harness error: {type(exc).__name__}: {exc}")
        line = make_line(case, outcome, ctx, run_id)
        ctx.lines[case.name] = line
        print(json.dumps(line), file=out, flush=True)
        results.append(run_id, line)
        lines.append(line)
    return lines
