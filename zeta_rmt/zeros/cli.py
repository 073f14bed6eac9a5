"""``python -m zeta_rmt.zeros`` — generate, verify, inspect and export zero datasets.

    generate --start 1 --count 10000000 --out DIR_OR_URL --shard-size 1000000 --workers 2
    task     --start 1 --count 10000000 --out gs://b/z --shard-size 1000000   (BATCH_TASK_INDEX)
    batch    --start 1 --count 100000000 --out gs://b/z --image IMAGE --project P --region R [--dry-run]
    verify   SOURCE [--against odlyzko] [--spot-checks 20] [--no-count-check]
    info     SOURCE
    export   SOURCE --format txt --out FILE_OR_URL [--start 1 --count N] [--no-header]
    finalize DIR_OR_URL

SOURCE is anything ``load_zeros`` accepts: odlyzko, a dataset directory/URL, a .npy, a text file.
Exit status: 0 success, 1 verification found problems, 2 bad input or data, or an output/input
location that cannot be used (a one-line message on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from zeta_rmt.zeros.errors import ZeroDataError


def _int(text: str) -> int:
    """Integers written as 10000000, 10_000_000 or 1e7."""
    try:
        if any(c in text for c in "eE."):
            v = float(text)
            if v != int(v):
                raise ValueError
            return int(v)
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _console():
    from rich.console import Console

    import sys as _sys

    return Console(highlight=False, width=None if _sys.stdout.isatty() else 140)


@contextlib.contextmanager
def _export_target(fs, path: str):
    from zeta_rmt.zeros import storage

    if storage.is_local(fs):
        from zeta_rmt.utils.fsio import atomic_local_path

        with atomic_local_path(path) as tmp:
            with open(tmp, "wb") as fh:
                yield fh
    else:
        with fs.open(path, "wb") as fh:
            yield fh


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zeta_rmt.zeros", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def plan_args(sp, out_help):
        sp.add_argument("--start", type=_int, default=1, help="first zero index (1-based; default 1)")
        sp.add_argument("--count", type=_int, required=True, help="number of zeros")
        sp.add_argument("--out", required=True, help=out_help)
        sp.add_argument("--shard-size", type=_int, default=1_000_000, help="zeros per shard (default 1e6)")

    g = sub.add_parser("generate", help="generate a sharded dataset (resumable)")
    plan_args(g, "dataset directory or URL (file://, gs://, memory://)")
    g.add_argument("--workers", type=_int, default=1, help="parallel processes (default 1: all threads in one)")
    g.add_argument("--chunk", type=_int, default=100_000, help="zeros per independent proof/progress step")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    t = sub.add_parser("task", help="one GCP Batch task: shard $BATCH_TASK_INDEX of the plan")
    plan_args(t, "dataset URL (gs://...)")
    t.add_argument("--index", type=_int, default=None, help="shard index (default: $BATCH_TASK_INDEX)")

    b = sub.add_parser("batch", help="submit the shard tasks as one GCP Batch job (task array)")
    plan_args(b, "dataset URL, gs://...")
    b.add_argument("--config", help="YAML/JSON with image, project, region, machine_type, ... (flags override)")
    b.add_argument("--image", help="container image (the project's docker/ image); or ZETA_RMT_BATCH_IMAGE")
    b.add_argument("--project")
    b.add_argument("--region")
    b.add_argument("--machine-type")
    b.add_argument("--parallelism", type=_int)
    b.add_argument("--max-retries", type=_int)
    b.add_argument("--spot", action="store_true", default=None, help="use Spot VMs")
    b.add_argument("--job-id", help="job name (default zeta-zeros-START-COUNT-TIMESTAMP)")
    b.add_argument("--dry-run", action="store_true", help="print the job JSON; contact nothing")

    v = sub.add_parser("verify", help="re-check a dataset: checksums, order, Turing count, accuracy")
    v.add_argument("source")
    v.add_argument("--against", help="compare with another source, e.g. odlyzko")
    v.add_argument("--spot-checks", type=_int, default=0, help="random zeros to compare with mpmath.zetazero")
    v.add_argument("--no-count-check", action="store_true", help="skip the Turing count / sign-change check")
    v.add_argument("--seed", type=_int, default=0)

    i = sub.add_parser("info", help="index ranges, heights, shards")
    i.add_argument("source")

    e = sub.add_parser("export", help="write zeros in the groups' text format")
    e.add_argument("source")
    e.add_argument("--format", choices=["txt"], default="txt")
    e.add_argument("--out", required=True, help="file path or URL")
    e.add_argument("--start", type=_int, default=None)
    e.add_argument("--count", type=_int, default=None)
    e.add_argument("--no-header", action="store_true",
                   help="no leading '# zeta_rmt zeros start=N count=M' line (only for exports starting at zero 1)")

    f = sub.add_parser("finalize", help="write the complete manifest once every shard is done")
    f.add_argument("dataset")
    return p


def _cmd_generate(a, con) -> int:
    from zeta_rmt.zeros.sharded import generate_dataset

    summary = generate_dataset(
        a.out, a.start, a.count, a.shard_size, workers=a.workers, chunk=a.chunk,
        progress=not a.no_progress, console=con,
    )
    rate = summary["zeros_generated"] / summary["seconds"] if summary["seconds"] > 0 else 0.0
    con.print(
        f"{a.out}: {summary['shards']} shard(s), {summary['generated']} generated, {summary['skipped']} already "
        f"complete and verified; {summary['zeros_generated']:,} zeros in {summary['seconds']:.1f} s "
        f"({rate:,.0f} zeros/s); manifest {'complete' if summary['complete'] else 'INCOMPLETE'}"
    )
    con.print(f"check it with: python -m zeta_rmt.zeros verify {a.out} --against odlyzko")
    return 0 if summary["complete"] else 1


def _cmd_task(a, con) -> int:
    from zeta_rmt.zeros.batch import run_task

    r = run_task(a.out, a.start, a.count, a.shard_size, index=a.index)
    print(json.dumps(r), flush=True)  # one machine-readable line for the Batch log
    return 0


def _cmd_batch(a, con) -> int:
    from zeta_rmt.zeros import batch

    cfg = batch.BatchConfig.load(
        a.config, image=a.image, project=a.project, region=a.region, machine_type=a.machine_type,
        parallelism=a.parallelism, max_retry_count=a.max_retries, spot=a.spot,
    )
    job = batch.build_job(cfg, out=a.out, start=a.start, count=a.count, shard_size=a.shard_size)
    if a.dry_run:
        print(batch.job_to_json(job))
        return 0
    from zeta_rmt.zeros.generator import GENERATOR_VERSION
    from zeta_rmt.zeros.sharded import Dataset

    Dataset(a.out).write_plan(a.start, a.count, a.shard_size, GENERATOR_VERSION)
    job_id = a.job_id or batch.default_job_id(a.start, a.count)
    created = batch.submit_job(job, cfg, job_id)
    con.print(f"submitted {getattr(created, 'name', job_id)}: {job.task_groups[0].task_count} task(s) writing to {a.out}")
    con.print(f"when it has finished: python -m zeta_rmt.zeros finalize {a.out} && python -m zeta_rmt.zeros verify {a.out}")
    return 0


def _cmd_verify(a, con) -> int:
    from zeta_rmt.zeros.verify import verify_source

    res = verify_source(
        a.source, count_check=not a.no_count_check, spot_checks=a.spot_checks, against=a.against,
        seed=a.seed, log=lambda m: con.print(f"  ok  {m}"),
    )
    for p in res.problems:
        con.print(f"  [bold red]FAIL[/] {p}")
    if res.max_error_against is not None:
        print(f"max abs error vs {a.against}: {res.max_error_against:.3e} (n = {res.max_error_index})")
    con.print(f"{a.source}: {'verified' if res.ok else 'PROBLEMS FOUND'} (zeros {res.first}..{res.last})")
    return 0 if res.ok else 1


def _cmd_info(a, con) -> int:
    from rich.table import Table

    from zeta_rmt.zeros.sources import ShardedSource, open_source

    src = open_source(a.source)
    if isinstance(src, ShardedSource):
        ds = src.ds
        m = ds.manifest
        con.print(
            f"{a.source}: sharded dataset, zeros {ds.start}..{ds.end} ({ds.count:,}), shard size {m['shard_size']:,}, "
            f"generator {m.get('generator', {}).get('version')}, manifest {'complete' if m.get('complete') else 'incomplete'}"
        )
        table = Table("shard", "indices", "count", "first γ", "last γ", "sha256", "status")
        for spec in ds.specs():
            side = ds.read_sidecar(spec)
            if side is None:
                table.add_row(str(spec.index), f"{spec.start}..{spec.end}", f"{spec.count:,}", "", "", "", "missing")
            else:
                table.add_row(
                    str(spec.index), f"{spec.start}..{spec.end}", f"{spec.count:,}", f"{side['first']:.9f}",
                    f"{side['last']:.9f}", side["sha256"][:12], "done",
                )
        con.print(table)
        return 0
    if src.last is None:
        con.print(f"{a.source}: unbounded generator, indices {src.first}.. (height limit t <= 2^27)")
        return 0
    first = src.load(src.first, 1)[0]
    last = src.load(src.last, 1)[0]
    con.print(f"{a.source}: zeros {src.first}..{src.last} ({src.last - src.first + 1:,}), heights {first:.9f} .. {last:.9f}")
    return 0


def _cmd_export(a, con) -> int:
    from zeta_rmt.zeros import storage
    from zeta_rmt.zeros.sources import open_source
    from zeta_rmt.zeros.textfile import format_text, text_header

    src = open_source(a.source)
    if src.last is None and a.count is None:
        raise ZeroDataError("exporting from the generator needs --count")
    start = a.start if a.start is not None else src.first
    count = a.count if a.count is not None else src.last - start + 1
    if a.no_header and start != 1:
        raise ZeroDataError(
            f"--no-header would write zeros {start}..{start + count - 1} as if they were 1..{count}; "
            "keep the header (np.loadtxt skips it) or export from --start 1"
        )
    end = start + count - 1
    if count < 1 or start < src.first or (src.last is not None and end > src.last):
        raise src._range_error(start, end)  # before the output is touched
    fs, path = storage.get_fs(a.out)
    step = 1_000_000
    # locally a temporary file renamed into place (a failed export leaves no partial file); remotely one
    # streamed upload, which the object store publishes only when it completes
    with _export_target(fs, path) as fh:
        if not a.no_header:
            fh.write(text_header(start, count))
        pos = 0
        while pos < count:
            c = min(step, count - pos)
            fh.write(format_text(src.load(start + pos, c)))
            pos += c
    con.print(f"wrote zeros {start}..{start + count - 1} to {a.out} (one per line{'' if a.no_header else ', after a header line with the start index'})")
    return 0


def _cmd_finalize(a, con) -> int:
    from zeta_rmt.zeros.sharded import Dataset

    ds = Dataset(a.dataset)
    if ds.finalize():
        con.print(f"{a.dataset}: manifest complete ({len(ds.manifest['shards'])} shards)")
        return 0
    ds.entries()  # raises with the list of missing shards
    return 1


def main(argv=None) -> int:
    a = _parser().parse_args(argv)
    con = _console()
    handler = {
        "generate": _cmd_generate, "task": _cmd_task, "batch": _cmd_batch, "verify": _cmd_verify,
        "info": _cmd_info, "export": _cmd_export, "finalize": _cmd_finalize,
    }[a.cmd]
    try:
        return handler(a, con)
    except ZeroDataError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output (or input) location that cannot be used: one line, no traceback
        given = getattr(a, "out", None) or getattr(a, "dataset", None) or getattr(a, "source", None)
        reason = exc.strerror or _one_line(str(exc)) or type(exc).__name__
        where = str(given)
        if exc.filename and str(exc.filename) != where:
            where += f" ({exc.filename})"
        print(f"error: {a.cmd}: cannot use {where}: {reason}; check the path and its permissions", file=sys.stderr)
        return 2


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")).strip()
