"""Scale-out on GCP Batch: one job, one task per shard (a task array), no scheduler of ours.

Batch sets ``BATCH_TASK_INDEX`` (0 … task_count − 1) in every task; each task runs

    python -m zeta_rmt.zeros task --start S --count C --shard-size K --out gs://bucket/zeros

in the project's container image, which generates shard ``BATCH_TASK_INDEX`` of the plan
(:func:`zeta_rmt.zeros.sharded.plan_shards`), writes ``.npy`` + sidecar to the bucket,
and finalises ``manifest.json`` when it sees every shard done. Retries are Batch's
(``max_retry_count``); a retried or rerun task skips a shard that is already complete and
verified. If two last tasks finish at the same instant neither may see the other's shard;
``python -m zeta_rmt.zeros finalize gs://…`` (or rerunning ``generate`` locally with the
same arguments, which skips every verified shard) completes the manifest.

``google-cloud-batch`` (the ``gcp`` extra) is imported only to build or submit a job.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from zeta_rmt.zeros.errors import ZeroDataError

DEFAULTS = {
    "machine_type": "e2-standard-2",
    "cpu_milli": 2000,
    "memory_mib": 4096,
    "parallelism": 50,
    "max_retry_count": 2,
    "max_run_duration_s": 3600,
    "entrypoint": "python",
    "spot": False,
}


@dataclass
class BatchConfig:
    """What the job needs besides the shard plan. Loaded from YAML/JSON, overridden by flags."""

    image: str | None = None
    project: str | None = None
    region: str | None = None
    machine_type: str = DEFAULTS["machine_type"]
    cpu_milli: int = DEFAULTS["cpu_milli"]
    memory_mib: int = DEFAULTS["memory_mib"]
    parallelism: int = DEFAULTS["parallelism"]
    max_retry_count: int = DEFAULTS["max_retry_count"]
    max_run_duration_s: int = DEFAULTS["max_run_duration_s"]
    entrypoint: str = DEFAULTS["entrypoint"]
    spot: bool = DEFAULTS["spot"]
    service_account: str | None = None
    labels: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None = None, **overrides) -> "BatchConfig":
        """Config file (YAML or JSON, keys as the fields; a top-level ``batch:`` section is
        also accepted), then ``ZETA_RMT_BATCH_IMAGE`` for the image, then non-None overrides."""
        data: dict = {}
        if path:
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise ZeroDataError(f"batch config {path}: {exc}") from exc
            if path.endswith(".json"):
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text) or {}
            if isinstance(data, dict) and isinstance(data.get("batch"), dict):
                data = data["batch"]
            if not isinstance(data, dict):
                raise ZeroDataError(f"batch config {path}: expected a mapping of settings")
            unknown = set(data) - set(cls.__dataclass_fields__)
            if unknown:
                raise ZeroDataError(f"batch config {path}: unknown keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        cfg = cls(**data)
        if not cfg.image and os.environ.get("ZETA_RMT_BATCH_IMAGE"):
            cfg.image = os.environ["ZETA_RMT_BATCH_IMAGE"]
        for k, v in overrides.items():
            if v is not None:
                setattr(cfg, k, v)
        return cfg


def task_command(out: str, start: int, count: int, shard_size: int) -> list[str]:
    """Arguments after the entrypoint (``python``) that run one task of the array."""
    return [
        "-m", "zeta_rmt.zeros", "task",
        "--out", out,
        "--start", str(start),
        "--count", str(count),
        "--shard-size", str(shard_size),
    ]


def build_job(cfg: BatchConfig, *, out: str, start: int, count: int, shard_size: int):
    """The ``batch_v1.Job``: task_count = number of shards, each task → one shard."""
    from zeta_rmt.zeros.sharded import plan_shards

    if not cfg.image:
        raise ZeroDataError(
            "no container image: pass --image, set `image:` in the batch config, or ZETA_RMT_BATCH_IMAGE "
            "(the project's docker/ image, which runs `python -m zeta_rmt...`)"
        )
    if not str(out).startswith("gs://"):
        raise ZeroDataError(f"--out must be a gs:// URL for a Batch job (tasks run on other machines), got {out!r}")
    try:
        from google.cloud import batch_v1
        from google.protobuf import duration_pb2
    except ImportError as exc:
        raise ZeroDataError("GCP Batch needs google-cloud-batch: pip install 'zeta_rmt[gcp]'") from exc
    specs = plan_shards(start, count, shard_size)
    env = {
        # writable caches inside the container (numba's compiled kernels, polished zeros)
        "ZETA_RMT_CACHE": "/tmp/zeta_rmt_cache",
        "NUMBA_CACHE_DIR": "/tmp/numba_cache",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({str(k): str(v) for k, v in cfg.env.items()})
    container = batch_v1.Runnable.Container(
        image_uri=cfg.image,
        entrypoint=cfg.entrypoint,
        commands=task_command(out, start, count, shard_size),
    )
    task = batch_v1.TaskSpec(
        runnables=[batch_v1.Runnable(container=container)],
        compute_resource=batch_v1.ComputeResource(cpu_milli=int(cfg.cpu_milli), memory_mib=int(cfg.memory_mib)),
        max_retry_count=int(cfg.max_retry_count),
        max_run_duration=duration_pb2.Duration(seconds=int(cfg.max_run_duration_s)),
        environment=batch_v1.Environment(variables=env),
    )
    group = batch_v1.TaskGroup(
        task_spec=task,
        task_count=len(specs),
        parallelism=max(1, min(int(cfg.parallelism), len(specs))),
    )
    policy = batch_v1.AllocationPolicy.InstancePolicy(machine_type=cfg.machine_type)
    if cfg.spot:
        policy.provisioning_model = batch_v1.AllocationPolicy.ProvisioningModel.SPOT
    alloc = batch_v1.AllocationPolicy(
        instances=[batch_v1.AllocationPolicy.InstancePolicyOrTemplate(policy=policy)],
    )
    if cfg.service_account:
        alloc.service_account = batch_v1.ServiceAccount(email=cfg.service_account)
    labels = {"app": "zeta-rmt", "purpose": "zeros"}
    labels.update({str(k): str(v) for k, v in cfg.labels.items()})
    return batch_v1.Job(
        task_groups=[group],
        allocation_policy=alloc,
        labels=labels,
        logs_policy=batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING),
    )


def job_to_json(job) -> str:
    """The job as the JSON the Batch REST API takes (camelCase field names)."""
    from google.protobuf import json_format

    return json_format.MessageToJson(type(job).pb(job), indent=2, sort_keys=True)


def default_job_id(start: int, count: int) -> str:
    import time

    return f"zeta-zeros-{start}-{count}-{time.strftime('%Y%m%d-%H%M%S')}".lower()[:63]


def submit_job(job, cfg: BatchConfig, job_id: str, *, client=None):
    """Create the job (REST transport). Needs project and region; returns the created Job."""
    if not cfg.project or not cfg.region:
        raise ZeroDataError("submitting a Batch job needs --project and --region (or project:/region: in the config)")
    if client is None:
        from google.cloud import batch_v1

        client = batch_v1.BatchServiceClient(transport="rest")
    parent = f"projects/{cfg.project}/locations/{cfg.region}"
    return client.create_job(parent=parent, job=job, job_id=job_id)


def run_task(out: str, start: int, count: int, shard_size: int, *, index: int | None = None,
             storage_options: dict | None = None, chunk: int = 100_000) -> dict:
    """One task of the array: shard ``index`` (default ``$BATCH_TASK_INDEX``). Idempotent."""
    from zeta_rmt.zeros.generator import GENERATOR_VERSION
    from zeta_rmt.zeros.sharded import Dataset, generate_shard, plan_shards

    if index is None:
        raw = os.environ.get("BATCH_TASK_INDEX")
        if raw is None:
            raise ZeroDataError("no task index: pass --index or set BATCH_TASK_INDEX (GCP Batch sets it)")
        try:
            index = int(raw)
        except ValueError:
            raise ZeroDataError(f"BATCH_TASK_INDEX={raw!r} is not an integer") from None
    specs = plan_shards(start, count, shard_size)
    if not 0 <= index < len(specs):
        raise ZeroDataError(f"task index {index} out of range: the plan has {len(specs)} shards (0..{len(specs) - 1})")
    spec = specs[index]
    ds = Dataset(out, storage_options)
    ds.write_plan(start, count, shard_size, GENERATOR_VERSION)
    skipped = ds.shard_done(spec, GENERATOR_VERSION)
    entry = ds.read_sidecar(spec) if skipped else generate_shard(ds, spec, chunk=chunk)
    complete = ds.finalize()
    return {"index": index, "shard": asdict(spec), "skipped": skipped, "sha256": entry["sha256"], "manifest_complete": complete}
