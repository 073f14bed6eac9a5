"""Graph build for N nodes, primes 2..13 by default: the adelic graph as ``edge_index`` + GCN
weights (``zeta_rmt.graph.adelic_graph``, what PyG layers take) and as the banded operator
(``zeta_rmt.graph.banded.banded_graph``: ``D^-1/2`` per node, Â·X as shifted copies)."""
from __future__ import annotations

import importlib
import time

from zeta_rmt.bench.measures import NotAvailable, vm_hwm_gb

DEFAULT_PRIMES = (2, 3, 5, 7, 11, 13)


def _build_pyg(n: int, primes):
    from zeta_rmt.graph import adelic_graph

    g = adelic_graph(n, primes)
    return {"edges": int(g.edge_index.shape[1])}


def _build_banded(n: int, primes):
    try:
        banded = importlib.import_module("zeta_rmt.graph.banded")
    except ModuleNotFoundError as exc:
        raise NotAvailable("zeta_rmt.graph.banded (BandedAdjacency) is not in this checkout") from exc
    adj = banded.banded_graph(n, primes)
    return {"offsets": len(adj.offsets), "stored_floats": int(adj.dinv.numel())}


BUILDERS = {"pyg": _build_pyg, "banded": _build_banded}


def graph_build(params: dict) -> dict:
    n, conv = int(params["N"]), params.get("conv", "pyg")
    primes = list(params.get("primes", DEFAULT_PRIMES))
    if conv not in BUILDERS:
        raise ValueError(f"graph_build: conv must be one of {sorted(BUILDERS)}, got {conv!r}")
    before = vm_hwm_gb()
    t = time.perf_counter()
    extra = BUILDERS[conv](n, primes)
    seconds = time.perf_counter() - t
    after = vm_hwm_gb()
    figures = {"seconds": seconds, "rss_increase_gb": (after - before) if before and after else None, **extra}
    units = {"seconds": "s", "rss_increase_gb": "GB", "edges": "directed edges incl. self-loops",
             "offsets": "offsets d (Â·X = Σ shifted copies)", "stored_floats": "float64 values (D^-1/2)"}
    return {"figures": figures, "units": {k: units[k] for k in figures}}
