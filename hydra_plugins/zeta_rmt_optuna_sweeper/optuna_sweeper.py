"""``python -m zeta_rmt.train -m hparams_search=optuna [overrides]``: Bayesian search with Optuna.

A Hydra sweeper of the project's own, written against current Optuna (>= 4, tested with 5.0)
through Optuna's ask-and-tell interface. (The ``hydra-optuna-sweeper`` 1.3 plugin caps
``optuna<3`` and its SQLite storage needs ``sqlalchemy<2`` and ``alembic<1.14``.)

Search space: ``hydra.sweeper.params`` (and sweep overrides on the command line) in Hydra's
override grammar::

    loss.weights.gue_nll: tag(log, interval(1e-3, 1))   # float, log-uniform
    trainer.max_epochs: int(interval(10, 100))           # int, uniform
    model.optimizer.lr: choice(5e-4, 1e-3, 5e-5)         # categorical
    data.primes: choice([2,3,5], [2,3,5,7])              # categorical over lists (stored as text)
    seed: range(0, 4)                                    # int with step

A plain ``key=value`` is the same in every trial.

* Objective: the task's return value, i.e. ``optimized_metric`` (``extrap/mse``), minimised
  (``direction``). A job that fails, returns None (a training run recorded as failed) or a
  non-finite value is a FAILED trial with the reason in its user attributes; the search goes on.
* Storage: ``storage`` is an SQLAlchemy URL or a file path (made ``sqlite:///<absolute path>``).
  With ``load_if_exists`` the same command resumes the study: ``n_trials`` is the study's TOTAL
  number of finished trials, so an interrupted search is completed by running it again, and
  raising ``n_trials`` extends it. A trial left RUNNING by an interrupted sweep is re-run with its
  parameters (``retry_interrupted``); so run one sweeper process per study.
* ``n_jobs`` trials are asked at a time and launched as one batch (the basic launcher runs them
  one after the other; a parallel launcher runs them together).
* Every trial records ``overrides`` and ``output_dir`` (its run directory, with metrics.json) as
  user attributes; ``<sweep dir>/optimization_results.yaml`` holds the best trial so far.
  ``python -m zeta_rmt.report sqlite:///...db`` builds the report from the study.

Optuna is imported when the sweep starts, not when Hydra scans plugins.
"""

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")


@dataclass
class ZetaOptunaSweeperConf:
    _target_: str = "hydra_plugins.zeta_rmt_optuna_sweeper.optuna_sweeper.ZetaOptunaSweeper"
    direction: str = "minimize"
    study_name: Optional[str] = None
    # SQLAlchemy URL or a file path (-> sqlite:///<absolute path>); null: in memory, not resumable
    storage: Optional[str] = None
    n_trials: int = 20
    n_jobs: int = 1
    load_if_exists: bool = True
    retry_interrupted: bool = True
    # an optuna.samplers class and its arguments (Hydra instantiates it with the sweeper)
    sampler: Dict[str, Any] = field(default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": None})
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="zeta_optuna", node=ZetaOptunaSweeperConf,
                             provider="zeta_rmt")


def storage_url(storage: Optional[str]) -> Optional[str]:
    """An SQLAlchemy URL for ``storage``; a plain path becomes ``sqlite:///<absolute path>``.
    The parent directory of an SQLite file is created."""
    if storage is None or str(storage).strip() == "":
        return None
    s = str(storage)
    if "://" not in s:
        path = Path(s).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if s.startswith("sqlite:///") and s != "sqlite:///:memory:":
        Path(s[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return s


class Dimension:
    """One searched parameter: how Optuna suggests it and how it becomes an override."""

    def __init__(self, key: str, kind: str, *, low=None, high=None, log=False, step=None,
                 choices: Sequence[Any] = (), texts: Sequence[str] = ()):
        self.key, self.kind = key, kind
        self.low, self.high, self.log, self.step = low, high, log, step
        self.choices, self.texts = list(choices), list(texts)

    @classmethod
    def from_override(cls, override: Override) -> "Dimension":
        key = override.get_key_element()
        value = override.value()
        tags = set(getattr(value, "tags", set()) or set())
        unknown = tags - {"log"}
        if unknown:
            raise HydraException(f"zeta_optuna sweeper: {key}: unknown tag(s) {sorted(unknown)}; only 'log' is "
                                 f"understood (tag(log, interval(a, b)))")
        if isinstance(value, IntervalSweep):
            low, high = value.start, value.end
            if not low < high:
                raise HydraException(f"zeta_optuna sweeper: {key}: interval({low}, {high}) is empty")
            if "log" in tags and low <= 0:
                raise HydraException(f"zeta_optuna sweeper: {key}: a log interval needs a positive start, got {low}")
            kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
            return cls(key, kind, low=low, high=high, log="log" in tags)
        if isinstance(value, RangeSweep) and all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
            if "log" in tags:
                raise HydraException(f"zeta_optuna sweeper: {key}: tag(log, ...) applies to interval(), not range()")
            values = list(override.sweep_iterator())
            if not values:
                raise HydraException(f"zeta_optuna sweeper: {key}: {override.get_value_element_as_str()} is empty")
            return cls(key, "int", low=values[0], high=values[-1], step=value.step)
        if override.is_discrete_sweep():  # choice(...), a,b,c, float range(...), glob(...)
            if "log" in tags:
                raise HydraException(f"zeta_optuna sweeper: {key}: tag(log, ...) applies to interval(), not choices")
            texts = list(override.sweep_string_iterator())
            values = list(override.sweep_iterator()) if not isinstance(value, ChoiceSweep) else list(value.list)
            scalar = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
            choices = values if scalar and len(values) == len(texts) else texts
            if len(set(map(repr, choices))) != len(choices):
                raise HydraException(f"zeta_optuna sweeper: {key}: repeated choices {texts}")
            return cls(key, "categorical", choices=choices, texts=texts)
        raise HydraException(f"zeta_optuna sweeper: {key}: cannot search over "
                             f"{override.get_value_element_as_str()} ({override.value_type})")

    def distribution(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "float":
            return FloatDistribution(float(self.low), float(self.high), log=self.log)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return CategoricalDistribution(self.choices)

    def override(self, trial) -> str:
        """Suggest this parameter in ``trial``; the ``key=value`` override."""
        if self.kind == "float":
            v = trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)
            return f"{self.key}={v!r}"
        if self.kind == "int":
            v = trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
            return f"{self.key}={v}"
        v = trial.suggest_categorical(self.key, self.choices)
        return f"{self.key}={self.texts[self.choices.index(v)]}"

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"categorical {self.texts}"
        scale = "log " if self.log else ""
        step = f" step {self.step}" if self.step else ""
        return f"{self.kind} {scale}[{self.low}, {self.high}]{step}"


def job_value(r: JobReturn) -> "tuple[Optional[float], Optional[str]]":
    """(objective value, None) of a finished job, or (None, why it is a failed trial)."""
    if r.status == JobStatus.FAILED:
        exc = r._return_value
        return None, f"the job raised {type(exc).__name__}: {exc}"
    v = r.return_value
    if v is None:
        return None, "the run returned no value (a training run recorded as failed, see its metrics.json)"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None, f"the run returned {v!r}, not a number"
    if not math.isfinite(f):
        return None, f"the run returned a non-finite value ({f})"
    return f, None


def _output_dir(r: JobReturn) -> Optional[str]:
    try:
        return str(r.hydra_cfg.hydra.runtime.output_dir)
    except Exception:  # noqa: BLE001 - a launcher that returns no Hydra config
        return r.working_dir


def _recorded_error(output_dir: Optional[str]) -> Optional[str]:
    """The error a training run wrote into its local metrics.json, if any."""
    if not output_dir or "://" in output_dir:
        return None
    try:
        rec = json.loads((Path(output_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    err = rec.get("error") if isinstance(rec, dict) else None
    return f"{err.get('type')}: {err.get('message')}" if isinstance(err, dict) else None


def _tell(study, trial, value=None, state=None) -> bool:
    """``study.tell``; True when the sampler asked the study to stop (GridSampler and
    BruteForceSampler call ``study.stop()``, which outside ``study.optimize`` raises after the
    trial's result has been stored)."""
    try:
        if state is not None:
            study.tell(trial, state=state)
        else:
            study.tell(trial, value)
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
        return True
    return False


class ZetaOptunaSweeper(Sweeper):
    def __init__(self, direction: str = "minimize", study_name: Optional[str] = None, storage: Optional[str] = None,
                 n_trials: int = 20, n_jobs: int = 1, load_if_exists: bool = True, retry_interrupted: bool = True,
                 sampler: Optional[Dict[str, Any]] = None, params: Optional[Dict[str, str]] = None):
        super().__init__()
        if str(direction).lower() not in DIRECTIONS:
            raise HydraException(f"zeta_optuna sweeper: direction must be one of {DIRECTIONS}, got {direction!r}")
        for name, v in (("n_trials", n_trials), ("n_jobs", n_jobs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise HydraException(f"zeta_optuna sweeper: {name} must be an integer >= 1, got {v!r}")
        self.direction = str(direction).lower()
        self.study_name = study_name
        self.storage = storage
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.load_if_exists = load_if_exists
        self.retry_interrupted = retry_interrupted
        self.sampler_conf = sampler
        self.params = dict(params or {})
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.launcher = None
        self.study = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    # -- search space ------------------------------------------------------------------------
    def search_space(self, arguments: List[str]) -> "tuple[List[Dimension], List[str]]":
        """(searched dimensions, fixed overrides) from ``params`` and the command line; a command-
        line override of a key replaces its entry in ``params``."""
        merged: Dict[str, str] = {}
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader if self.hydra_context else None)
        for text in [f"{k}={v}" for k, v in self.params.items()] + list(arguments):
            ov = parser.parse_override(text)
            merged[ov.get_key_element()] = text
        dims, fixed = [], []
        for text in merged.values():
            ov = parser.parse_override(text)
            if ov.is_sweep_override():
                dims.append(Dimension.from_override(ov))
            else:
                fixed.append(text)  # as given (also +key=value, ~key)
        if not dims:
            raise HydraException("zeta_optuna sweeper: nothing to search: set hydra.sweeper.params (see "
                                 "configs/hparams_search/optuna.yaml) or pass e.g. 'loss.weights.gue_nll=tag(log, "
                                 "interval(1e-3, 1))'")
        return dims, fixed

    def _sampler(self):
        conf = self.sampler_conf
        if conf is None or (hasattr(conf, "keys") and not conf):
            return None  # Optuna's default (TPE)
        if not hasattr(conf, "keys"):
            return conf  # Hydra instantiates the sweeper recursively: already a sampler
        from hydra.utils import instantiate

        return instantiate(conf)

    def create_study(self):
        import optuna

        metric = self.config.get("optimized_metric") if self.config is not None else None
        study = optuna.create_study(
            study_name=self.study_name, storage=storage_url(self.storage), sampler=self._sampler(),
            direction=self.direction, load_if_exists=self.load_if_exists)
        if metric and not study.metric_names:
            study.set_metric_names([str(metric)])
        return study

    # -- the loop ----------------------------------------------------------------------------
    def sweep(self, arguments: List[str]) -> Any:
        import optuna
        from optuna.trial import TrialState

        assert self.config is not None and self.launcher is not None
        dims, fixed = self.search_space(arguments)
        study = self.study = self.create_study()
        metric = self.config.get("optimized_metric")
        study.set_user_attr("optimized_metric", metric)
        study.set_user_attr("task_name", self.config.get("task_name"))
        study.set_user_attr("search_space", {d.key: d.describe() for d in dims})
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        dirs = list(study.user_attrs.get("sweep_dirs", []))
        if str(sweep_dir.resolve()) not in dirs:
            study.set_user_attr("sweep_dirs", dirs + [str(sweep_dir.resolve())])

        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if self.retry_interrupted else []
        todo = max(0, self.n_trials - len(finished))
        log.info(f"zeta_optuna: study {study.study_name!r} in {storage_url(self.storage) or 'memory'}: "
                 f"{len(finished)} finished trial(s), {len(stale)} interrupted, {todo} to run "
                 f"(n_trials={self.n_trials}); {metric} is {self.direction}d over "
                 + ", ".join(f"{d.key} {d.describe()}" for d in dims))
        queue = [optuna.trial.Trial(study, t._trial_id) for t in stale[:todo]]
        if queue:
            log.info(f"zeta_optuna: re-running interrupted trial(s) {[t.number for t in queue]}")
        returns = []
        while todo > 0:
            batch = []
            while queue and len(batch) < min(self.n_jobs, todo):
                batch.append(queue.pop(0))
            while len(batch) < min(self.n_jobs, todo):
                batch.append(study.ask())
            overrides = []
            for trial in batch:
                ov = [d.override(trial) for d in dims] + fixed
                trial.set_user_attr("overrides", ov)
                overrides.append(ov)
            try:
                results = self.launcher.launch(overrides, initial_job_idx=batch[0].number)
            except BaseException:
                for trial in batch:  # a launcher error (e.g. a config that cannot be composed) ends the sweep
                    _tell(study, trial, state=TrialState.FAIL)
                raise
            stop = False
            for trial, r in zip(batch, results):
                out = _output_dir(r)
                if out:
                    trial.set_user_attr("output_dir", out)
                value, why = job_value(r)
                if value is None:
                    recorded = _recorded_error(out)
                    why = f"{why}: {recorded}" if recorded else why
                    trial.set_user_attr("failure", why)
                    stop |= _tell(study, trial, state=TrialState.FAIL)
                    log.warning(f"zeta_optuna: trial {trial.number} failed ({why}); the search goes on")
                else:
                    stop |= _tell(study, trial, value)
            returns.append(results)
            todo -= len(batch)
            if stop and todo > 0:
                log.info("zeta_optuna: the sampler has nothing left to try (e.g. a finished grid); stopping")
                break
        self._write_results(study, sweep_dir)
        return returns

    def _write_results(self, study, sweep_dir: Path) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
        out: Dict[str, Any] = {
            "study_name": study.study_name, "storage": storage_url(self.storage), "direction": self.direction,
            "metric": self.config.get("optimized_metric"), "trials": {k: v for k, v in counts.items() if v},
        }
        try:
            best = study.best_trial
        except ValueError:
            best = None
        if best is not None:
            out.update(best_value=best.value, best_trial=best.number, best_params=dict(best.params),
                       best_overrides=list(best.user_attrs.get("overrides", [])),
                       best_output_dir=best.user_attrs.get("output_dir"))
            log.info(f"zeta_optuna: best trial {best.number}: {out['metric']} = {best.value:.6g} with {best.params}")
        else:
            log.warning("zeta_optuna: no trial completed")
        OmegaConf.save(OmegaConf.create(out), sweep_dir / "optimization_results.yaml")
