"""The benchmark cases: names, parameters, time limits, and which belong to ``--quick``.

A case name is ``kind/variant/size`` (``epoch/default/N=1000000``); ``--case`` takes a name, a
prefix at a ``/`` (``loss/gue_mmd``, ``stream``) or a shell pattern (``*N=10000``).

Kinds (see each ``measure_*`` module or :mod:`zeta_rmt.bench.kinds`):

* ``graph_build``: the adelic graph (PyG ``edge_index``) and the banded operator;
* ``epoch``: ``python -m zeta_rmt.train`` on the default config (the groups' model: hidden 128,
  primes 2..13, all four losses), setup vs steady epoch, peak RSS;
* ``loss``: one loss component in one mode, forward + backward per 10⁵ spacings;
* ``overhead``: the framework's epoch vs a plain PyTorch loop and vs the groups' script;
* ``stream``: one epoch of ``data=cluster data.backend=stream`` (issue 11), peak RSS, nodes/s;
* ``dataset``: makes the sharded zeros the stream cases read (once, under the cache dir);
* ``threads``: the default run with no thread variable set, quiet and beside busy processes;
* ``derived``: a ratio of figures of other cases of the same run.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

GRAPH_SIZES = (10_000, 100_000, 1_000_000, 2_000_000)
EPOCH_SIZES = {10_000: (12, 240), 100_000: (3, 600), 1_000_000: (3, 600), 2_000_000: (3, 600)}  # N: (epochs, timeout)
LOSS_N = 100_000
QUICK_LOSS_N = 10_000
DENSE_MAX_N = 10_000      # dense MMD f+b at 10^4 spacings: ~1.5 GB (n x n kernel); 10^5 would need 40 GB
QUICK_DENSE_MAX_N = 3_000
STREAM_SIZES = (1_000_000, 10_000_000)
STREAM_DATASET_COUNT = 10_001_000  # N = 10^7 plus the extrapolation window (K <= 1000)
QUICK_STREAM_N = 30_000
STREAM_BLOCK = 10_000        # nodes per block of the fixed-block stream cases

LOSS_MODES = {
    "mse": ("default",),
    "gue_nll": ("surmise", "gaudin"),
    "gue_mmd": ("dense", "chunked", "sampled", "fast"),
    "rg": ("seed", "scale"),
}


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    params: dict = field(default_factory=dict)
    timeout_s: float = 600.0
    needs: tuple[str, ...] = ()   # derived: the cases whose figures it combines; stream: its dataset


def _fmt(n: int) -> str:
    return str(int(n))


def graph_cases(quick: bool) -> list[Case]:
    sizes = GRAPH_SIZES[1:2] if quick else GRAPH_SIZES
    return [Case(f"graph_build/{conv}/N={_fmt(n)}", "graph_build", {"N": n, "conv": conv}, 300.0)
            for conv in ("pyg", "banded") for n in sizes]


def epoch_cases(quick: bool) -> list[Case]:
    if quick:
        return [Case("epoch/default/N=10000", "epoch", {"N": 10_000, "epochs": 3, "overrides": []}, 180.0)]
    out = [Case(f"epoch/default/N={_fmt(n)}", "epoch", {"N": n, "epochs": e, "overrides": []}, t)
           for n, (e, t) in EPOCH_SIZES.items()]
    # the groups' n x n MMD through the framework (was scripts/bench_training.py)
    out.append(Case("epoch/mmd=dense/N=10000", "epoch",
                    {"N": 10_000, "epochs": 6, "overrides": ["loss.components.gue_mmd.mode=dense"]}, 300.0))
    # PyG GCNConv message passing on edge_index (the path before the banded operator); ++ sets the key
    # whether or not the config files spell it out yet
    for n, epochs in ((10_000, 12), (100_000, 3)):
        out.append(Case(f"epoch/conv=pyg/N={_fmt(n)}", "epoch",
                        {"N": n, "epochs": epochs, "overrides": ["++model.net.conv=pyg", "++data.graph=edges"]}, 600.0))
    return out


def loss_cases(quick: bool) -> list[Case]:
    n = QUICK_LOSS_N if quick else LOSS_N
    dense_max = QUICK_DENSE_MAX_N if quick else DENSE_MAX_N
    pick = {"gue_mmd": ("chunked", "fast")} if quick else LOSS_MODES
    out = []
    for comp, modes in pick.items():
        for mode in modes:
            params = {"component": comp, "mode": mode, "n": n}
            if comp == "gue_mmd" and mode == "dense":
                params["max_n"] = dense_max
            label = comp if mode == "default" else f"{comp}/{mode}"
            out.append(Case(f"loss/{label}/n={_fmt(n)}", "loss", params, 600.0))
    fast, chunked = f"loss/gue_mmd/fast/n={_fmt(n)}", f"loss/gue_mmd/chunked/n={_fmt(n)}"
    out.append(Case(f"loss/gue_mmd/chunked_over_fast/n={_fmt(n)}", "derived",
                    {"ratio": "seconds_at_n", "numerator": chunked, "denominator": fast,
                     "target": ">= 50 at n = 100000 (issue 10)"}, 0.0, (chunked, fast)))
    return out


def overhead_cases(quick: bool) -> list[Case]:
    return [Case("overhead/N=10000", "overhead", {"N": 10_000, "epochs": 3 if quick else 12}, 400.0)]


def stream_cases(quick: bool) -> list[Case]:
    """Issue 11's command as written (``data.num_parts`` = 100: blocks of N/100 nodes, so the block
    grows with N), and the same with a fixed block of :data:`STREAM_BLOCK` nodes (``num_parts`` =
    N / block): the pair whose peak RSS must be flat in N (O(block + halo))."""
    if quick:
        return [Case(f"stream/N={_fmt(QUICK_STREAM_N)}", "stream", {"N": QUICK_STREAM_N, "source": "odlyzko"}, 180.0)]
    ds = Case(f"dataset/zeros-1-{STREAM_DATASET_COUNT}", "dataset", {"start": 1, "count": STREAM_DATASET_COUNT}, 600.0)
    out = [ds]
    fixed = []
    for n in STREAM_SIZES:
        src = f"dataset:{ds.name}"
        out.append(Case(f"stream/N={_fmt(n)}", "stream", {"N": n, "source": src}, 600.0, (ds.name,)))
        name = f"stream/block={STREAM_BLOCK}/N={_fmt(n)}"
        fixed.append(name)
        out.append(Case(name, "stream", {"N": n, "source": src, "overrides": [f"data.num_parts={n // STREAM_BLOCK}"]},
                        600.0, (ds.name,)))
    out.append(Case(f"stream/block={STREAM_BLOCK}/rss_ratio", "derived",
                    {"ratio": "peak_rss_epoch_gb", "numerator": fixed[1], "denominator": fixed[0],
                     "target": "<= 1.2 (flat within 20 %, issue 11)"}, 0.0, tuple(fixed)))
    return out


#: issue 13's thread policy: the default run quiet, with a competing busy process, and alternatives
THREAD_VARIANTS = (
    ("auto/quiet", {"cpu_threads": "auto", "load": 0}),
    ("auto/load", {"cpu_threads": "auto", "load": 1}),
    ("fixed=1/load", {"cpu_threads": 1, "load": 1}),
    ("all_cores_spinning/load", {"cpu_threads": "cores", "load": 1, "wait_policy": ""}),
)


def thread_cases(quick: bool) -> list[Case]:
    """``python -m zeta_rmt.train`` at N = 10⁴ with no thread variable set (what a user runs), quiet and
    beside ``load`` processes that keep one core busy each (``yes > /dev/null``); ``fixed=1``: one thread;
    ``all_cores_spinning``: one thread per core with OpenMP's default (spinning) wait, the old default."""
    epochs = 6 if quick else 20
    variants = THREAD_VARIANTS[:2] if quick else THREAD_VARIANTS
    out = [Case(f"threads/{name}/N=10000", "threads", {"N": 10_000, "epochs": epochs, **p}, 600.0)
           for name, p in variants]
    quiet = "threads/auto/quiet/N=10000"
    for name, _ in variants[1:]:
        loaded = f"threads/{name}/N=10000"
        out.append(Case(f"threads/{name.split('/')[0]}_load_over_quiet/N=10000", "derived",
                        {"ratio": "steady_epoch_s", "numerator": loaded, "denominator": quiet,
                         "target": "<= 1.5 for auto (issue 13)" if name.startswith("auto") else None},
                        0.0, (loaded, quiet)))
    return out


def all_cases(quick: bool = False) -> list[Case]:
    return [*graph_cases(quick), *epoch_cases(quick), *loss_cases(quick), *overhead_cases(quick),
            *stream_cases(quick), *thread_cases(quick)]


class CaseSelectionError(ValueError):
    pass


def matches(name: str, pattern: str) -> bool:
    return name == pattern or name.startswith(pattern.rstrip("/") + "/") or fnmatch.fnmatchcase(name, pattern)


def select(cases: list[Case], patterns: list[str] | None) -> list[Case]:
    """The cases matching any pattern (all when none), with the datasets the chosen ones need."""
    if not patterns:
        return list(cases)
    unknown = [p for p in patterns if not any(matches(c.name, p) for c in cases)]
    if unknown:
        raise CaseSelectionError(f"--case {unknown[0]!r} matches no case; `python -m zeta_rmt.bench --list` "
                                 f"(add --quick for the quick set) lists them")
    chosen = {c.name for c in cases if any(matches(c.name, p) for p in patterns)}
    by_name = {c.name: c for c in cases}
    for c in cases:
        if c.name in chosen and c.kind == "stream":  # a stream case brings its dataset along
            chosen.update(n for n in c.needs if n in by_name and by_name[n].kind == "dataset")
        if c.kind == "derived" and c.needs and all(n in chosen for n in c.needs):
            chosen.add(c.name)  # a ratio of cases that all run
    return [c for c in cases if c.name in chosen]
