"""The child side of in-process cases: ``python -m zeta_rmt.bench.child KIND PARAMS_JSON OUT_JSON``.

Sets torch's thread count from :data:`zeta_rmt.bench.runner.ENV_THREADS`, runs the measurement
of ``KIND`` with the JSON parameters and writes ``{"figures": …, "units": …, "notes": …}`` (or
``{"error": …}``) to ``OUT_JSON``.  Exit status 0 on success, 3 when the measured feature is not
in this checkout (:class:`NotAvailable`), 1 on any other error (the traceback goes to stderr).
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

from zeta_rmt.bench.measures import NotAvailable

#: kind -> "module:function" (each takes the params dict and returns the result dict)
MEASURES = {
    "graph_build": "zeta_rmt.bench.measure_graph:graph_build",
    "loss": "zeta_rmt.bench.measure_loss:loss_component",
    "overhead": "zeta_rmt.bench.measure_overhead:overhead",
}


def _write(path: str, obj: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in MEASURES:
        print(f"usage: python -m zeta_rmt.bench.child {{{'|'.join(MEASURES)}}} PARAMS_JSON OUT_JSON", file=sys.stderr)
        return 2
    kind, params, out = argv[0], json.loads(argv[1]), argv[2]
    import torch

    threads = int(os.environ.get("ZETA_RMT_BENCH_THREADS", "1"))
    torch.set_num_threads(threads)
    module, func = MEASURES[kind].split(":")
    try:
        result = getattr(importlib.import_module(module), func)(params)
    except NotAvailable as exc:
        _write(out, {"error": f"not available: {exc}"})
        print(f"not available: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - every failure becomes the case's error line
        traceback.print_exc()
        _write(out, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    result.setdefault("notes", {})
    result["threads_in_child"] = torch.get_num_threads()
    _write(out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
