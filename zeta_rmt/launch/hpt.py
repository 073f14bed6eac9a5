"""The training side of a Vertex AI Vizier trial (``hparams_search=vizier``).

Parameters in. Vertex AI starts each trial's container with the job's arguments plus one flag
per parameter, ``--<parameter_id>=<value>`` (the documented convention; ``--id value`` is
accepted too). Hydra does not accept such flags, so before Hydra parses the command line
:func:`translate_trial_argv` turns them into overrides using ``parameters`` of the chosen
``configs/hparams_search/<name>.yaml`` (``override``: the key set; for a CATEGORICAL
parameter, ``values`` maps each category name -- Vizier's categories are strings -- to the
value it sets, e.g. ``p2_3_5_7`` -> ``data.primes=[2,3,5,7]``).

Metric out. The metric is reported the way the ``cloudml-hypertune`` package does it
(verified against its source, version 0.1.0.dev6): JSON lines, one per report, keys sorted,
``{"checkpoint_path": "", "global_step": "<int>", "<metric_id>": "<value>", "timestamp": <float>,
"trial": "<CLOUD_ML_TRIAL_ID or 0>"}``, the whole file rewritten on each report (last 100 kept)
at ``$CLOUD_ML_HP_METRIC_FILE`` or ``/tmp/hypertune/output.metrics``. Written here directly, so
the package is not a dependency.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, ListConfig, OmegaConf

from zeta_rmt.utils.errors import ConfigError

__all__ = ["DEFAULT_METRIC_PATH", "HYDRA_FLAGS", "metric_file", "report_metric", "translate_trial_argv"]

DEFAULT_METRIC_PATH = "/tmp/hypertune/output.metrics"
MAX_ENTRIES = 100
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
# flags Hydra itself understands: never translated
HYDRA_FLAGS = {"--multirun", "--cfg", "--help", "--hydra-help", "--version", "--info", "--config-path",
               "--config-name", "--config-dir", "--package", "--resolve", "--run", "--shell-completion",
               "--experimental-rerun"}


def _format(value) -> str:
    """A value as a Hydra override value (lists and numbers in Hydra's grammar)."""
    if isinstance(value, (ListConfig, DictConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_format(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _search_config(argv: Sequence[str], config_dir: Path) -> tuple[str, DictConfig]:
    name = "vizier"
    for a in argv:
        key, _, val = a.partition("=")
        if key.lstrip("+~") == "hparams_search" and val:
            name = val
    path = config_dir / "hparams_search" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"trial flags need configs/hparams_search/{name}.yaml (its parameters map each flag to an "
                          f"override), which does not exist")
    cfg = OmegaConf.load(path)
    # the file is `# @package _global_` with the search under `hparams_search:`
    return name, cfg.hparams_search if isinstance(cfg.get("hparams_search"), DictConfig) else cfg


def translate_trial_argv(argv: Sequence[str], config_dir: Path | str | None = None) -> list[str]:
    """``argv`` with Vizier's ``--<parameter_id>=<value>`` flags replaced by Hydra overrides.
    Unchanged when there are none."""
    argv = list(argv)
    prog, rest = argv[:1], argv[1:]
    flags: list[tuple[int, int, str, str]] = []  # (start, stop, id, value)
    i = 0
    while i < len(rest):
        a = rest[i]
        if a.startswith("--") and a.split("=", 1)[0] not in HYDRA_FLAGS and len(a) > 2:
            if "=" in a:
                pid, val = a[2:].split("=", 1)
                flags.append((i, i + 1, pid, val))
                i += 1
                continue
            if i + 1 < len(rest) and not rest[i + 1].startswith("-") and "=" not in rest[i + 1]:
                flags.append((i, i + 2, a[2:], rest[i + 1]))
                i += 2
                continue
        i += 1
    if not flags:
        return argv
    name, search = _search_config(rest, Path(config_dir) if config_dir else CONFIG_DIR)
    params = search.get("parameters") or {}
    replaced: dict[int, str] = {}
    drop: set[int] = set()
    for start, stop, pid, val in flags:
        p = params.get(pid)
        if p is None:
            raise ConfigError(f"--{pid}={val}: not a parameter of configs/hparams_search/{name}.yaml "
                              f"(parameters: {', '.join(params) or 'none'})")
        key = str(p.override)
        if str(p.get("type", "")).upper() == "CATEGORICAL" and isinstance(p.get("values"), DictConfig):
            if val not in p["values"]:
                raise ConfigError(f"--{pid}={val}: not a category of hparams_search.parameters.{pid} "
                                  f"({', '.join(p['values'])})")
            val = _format(p["values"][val])
        replaced[start] = f"{key}={val}"
        drop.update(range(start + 1, stop))
    out = [replaced.get(j, a) for j, a in enumerate(rest) if j not in drop]
    return prog + out


def metric_file() -> Path:
    return Path(os.environ.get("CLOUD_ML_HP_METRIC_FILE", DEFAULT_METRIC_PATH))


def should_report(cfg: DictConfig) -> bool:
    hs = cfg.get("hparams_search")
    in_trial = "CLOUD_ML_TRIAL_ID" in os.environ or "CLOUD_ML_HP_METRIC_FILE" in os.environ
    return in_trial or (isinstance(hs, DictConfig) and hs.get("backend") == "vizier")


def report_metric(cfg: DictConfig, result: dict) -> Path | None:
    """Report ``cfg.optimized_metric`` of a finished run for Vizier: the best epoch's value (when
    it is not the last) then the final value, so both LAST_MEASUREMENT and BEST_MEASUREMENT
    work. Returns the file written, or None (not a trial, or no finite value)."""
    if not should_report(cfg):
        return None
    from zeta_rmt.launch.spec import metric_id

    name = cfg.get("optimized_metric")
    if not isinstance(name, str):  # several objectives: Vizier here tunes one metric
        from zeta_rmt.utils.errors import ConfigError

        raise ConfigError(f"hparams_search=vizier optimises one metric; optimized_metric={list(name)!r} lists several "
                          f"(use hparams_search=optuna for a multi-objective search)")
    hs = cfg.get("hparams_search") if isinstance(cfg.get("hparams_search"), DictConfig) else DictConfig({})
    tag = metric_id(hs, name)
    final = (result.get("final") or {}).get(name)
    epochs = int(result.get("epochs") or 0)
    reports: list[tuple[int, float]] = []
    best = result.get("best") or {}
    if best.get(name) is not None and int(best.get("epoch", epochs)) < epochs:
        reports.append((int(best["epoch"]) + 1, float(best[name])))
    if final is not None:
        reports.append((epochs, float(final)))
    reports = [(s, v) for s, v in reports if math.isfinite(v)]
    if not reports:
        print(f"[zeta_rmt] no finite {name} to report to Vertex AI Vizier: this trial has no measurement", flush=True)
        return None
    path = metric_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    trial = str(os.environ.get("CLOUD_ML_TRIAL_ID", 0))
    # like the package: this process's reports only, the whole file rewritten
    entries = [{"timestamp": time.time(), "trial": trial, tag: str(value), "global_step": str(int(step)),
                "checkpoint_path": ""} for step, value in reports][-MAX_ENTRIES:]
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    print(f"[zeta_rmt] reported {tag}={reports[-1][1]:.6g} for Vertex AI Vizier to {path}", flush=True)
    return path
