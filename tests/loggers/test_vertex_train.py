"""``logger=vertex`` / ``logger=many`` through the real training entry point."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.network_guard import guarded_command
from tests.loggers.conftest import LOCATION, PROJECT, STORE, context_name, tb_run_name
from zeta_rmt.loggers.vertex.journal import Journal, RunPlan

REPO = Path(__file__).resolve().parents[2]

def journal_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("journal.jsonl"))


def assert_server_holds_journal(server, journal_dir: Path, tb: str = "tb1") -> RunPlan:
    plan = RunPlan.from_records(Journal.read(journal_dir))
    run = plan.target["run_name"]
    md = server.get(context_name("e", run))["metadata"]
    assert md["_params"] == plan.params
    assert md["_state"] == "COMPLETE"
    assert md["_metrics"] == pytest.approx({k: float(v) for k, v in plan.summary.items()})
    tb_run = tb_run_name("e", run, tb)
    on_server = server.time_series(tb_run)
    assert set(on_server) == set(plan.points)
    for key, series in plan.points.items():
        assert on_server[key] == pytest.approx({s: v for s, (v, _) in series.items()}), key
    assert all(n == 1 for counts in server.write_counts(tb_run).values() for n in counts.values())
    return plan


def test_train_with_logger_many_writes_files_and_vertex(fake_vertex, make_cfg, tmp_path):
    from zeta_rmt.loggers.vertex import logger as vertex_logger
    from zeta_rmt.train import train

    fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    cfg = make_cfg("logger=many", "debug=fast", "callbacks=none", "trainer.max_epochs=2",
                   f"logger.vertex.project={PROJECT}", f"logger.vertex.location={LOCATION}",
                   "logger.vertex.experiment=e", "logger.vertex.tensorboard=tb1",
                   f"logger.vertex.api_endpoint={fake_vertex.endpoint}", "logger.vertex.flush_interval=0.2",
                   "logger.vertex.request_timeout=2")
    assert cfg.logger.vertex.save_dir == str(tmp_path / "run")
    try:
        result = train(cfg)
    finally:
        for lg in list(vertex_logger._LIVE):
            lg.close(timeout=5.0)
    assert result["status"] == "completed"
    out = tmp_path / "run"
    assert list(out.glob("csv/**/metrics.csv")) and list(out.glob("tensorboard/**/events.out.tfevents.*"))
    [jdir] = journal_dirs(out / "vertex")
    plan = assert_server_holds_journal(fake_vertex, jdir)
    assert plan.params["data.num_zeros"] == 400 and plan.params["logger.vertex.experiment"] == "e"
    assert plan.params["data.primes"] == "[2, 3, 5, 7, 11, 13]"
    assert {"train/loss", "val/loss", "extrap/mse"} <= set(plan.points)
    assert plan.target["run_name"].startswith("run-")  # composed without a Hydra app


@pytest.mark.slow
def test_done_when_command_against_the_fake(fake_vertex, tmp_path):
    """python -m zeta_rmt.train logger=vertex logger.project=p logger.location=europe-west4
    logger.experiment=e logger.api_endpoint=http://127.0.0.1:PORT (+ debug=fast, a run dir).

    The experiment exists already, with a backing TensorBoard (as one made in the console):
    time series go there."""
    tb = fake_vertex.add_tensorboard(PROJECT, LOCATION, "tb1")
    fake_vertex.put(context_name("e"), {"displayName": "e", "schemaTitle": "system.Experiment", "schemaVersion": "0.0.1",
                                        "metadata": {"experiment_deleted": False, "backing_tensorboard_resource": tb}})
    run_dir = tmp_path / "hydra-run"
    args = ["logger=vertex", f"logger.project={PROJECT}", f"logger.location={LOCATION}",
            "logger.experiment=e", f"logger.api_endpoint={fake_vertex.endpoint}",
            "debug=fast", f"hydra.run.dir={run_dir}"]
    # the child runs `python -m zeta_rmt.train` behind a network guard like the tests' one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(guarded_command("zeta_rmt.train", *args), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "NetworkGuardError" not in proc.stderr + proc.stdout
    [jdir] = journal_dirs(run_dir / "vertex")
    plan = assert_server_holds_journal(fake_vertex, jdir)
    assert plan.target["run_name"].startswith("train-")  # named after the Hydra job
    assert plan.params["data.num_zeros"] == 400 and plan.n_points > 10
    runs = [c for c in fake_vertex.children(f"{STORE}/contexts") if c["schemaTitle"] == "system.ExperimentRun"]
    assert len(runs) == 1 and context_name("e") in runs[0]["parentContexts"]
