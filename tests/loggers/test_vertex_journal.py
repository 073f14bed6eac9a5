"""Journal, upload log and parameter conversion (no network)."""
from __future__ import annotations

import json
import math
import re

import pytest
from omegaconf import OmegaConf

from zeta_rmt.loggers.vertex import naming
from zeta_rmt.loggers.vertex.journal import Journal, RunPlan, UploadLog, UploadState, read_jsonl
from zeta_rmt.loggers.vertex.naming import default_run_name, existing_run_name, validate_experiment
from zeta_rmt.loggers.vertex.params import flatten_params, scalar, summary_value


def test_flatten_params_types_and_long_lists():
    cfg = OmegaConf.create({
        "data": {"num_zeros": 10000, "primes": [2, 3, 5, 7], "source": "odlyzko", "nested": {"x": None}},
        "loss": {"weights": {"mse": 1.0, "rg": 0.1}},
        "flag": True, "empty": {}, "lr": "${loss.weights.rg}", "nan": float("nan"),
        "long": list(range(1000)),
    })
    flat = flatten_params(cfg, max_len=50)
    assert flat["data.num_zeros"] == 10000 and isinstance(flat["data.num_zeros"], int)
    assert flat["data.primes"] == "[2, 3, 5, 7]"
    assert flat["data.nested.x"] == "null" and flat["flag"] == "true" and flat["empty"] == "{}"
    assert flat["loss.weights.rg"] == 0.1 and flat["lr"] == 0.1  # interpolations resolved
    assert flat["nan"] == "nan"
    assert len(flat["long"]) == 50 and flat["long"].startswith("[0, 1, 2") and flat["long"].endswith("…")
    assert all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in flat.values())
    with pytest.raises(TypeError, match="mapping"):
        flatten_params([1, 2])


def test_scalar_and_summary_values():
    import torch

    assert scalar(torch.tensor(2.5)) == 2.5 and scalar(3) == 3.0 and scalar("x") is None
    assert scalar(torch.ones(3)) is None
    assert summary_value(float("inf")) == "inf" and summary_value(1.5) == 1.5


def test_journal_appends_repairs_torn_lines_and_continues_seq(tmp_path):
    j = Journal(tmp_path)
    j.record("open", run_name="r", experiment="e")
    j.record("metrics", step=0, metrics={"loss": 1.0, "nan": math.nan})
    j.close()
    with open(tmp_path / "journal.jsonl", "ab") as f:  # a crash in the middle of a line
        f.write(b'{"v":1,"seq":2,"kind":"metr')
    recs, _ = read_jsonl(tmp_path / "journal.jsonl")
    assert [r["seq"] for r in recs] == [0, 1]
    j2 = Journal(tmp_path)
    j2.record("metrics", step=1, metrics={"loss": 0.5})
    j2.close()
    recs = Journal.read(tmp_path)
    assert [r["seq"] for r in recs] == [0, 1, 2] and recs[-1]["metrics"] == {"loss": 0.5}
    assert math.isnan(recs[1]["metrics"]["nan"])


def test_run_plan_keeps_first_value_per_step_and_latest_summary():
    plan = RunPlan.from_records([
        {"kind": "open", "run_name": "r"},
        {"kind": "params", "params": {"a": 1}},
        {"kind": "metrics", "step": 0, "t": 1.0, "metrics": {"loss": 3.0, "epoch": 0.0}},
        {"kind": "metrics", "step": 0, "t": 2.0, "metrics": {"val": 2.0, "epoch": 0.0}},
        {"kind": "metrics", "step": 1, "t": 3.0, "metrics": {"loss": 1.0}},
        {"kind": "params", "params": {"b": "x"}},
        {"kind": "state", "state": "COMPLETE"},
    ])
    assert plan.params == {"a": 1, "b": "x"}
    assert plan.points == {"loss": {0: (3.0, 1.0), 1: (1.0, 3.0)}, "epoch": {0: (0.0, 1.0)}, "val": {0: (2.0, 2.0)}}
    assert plan.summary == {"loss": 1.0, "epoch": 0.0, "val": 2.0}
    assert plan.state == "COMPLETE" and plan.relogged == 1 and plan.n_points == 4
    plan.apply({"kind": "open", "run_name": "r"})  # a restarted job: running again
    assert plan.state == "RUNNING"


def test_upload_log_tracks_confirmed_and_doubtful_writes(tmp_path):
    plan = RunPlan.from_records([{"kind": "metrics", "step": s, "metrics": {"a": 1.0, "b": 2.0}} for s in range(4)])
    ulog = UploadLog(tmp_path)
    t1 = ulog.record_try({"a": [0, 1], "b": [0, 1]})
    ulog.record_done(t1)
    t2 = ulog.record_try({"a": [2, 3]})  # no answer: in doubt
    assert ulog.doubt() == {"a": [t2]}
    assert {k: sorted(v) for k, v in ulog.pending(plan).items()} == {"a": [2, 3], "b": [2, 3]}
    # another reader (e.g. sync in another process) sees the same
    other = UploadState(tmp_path)
    assert other.doubt() == {"a": [t2]} and other.acked == {"a": {0, 1}, "b": {0, 1}}
    ulog.record_have("a", [2])  # the server had step 2
    ulog.record_checked("a", [t2])
    assert ulog.doubt() == {}
    assert {k: sorted(v) for k, v in ulog.pending(plan).items()} == {"a": [3], "b": [2, 3]}
    ulog.record_digest("state", "COMPLETE")
    ulog.close()
    lines = [json.loads(x) for x in (tmp_path / "uploads.jsonl").read_text().splitlines()]
    assert [x["op"] for x in lines] == ["try", "done", "try", "have", "checked", "state"]


def test_names(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="experiment"):
        validate_experiment(None)
    with pytest.raises(ValueError, match="invalid experiment name 'My_Exp'.*'my-exp'"):
        validate_experiment("My_Exp")
    monkeypatch.delenv("CLOUD_ML_JOB_ID", raising=False)
    a, b = default_run_name("e"), default_run_name("e")
    assert a != b and a.startswith("run-")
    assert default_run_name("e", env={"CLOUD_ML_JOB_ID": "123456", "CLOUD_ML_TRIAL_ID": "7"}) == "run-123456-t7"
    # inside a Hydra multirun: the job name, and the job number keeps jobs of one sweep apart
    monkeypatch.setattr(naming, "_hydra_job", lambda: ("zeta_rmt.train", 3))
    assert default_run_name("e", env={"CLOUD_ML_JOB_ID": "99"}) == "zeta-rmt-train-99-3"
    assert re.fullmatch(r"zeta-rmt-train-\d{8}-\d{6}-[0-9a-f]{4}-3", default_run_name("e", env={}))
    long = default_run_name("x" * 100, env={})
    assert len("x" * 100) + 1 + len(long) <= 128
    j = Journal(tmp_path / "vertex" / "run-x")
    j.record("open", experiment="e", run_name="run-x")
    j.close()
    assert existing_run_name(tmp_path / "vertex", "e") == "run-x"
    assert existing_run_name(tmp_path / "vertex", "other") is None
