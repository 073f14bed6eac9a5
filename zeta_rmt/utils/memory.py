r"""Peak-memory estimate of a training run, and the guard that refuses a run that cannot fit.

The estimate is a linear model in the number of nodes held at once,

    peak ≈ base + nodes · (4·C·A + per_node)                       [bytes]

* ``C`` = ``model.net.hidden_channels``; ``A`` = (N, C) float32 activations alive at the peak:
  the banded/fused full graph keeps the L + K − 1 post-ReLU activations of the pending backward
  plus a scratch pair (:mod:`zeta_rmt.models.fused`), so A = L + K + 1 (L = ``mlp_layers``,
  K = ``gcn_layers``); the layer-by-layer autograd paths (``fused=false``, ``conv=pyg``) keep about
  twice as many, and PyG message passing adds one (E, C) message tensor per layer, E ≈ (2·|offsets| + 1)·N;
* ``per_node``: everything else that scales with N (features, targets, float64 outputs, spacings,
  the fast MMD's arrays, the zeros), fitted on measured peaks (see ``docs/benchmarks``);
* ``base``: the interpreter, torch, Lightning, the baselines' history (last 10⁵ zeros) and the
  scoring windows: constant in N.  On a GPU it is the CUDA context, not counted in
  ``torch.cuda.max_memory_allocated``.

Cluster regime: ``data.backend=pyg`` holds the whole graph (PyG ``ClusterData``: the permuted CSR
and the original edge list, ~(2·|offsets|+1)·N edges of int64 pairs) plus one batch of activations;
the streaming backend holds one batch of blocks (plus halo) only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

GiB = float(1 << 30)

#: interpreter + torch + Lightning + windows and baselines (measured: 0.62-0.70 GB before the graph)
BASE_CPU = 0.75 * GiB
#: the CUDA context and kernels (host side it is in BASE_CPU too)
BASE_GPU = 0.6 * GiB
#: bytes per node besides the (N, C) activations (fitted on the full-graph runs at 1e5 .. 2e6)
PER_NODE_FULL = 400.0
#: bytes per node of PyG ClusterData (CSR + edge list, int64) per edge, and per node besides
PYG_PER_EDGE = 40.0
PER_NODE_CLUSTER = 200.0


@dataclass
class MemoryEstimate:
    total: float          # bytes
    activations: float
    other: float
    base: float
    nodes: int
    device: str

    def gb(self) -> float:
        return self.total / 1e9


def _num_offsets(primes) -> int:
    return len({1, *(int(p) for p in primes)})


def estimate_peak(num_zeros: int, hidden: int = 128, mlp_layers: int = 2, gcn_layers: int = 2,
                  primes=(2, 3, 5, 7, 11, 13), regime: str = "full", device: str = "cpu",
                  conv: str = "banded", fused: bool = True, backend: str = "pyg", batch_nodes: int | None = None,
                  window: int = 100) -> MemoryEstimate:
    """Peak bytes of a run (see the module docstring for the model)."""
    offsets = _num_offsets(primes)
    edges_per_node = 2 * offsets + 1
    base = BASE_GPU if device == "gpu" else BASE_CPU
    if regime == "full":
        nodes = int(num_zeros)
        acts = mlp_layers + gcn_layers + 1
        if conv == "pyg":
            acts = 2 * (mlp_layers + gcn_layers) + edges_per_node
        elif not fused:
            acts = 2 * (mlp_layers + gcn_layers) + 1
        activation = nodes * 4.0 * hidden * acts
        other = nodes * PER_NODE_FULL
    else:
        nodes = int(batch_nodes or num_zeros)
        acts = 2 * (mlp_layers + gcn_layers) + (edges_per_node if conv == "pyg" else 1)
        activation = nodes * 4.0 * hidden * acts
        other = nodes * PER_NODE_CLUSTER
        if backend == "pyg":
            other += num_zeros * (PYG_PER_EDGE * edges_per_node + PER_NODE_CLUSTER)
    return MemoryEstimate(activation + other + base, activation, other, base, nodes, device)


def available_bytes(device: str = "cpu") -> float:
    """Memory this process may still use: MemAvailable (capped by a cgroup limit) on the CPU, free VRAM on a GPU."""
    if device == "gpu":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return float(free)
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = open(path).read().strip()
        except OSError:
            continue
        if raw.isdigit():
            limit = float(raw)
            try:
                used = float(open(os.path.join(os.path.dirname(path), "memory.current")).read().strip())
            except (OSError, ValueError):
                used = 0.0
            if limit < 1 << 60:
                avail = min(avail if avail is not None else limit, limit - used)
    return float(avail) if avail is not None else float("inf")


def estimate_from_config(cfg: Mapping[str, Any]) -> MemoryEstimate:
    """The estimate for a composed training config (``data``, ``model.net``, ``hardware``)."""
    data = cfg["data"]
    net = cfg["model"]["net"]
    target = str(data.get("_target_", ""))
    regime = "cluster" if "Cluster" in target or "Stream" in target else "full"
    backend = str(data.get("backend", "pyg"))
    device = "gpu" if cfg["hardware"].get("accelerator") in ("gpu", "cuda") else "cpu"
    primes = list(data.get("primes", [2, 3, 5, 7, 11, 13]))
    gcn_layers = int(net.get("gcn_layers", 2))
    batch_nodes = None
    if regime == "cluster":
        from zeta_rmt.data.stream import resolve_halo  # the one reading of data.halo (an int or "exact")

        parts = int(data.get("num_parts", 100))
        per_block = -(-int(data["num_zeros"]) // parts)
        halo = resolve_halo(data.get("halo", 0) or 0, gcn_layers, [1, *primes])
        batch_nodes = int(data.get("batch_size", 1)) * (per_block + 2 * halo)
    return estimate_peak(
        int(data["num_zeros"]), int(net.get("hidden_channels", 128)), int(net.get("mlp_layers", 2)),
        gcn_layers, primes, regime, device, str(net.get("conv", "banded")), bool(net.get("fused", True)),
        backend, batch_nodes,
    )


def check_fits(cfg: Mapping[str, Any], available: float | None = None) -> MemoryEstimate:
    """Raise :class:`~zeta_rmt.utils.errors.ConfigError` (one line: the estimate, what is available, the
    ways out) when the run cannot fit; return the estimate otherwise."""
    from zeta_rmt.utils.errors import ConfigError

    est = estimate_from_config(cfg)
    avail = available_bytes(est.device) if available is None else float(available)
    if est.total <= avail:
        return est
    what = "VRAM" if est.device == "gpu" else "RAM"
    n = int(cfg["data"]["num_zeros"])
    hidden = int(cfg["model"]["net"].get("hidden_channels", 128))
    ways = ["data=cluster data.backend=stream (bounded memory at any N)", "a smaller data.num_zeros"]
    if est.device == "cpu":
        gpu = estimate_peak(n, hidden, device="gpu")
        ways.append(f"a GPU profile (hardware=a100: about {gpu.total / 1e9:.1f} GB of its 80 GB)")
    else:  # (checkpointing takes the unfused path, which the estimate counts as larger, so not offered)
        ways.append("a smaller model.net.hidden_channels")
    raise ConfigError(
        f"this run needs about {est.gb():.1f} GB of {what} (estimate for N={n}, hidden={hidden}, "
        f"{'full graph' if est.nodes == n else f'{est.nodes} nodes per batch'}) but {avail / 1e9:.1f} GB is available; "
        f"ways out: {'; '.join(ways)}; or memory_guard=false to try anyway"
    )



# -- the watchdog: where the estimate cannot predict ---------------------------------------------
class MemoryExhausted(RuntimeError):
    """Raised in the main thread when the machine is about to run out of memory (see :class:`Watchdog`)."""


class Watchdog:
    """Stop the run with one clear line before the kernel's out-of-memory killer does.

    A thread reads the memory still available (``MemAvailable``, capped by a cgroup limit: the same
    reading as the guard) every ``interval_s``. When it falls below ``reserve_bytes`` it raises
    :class:`MemoryExhausted` in the main thread (through a signal, so it lands between two Python
    operations, also inside a long step); checkpoints written so far stay valid. If the main thread
    does not stop within ``hard_exit_s`` (stuck in one huge allocation) the process exits with status 2
    after printing the same line: an exit with a reason instead of a SIGKILL without one.
    """

    SIGNAL = "SIGUSR2"

    def __init__(self, reserve_bytes: float, context: str = "", interval_s: float = 0.2, hard_exit_s: float = 10.0,
                 read=available_bytes):
        self.reserve = float(reserve_bytes)
        self.context = context
        self.interval_s = float(interval_s)
        self.hard_exit_s = float(hard_exit_s)
        self.read = read
        self.message: str | None = None
        self._stop = None
        self._thread = None
        self._previous = None

    def __enter__(self):
        import signal
        import threading

        if self.reserve <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, self.SIGNAL):
            return self  # (signals reach only the main thread) nothing to guard with
        sig = getattr(signal, self.SIGNAL)
        self._previous = signal.signal(sig, self._raise)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="zeta-rmt-memory-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import signal

        if self._thread is not None:
            self._stop.set()
            self._thread.join(2.0)
            signal.signal(getattr(signal, self.SIGNAL), self._previous or signal.SIG_DFL)
            self._thread = None
        return False

    def _raise(self, signum, frame):
        raise MemoryExhausted(self.message or "memory nearly exhausted")

    def _watch(self):
        import signal
        import sys
        import time

        while not self._stop.wait(self.interval_s):
            avail = self.read()
            if avail >= self.reserve:
                continue
            self.message = (
                f"memory nearly exhausted: {max(avail, 0) / 1e9:.2f} GB left (the watchdog stops runs below "
                f"{self.reserve / 1e9:.2f} GB, memory_reserve_gb){': ' + self.context if self.context else ''}; "
                f"stopped before the kernel kills the process. Ways out: data=cluster data.backend=stream, a "
                f"smaller data.num_zeros, or more memory"
            )
            os.kill(os.getpid(), getattr(signal, self.SIGNAL))
            if self._stop.wait(self.hard_exit_s):
                return
            if self.read() < self.reserve:  # the main thread did not get to it: exit with the reason
                print(f"zeta_rmt.train: error: {self.message}", file=sys.stderr, flush=True)
                os._exit(2)
            return


def watchdog(cfg: Mapping[str, Any]) -> Watchdog:
    """The watchdog of a training config: ``memory_reserve_gb`` (default 0.5; 0 or null: off)."""
    reserve = cfg.get("memory_reserve_gb", 0.5)
    if reserve is None or reserve == 0:
        return Watchdog(0.0)  # off
    if isinstance(reserve, bool) or not isinstance(reserve, (int, float)) or reserve < 0:
        from zeta_rmt.utils.errors import ConfigError

        raise ConfigError(f"memory_reserve_gb must be a number of GB >= 0 (0 or null: no watchdog), got {reserve!r}")
    n = cfg.get("data", {}).get("num_zeros")
    return Watchdog(float(reserve) * 1e9, context=f"N={n}" if n is not None else "")
