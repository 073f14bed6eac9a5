"""``python -m zeta_rmt.launch [--dry-run] [--wait] [--job-id ID] [Hydra overrides ...]``

Composes ``configs/train.yaml`` with the overrides exactly as ``python -m zeta_rmt.train``
would, then submits one Vertex AI CustomJob running that training (machine, accelerator
and count from ``hardware.vertex``; project, region, bucket, image, service account,
Spot and restart options from ``cloud.*``). With ``hparams_search=vizier`` it submits one
HyperparameterTuningJob instead. ``--dry-run`` prints the job's JSON and submits nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from zeta_rmt.launch import spec as specs
from zeta_rmt.utils.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def compose(overrides: Sequence[str]):
    """The training config for ``overrides`` (no Hydra run directory: ``paths`` is not resolved)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    for o in overrides:
        key, _, value = o.partition("=")
        if key.startswith("hydra/launcher") or key.startswith("hydra.launcher"):
            raise ConfigError(f"{o}: launcher overrides belong to sweeps: python -m zeta_rmt.train -m "
                              f"hydra/launcher=vertex ...")
        if "," in value and not value.strip().startswith(("[", "{", "'", '"')):
            raise ConfigError(f"{o}: a sweep (comma list) submits several jobs; use python -m zeta_rmt.train -m "
                              f"hydra/launcher=vertex {o} ... (python -m zeta_rmt.launch submits one job)")
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return hydra_compose(config_name="train", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"cannot compose the config with {list(overrides)}: {exc}") from exc


def build(cfg, overrides: Sequence[str], job_id: str, dry_run: bool):
    if specs.is_vizier(cfg):
        return specs.build_hpt_job(cfg, overrides, job_id, dry_run=dry_run)
    return specs.build_custom_job(cfg, overrides, job_id, dry_run=dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zeta_rmt.launch",
        description="Submit a zeta_rmt training run (or, with hparams_search=vizier, a Vizier search) to Vertex AI.",
        epilog="Example: python -m zeta_rmt.launch experiment=team1_fullbatch cloud.project=P "
               "cloud.base_output_dir=gs://B/zeta_rmt cloud.image_uri=IMAGE --dry-run. See docs/vertex_ai.md.")
    parser.add_argument("--dry-run", action="store_true", help="print the job spec JSON; submit nothing")
    parser.add_argument("--wait", action="store_true", help="poll until the job ends (also: cloud.wait=true)")
    parser.add_argument("--job-id", default=None, help="output sub-folder / display-name suffix (also: cloud.job_id)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m zeta_rmt.train")
    args = parser.parse_intermixed_args(argv)
    try:
        cfg = compose(args.overrides)
        cloud = cfg.cloud
        job_id = args.job_id or cloud.get("job_id") or specs.new_job_id()
        job = build(cfg, args.overrides, str(job_id), args.dry_run)
        kind = "HyperparameterTuningJob" if specs.is_vizier(cfg) else "CustomJob"
        nodes = int(cfg.hardware.get("replica_count", 1) or 1)
        if nodes > 1:  # worker pool 0: the chief; pool 1: the other nodes (zeta_rmt.launch.cluster_env)
            kind += f" on {nodes} nodes (worker pool 0: the chief, pool 1: {nodes - 1} worker(s))"
        if args.dry_run:
            print(specs.job_to_json(job))
            missing = specs.missing_settings(cfg)
            parent = f"projects/{cloud.get('project') or '?'}/locations/{cloud.get('location') or '?'}"
            print(f"[zeta_rmt.launch] dry run: {kind} for {parent}; nothing submitted."
                  + (f" Set {', '.join(missing)} before submitting." if missing else ""), file=sys.stderr)
            return 0
        from zeta_rmt.launch import client

        ref = client.submit(cloud, job)
        print(f"[zeta_rmt.launch] submitted {kind} {ref.name}", file=sys.stderr)
        print(f"[zeta_rmt.launch] outputs: {ref.output_dir}", file=sys.stderr)
        print(f"[zeta_rmt.launch] console: {ref.console_url}", file=sys.stderr)
        print(ref.name)
        if args.wait or cloud.get("wait"):
            state, error = client.wait(cloud, [ref], echo=lambda m: print(m, file=sys.stderr))[ref.name]
            if state != "JOB_STATE_SUCCEEDED":
                print(f"zeta_rmt.launch: error: {ref.name} ended {state}" + (f": {error}" if error else ""),
                      file=sys.stderr)
                return 1
        return 0
    except ConfigError as exc:
        print(f"zeta_rmt.launch: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
