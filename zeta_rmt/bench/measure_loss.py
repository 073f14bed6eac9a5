"""Cost of one loss component, forward + backward, on n spacings (n + 1 consecutive nodes).

The component is instantiated from the real config (``loss.components.<name>`` with the case's
mode override), so an unknown mode fails exactly as ``python -m zeta_rmt.train`` would.  Inputs:

* ``mse``, ``gue_nll``, ``gue_mmd``: the predictions are a leaf tensor (the true zeros 1..n+1
  plus N(0, 0.1²) noise, float32, as the raw-target network outputs), so only the component's own
  work is timed, down to the gradient on the predictions;
* ``rg``: the real data module and network of the default config on the graph of the n + 1
  nodes; the predictions are again a leaf, but the component's re-run of the network (seed: one
  forward without gradient; scale: a forward and backward through the dilated pass) is part of
  its cost.

Where a mode is O(n²) in memory and infeasible at the requested n (``dense`` builds the n×n
kernel: 40 GB at 10⁵), the case measures it at ``measured_n`` and reports the n² extrapolation
to the requested n, labelled ``"scaling": "n^2 extrapolation from measured_n"``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from zeta_rmt.bench.measures import compose, timed, vm_hwm_gb

#: component -> (config key of its mode, modes)
MODE_KEYS = {
    "mse": (None, ("default",)),
    "gue_nll": ("density", ("surmise", "gaudin")),
    "gue_mmd": ("mode", ("dense", "chunked", "sampled", "fast")),
    "rg": ("variant", ("seed", "scale")),
}


def _component(name: str, mode: str, extra: list[str]):
    import hydra

    key, _ = MODE_KEYS[name]
    overrides = list(extra)
    if key is not None:
        overrides.append(f"loss.components.{name}.{key}={mode}")
    cfg = compose(overrides)
    try:
        return hydra.utils.instantiate(cfg.loss.components[name]), cfg
    except Exception as exc:  # Hydra wraps the component's ValueError
        cause = exc.__cause__ or exc
        raise ValueError(f"loss.components.{name}.{key}={mode}: {cause}") from exc


def _leaf_inputs(n_nodes: int, seed: int = 0):
    from zeta_rmt.losses import LossInputs
    from zeta_rmt.zeros import load_zeros

    zeros = np.asarray(load_zeros("odlyzko", 1, n_nodes), dtype=np.float64)
    gen = np.random.default_rng(seed)
    pred = torch.tensor(zeros + gen.normal(0.0, 0.1, n_nodes), dtype=torch.float32, requires_grad=True)
    target = torch.tensor(zeros, dtype=torch.float32)
    idx = torch.arange(n_nodes, dtype=torch.int64)
    return pred, LossInputs(pred=pred, target=target, gamma_pred=pred, node_index=idx)


def _graph_inputs(cfg, n_nodes: int):
    """LossInputs of the default data module and network on n_nodes nodes, with a leaf prediction."""
    import hydra

    dm = hydra.utils.instantiate(cfg.data)
    dm.setup("fit")
    batch = dm.graph_data
    batch.all_mask = torch.ones(batch.num_nodes, dtype=torch.bool)
    loss = hydra.utils.instantiate(cfg.loss)
    module = hydra.utils.instantiate(cfg.model, loss=loss)
    inputs = module.loss_inputs(batch, "all_mask", dm=dm)
    pred = inputs.pred.detach().requires_grad_()
    return pred, dataclasses.replace(inputs, pred=pred, gamma_pred=dm.to_gamma(pred, inputs.node_index))


def loss_component(params: dict) -> dict:
    name, mode = params["component"], params.get("mode", "default")
    n = int(params.get("n", 100_000))
    max_n = params.get("max_n")  # largest feasible n of an O(n^2)-memory mode
    measured_n = min(n, int(max_n)) if max_n else n
    if name not in MODE_KEYS:
        raise ValueError(f"loss: component must be one of {sorted(MODE_KEYS)}, got {name!r}")
    torch.manual_seed(0)
    comp, cfg = _component(name, mode, [f"data.num_zeros={measured_n + 1}"])
    if name == "rg":
        pred, inputs = _graph_inputs(cfg, measured_n + 1)
    else:
        pred, inputs = _leaf_inputs(measured_n + 1)

    def step():
        pred.grad = None
        value = comp(inputs)
        value.backward()
        return value

    before = vm_hwm_gb()
    t = timed(step)
    after = vm_hwm_gb()
    seconds = t["seconds"]
    scale = n / measured_n
    quadratic = name == "gue_mmd" and mode in ("dense", "chunked")
    per_n = seconds * (scale ** 2 if quadratic else scale)
    figures = {
        "seconds_at_measured_n": seconds,
        "seconds_at_n": per_n,
        "first_call_s": t["first_s"],
        "reps": t["reps"],
        "rss_increase_gb": (after - before) if before and after else None,
    }
    notes = {"n": n, "measured_n": measured_n}
    if measured_n != n:
        notes["scaling"] = (f"{'n^2' if quadratic else 'linear'} extrapolation from measured_n={measured_n} "
                            f"to n={n}")
    units = {"seconds_at_measured_n": "s (forward+backward)", "seconds_at_n": "s (forward+backward)",
             "first_call_s": "s", "reps": "calls", "rss_increase_gb": "GB"}
    return {"figures": figures, "units": units, "notes": notes}
