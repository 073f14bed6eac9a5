"""The report's figures do not mislead: no lines joining confounded trials, no offset notation,
whole-number trial and epoch ticks, a said-so empty validation panel, titles inside the figure,
and the arms' mean +- CI drawn at its dots' x with their mean (issue 13, item 6)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from zeta_rmt.baselines.smooth import smooth_zeros  # noqa: E402
from zeta_rmt.callbacks.spacing_plot import spacing_density_figure  # noqa: E402
from zeta_rmt.report import plots  # noqa: E402
from zeta_rmt.report.collect import Run  # noqa: E402

METRIC = "extrap/mse"
BIG = 6.428e6  # values that agree to ~5e-6 of themselves: the "+6.428e6" offset case


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _run(i: int, value: float, *, regime: str = "full", rg: float = 0.1, config=None, history=None,
         extra=None, **kw) -> Run:
    cfg = {"data._target_": "zeta_rmt.data.FullGraphDataModule", "loss.weights.rg": rg, **(config or {})}
    return Run(run_id=str(i), source=f"/runs/{i}", status="completed", regime=regime, seed=i, num_zeros=400,
               epochs=3, final={METRIC: value, "extrap/skill/smooth": -value / 1e4}, config=cfg,
               history=history or [], extra=extra or {}, **kw)


def _optuna_runs(n: int = 8) -> list[Run]:
    """An Optuna-like search: every parameter changes in every trial, lr and gue_nll together."""
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-4, -2, n)
    runs = []
    for i in range(n):
        cfg = {"model.optimizer.lr": float(lr[i]), "loss.weights.gue_nll": float(lr[i] * 30 * (1 + 0.1 * i)),
               "loss.weights.gue_mmd": float(rng.uniform(0.1, 0.2))}
        runs.append(_run(i, BIG * (1 + 5e-6 * rng.uniform()), config=cfg,
                         extra={"trial": i, "trial_state": "COMPLETE"}))
    for r in runs:
        r.extra["trial_value"] = r.final[METRIC]
    return runs


def _offsets(fig) -> list[str]:
    fig.canvas.draw()
    return [a.get_offset_text().get_text() for ax in fig.axes for a in (ax.xaxis, ax.yaxis)]


def _joining_lines(ax) -> list[Line2D]:
    """Lines drawn through two or more points (a marker-only Line2D joins nothing)."""
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) >= 2 and ln.get_linestyle() not in ("None", "none", "")]


def _titles_inside(fig) -> None:
    fig.canvas.draw()
    titles = [(t, box) for t, box in plots._titles(fig)]
    assert titles
    for t, box in titles:
        bb = t.get_window_extent()
        assert fig.bbox.x0 - 1 <= bb.x0 and bb.x1 <= fig.bbox.x1 + 1, t.get_text()
        assert fig.bbox.y0 - 1 <= bb.y0 and bb.y1 <= fig.bbox.y1 + 1, t.get_text()
        assert plots.title_fits(t, box), t.get_text()


def test_sensitivity_of_a_search_is_a_scatter_with_a_rank_view_and_no_offset():
    runs = _optuna_runs()
    keys = ["loss.weights.gue_mmd", "loss.weights.gue_nll", "model.optimizer.lr"]
    fig = plots.sensitivity_figure(runs, keys, METRIC, ["full+rg"])
    panels = {ax.get_xlabel(): ax for ax in fig.axes}
    for key in keys:
        ax = panels[key]
        assert not _joining_lines(ax), key
        assert ax.collections and len(ax.collections[0].get_offsets()) == len(runs)
    assert panels["model.optimizer.lr"].get_xscale() == "log"  # two decades of lr
    assert all(t == "" for t in _offsets(fig))
    # the 5e-6 relative spread is said in the panel and the ticks are the values themselves
    ax = panels["model.optimizer.lr"]
    assert any("of their mean" in t.get_text() for t in ax.texts)
    assert all(abs(v - BIG) < 0.01 * BIG for v in ax.get_yticks()[1:-1])
    # the parameters changed together: a rank view and a note naming the correlated pair
    assert any(ax.get_title().startswith("rank view") for ax in fig.axes)
    note = fig._suptitle.get_text()
    assert "changed together" in note and "loss.weights.gue_nll ~ model.optimizer.lr" in note
    _titles_inside(fig)


def test_a_full_grid_is_not_flagged_and_its_means_are_ticks_not_lines():
    runs, i = [], 0
    for a in (0.001, 0.01, 0.1):
        for b in (0.1, 1.0):
            for seed in (0, 1):
                runs.append(_run(i, 1 + a * 10 + b + seed * 0.01,
                                 config={"loss.weights.gue_nll": a, "loss.weights.gue_mmd": b}))
                i += 1
    together, pairs = plots.changed_together(runs, ["loss.weights.gue_mmd", "loss.weights.gue_nll"])
    assert not together and not pairs
    fig = plots.sensitivity_figure(runs, ["loss.weights.gue_mmd", "loss.weights.gue_nll"], METRIC, ["full+rg"])
    assert not any(ax.get_title().startswith("rank view") for ax in fig.axes)
    assert "changed together" not in fig._suptitle.get_text()
    nll = next(ax for ax in fig.axes if ax.get_xlabel() == "loss.weights.gue_nll")
    assert not _joining_lines(nll)
    means = [ln for ln in nll.get_lines() if ln.get_marker() == "_"]
    assert len(means) == 1 and np.allclose(sorted(means[0].get_xdata()), [0.001, 0.01, 0.1])
    assert any(im for ax in fig.axes for im in ax.images)  # the heat map of the grid
    assert all(t == "" for t in _offsets(fig))


def test_optuna_trials_on_whole_ticks_without_offset():
    runs = _optuna_runs(2)  # two trials: matplotlib would tick 0, 0.25, 0.5, ...
    fig = plots.optuna_figure(runs, METRIC)
    ax = fig.axes[0]
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert all(t == "" for t in _offsets(fig))


def test_curves_say_when_no_validation_ran_and_tick_whole_epochs():
    hist = [{"epoch": e, "train/loss": 10.0 / (e + 1)} for e in range(3)]
    runs = [_run(i, 1.0 + i, history=hist, config={"trainer.check_val_every_n_epoch": 20}) for i in range(2)]
    fig = plots.curves_figure(runs, ["full+rg"], METRIC)
    train, val = fig.axes
    assert not val.get_lines()
    note = " ".join(t.get_text() for t in val.texts)
    assert "no validation ran" in note and METRIC in note and "every 20 epochs, runs of 3 epochs" in note
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in train.get_xticks())
    assert all(t == "" for t in _offsets(fig))
    # with validation rows the panel has its curve and no note
    hist2 = [{**row, METRIC: 5.0 - row["epoch"]} for row in hist]
    fig2 = plots.curves_figure([_run(0, 1.0, history=hist2)], ["full+rg"], METRIC)
    assert fig2.axes[1].get_lines() and not fig2.axes[1].texts


def test_arms_mean_and_ci_sit_on_their_dots():
    vals = {"full+rg": [4.0, 4.6, 5.1], "cluster": [1.0, 1.9, 1.3, 1.6], "full": [3.3]}
    runs = []
    for arm, vs in vals.items():
        for v in vs:
            regime, rg = ("cluster", 0.0) if arm == "cluster" else ("full", 0.1 if arm == "full+rg" else 0.0)
            runs.append(_run(len(runs), v, regime=regime, rg=rg))
    arms = ["full+rg", "full", "cluster"]
    assert {r.arm for r in runs} == set(arms)
    fig = plots.arms_figure(runs, arms, [(METRIC, "mse")])
    ax = fig.axes[0]
    dots = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]  # the scatters
    assert len(dots) == 3
    means = [c.lines[0] for c in ax.containers] + [ln for ln in ax.get_lines() if ln.get_marker() == "_"]
    for i, arm in enumerate(arms):
        xy = next(d for d in dots if np.all(d[:, 0] == i))
        assert sorted(xy[:, 1]) == sorted(vals[arm])
        line = next(ln for ln in means if list(ln.get_xdata()) == [i])
        assert line.get_ydata()[0] == pytest.approx(np.mean(vals[arm]))
    err = next(c for c in ax.containers)  # full+rg, the first with a CI: whiskers at the same x
    segs = err.lines[2][0].get_segments()
    assert all(seg[0][0] == 0 and seg[1][0] == 0 for seg in segs)
    xs, v, s = plots.arm_strip([2.0, None, 4.0, float("nan")], 7)
    assert list(xs) == [7.0, 7.0] and s.mean == 3.0 and s.n == 2
    assert all(t == "" for t in _offsets(fig))


def test_spacings_title_fits_one_narrow_panel(tmp_path):
    idx = np.arange(450, 520)
    true = smooth_zeros(idx + 1)
    np.savez(tmp_path / "p.npz", index=idx, pred=true + np.random.default_rng(0).normal(0, 0.05, idx.size),
             true=true, num_train=450, num_zeros=500, window=20)
    run = _run(0, 1.0, regime="cluster", rg=0.0, predictions_path=str(tmp_path / "p.npz"))
    fig, info = plots.spacings_figure([run], ["cluster"])
    assert info["cluster"]["runs"] == 1
    assert fig.get_figwidth() < 5  # one panel: the suptitle is wider than that unwrapped
    assert "\n" in fig._suptitle.get_text()
    _titles_inside(fig)


def test_spacing_density_title_fits_and_pareto_has_no_offset():
    rng = np.random.default_rng(1)
    title = ("cluster+local_rg regime, N=100000, after 1000 epochs\n"
             "unfolded spacings over zeros 99001..100000 + zeros 100001..100500 and a long window note")
    fig = spacing_density_figure(rng.gamma(4, 0.25, 200), rng.gamma(4, 0.25, 200), title=title)
    fig.canvas.draw()
    bb = fig.axes[0].title.get_window_extent()
    assert fig.bbox.x0 <= bb.x0 and bb.x1 <= fig.bbox.x1 and bb.y1 <= fig.bbox.y1
    front = {"metrics": ["extrap/mse", "extrap/ks/gaudin"], "name": "mse_ks",
             "points": [{"run_id": str(i), "values": [BIG * (1 + 1e-6 * i), 0.5 + 1e-7 * i], "front": i < 2}
                        for i in range(5)]}
    pfig = plots.pareto_figure(front)
    assert all(t == "" for t in _offsets(pfig))
    _titles_inside(pfig)
