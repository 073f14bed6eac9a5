"""The zeta_optuna sweeper against what users expect from Hydra's grammar and from the
hydra-optuna-sweeper plugin (issue 15): descending and shuffled ranges, stepped float ranges,
max_failure_rate, multi-objective search with its Pareto front (in optimization_results.yaml and
the report), custom_search_space, and the ``name`` key of optimization_results.yaml.

In-process tests drive the sweeper with a fake launcher (no training); two subprocess multiruns:
a real training sweep over a descending range, and the toy two-objective app of tests/apps."""
from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

import optuna  # noqa: E402  (a dev dependency: the sweeper under test needs it)

from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from hydra.core.utils import JobReturn, JobStatus  # noqa: E402
from hydra.errors import HydraException  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402

from hydra_plugins.zeta_rmt_optuna_sweeper.optuna_sweeper import Dimension, ZetaOptunaSweeper, _float_grid  # noqa: E402
from tests.fixtures.network_guard import guarded_command  # noqa: E402
from zeta_rmt.report.__main__ import main as report_main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARSER = OverridesParser.create()
SIGMA = "loss.components.gue_mmd.sigma"
SAMPLES = "loss.components.gue_mmd.samples"

optuna.logging.set_verbosity(optuna.logging.WARNING)


def dim(text: str) -> Dimension:
    return Dimension.from_override(PARSER.parse_override(text))


def hydra_values(text: str) -> list[str]:
    """What Hydra's basic sweeper would run for this sweep (its own expansion)."""
    return list(PARSER.parse_override(text).sweep_string_iterator())


def sampled(d: Dimension, n: int = 200, seed: int = 0) -> set[str]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return {d.override(study.ask()).split("=", 1)[1] for _ in range(n)}


# -- 1. descending integer ranges --------------------------------------------------------------
@pytest.mark.parametrize("text, dist", [
    ("x=range(5, 0, -1)", IntDistribution(1, 5, step=1)),
    ("x=range(3000,1000,-1000)", IntDistribution(2000, 3000, step=1000)),
    ("x=range(10, 0, -3)", IntDistribution(1, 10, step=3)),        # 10, 7, 4, 1
    ("x=range(0, 10, 3)", IntDistribution(0, 9, step=3)),          # ascending as before
    ("x=range(7, 8)", IntDistribution(7, 7, step=1)),
])
def test_descending_int_range_is_the_set_hydra_lists(text, dist):
    d = dim(text)
    assert d.distribution() == dist
    assert sampled(d, 100) == set(hydra_values(text))


def test_empty_range_is_refused():
    with pytest.raises(HydraException, match="is empty"):
        dim("x=range(0, 5, -1)")


# -- 2. shuffle(...) ------------------------------------------------------------------------------
def test_shuffle_is_the_same_set_of_values_in_any_order():
    for seed in range(20):  # Hydra shuffles with the global random module
        random.seed(seed)
        assert dim("x=shuffle(range(1,4))").distribution() == IntDistribution(1, 3)
        random.seed(seed)
        assert dim("x=shuffle(range(3, 0, -1))").distribution() == IntDistribution(1, 3)
        random.seed(seed)
        d = dim("x=shuffle(0.5, 1.5, 2.5)")
        assert d.distribution() == CategoricalDistribution([0.5, 1.5, 2.5])
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        for _ in range(10):  # each choice maps to its own text, whatever the shuffle order
            t = study.ask()
            assert d.override(t) == f"x={t.params['x']}"
        random.seed(seed)
        assert dim("x=shuffle(range(0.5, 3.5, 1))").distribution() == FloatDistribution(0.5, 2.5, step=1.0)


# -- 3. stepped float ranges -------------------------------------------------------------------
@pytest.mark.parametrize("text, dist", [
    ("x=range(0.5, 5.5, step=1)", FloatDistribution(0.5, 4.5, step=1.0)),
    ("x=range(0.1, 1.0, 0.1)", FloatDistribution(0.1, 0.9, step=0.1)),
    ("x=range(0, 1, 0.3)", FloatDistribution(0.0, 0.9, step=0.3)),   # Hydra lists 0.8999999999999999
    ("x=range(1.0, 0.0, -0.25)", FloatDistribution(0.25, 1.0, step=0.25)),
    ("x=range(-1.3, 2.9, 0.7)", FloatDistribution(-1.3, 2.9, step=0.7)),
    ("x=float(range(1, 4))", FloatDistribution(1.0, 3.0, step=1.0)),
])
def test_float_range_is_an_ordered_grid_over_exactly_hydras_values(text, dist):
    d = dim(text)
    assert d.kind == "float" and d.distribution() == dist
    listed = hydra_values(text)
    # every point of Optuna's grid is one of Hydra's values, each exactly as Hydra writes it
    dist = d.distribution()
    n = int(round((dist.high - dist.low) / dist.step)) + 1
    assert n == len(listed)
    study = optuna.create_study()
    for k in range(n):
        study.enqueue_trial({"x": dist.low + k * dist.step})
    grid = [d.override(study.ask()).split("=", 1)[1] for _ in range(n)]
    assert sorted(grid, key=float) == sorted(listed, key=float) and len(set(grid)) == n
    assert sampled(d, 300) == set(listed)  # and that is all a sampler can give


def test_float_grid_that_optuna_cannot_hold_is_refused():
    assert _float_grid([0.0, 0.1, 0.3], 0.1) is None  # not an arithmetic grid: Categorical instead
    assert _float_grid([0.0, 0.5, 1.0], 0.5) == (0.0, 1.0, 0.5)


# -- 4. the sweep loop with a fake launcher ----------------------------------------------------
class FakeLauncher:
    """Runs ``fn(overrides dict)`` per job in this process: a number, a list, None, or raises."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def launch(self, job_overrides, initial_job_idx):
        out = []
        for i, ov in enumerate(job_overrides):
            self.calls.append(list(ov))
            d = dict(o.split("=", 1) for o in ov)
            r = JobReturn(overrides=list(ov), working_dir=None, status=JobStatus.COMPLETED)
            try:
                r.return_value = self.fn(d)
            except Exception as exc:  # noqa: BLE001 - as Hydra's run_job records a raising job
                r.status, r.return_value = JobStatus.FAILED, exc
            out.append(r)
        return out


def make_sweeper(tmp_path, fn, *, metric="extrap/mse", **kw) -> ZetaOptunaSweeper:
    kw.setdefault("sampler", {"_target_": "optuna.samplers.RandomSampler", "seed": 0})
    sw = ZetaOptunaSweeper(study_name="toy", **kw)
    sw.config = OmegaConf.create({"optimized_metric": metric, "task_name": "toy",
                                  "hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    sw.launcher = FakeLauncher(fn)
    return sw


def results(tmp_path) -> dict:
    return OmegaConf.to_container(OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml"))


def test_max_failure_rate_stops_the_study_with_one_clear_line(tmp_path):
    def fn(d):
        if float(d["x"]) >= 2:
            raise ValueError(f"boom at x={d['x']}")
        return float(d["x"])

    params = {"x": "range(0, 4)"}
    sw = make_sweeper(tmp_path, fn, params=params, n_trials=12, max_failure_rate=0.25)
    with pytest.raises(HydraException) as info:
        sw.sweep([])
    msg = str(info.value)
    assert "\n" not in msg and "max_failure_rate=0.25" in msg and "ValueError: boom at x=" in msg
    trials = sw.study.get_trials()
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert f"{len(failed)}/{len(trials)} trials" in msg and len(failed) / len(trials) > 0.25
    assert len(trials) < 12 and f"trial {failed[0].number}:" in msg
    assert results(tmp_path)["trials"]["fail"] == len(failed)  # the results are written before stopping

    # the default (1.0) keeps today's behaviour: every trial runs, failures and all
    sw = make_sweeper(tmp_path / "b", fn, params=params, n_trials=12)
    sw.sweep([])
    states = [t.state.name for t in sw.study.get_trials()]
    assert len(states) == 12 and "FAIL" in states and "COMPLETE" in states
    with pytest.raises(HydraException, match="max_failure_rate must be a number in"):
        ZetaOptunaSweeper(max_failure_rate=1.5)


def test_multi_objective_pareto_front_in_optimization_results(tmp_path):
    def fn(d):
        x = float(d["x"])
        return [x * x, (x - 2) ** 2] if x != 3 else [9.0]  # x=3: a wrong number of values

    sw = make_sweeper(tmp_path, fn, metric=["extrap/mse", "extrap/ks/gaudin"], direction=["minimize", "minimize"],
                      params={"x": "range(0.0, 3.5, 0.5)"}, n_trials=20)
    sw.sweep([])
    study = sw.study
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    assert study.metric_names == ["extrap/mse", "extrap/ks/gaudin"]
    res = results(tmp_path)
    assert res["name"] == "toy" and res["direction"] == ["minimize", "minimize"]
    assert res["metric"] == ["extrap/mse", "extrap/ks/gaudin"] and "best_value" not in res
    front = {e["trial"]: e for e in res["pareto_front"]}
    assert set(front) == {t.number for t in study.best_trials}
    for t in study.best_trials:
        e = front[t.number]
        assert e["values"] == {"extrap/mse": t.values[0], "extrap/ks/gaudin": t.values[1]}
        assert e["params"] == t.params and e["overrides"] == [f"x={t.params['x']}"]
        assert 0 <= t.params["x"] <= 2  # exactly the non-dominated x of this toy problem
    bad = [t for t in study.get_trials() if t.state.name == "FAIL"]
    assert bad and all("not 2 for" in t.user_attrs["failure"] for t in bad)
    # a dict return (metric name -> value) works too
    sw = make_sweeper(tmp_path / "d", lambda d: {"a": 1.0, "b": float(d["x"])}, metric=["a", "b"],
                      direction=["minimize", "maximize"], params={"x": "range(0, 3)"}, n_trials=3)
    sw.sweep([])
    assert [t.values for t in sw.study.best_trials] == [[1.0, 2.0]]
    # one direction per metric
    sw = make_sweeper(tmp_path / "e", lambda d: 1.0, metric="extrap/mse", direction=["minimize", "minimize"],
                      params={"x": "range(0, 3)"})
    with pytest.raises(HydraException, match="one direction per metric"):
        sw.sweep([])


def test_custom_search_space_conditional_parameter_recorded(tmp_path):
    fn_path = "hydra_plugins.zeta_rmt_optuna_sweeper.search_spaces.mmd_sigma_when_gue"

    def fn(d):
        assert (SIGMA in d) == (d[SAMPLES] == "gue")  # the σ list only when samples=gue
        return 0.0 if d.get(SIGMA) == "[0.1,0.3,1.0]" else 1.0 + float(d["x"])

    sw = make_sweeper(tmp_path, fn, params={SAMPLES: "choice(surmise, gue)", "x": "range(0, 3)"}, n_trials=16,
                      custom_search_space=fn_path)
    sw.sweep([f"{SIGMA}=2.0"])  # a fixed value of the key is replaced where the function suggests it
    trials = sw.study.get_trials()
    gue = [t for t in trials if t.params[SAMPLES] == "gue"]
    assert gue and len(gue) < len(trials)
    for t in trials:
        ov = t.user_attrs["overrides"]
        if t.params[SAMPLES] == "gue":
            assert t.params[SIGMA] in ("1.0", "[0.3,1.0,3.0]", "[0.1,0.3,1.0]")
            assert f"{SIGMA}={t.params[SIGMA]}" in ov and f"{SIGMA}=2.0" not in ov
        else:
            assert SIGMA not in t.params and f"{SIGMA}=2.0" in ov
    res = results(tmp_path)
    assert res["best_value"] == 0.0 and res["best_params"][SIGMA] == "[0.1,0.3,1.0]"
    assert f"{SIGMA}=[0.1,0.3,1.0]" in res["best_overrides"] and res["name"] == "toy"
    assert sw.study.user_attrs["search_space"]["custom_search_space"] == fn_path
    sw = make_sweeper(tmp_path / "b", fn, params={"x": "range(0, 3)"}, custom_search_space="no.such.fn")
    with pytest.raises(HydraException, match="custom_search_space: cannot load 'no.such.fn'"):
        sw.sweep([])


# -- subprocess multiruns ------------------------------------------------------------------------
def _run(module: str, *args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(guarded_command(module, *args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_descending_range_on_the_command_line_trains_three_trials(tmp_path):
    db = tmp_path / "s.db"
    _run("zeta_rmt.train", "-m", "hparams_search=optuna", "hydra.sweeper.n_trials=3", "debug=fast",
         "data.num_zeros=range(3000,1000,-1000)", "trainer.max_epochs=1", "print_summary=false",
         f"hydra.sweeper.storage={db}", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{db}")
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert {t.distributions["data.num_zeros"] for t in trials} == {IntDistribution(2000, 3000, step=1000)}
    for t in trials:
        rec = json.loads((Path(t.user_attrs["output_dir"]) / "metrics.json").read_text())
        assert rec["num_zeros"] == t.params["data.num_zeros"] in (2000, 3000) and rec["status"] == "completed"
    res = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    assert res.name == "train" and res.trials.complete == 3


def test_multi_objective_toy_app_and_the_report_pareto_front(tmp_path, capsys):
    db = tmp_path / "toy.db"
    sweep = tmp_path / "sweep"
    proc = _run("tests.apps.toy_objectives.app", "-m", f"hydra.sweeper.storage={db}", f"hydra.sweep.dir={sweep}",
                "fail_above=2.75", cwd=tmp_path)  # x=3.0 raises: a failed trial, the search goes on
    assert "Pareto front of" in proc.stdout + proc.stderr
    study = optuna.load_study(study_name="toy", storage=f"sqlite:///{db}")
    front = sorted(t.number for t in study.best_trials)
    assert front and all(0 <= t.params["x"] <= 2 for t in study.best_trials)
    res = OmegaConf.to_container(OmegaConf.load(sweep / "optimization_results.yaml"))
    assert res["name"] == "toy" and sorted(e["trial"] for e in res["pareto_front"]) == front

    for src, out in ((str(sweep), tmp_path / "r_dir"), (f"sqlite:///{db}", tmp_path / "r_db")):
        assert report_main([src, "--out", str(out)]) == 0
        data = json.loads((out / "report.json").read_text())
        (fr,) = data["pareto"]
        assert fr["name"] == "toy" and fr["metrics"] == ["extrap/mse", "extrap/ks/gaudin"]
        assert sorted(e["trial"] for e in fr["front"]) == front
        by_trial = {t.number: t for t in study.best_trials}
        assert all(e["values"] == list(by_trial[e["trial"]].values) for e in fr["front"])
        assert sum(p["front"] for p in fr["points"]) == len(front)
        md = (out / "report.md").read_text()
        assert "## Pareto front: study toy" in md and "](pareto.png)" in md
        assert (out / "pareto.png").stat().st_size > 1000
    capsys.readouterr()


def test_training_config_takes_several_objectives(tmp_path):
    """train.py's side of a multi-objective search: a list of metrics validates, the best checkpoint
    follows the first objective, and the run returns one value per objective."""
    from omegaconf import OmegaConf

    from tests.conftest import compose_config
    from zeta_rmt.train import _monitor_first_objective, optimized_metrics, validate_config

    cfg = compose_config(["debug=fast", "optimized_metric=[extrap/mse,extrap/ks/gaudin]"], output_dir=tmp_path)
    validate_config(cfg)
    assert optimized_metrics(cfg) == ["extrap/mse", "extrap/ks/gaudin"]
    _monitor_first_objective(cfg)
    assert cfg.callbacks.model_checkpoint.monitor == "extrap/mse"
    bad = compose_config(["debug=fast", "optimized_metric=[extrap/mse,3]"], output_dir=tmp_path)
    with pytest.raises(Exception, match="optimized_metric must be a metric name"):
        validate_config(bad)
    one = compose_config(["debug=fast"], output_dir=tmp_path)
    assert optimized_metrics(one) == ["extrap/mse"] and OmegaConf.select(one, "callbacks.model_checkpoint.monitor") == "extrap/mse"
