"""``python -m zeta_rmt.train -m hydra/launcher=vertex loss.weights.gue_nll=0.01,0.1,1 [...]``

Each point of the sweep becomes one Vertex AI CustomJob built exactly as
``python -m zeta_rmt.launch`` builds a single job (:mod:`zeta_rmt.launch.spec`) from that
point's composed config: its overrides are the container's arguments, its outputs go to
``<cloud.base_output_dir>/<task_name>/<sweep id>/<job number>``. Nothing trains locally.

* ``hydra.launcher.wait=false`` (default): submit and return; each job's return value is its
  resource name (also listed in ``<sweep dir>/vertex_jobs.json`` and printed).
* ``hydra.launcher.wait=true``: poll until every job has ended, then return each job's
  ``optimized_metric`` read from its ``metrics.json`` on GCS, so a sweeper that needs values
  (e.g. Optuna) can drive Vertex AI jobs. A job that did not succeed is a failed Hydra job.
* ``hydra.launcher.dry_run=true``: print the specs, submit nothing.

The cloud SDK is imported only when ``launch`` runs (Hydra imports every plugin module at start-up,
outside ``sys.modules``: hence no ``from __future__ import annotations`` here, which breaks the dataclass).
"""

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)


@dataclass
class VertexLauncherConf:
    _target_: str = "hydra_plugins.zeta_rmt_vertex_launcher.vertex_launcher.VertexLauncher"
    # poll until all jobs end and return their optimized_metric (from metrics.json)
    wait: bool = False
    # print the job specs, submit nothing
    dry_run: bool = False
    # seconds between polls when waiting; null: cloud.poll_interval_s
    poll_interval_s: Optional[float] = None
    # give up waiting after this many seconds; null: never
    wait_timeout_s: Optional[float] = None


ConfigStore.instance().store(group="hydra/launcher", name="vertex", node=VertexLauncherConf, provider="zeta_rmt")


class VertexLauncher(Launcher):
    def __init__(self, wait: bool = False, dry_run: bool = False, poll_interval_s: Optional[float] = None,
                 wait_timeout_s: Optional[float] = None) -> None:
        super().__init__()
        self.wait = wait
        self.dry_run = dry_run
        self.poll_interval_s = poll_interval_s
        self.wait_timeout_s = wait_timeout_s
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None
        self.sweep_id: Optional[str] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from zeta_rmt.launch import spec as specs
        from zeta_rmt.launch.runtime import register_resolvers

        setup_globals()
        register_resolvers()
        from zeta_rmt.utils.config import register_resolvers as register_config_resolvers

        register_config_resolvers()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self.sweep_id = self.sweep_id or str(self.config.get("cloud", {}).get("job_id") or specs.new_job_id())
        log.info(f"Submitting {len(job_overrides)} jobs to Vertex AI (sweep {self.sweep_id})"
                 + (" [dry run]" if self.dry_run else ""))

        built = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"{self.sweep_id}-{idx}"
                sweep_config.hydra.job.num = idx
            HydraConfig.instance().set_config(sweep_config)
            args = list(filter_overrides(overrides))
            if specs.is_vizier(sweep_config):
                raise specs.LaunchError("hparams_search=vizier is one HyperparameterTuningJob: submit it with "
                                        "python -m zeta_rmt.launch hparams_search=vizier ..., not as a multirun")
            job = specs.build_custom_job(sweep_config, args, job_id=f"{self.sweep_id}-{idx}",
                                         run_path=f"{self.sweep_id}/{idx}", dry_run=self.dry_run)
            built.append((idx, list(overrides), sweep_config, job))

        if self.dry_run:
            for idx, overrides, sweep_config, job in built:
                print(f"# job {idx}: {' '.join(filter_overrides(overrides))}")
                print(specs.job_to_json(job))
            return [self._ret(o, c, JobStatus.COMPLETED, None, None) for _, o, c, _ in built]

        from zeta_rmt.launch import client as vertex

        cloud = built[0][2].cloud if built else None
        api = vertex.make_client(cloud) if built else None
        refs = []
        for idx, overrides, sweep_config, job in built:
            ref = vertex.submit(sweep_config.cloud, job, client=api)
            refs.append(ref)
            line = f"#{idx} {' '.join(filter_overrides(overrides))} -> {ref.name}"
            log.info(line)
            print(f"[vertex] {line}", flush=True)
        self._record(sweep_dir, built, refs)

        if not self.wait:
            return [self._ret(o, c, JobStatus.COMPLETED, ref.name, ref.output_dir)
                    for (_, o, c, _), ref in zip(built, refs)]

        states = vertex.wait(cloud, refs, poll_interval_s=self.poll_interval_s, timeout_s=self.wait_timeout_s,
                             client=api, echo=log.info)
        out: List[JobReturn] = []
        results = {}
        for (idx, overrides, sweep_config, _), ref in zip(built, refs):
            state, error = states[ref.name]
            if state != "JOB_STATE_SUCCEEDED":
                err = RuntimeError(f"Vertex AI job {ref.name} ended {state}" + (f": {error}" if error else ""))
                ret = self._ret(overrides, sweep_config, JobStatus.FAILED, err, ref.output_dir)
            else:
                try:
                    ret = self._ret(overrides, sweep_config, JobStatus.COMPLETED, _metric(sweep_config, ref),
                                    ref.output_dir)
                except Exception as exc:  # noqa: BLE001 - reported as this job's failure
                    ret = self._ret(overrides, sweep_config, JobStatus.FAILED, exc, ref.output_dir)
            value = ret._return_value if ret.status == JobStatus.COMPLETED else None
            results[ref.name] = {"state": state, "metric": value,
                                 "error": None if ret.status == JobStatus.COMPLETED else str(ret._return_value)}
            line = f"#{idx} {ref.name}: {state}, {sweep_config.get('optimized_metric')}={value}"
            log.info(line)
            print(f"[vertex] {line}", flush=True)
            out.append(ret)
        self._record(sweep_dir, built, refs, results)
        return out

    def _ret(self, overrides, cfg: DictConfig, status: JobStatus, value: Any, output_dir: Optional[str]) -> JobReturn:
        """A JobReturn whose ``hydra.runtime.output_dir`` is the job's folder on GCS (sweepers record it)."""
        if output_dir:
            with read_write(cfg.hydra), open_dict(cfg.hydra):
                cfg.hydra.runtime.output_dir = output_dir
        task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
        return JobReturn(overrides=list(overrides), cfg=task_cfg, hydra_cfg=cfg, working_dir=output_dir,
                         task_name=str(cfg.hydra.job.name), status=status, _return_value=value)

    def _record(self, sweep_dir: Path, built, refs, results: Optional[dict] = None) -> None:
        """``<sweep dir>/vertex_jobs.json``: one entry per job (updated with state and metric when waiting)."""
        path = sweep_dir / "vertex_jobs.json"
        entries = {e["name"]: e for e in (json.loads(path.read_text()) if path.exists() else [])}
        for (idx, o, _, _), ref in zip(built, refs):
            entry = entries.setdefault(ref.name, {"num": idx, "overrides": list(filter_overrides(o)), "name": ref.name,
                                                  "output_dir": ref.output_dir, "console": ref.console_url})
            entry.update((results or {}).get(ref.name, {}))
        path.write_text(json.dumps(sorted(entries.values(), key=lambda e: e["num"]), indent=2))


def _metric(cfg: DictConfig, ref) -> Optional[float]:
    """The job's optimized_metric from ``<output_dir>/metrics.json`` (None when not finite)."""
    from zeta_rmt.launch import storage

    name = cfg.get("optimized_metric")
    result = json.loads(storage.read_bytes(storage.join(ref.output_dir, "metrics.json")))
    value = (result.get("final") or {}).get(name) if name else None
    return float(value) if value is not None and math.isfinite(float(value)) else None
