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
    seed: range(0, 4)                                    # int with step; range(5, 0, -1) too
    x: range(0.5, 5.5, 1)                                # float with step: Hydra's points

A plain ``key=value`` is the same in every trial. A range is the set of values Hydra's basic
sweeper would run (descending or ``shuffle(...)``: the same set, in order). An int range is
``IntDistribution(min, max, step=|step|)``; a float range ``FloatDistribution(min, max, step)``
whose k-th point stands for Hydra's k-th value, passed exactly as Hydra writes it (a Categorical
when Optuna's grid cannot hold exactly those points). ``custom_search_space``: a function
``fn(cfg, trial)`` called after the regular parameters; what it suggests becomes overrides.

* Objective: the task's return value, i.e. ``optimized_metric`` (``extrap/mse``), minimised
  (``direction``). Several objectives: ``optimized_metric`` a list of names and ``direction`` a
  list of as many; the task returns a list of values in that order (or a name -> value mapping)
  and the result is the Pareto front. A job that fails, returns None (a training run recorded as
  failed) or a non-finite value is a FAILED trial with the reason in its user attributes; the
  search goes on, unless more than ``max_failure_rate`` of this sweep's trials failed.
* Storage: ``storage`` is an SQLAlchemy URL or a file path (made ``sqlite:///<absolute path>``).
  With ``load_if_exists`` the same command resumes the study: ``n_trials`` is the study's TOTAL
  number of finished trials, so an interrupted search is completed by running it again, and
  raising ``n_trials`` extends it. A trial left RUNNING by an interrupted sweep is re-run with its
  parameters (``retry_interrupted``); so run one sweeper process per study.
* ``n_jobs`` trials are asked at a time and launched as one batch (the basic launcher runs them
  one after the other; a parallel launcher runs them together).
* Every trial records ``overrides`` and ``output_dir`` (its run directory, with metrics.json) as
  user attributes; ``<sweep dir>/optimization_results.yaml`` holds the study's ``name`` and the
  best trial (``pareto_front`` with several objectives).
  ``python -m zeta_rmt.report sqlite:///...db`` builds the report from the study.

Optuna is imported when the sweep starts, not when Hydra scans plugins.
"""

import copy
import dataclasses
import decimal
import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")


@dataclass
class ZetaOptunaSweeperConf:
    _target_: str = "hydra_plugins.zeta_rmt_optuna_sweeper.optuna_sweeper.ZetaOptunaSweeper"
    # "minimize" | "maximize", or a list of them, one per name in a list optimized_metric
    # (multi-objective: the Pareto front is the result)
    direction: Any = "minimize"
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
    # stop the study with an error when more than this share of this sweep's trials failed
    # (checked after each batch); 1.0: never, the sweep goes on
    max_failure_rate: float = 1.0
    # dotted path of a function fn(cfg, trial) that suggests more (e.g. conditional) parameters
    # with trial.suggest_*, after the regular ones; they become overrides of that trial
    custom_search_space: Optional[str] = None


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


def _unshuffled(override: Override) -> Override:
    """``override`` without ``shuffle(...)``: the values in the order Hydra's grammar lists them
    (for the search space a shuffled sweep is the same set of values)."""
    value = override.value()
    if getattr(value, "shuffle", False):
        override = copy.copy(override)
        override._value = dataclasses.replace(value, shuffle=False)
    return override


def _float_grid(values: Sequence[float], step: float) -> "Optional[tuple[float, float, float]]":
    """(low, high, step) of the FloatDistribution whose points are ``values`` (a float range
    as Hydra lists it), or None when Optuna's grid cannot hold exactly those points.

    Hydra accumulates the range in exact decimal arithmetic of the binary start and step
    (``range(0, 1, 0.3)`` lists 0.8999999999999999), Optuna builds ``low + k * step`` and
    shrinks ``high`` to a multiple of ``step`` in decimal text (0.8999999999999999 would drop to
    0.6). So ``high`` is given as ``low + (n - 1) * step`` in that decimal text, and the grid is
    accepted only when Optuna then holds n points, each within rounding of Hydra's value."""
    from optuna.distributions import FloatDistribution

    pts = sorted(float(v) for v in values)
    n = len(pts)
    low = pts[0]
    step = abs(float(step))
    if not (step > 0 and math.isfinite(step)):
        return None
    high = float(decimal.Decimal(str(low)) + (n - 1) * decimal.Decimal(str(step)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            d = FloatDistribution(low, high, step=step)
        except ValueError:
            return None
    if int(round((d.high - d.low) / step)) + 1 != n:
        return None
    scale = max(abs(low), abs(pts[-1]), step)
    if any(abs(v - (low + k * step)) > 1e-9 * scale for k, v in enumerate(pts)):
        return None
    return d.low, d.high, step


class Dimension:
    """One searched parameter: how Optuna suggests it and how it becomes an override.

    ``values`` / ``texts`` (a stepped float range): the points Hydra lists, in increasing order,
    and their override text; Optuna's k-th grid point stands for the k-th of them."""

    def __init__(self, key: str, kind: str, *, low=None, high=None, log=False, step=None,
                 choices: Sequence[Any] = (), texts: Sequence[str] = (), values: Sequence[Any] = ()):
        self.key, self.kind = key, kind
        self.low, self.high, self.log, self.step = low, high, log, step
        self.choices, self.texts, self.values = list(choices), list(texts), list(values)

    @classmethod
    def from_override(cls, override: Override) -> "Dimension":
        key = override.get_key_element()
        override = _unshuffled(override)  # shuffle(...): the same set of values, unordered
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
        if isinstance(value, RangeSweep):
            if "log" in tags:
                raise HydraException(f"zeta_optuna sweeper: {key}: tag(log, ...) applies to interval(), not range()")
            # the values Hydra's basic sweeper would run (its own expansion of the range)
            texts = list(override.sweep_string_iterator())
            values = list(override.sweep_iterator())
            if not values:
                raise HydraException(f"zeta_optuna sweeper: {key}: range({value.start}, {value.stop}, {value.step}) "
                                     f"is empty")
            if all(isinstance(v, int) for v in (value.start, value.stop, value.step)):
                # ascending or descending: a grid of |step| from the smallest value yielded
                return cls(key, "int", low=min(values), high=max(values), step=abs(value.step))
            grid = _float_grid(values, value.step)
            if grid is not None:
                order = sorted(range(len(values)), key=lambda i: values[i])
                return cls(key, "float", low=grid[0], high=grid[1], step=grid[2],
                           values=[values[i] for i in order], texts=[texts[i] for i in order])
            # Optuna's grid cannot hold exactly Hydra's points: keep them as categories
            return cls(key, "categorical", choices=values, texts=texts)
        if override.is_discrete_sweep():  # choice(...), a,b,c, glob(...)
            if "log" in tags:
                raise HydraException(f"zeta_optuna sweeper: {key}: tag(log, ...) applies to interval(), not choices")
            texts = list(override.sweep_string_iterator())
            values = list(override.sweep_iterator()) if not isinstance(value, ChoiceSweep) else list(value.list)
            scalar = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
            choices = values if scalar and len(values) == len(texts) else texts
            if len(set(map(repr, choices))) != len(choices):
                raise HydraException(f"zeta_optuna sweeper: {key}: repeated choices {texts}")
            return cls(key, "categorical", choices=choices, texts=texts)
        raise HydraException(f"zeta_optuna sweeper: {key}: cannot search over {value!r} ({override.value_type})")

    def distribution(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "float":
            return FloatDistribution(float(self.low), float(self.high), log=self.log,
                                     step=None if self.step is None else float(self.step))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return CategoricalDistribution(self.choices)

    def override(self, trial) -> str:
        """Suggest this parameter in ``trial``; the ``key=value`` override."""
        if self.kind == "float":
            if self.step is None:
                v = trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log)
                return f"{self.key}={v!r}"
            v = trial.suggest_float(self.key, float(self.low), float(self.high), step=float(self.step))
            k = min(max(int(round((v - float(self.low)) / float(self.step))), 0), len(self.texts) - 1)
            return f"{self.key}={self.texts[k]}"  # the value exactly as Hydra lists it
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


def job_value(r: JobReturn, metrics: Sequence[str] = ("objective",)) -> "tuple[Optional[List[float]], Optional[str]]":
    """(objective values, None) of a finished job, or (None, why it is a failed trial).

    One objective: the job returns a number (or a one-element list). Several (``metrics``): a
    list of as many numbers, in that order, or a mapping from each metric name to its value."""
    if r.status == JobStatus.FAILED:
        exc = r._return_value
        return None, f"the job raised {type(exc).__name__}: {exc}"
    v = r.return_value
    if v is None:
        return None, "the run returned no value (a training run recorded as failed, see its metrics.json)"
    n = len(metrics)
    if isinstance(v, Mapping):
        missing = [m for m in metrics if m not in v]
        if missing:
            return None, f"the run returned {dict(v)!r}, without {missing}"
        raw = [v[m] for m in metrics]
    elif isinstance(v, (list, tuple, ListConfig)):
        raw = list(v)
    elif n == 1:
        raw = [v]
    else:
        return None, f"the run returned {v!r}, not {n} values for {list(metrics)}"
    if len(raw) != n:
        return None, f"the run returned {len(raw)} value(s) {raw!r}, not {n} for {list(metrics)}"
    out = []
    for m, x in zip(metrics, raw):
        if x is None:
            return None, f"the run returned no value for {m}"
        try:
            f = float(x)
        except (TypeError, ValueError):
            return None, f"the run returned {x!r} for {m}, not a number"
        if not math.isfinite(f):
            return None, f"the run returned a non-finite value for {m} ({f})"
        out.append(f)
    return out, None


def override_text(value: Any) -> str:
    """The override text of a value suggested by a ``custom_search_space`` function. A string is
    taken as override text (``"[0.1,0.3,1.0]"`` is a list, as in ``choice(...)``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


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


def _tell(study, trial, values=None, state=None) -> bool:
    """``study.tell``; True when the sampler asked the study to stop (GridSampler and
    BruteForceSampler call ``study.stop()``, which outside ``study.optimize`` raises after the
    trial's result has been stored)."""
    try:
        if state is not None:
            study.tell(trial, state=state)
        else:
            study.tell(trial, values[0] if len(values) == 1 else list(values))
    except RuntimeError as exc:
        if "Study.stop" not in str(exc):
            raise
        return True
    return False


class ZetaOptunaSweeper(Sweeper):
    def __init__(self, direction: Any = "minimize", study_name: Optional[str] = None, storage: Optional[str] = None,
                 n_trials: int = 20, n_jobs: int = 1, load_if_exists: bool = True, retry_interrupted: bool = True,
                 sampler: Optional[Dict[str, Any]] = None, params: Optional[Dict[str, str]] = None,
                 max_failure_rate: float = 1.0, custom_search_space: Optional[str] = None):
        super().__init__()
        dirs = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
        if not dirs or any(str(d).lower() not in DIRECTIONS for d in dirs):
            raise HydraException(f"zeta_optuna sweeper: direction must be one of {DIRECTIONS} or a list of them "
                                 f"(one per optimized_metric), got {direction!r}")
        for name, v in (("n_trials", n_trials), ("n_jobs", n_jobs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise HydraException(f"zeta_optuna sweeper: {name} must be an integer >= 1, got {v!r}")
        if (isinstance(max_failure_rate, bool) or not isinstance(max_failure_rate, (int, float))
                or not 0 <= max_failure_rate <= 1):
            raise HydraException(f"zeta_optuna sweeper: max_failure_rate must be a number in [0, 1], "
                                 f"got {max_failure_rate!r}")
        self.directions = [str(d).lower() for d in dirs]
        self.direction = self.directions[0] if len(self.directions) == 1 else list(self.directions)
        self.study_name = study_name
        self.storage = storage
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.load_if_exists = load_if_exists
        self.retry_interrupted = retry_interrupted
        self.sampler_conf = sampler
        self.params = dict(params or {})
        self.max_failure_rate = float(max_failure_rate)
        self.custom_search_space = custom_search_space or None
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
    def _parser(self) -> OverridesParser:
        return OverridesParser.create(config_loader=self.hydra_context.config_loader if self.hydra_context else None)

    def search_space(self, arguments: List[str]) -> "tuple[List[Dimension], List[str]]":
        """(searched dimensions, fixed overrides) from ``params`` and the command line; a command-
        line override of a key replaces its entry in ``params``."""
        merged: Dict[str, str] = {}
        parser = self._parser()
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
        if not dims and not self.custom_search_space:
            raise HydraException("zeta_optuna sweeper: nothing to search: set hydra.sweeper.params (see "
                                 "configs/hparams_search/optuna.yaml) or pass e.g. 'loss.weights.gue_nll=tag(log, "
                                 "interval(1e-3, 1))'")
        return dims, fixed

    def metric_names(self) -> List[str]:
        """The objectives' names: ``optimized_metric`` (a name, or a list with one per direction)."""
        metric = self.config.get("optimized_metric") if self.config is not None else None
        names = [str(m) for m in metric] if isinstance(metric, (list, tuple, ListConfig)) else (
            [str(metric)] if metric else [])
        n = len(self.directions)
        if not names:
            return ["objective"] if n == 1 else [f"objective_{i}" for i in range(n)]
        if len(names) != n:
            raise HydraException(f"zeta_optuna sweeper: optimized_metric names {len(names)} metric(s) {names} but "
                                 f"direction gives {n} {self.directions}: give one direction per metric")
        return names

    def _custom_fn(self):
        if not self.custom_search_space:
            return None
        from hydra.utils import get_method

        try:
            return get_method(self.custom_search_space)
        except Exception as exc:  # noqa: BLE001 - an import error, a typo in the path
            raise HydraException(f"zeta_optuna sweeper: custom_search_space: cannot load "
                                 f"{self.custom_search_space!r} ({type(exc).__name__}: {exc})") from exc

    def trial_overrides(self, trial, dims: List[Dimension], fixed: List[str], custom=None) -> List[str]:
        """The overrides of one trial: the regular dimensions, then the parameters the
        ``custom_search_space`` function suggests (``fn(cfg, trial)``), then the fixed overrides
        (less those of a key the function suggested)."""
        ov = [d.override(trial) for d in dims]
        if custom is not None:
            custom(self.config, trial)
            regular = {d.key for d in dims}
            extra = {k: v for k, v in trial.params.items() if k not in regular}
            ov += [f"{k}={override_text(v)}" for k, v in extra.items()]
            parser = self._parser()
            fixed = [t for t in fixed if parser.parse_override(t).get_key_element() not in extra]
        return ov + list(fixed)

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
        from optuna.study import StudyDirection

        names = self.metric_names()
        study = optuna.create_study(
            study_name=self.study_name, storage=storage_url(self.storage), sampler=self._sampler(),
            directions=self.directions, load_if_exists=self.load_if_exists)
        want = [StudyDirection.MINIMIZE if d == "minimize" else StudyDirection.MAXIMIZE for d in self.directions]
        if list(study.directions) != want:
            raise HydraException(f"zeta_optuna sweeper: the stored study {study.study_name!r} has directions "
                                 f"{[d.name.lower() for d in study.directions]}, not {self.directions}: use another "
                                 f"study_name or storage")
        if self.config is not None and self.config.get("optimized_metric") and not study.metric_names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.set_metric_names(names)
        return study

    # -- the loop ----------------------------------------------------------------------------
    def sweep(self, arguments: List[str]) -> Any:
        import optuna
        from optuna.trial import TrialState

        assert self.config is not None and self.launcher is not None
        dims, fixed = self.search_space(arguments)
        names = self.metric_names()
        custom = self._custom_fn()
        study = self.study = self.create_study()
        metric = self.config.get("optimized_metric")
        metric = list(metric) if isinstance(metric, ListConfig) else metric
        study.set_user_attr("optimized_metric", metric)
        study.set_user_attr("task_name", self.config.get("task_name"))
        space = {d.key: d.describe() for d in dims}
        if self.custom_search_space:
            space["custom_search_space"] = self.custom_search_space
        study.set_user_attr("search_space", space)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        dirs = list(study.user_attrs.get("sweep_dirs", []))
        if str(sweep_dir.resolve()) not in dirs:
            study.set_user_attr("sweep_dirs", dirs + [str(sweep_dir.resolve())])

        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if self.retry_interrupted else []
        todo = max(0, self.n_trials - len(finished))
        goal = ", ".join(f"{m} is {d}d" for m, d in zip(names, self.directions))
        log.info(f"zeta_optuna: study {study.study_name!r} in {storage_url(self.storage) or 'memory'}: "
                 f"{len(finished)} finished trial(s), {len(stale)} interrupted, {todo} to run "
                 f"(n_trials={self.n_trials}); {goal} over "
                 + ", ".join([f"{d.key} {d.describe()}" for d in dims]
                             + ([f"custom_search_space {self.custom_search_space}"] if custom else [])))
        queue = [optuna.trial.Trial(study, t._trial_id) for t in stale[:todo]]
        if queue:
            log.info(f"zeta_optuna: re-running interrupted trial(s) {[t.number for t in queue]}")
        returns = []
        n_run, failures = 0, []
        while todo > 0:
            batch = []
            while queue and len(batch) < min(self.n_jobs, todo):
                batch.append(queue.pop(0))
            while len(batch) < min(self.n_jobs, todo):
                batch.append(study.ask())
            overrides = []
            for trial in batch:
                ov = self.trial_overrides(trial, dims, fixed, custom)
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
                values, why = job_value(r, names)
                n_run += 1
                if values is None:
                    recorded = _recorded_error(out)
                    why = f"{why}: {recorded}" if recorded else why
                    trial.set_user_attr("failure", why)
                    failures.append((trial.number, why))
                    stop |= _tell(study, trial, state=TrialState.FAIL)
                    log.warning(f"zeta_optuna: trial {trial.number} failed ({why}); the search goes on")
                else:
                    stop |= _tell(study, trial, values)
            returns.append(results)
            todo -= len(batch)
            if failures and len(failures) / n_run > self.max_failure_rate:
                self._write_results(study, sweep_dir)
                first_n, first_why = failures[0]
                raise HydraException(
                    f"zeta_optuna sweeper: {len(failures)}/{n_run} trials of this sweep failed, more than "
                    f"max_failure_rate={self.max_failure_rate:g}; stopping the study (first failure: trial "
                    f"{first_n}: {first_why})")
            if stop and todo > 0:
                log.info("zeta_optuna: the sampler has nothing left to try (e.g. a finished grid); stopping")
                break
        self._write_results(study, sweep_dir)
        return returns

    def _write_results(self, study, sweep_dir: Path) -> None:
        """``<sweep dir>/optimization_results.yaml``: the study (``name``), the counts of trials and
        the best trial (one objective) or the Pareto front (several: ``pareto_front``)."""
        from optuna.trial import TrialState

        names = self.metric_names()
        trials = study.get_trials(deepcopy=False)
        counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
        metric = self.config.get("optimized_metric")
        out: Dict[str, Any] = {
            "name": study.study_name, "study_name": study.study_name, "storage": storage_url(self.storage),
            "direction": self.direction, "metric": list(metric) if isinstance(metric, ListConfig) else metric,
            "trials": {k: v for k, v in counts.items() if v},
        }
        if len(names) == 1:
            try:
                best = study.best_trial
            except ValueError:
                best = None
            if best is not None:
                out.update(best_value=best.value, best_trial=best.number, best_params=dict(best.params),
                           best_overrides=list(best.user_attrs.get("overrides", [])),
                           best_output_dir=best.user_attrs.get("output_dir"))
                log.info(f"zeta_optuna: best trial {best.number}: {names[0]} = {best.value:.6g} with {best.params}")
            else:
                log.warning("zeta_optuna: no trial completed")
        else:
            front = sorted(study.best_trials, key=lambda t: (tuple(t.values), t.number))
            out["pareto_front"] = [
                {"trial": t.number, "values": dict(zip(names, map(float, t.values))), "params": dict(t.params),
                 "overrides": list(t.user_attrs.get("overrides", [])), "output_dir": t.user_attrs.get("output_dir")}
                for t in front]
            if front:
                log.info(f"zeta_optuna: Pareto front of {len(front)} trial(s) over {names}:")
                for t in front:
                    log.info(f"zeta_optuna:   trial {t.number}: "
                             + ", ".join(f"{m} = {v:.6g}" for m, v in zip(names, t.values)) + f" with {t.params}")
            else:
                log.warning("zeta_optuna: no trial completed")
        OmegaConf.save(OmegaConf.create(out), sweep_dir / "optimization_results.yaml")
