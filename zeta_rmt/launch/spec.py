"""Vertex AI job specs built from a composed training config, as ``aiplatform_v1`` protos.

Pure construction: no credentials, no network. The same proto is printed by ``--dry-run``
and sent by :mod:`zeta_rmt.launch.client`, so what you inspect is what is submitted.

The container runs the image's entry point (``python -m zeta_rmt.train``) with the user's
Hydra overrides as its arguments, plus ``paths.output_dir=${vertex_output_dir:}`` so the run
writes to the job's ``base_output_directory`` (see :func:`zeta_rmt.launch.runtime.vertex_output_dir`).
A restarted job gets the same directory and resumes from ``checkpoints/last.ckpt``.

A job on ``N = hardware.replica_count`` nodes (``hardware=l4x4``) has two worker pools that
differ only in their replica count: pool 0, the chief (1 replica, node rank 0), and pool 1
(``N - 1`` replicas); each node finds its rank from Vertex AI's ``CLUSTER_SPEC``
(:mod:`zeta_rmt.launch.cluster_env`).
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import Any, Sequence

from omegaconf import DictConfig

from zeta_rmt.utils.errors import ConfigError

__all__ = [
    "LaunchError", "OUTPUT_DIR_ARG", "build_custom_job", "build_hpt_job", "container_args", "is_vizier",
    "job_to_dict", "job_to_json", "metric_id", "missing_settings", "new_job_id", "require_sdk", "study_spec",
    "validate_for_submit",
]

OUTPUT_DIR_ARG = "paths.output_dir=${vertex_output_dir:}"
INSTALL_HINT = "pip install 'zeta_rmt[gcp]' (or: pip install google-cloud-aiplatform)"
PLACEHOLDER = "UNSET-"  # dry runs show missing settings as UNSET-cloud.<key>


class LaunchError(ConfigError):
    """A job cannot be built or submitted; the message says what to set or fix."""


def require_sdk():
    try:
        from google.cloud import aiplatform_v1
    except ImportError as exc:
        raise LaunchError(f"launching on Vertex AI needs google-cloud-aiplatform, which is not installed: "
                          f"{INSTALL_HINT}") from exc
    return aiplatform_v1


def new_job_id() -> str:
    """``YYYYmmdd-HHMMSS-xxxx`` (UTC time and 4 random hex digits)."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def _label(value: Any) -> str:
    """A Vertex label key/value: lowercase letters, digits, '_' and '-', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", str(value).lower())[:63]


def is_vizier(cfg: DictConfig) -> bool:
    hs = cfg.get("hparams_search")
    return isinstance(hs, DictConfig) and hs.get("backend") == "vizier"


def _cloud(cfg: DictConfig) -> DictConfig:
    cloud = cfg.get("cloud")
    if not isinstance(cloud, DictConfig):
        raise LaunchError("the config has no 'cloud' group (configs/cloud/default.yaml); add `- cloud: default` "
                          "to the defaults list of configs/train.yaml")
    return cloud


def missing_settings(cfg: DictConfig) -> list[str]:
    cloud = _cloud(cfg)
    return [f"cloud.{k}" for k in ("project", "location", "base_output_dir", "image_uri") if not cloud.get(k)]


def validate_for_submit(cfg: DictConfig) -> None:
    """Refuse to submit a job that Vertex AI would reject or that would write nowhere useful."""
    missing = missing_settings(cfg)
    if missing:
        hints = {
            "cloud.project": "cloud.project=MY_PROJECT (or export GOOGLE_CLOUD_PROJECT)",
            "cloud.location": "cloud.location=europe-west4",
            "cloud.base_output_dir": "cloud.base_output_dir=gs://MY_BUCKET/zeta_rmt (or export ZETA_RMT_BASE_OUTPUT_DIR)",
            "cloud.image_uri": "cloud.image_uri=REGION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG (scripts/build_and_push.sh "
                               "prints it; or export ZETA_RMT_IMAGE_URI)",
        }
        raise LaunchError("cannot submit a Vertex AI job: " + "; ".join(f"{m} is not set, pass {hints[m]}" for m in missing)
                          + ". See docs/vertex_ai.md.")
    base = str(_cloud(cfg).base_output_dir)
    if not base.startswith("gs://"):
        raise LaunchError(f"cloud.base_output_dir must be a gs:// URL (Vertex AI writes job outputs to Cloud Storage), "
                          f"got {base!r}")


def _machine(cfg: DictConfig) -> DictConfig:
    hw = cfg.get("hardware")
    vertex = hw.get("vertex") if isinstance(hw, DictConfig) else None
    if not vertex or not vertex.get("machine_type"):
        name = hw.get("name") if isinstance(hw, DictConfig) else hw
        raise LaunchError(f"hardware={name} has no Vertex AI machine (hardware.vertex is empty); launch with "
                          f"hardware=a100 (Team 1: a2-ultragpu-1g) or hardware=l4 (Team 2: g2-standard-8)")
    return vertex


def _replica_count(cfg: DictConfig, gpus_per_node: int) -> int:
    """The job's node count, ``hardware.replica_count`` (default 1), which must equal the Trainer's
    ``num_nodes``; the Trainer's ``devices`` per node must fit the node's ``gpus_per_node`` GPUs."""
    hw, tr = cfg.hardware, cfg.get("trainer") or {}
    nodes = hw.get("replica_count", 1)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise LaunchError(f"hardware.replica_count must be an integer >= 1 (the number of nodes), got {nodes!r}")
    trainer_nodes = tr.get("num_nodes", 1)
    if trainer_nodes != nodes:
        raise LaunchError(f"trainer.num_nodes={trainer_nodes} but hardware.replica_count={nodes}: the job would start "
                          f"{nodes} node(s) for a Trainer that expects {trainer_nodes}; pass "
                          f"trainer.num_nodes={nodes}, or leave trainer.num_nodes to follow hardware.replica_count (configs/trainer/default.yaml)")
    devices = tr.get("devices", hw.get("devices"))
    on_gpus = bool(gpus_per_node) and hw.get("accelerator") in ("gpu", "cuda")
    if on_gpus and isinstance(devices, int) and not isinstance(devices, bool) and devices > gpus_per_node:
        raise LaunchError(f"trainer.devices={devices} processes per node, but hardware.vertex.accelerator_count="
                          f"{gpus_per_node} GPU(s) per node; set hardware.devices <= hardware.vertex.accelerator_count")
    return nodes


def _is_cloud_override(o: str) -> bool:
    key = o.split("=", 1)[0].lstrip("+~")
    return key == "cloud" or key.startswith("cloud.")


def container_args(overrides: Sequence[str]) -> list[str]:
    """The training container's arguments: the user's overrides without ``cloud.*`` (they configure
    the launch, not the run), then the output dir on Vertex AI (unless the user chose one)."""
    args = [str(o) for o in overrides if not _is_cloud_override(str(o))]
    if not any(a.lstrip("+~").split("=", 1)[0] == "paths.output_dir" for a in args):
        args.append(OUTPUT_DIR_ARG)
    return args


def _value(cloud: DictConfig, key: str, dry_run: bool) -> str:
    v = cloud.get(key)
    if v:
        return str(v)
    if dry_run:
        return f"{PLACEHOLDER}cloud.{key}"
    raise LaunchError(f"cloud.{key} is not set")


def _custom_job_spec(cfg: DictConfig, overrides: Sequence[str], output_dir: str, dry_run: bool):
    v1 = require_sdk()
    cloud = _cloud(cfg)
    machine = _machine(cfg)
    accel = machine.get("accelerator_type")
    count = int(machine.get("accelerator_count") or 0)
    machine_spec = v1.MachineSpec(machine_type=str(machine.machine_type))
    if accel and count:
        if accel not in v1.AcceleratorType.__members__:
            raise LaunchError(f"hardware.vertex.accelerator_type={accel!r} is not a Vertex AI accelerator; one of "
                              f"{[a for a in v1.AcceleratorType.__members__ if a.startswith('NVIDIA')]}")
        machine_spec.accelerator_type = v1.AcceleratorType[accel]
        machine_spec.accelerator_count = count
    nodes = _replica_count(cfg, count if accel else 0)
    env = {"PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "1"}
    env.update({str(k): str(v) for k, v in (cloud.get("env") or {}).items()})
    pool = dict(
        machine_spec=machine_spec,
        disk_spec=v1.DiskSpec(boot_disk_type=str(cloud.get("boot_disk_type") or "pd-ssd"),
                              boot_disk_size_gb=int(cloud.get("boot_disk_size_gb") or 100)),
        container_spec=v1.ContainerSpec(
            image_uri=_value(cloud, "image_uri", dry_run),
            args=container_args(overrides),
            env=[v1.EnvVar(name=k, value=v) for k, v in env.items()],
        ),
    )
    # pool 0: the chief (exactly one replica, node rank 0); pool 1: the other nodes, identical
    pools = [v1.WorkerPoolSpec(replica_count=1, **pool)]
    if nodes > 1:
        pools.append(v1.WorkerPoolSpec(replica_count=nodes - 1, **pool))
    scheduling = v1.Scheduling(
        restart_job_on_worker_restart=bool(cloud.get("restart_job_on_worker_restart", False)),
        disable_retries=bool(cloud.get("disable_retries", False)),
        strategy=v1.Scheduling.Strategy.SPOT if cloud.get("spot") else v1.Scheduling.Strategy.STANDARD,
    )
    hours = cloud.get("timeout_hours")
    if hours:
        scheduling.timeout = {"seconds": int(float(hours) * 3600)}
    spec = v1.CustomJobSpec(
        worker_pool_specs=pools,
        scheduling=scheduling,
        base_output_directory=v1.GcsDestination(output_uri_prefix=output_dir),
    )
    if cloud.get("service_account"):
        spec.service_account = str(cloud.service_account)
    return spec


def _labels(cfg: DictConfig, kind: str) -> dict[str, str]:
    cloud = _cloud(cfg)
    labels = {"zeta_rmt": kind, "task": _label(cfg.get("task_name", "train")),
              "hardware": _label(cfg.hardware.get("name", "unknown"))}
    labels.update({_label(k): _label(v) for k, v in (cloud.get("labels") or {}).items()})
    return labels


def _output_dir(cfg: DictConfig, run_path: str, dry_run: bool) -> str:
    base = _value(_cloud(cfg), "base_output_dir", dry_run)
    return "/".join([base.rstrip("/"), str(cfg.get("task_name", "train")), run_path.strip("/")])


def _display_name(cfg: DictConfig, job_id: str) -> str:
    name = _cloud(cfg).get("display_name") or f"zeta-rmt-{cfg.get('task_name', 'train')}-{job_id}"
    return str(name)[:128]


def build_custom_job(cfg: DictConfig, overrides: Sequence[str], job_id: str, run_path: str | None = None,
                     dry_run: bool = False):
    """The ``CustomJob`` for one training run. ``run_path`` (default ``job_id``) is the output
    sub-folder under ``<cloud.base_output_dir>/<task_name>/``. ``dry_run``: missing cloud settings
    become ``UNSET-cloud.<key>`` placeholders instead of errors."""
    v1 = require_sdk()
    if not dry_run:
        validate_for_submit(cfg)
    spec = _custom_job_spec(cfg, overrides, _output_dir(cfg, run_path or job_id, dry_run), dry_run)
    return v1.CustomJob(display_name=_display_name(cfg, job_id), job_spec=spec, labels=_labels(cfg, "train"))


# ----------------------------------------------------------------------------- Vizier
def _enum(enum_cls, value, what: str):
    key = str(value).upper()
    if key not in enum_cls.__members__:
        raise LaunchError(f"{what}={value!r}: expected one of {list(enum_cls.__members__)}")
    return enum_cls[key]


def metric_id(hs: DictConfig, optimized_metric: str | None) -> str:
    """The Vizier metric ID: ``hparams_search.metric.id``, else the metric name with every
    character other than letters, digits and '_' replaced by '_' (``extrap/mse`` -> ``extrap_mse``)."""
    m = hs.get("metric") or {}
    if m.get("id"):
        return str(m.get("id"))
    name = m.get("name") or optimized_metric
    if not name:
        raise LaunchError("hparams_search=vizier needs a metric: set optimized_metric (e.g. extrap/mse)")
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name))


def study_spec(cfg: DictConfig):
    """``StudySpec`` from ``cfg.hparams_search`` (configs/hparams_search/vizier.yaml)."""
    v1 = require_sdk()
    hs = cfg.hparams_search
    P = v1.StudySpec.ParameterSpec
    params = []
    items = (hs.get("parameters") or {}).items()
    if not items:
        raise LaunchError("hparams_search.parameters is empty: nothing to search")
    for pid, p in items:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(pid)):
            raise LaunchError(f"hparams_search.parameters.{pid}: a parameter ID must be a letter then letters, digits "
                              f"or '_' (it becomes the command-line flag --{pid}=VALUE of each trial)")
        if not p.get("override"):
            raise LaunchError(f"hparams_search.parameters.{pid}.override is missing (the config key the value sets)")
        kind = str(p.get("type", "")).upper()
        spec = P(parameter_id=str(pid))
        if kind == "DOUBLE":
            lo, hi = float(p.min), float(p.max)
            if not lo < hi:
                raise LaunchError(f"hparams_search.parameters.{pid}: min {lo} must be below max {hi}")
            spec.double_value_spec = P.DoubleValueSpec(min_value=lo, max_value=hi)
        elif kind == "INTEGER":
            spec.integer_value_spec = P.IntegerValueSpec(min_value=int(p.min), max_value=int(p.max))
        elif kind == "DISCRETE":
            values = sorted(float(v) for v in p["values"])
            spec.discrete_value_spec = P.DiscreteValueSpec(values=values)
        elif kind == "CATEGORICAL":
            values = p["values"]
            names = list(values.keys()) if isinstance(values, DictConfig) else [str(v) for v in values]
            spec.categorical_value_spec = P.CategoricalValueSpec(values=[str(n) for n in names])
        else:
            raise LaunchError(f"hparams_search.parameters.{pid}.type={p.get('type')!r}: expected DOUBLE, INTEGER, "
                              f"DISCRETE or CATEGORICAL")
        if kind != "CATEGORICAL":
            scale = str(p.get("scale") or "LINEAR").upper()
            spec.scale_type = _enum(P.ScaleType, f"UNIT_{scale}_SCALE" if not scale.startswith("UNIT_") else scale,
                                    f"hparams_search.parameters.{pid}.scale")
        params.append(spec)
    metric = hs.get("metric") or {}
    return v1.StudySpec(
        metrics=[v1.StudySpec.MetricSpec(
            metric_id=metric_id(hs, cfg.get("optimized_metric")),
            goal=_enum(v1.StudySpec.MetricSpec.GoalType, metric.get("goal", "MINIMIZE"), "hparams_search.metric.goal"))],
        parameters=params,
        algorithm=_enum(v1.StudySpec.Algorithm, hs.get("algorithm") or "ALGORITHM_UNSPECIFIED", "hparams_search.algorithm"),
        measurement_selection_type=_enum(v1.StudySpec.MeasurementSelectionType,
                                         hs.get("measurement_selection") or "LAST_MEASUREMENT",
                                         "hparams_search.measurement_selection"),
    )


def build_hpt_job(cfg: DictConfig, overrides: Sequence[str], job_id: str, dry_run: bool = False):
    """The ``HyperparameterTuningJob``: every trial runs the same container and arguments, plus
    ``--<parameter_id>=<value>`` flags from Vizier (translated into overrides by the training entry
    point, :func:`zeta_rmt.launch.hpt.translate_trial_argv`), and writes to ``<base>/<trial_id>/``."""
    v1 = require_sdk()
    if not dry_run:
        validate_for_submit(cfg)
    hs = cfg.hparams_search
    trials, parallel = int(hs.get("max_trial_count", 50)), int(hs.get("parallel_trial_count", 5))
    if trials < 1 or parallel < 1:
        raise LaunchError(f"hparams_search: max_trial_count ({trials}) and parallel_trial_count ({parallel}) must be >= 1")
    args = list(overrides)
    if not any(a.split("=", 1)[0].lstrip("+~") == "hparams_search" for a in args):
        args.append("hparams_search=vizier")  # the trial needs the parameter mapping
    return v1.HyperparameterTuningJob(
        display_name=_display_name(cfg, job_id),
        study_spec=study_spec(cfg),
        max_trial_count=trials,
        parallel_trial_count=parallel,
        max_failed_trial_count=int(hs.get("max_failed_trial_count", 0) or 0),
        trial_job_spec=_custom_job_spec(cfg, args, _output_dir(cfg, job_id, dry_run), dry_run),
        labels=_labels(cfg, "vizier"),
    )


def job_to_json(job) -> str:
    """The REST body (camelCase JSON, enums by name) of a CustomJob or HyperparameterTuningJob."""
    from google.protobuf import json_format

    return json_format.MessageToJson(type(job).pb(job), indent=2, sort_keys=True)


def job_to_dict(job) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(type(job).pb(job))
