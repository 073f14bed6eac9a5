"""PNG figures of a report (matplotlib, Agg backend). Every ``*_plot`` function returns the file it
wrote, or None when the runs hold nothing to plot (e.g. no sweep over loss weights); the matching
``*_figure`` function returns the finished :class:`~matplotlib.figure.Figure` (for tests).

Every figure goes through :func:`finish`: no offset notation on any linear axis (a "+6.428e6" in
a corner turns a difference of 5·10⁻⁶ of the value into a full-height slope), log axes labelled
with plain numbers at 1-2-5 steps (no overlapping minor labels), and titles wrapped until they
fit inside their axes and the figure at the saved size."""
from __future__ import annotations

import json
import math
import textwrap
import warnings
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, ScalarFormatter  # noqa: E402

from zeta_rmt.report.collect import Run  # noqa: E402
from zeta_rmt.report.stats import Summary, mean_ci  # noqa: E402

DPI = 110
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
#: |Spearman rho| between two swept parameters above which they count as changed together
CONFOUNDED_RHO = 0.5


def _color(arms: list[str], arm: str) -> str:
    return COLORS[arms.index(arm) % len(COLORS)]


def _positive_wide(values) -> bool:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return bool(v) and min(v) > 0 and max(v) / min(v) >= 20


def _subplots(nrow: int, ncol: int, figsize) -> tuple:
    return plt.subplots(nrow, ncol, figsize=figsize, squeeze=False, dpi=DPI)


def _plain_number(v, _pos=None) -> str:
    return f"{v:g}"


def _tidy_axis(axis) -> None:
    """No offset on a linear axis (and no "1e6" multiplier where plain numbers stay short); plain
    labels at 1-2-5 steps on a log axis spanning less than two decades, at decades otherwise."""
    lo, hi = sorted(abs(v) for v in axis.get_view_interval())
    scale = axis.get_scale()
    if scale == "linear" and isinstance(axis.get_major_formatter(), ScalarFormatter):
        fmt = ScalarFormatter(useOffset=False)
        fmt.set_scientific(not (hi == 0 or 1e-4 <= hi < 1e9))
        axis.set_major_formatter(fmt)
    elif scale == "log" and lo > 0 and math.isfinite(hi):
        decades = math.log10(hi / lo)
        subs = (1.0, 2.0, 5.0) if decades < 1.3 else (1.0, 3.0) if decades < 2.6 else (1.0,)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.set_major_formatter(FuncFormatter(_plain_number))
        axis.set_minor_formatter(NullFormatter())


def integer_ticks(axis) -> None:
    """Ticks at whole numbers only (trial numbers, epochs)."""
    axis.set_major_locator(MaxNLocator(integer=True))


def _titles(fig):
    """(title text, the box it must fit in): the suptitle in the figure, axes titles in their axes."""
    out = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        out.append((fig._suptitle, fig.bbox))
    for ax in fig.axes:
        for t in (ax.title, ax._left_title, ax._right_title):
            if t.get_text() and t.get_visible():
                out.append((t, ax.get_window_extent()))
    return out


def _rewrap(text, ratio: float) -> None:
    lines = text.get_text().split("\n")
    longest = max(len(line) for line in lines)
    width = max(8, int(longest * ratio * 0.92))
    new = "\n".join(textwrap.fill(line, width, break_on_hyphens=False) or line for line in lines)
    if new == text.get_text() or width == 8:
        text.set_fontsize(max(5.0, text.get_fontsize() - 1))
    text.set_text(new)


def title_fits(text, box) -> bool:
    """Whether a drawn title lies inside ``box`` (and the figure)."""
    bb = text.get_window_extent()
    fb = text.figure.bbox
    return (bb.x0 >= max(box.x0, fb.x0) - 1 and bb.x1 <= min(box.x1, fb.x1) + 1
            and bb.y0 >= fb.y0 - 1 and bb.y1 <= fb.y1 + 1)


def finish(fig, int_x: bool = False):
    """Tidy every axis (:func:`_tidy_axis`; ``int_x``: whole-number x ticks) and lay the figure out
    so that every title fits at the saved size (wrapping long ones). Returns the figure."""
    for ax in fig.axes:
        if int_x and ax.get_xscale() == "linear":
            integer_ticks(ax.xaxis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "tight_layout not applied" on odd panels
        for _ in range(6):
            for ax in fig.axes:  # before the layout: plain tick labels are wider than offset ones
                for axis in (ax.xaxis, ax.yaxis):
                    _tidy_axis(axis)
            fig.tight_layout()
            fig.canvas.draw()
            bad = [(t, box) for t, box in _titles(fig) if not title_fits(t, box)]
            if not bad:
                break
            for t, box in bad:
                bb = t.get_window_extent()
                _rewrap(t, min(box.width, fig.bbox.width) / max(bb.width, 1.0))
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _note_spread(ax, ys) -> None:
    """Say so in the panel when all values agree to better than 0.1 % (the axis then spans a
    tiny relative range, and any slope in it is tiny too)."""
    v = np.asarray([y for y in ys if y is not None and math.isfinite(y)], dtype=np.float64)
    if v.size < 2:
        return
    mid = float(np.mean(np.abs(v)))
    spread = float(v.max() - v.min())
    if mid > 0 and 0 < spread < 1e-3 * mid:
        ax.text(0.02, 0.98, f"all values within {spread / mid:.1g} of their mean", transform=ax.transAxes,
                ha="left", va="top", fontsize=7, color="dimgrey", zorder=5,
                bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})


def arm_strip(vals, x: float) -> tuple[np.ndarray, np.ndarray, Summary]:
    """Where the arms plot draws one arm: every run's dot at ``x`` (x positions, values) and the
    mean ± 95 % CI of exactly those values, drawn at the same ``x``."""
    v = np.asarray([y for y in vals if y is not None and math.isfinite(y)], dtype=np.float64)
    return np.full(v.size, float(x)), v, mean_ci(v)


def arms_figure(runs: list[Run], arms: list[str], metrics: list[tuple[str, str]]):
    """One panel per (metric, title): every run a dot in its arm's column, the mean (black bar)
    and its 95 % CI (whiskers) of the same dots at the same x."""
    ok = [r for r in runs if r.ok]
    panels = [(m, t) for m, t in metrics if any(r.metric(m) is not None for r in ok)]
    if not panels or not arms:
        return None
    fig, axes = _subplots(1, len(panels), (max(4.2, 1.1 * len(arms) + 1.6) * len(panels), 3.6))
    for ax, (metric, title) in zip(axes[0], panels):
        allv = []
        for i, arm in enumerate(arms):
            xs, vals, s = arm_strip([r.metric(metric) for r in ok if r.arm == arm], i)
            allv += vals.tolist()
            if not vals.size:
                continue
            ax.scatter(xs, vals, s=22, alpha=0.55, color=_color(arms, arm), zorder=2)
            if s.n >= 2:
                ax.errorbar([i], [s.mean], yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]], fmt="_", ms=22,
                            mew=2, color="black", capsize=4, lw=1.2, zorder=3)
            else:
                ax.plot([i], [s.mean], "_", color="black", ms=22, mew=2, zorder=3)
        ax.set_xticks(range(len(arms)), arms, rotation=20)
        ax.set_xlim(-0.6, len(arms) - 0.4)
        ax.set_title(title, fontsize=10)
        if _positive_wide(allv):
            ax.set_yscale("log")
        if metric.startswith("extrap/skill"):
            ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        _note_spread(ax, allv)
        ax.grid(alpha=0.3)
    fig.suptitle("per arm: every run (dots), their mean (black bar) and its 95 % CI (whiskers)", fontsize=10)
    return finish(fig)


def arms_plot(runs: list[Run], arms: list[str], metrics: list[tuple[str, str]], path: Path) -> Path | None:
    """:func:`arms_figure`, saved to ``path``."""
    fig = arms_figure(runs, arms, metrics)
    return None if fig is None else _save(fig, path)


def _as_number(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(x, y)[0])


def changed_together(runs: list[Run], keys: list[str]) -> tuple[bool, list[tuple[str, str, float]]]:
    """Whether the runs changed several of ``keys`` at once rather than as a full grid (every
    combination of their values: each one-parameter view then averages over the others evenly),
    and the pairs of numeric keys whose values are rank-correlated across the runs (|Spearman
    rho| > :data:`CONFOUNDED_RHO`): (not a grid, [(key_a, key_b, rho)])."""
    rows = [r for r in runs if all(k in r.config for k in keys)]
    pairs = []
    numeric = [k for k in keys if rows and all(_as_number(r.config[k]) is not None for r in rows)]
    for i, a in enumerate(numeric):
        for b in numeric[i + 1:]:
            rho = _spearman([float(r.config[a]) for r in rows], [float(r.config[b]) for r in rows])
            if math.isfinite(rho) and abs(rho) > CONFOUNDED_RHO:
                pairs.append((a, b, rho))
    if len(keys) < 2 or not rows:
        return False, pairs
    values = [[json.dumps(r.config[k], default=str, sort_keys=True) for k in keys] for r in rows]
    combos = {tuple(v) for v in values}
    levels = math.prod(len({v[i] for v in values}) for i in range(len(keys)))
    return len(combos) != levels, pairs


def sensitivity_figure(runs: list[Run], varying: list[str], metric: str, arms: list[str]):
    """The metric against every swept parameter: a scatter of the runs, no lines between them
    (numeric: log axis when wide, and the mean per value as a black tick where a value repeats;
    others: one column per value with its mean); a heat map of the mean over the first two swept
    loss weights when the sweep is a grid of them; and, when the parameters changed together
    (an Optuna search, or correlated values), a rank view: the Spearman correlation of every
    numeric parameter with the metric, with a note that the one-parameter panels are confounded."""
    ok = [r for r in runs if r.ok and r.metric(metric) is not None]
    # only what varies inside an arm: what tells arms apart (regime, rg weight) is the arms plot
    keys = [k for k in varying if any(
        len({json.dumps(r.config[k], default=str) for r in ok if r.arm == arm and k in r.config}) >= 2
        for arm in arms)]
    keys.sort(key=lambda k: (not k.startswith("loss.weights."), k))
    if not ok or not keys:
        return None
    weight_keys = [k for k in keys if k.startswith("loss.weights.") and
                   all(_as_number(r.config.get(k)) is not None for r in ok if k in r.config)]
    grid = None
    if len(weight_keys) >= 2:
        kx, ky = weight_keys[:2]
        cells = defaultdict(list)
        for r in ok:
            if kx in r.config and ky in r.config:
                cells[(float(r.config[kx]), float(r.config[ky]))].append(r.metric(metric))
        xs = sorted({c[0] for c in cells})
        ys = sorted({c[1] for c in cells})
        if len(xs) >= 2 and len(ys) >= 2 and len(cells) == len(xs) * len(ys) <= 400:
            grid = (kx, ky, xs, ys, cells)
    together, pairs = changed_together(ok, keys)
    numeric = [k for k in keys if all(_as_number(r.config[k]) is not None for r in ok if k in r.config)]
    rank_view = (together or bool(pairs)) and bool(numeric)
    n = len(keys) + (1 if grid else 0) + (1 if rank_view else 0)
    ncol = min(3, n)
    nrow = math.ceil(n / ncol)
    fig, axes = _subplots(nrow, ncol, (4.3 * ncol, 3.5 * nrow))
    flat = list(axes.flat)
    metric_values = [r.metric(metric) for r in ok]
    logy = _positive_wide(metric_values)
    for ax, key in zip(flat, keys):
        pts = [(r.config[key], r.metric(metric), r.arm) for r in ok if key in r.config]
        nums = [_as_number(p[0]) for p in pts]
        if all(x is not None for x in nums):
            for arm in arms:
                xy = [(x, y) for x, (_, y, a) in zip(nums, pts) if a == arm]
                if xy:
                    ax.scatter(*zip(*xy), s=18, alpha=0.65, color=_color(arms, arm), label=arm)
            for arm in arms:  # the mean per value, only where a value holds several runs (a grid)
                means = defaultdict(list)
                for x, (_, y, a) in zip(nums, pts):
                    if a == arm:
                        means[x].append(y)
                rep = sorted(x for x, v in means.items() if len(v) >= 2)
                if rep:
                    ax.plot(rep, [float(np.mean(means[x])) for x in rep], linestyle="none", marker="_", ms=14,
                            mew=2, color="black")
            if _positive_wide(nums) or (min(nums) > 0 and len(set(nums)) >= 3 and max(nums) / min(nums) >= 9):
                ax.set_xscale("log")
            elif all(isinstance(p[0], int) and not isinstance(p[0], bool) for p in pts):
                integer_ticks(ax.xaxis)
        else:
            labels = sorted({json.dumps(p[0], default=str) if not isinstance(p[0], str) else p[0] for p in pts})
            for i, lab in enumerate(labels):
                ys = [y for (v, y, _) in pts if (v if isinstance(v, str) else json.dumps(v, default=str)) == lab]
                ax.scatter(np.full(len(ys), i) + np.linspace(-0.1, 0.1, len(ys)), ys, s=18, alpha=0.7)
                ax.plot([i - 0.2, i + 0.2], [np.mean(ys)] * 2, "k-", lw=1.5)  # this column's mean
            ax.set_xticks(range(len(labels)), [textwrap.fill(lab, 16) for lab in labels], rotation=25, fontsize=7)
            ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        if logy:
            ax.set_yscale("log")
        _note_spread(ax, [p[1] for p in pts])
        ax.grid(alpha=0.3)
    if len(arms) > 1 and keys:
        flat[0].legend(fontsize=7)
    used = len(keys)
    if grid:
        kx, ky, xs, ys, cells = grid
        ax = flat[used]
        used += 1
        z = np.array([[float(np.mean(cells[(x, y)])) for x in xs] for y in ys])
        im = ax.imshow(np.log10(z) if logy and np.all(z > 0) else z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [f"{x:.3g}" for x in xs], fontsize=7)
        ax.set_yticks(range(len(ys)), [f"{y:.3g}" for y in ys], fontsize=7)
        ax.set_xlabel(kx, fontsize=8)
        ax.set_ylabel(ky, fontsize=8)
        ax.set_title(("log10 " if logy and np.all(z > 0) else "") + f"mean {metric}", fontsize=9)
        fig.colorbar(im, ax=ax)
    title = f"sensitivity of {metric} (final) to the swept parameters ({len(ok)} runs)"
    if rank_view:
        ax = flat[used]
        used += 1
        rhos = [_spearman([float(r.config[k]) for r in ok if k in r.config],
                          [r.metric(metric) for r in ok if k in r.config]) for k in numeric]
        ax.barh(range(len(numeric)), [0.0 if math.isnan(v) else v for v in rhos],
                color=["tab:red" if v > 0 else "tab:blue" for v in rhos])
        ax.set_yticks(range(len(numeric)), numeric, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(-1, 1)
        ax.set_xticks([-1, -0.5, 0, 0.5, 1])
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"Spearman rank correlation with {metric}", fontsize=8)
        ax.set_title(f"rank view ({len(ok)} runs; > 0: larger value, larger {metric})", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        title += ("\nthe parameters changed together" + (" (not a grid)" if together else "") + ": every panel "
                  "mixes the effects of all of them, so a trend in one may belong to another; the rank view "
                  "orders them")
        if pairs:
            title += "\nrank-correlated across the runs: " + "; ".join(
                f"{a} ~ {b} (Spearman ρ = {rho:+.2f})" for a, b, rho in pairs)
    for ax in flat[used:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return finish(fig)


def sensitivity_plot(runs: list[Run], varying: list[str], metric: str, path: Path, arms: list[str]) -> Path | None:
    """:func:`sensitivity_figure`, saved to ``path``."""
    fig = sensitivity_figure(runs, varying, metric, arms)
    return None if fig is None else _save(fig, path)


def spacings_plot(runs: list[Run], arms: list[str], path: Path) -> tuple[Path | None, dict]:
    """:func:`spacings_figure`, saved to ``path``; (the file, per arm info)."""
    fig, info = spacings_figure(runs, arms)
    return (None if fig is None else _save(fig, path)), info


def spacings_figure(runs: list[Run], arms: list[str]):
    """Per arm: histogram of the unfolded predicted spacings (validation + extrapolation nodes,
    pooled over the arm's runs) against Gaudin's GUE law and the true zeros' spacings of the same
    nodes. Spacings are unfolded locally and scored as the ``extrap/ks/*`` metrics are
    (:mod:`zeta_rmt.metrics.spectral`: non-positive spacings kept, they raise the KS distance).
    Returns the figure and, per arm, the KS distances and the share of non-positive spacings."""
    from zeta_rmt.metrics.spectral import compare_spacings, local_spacings, reference_statistics
    from zeta_rmt.rmt.gaudin import gaudin_pdf

    per_arm: dict[str, dict] = {}
    for arm in arms:
        preds, trues = [], []
        for r in runs:
            if r.ok and r.arm == arm:
                p = r.predictions()
                if p is not None:
                    preds.append(local_spacings(p["pred"]))
                    trues.append(p["true"])
        if preds:
            per_arm[arm] = {"spacings": np.concatenate(preds), "true": np.concatenate([local_spacings(t) for t in trues]),
                            "true_heights": trues, "runs": len(preds)}
    if not per_arm:
        return None, {}
    fig, axes = _subplots(1, len(per_arm), (4.2 * len(per_arm), 3.4))
    grid = np.linspace(0, 4, 400)
    g = gaudin_pdf(grid)
    info = {}
    for ax, (arm, d) in zip(axes[0], per_arm.items()):
        s, t = d["spacings"], d["true"]
        stats = compare_spacings(s, t)
        ref = reference_statistics(d["true_heights"][0])
        inside = s[(s >= 0) & (s <= 4)]
        if inside.size:
            ax.hist(inside, bins=40, range=(0, 4), density=True, alpha=0.55, color=_color(arms, arm),
                    label=f"predicted ({d['runs']} runs)")
        ax.hist(t[t <= 4], bins=40, range=(0, 4), density=True, histtype="step", color="black", lw=1,
                label="true zeros")
        ax.plot(grid, g, "r-", lw=1.5, label="Gaudin (GUE)")
        outside = float(np.mean((s < 0) | (s > 4))) if s.size else math.nan
        ax.set_title(f"{arm}: KS vs Gaudin {stats['ks/gaudin']:.3g}, vs true {stats['ks/true']:.3g}\n"
                     f"non-positive {stats['spacing/nonpositive_frac']:.1%}, outside [0, 4] {outside:.1%}",
                     fontsize=9)
        ax.set_xlabel("unfolded spacing s")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        info[arm] = {"ks_gaudin": stats["ks/gaudin"], "ks_true": stats["ks/true"],
                     "ks_gaudin_true_zeros": ref["ks/zeros_gaudin"],
                     "nonpositive_share": stats["spacing/nonpositive_frac"], "spacings": int(s.size),
                     "runs": d["runs"]}
    fig.suptitle("unfolded spacings of predicted heights (validation + extrapolation nodes)", fontsize=10)
    return finish(fig), info


def history_points(rows: list[dict], key: str) -> list[tuple[int, float]]:
    """(epoch, value) of ``key`` in a run's history. Validation metrics stay in Lightning's
    callback metrics between validation epochs: a value repeated from the previous row is not a
    new measurement and is dropped (train/* metrics are new every epoch)."""
    pts, last = [], None
    for row in rows:
        v = row.get(key)
        if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        if key.startswith("train/") or v != last:
            pts.append((int(row.get("epoch", len(pts))), float(v)))
        last = v
    return pts


def _no_validation_note(runs: list[Run], metric: str) -> str:
    """Why a curves panel of a validation metric is empty, as far as the configs tell."""
    every = sorted({v for r in runs for v in [r.config.get("trainer.check_val_every_n_epoch")]
                    if isinstance(v, int) and not isinstance(v, bool)})
    epochs = sorted({e for r in runs for e in [r.epochs or r.config.get("trainer.max_epochs")]
                     if isinstance(e, int) and not isinstance(e, bool)})
    why = ""
    if every and epochs and min(every) > max(epochs):
        why = (f"\n(validation every {min(every)} epochs, runs of "
               f"{epochs[0] if len(epochs) == 1 else f'{epochs[0]}..{epochs[-1]}'} epochs)")
    return f"no validation ran during training:\nno {metric} in any run's history.json{why}"


def curves_figure(runs: list[Run], arms: list[str], metric: str, max_runs: int = 60):
    """Training loss and ``metric`` per epoch for every run with a history (colour = arm); a
    panel without any point says why instead of showing empty axes."""
    with_hist = [r for r in runs if r.history][:max_runs]
    if not with_hist:
        return None
    fig, axes = _subplots(1, 2, (10, 3.6))
    axes = axes[0]
    seen = set()
    for r in with_hist:
        c = _color(arms, r.arm) if r.arm in arms else "grey"
        label = r.arm if r.arm not in seen else None
        seen.add(r.arm)
        for ax, key in zip(axes, ("train/loss", metric)):
            pts = history_points(r.history, key)
            if pts:
                ax.plot(*zip(*pts), color=c, alpha=0.6, lw=1, marker="." if len(pts) < 30 else None, label=label)
    for ax, key in zip(axes, ("train/loss", metric)):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        lines = list(ax.get_lines())
        ys = np.concatenate([ln.get_ydata() for ln in lines]) if lines else np.array([])
        if not ys.size:
            note = (_no_validation_note(with_hist, key) if not key.startswith("train/")
                    else f"no {key} in any run's history.json")
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="dimgrey")
            ax.set_yticks([])
            ax.set_xlim(axes[0].get_xlim() if ax is not axes[0] else (0, 1))
            continue
        if _positive_wide(ys):
            ax.set_yscale("log")
        _note_spread(ax, ys)
        ax.grid(alpha=0.3)
    if axes[0].get_lines():
        axes[0].legend(fontsize=7)
    fig.suptitle(f"training curves ({len(with_hist)} runs)", fontsize=10)
    return finish(fig, int_x=True)


def curves_plot(runs: list[Run], arms: list[str], metric: str, path: Path, max_runs: int = 60) -> Path | None:
    """:func:`curves_figure`, saved to ``path``."""
    fig = curves_figure(runs, arms, metric, max_runs)
    return None if fig is None else _save(fig, path)


def optuna_plot(runs: list[Run], metric: str, path: Path) -> Path | None:
    """:func:`optuna_figure`, saved to ``path``."""
    fig = optuna_figure(runs, metric)
    return None if fig is None else _save(fig, path)


def optuna_figure(runs: list[Run], metric: str):
    """Objective per trial and the best so far (Optuna sources); trial numbers on whole ticks."""
    trials = sorted((r for r in runs if "trial" in r.extra), key=lambda r: r.extra["trial"])
    if not trials:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=DPI)
    xs, ys, best, cur = [], [], [], math.inf
    for r in trials:
        v = r.extra.get("trial_value") if r.extra.get("trial_state") == "COMPLETE" else None
        if v is not None and math.isfinite(v):
            xs.append(r.extra["trial"])
            ys.append(v)
            cur = min(cur, v)
            best.append(cur)
    failed = [r.extra["trial"] for r in trials if r.extra.get("trial_state") == "FAIL"]
    if xs:
        ax.plot(xs, ys, "o", ms=4, label="trial")
        ax.step(xs, best, where="post", color="red", label="best so far")
        if _positive_wide(ys):
            ax.set_yscale("log")
    for i, f in enumerate(failed):
        ax.axvline(f, color="grey", ls=":", lw=1, label="failed trial" if i == 0 else None)
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    _note_spread(ax, ys)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return finish(fig, int_x=True)


def pareto_plot(front: dict, path: Path) -> Path | None:
    """:func:`pareto_figure`, saved to ``path``."""
    fig = pareto_figure(front)
    return None if fig is None else _save(fig, path)


def pareto_figure(front: dict):
    """The first two objectives of a multi-objective search: every completed trial as a grey dot,
    the Pareto front as red dots, each labelled with its trial (a scatter; no connecting line)."""
    pts = [p for p in front.get("points", []) if len(p["values"]) >= 2
           and all(v is not None and math.isfinite(v) for v in p["values"][:2])]
    if not pts:
        return None
    mx, my = front["metrics"][:2]
    fig, ax = plt.subplots(figsize=(5.6, 4.2), dpi=DPI)
    rest = [p for p in pts if not p["front"]]
    best = [p for p in pts if p["front"]]
    if rest:
        ax.scatter([p["values"][0] for p in rest], [p["values"][1] for p in rest], s=18, color="grey",
                   alpha=0.7, label="trial")
    if best:
        ax.scatter([p["values"][0] for p in best], [p["values"][1] for p in best], s=46, color="red",
                   edgecolor="black", linewidth=0.5, zorder=3, label="Pareto front")
        labels: dict = {}
        for p in best:  # trials at the same point share one label
            labels.setdefault((p["values"][0], p["values"][1]), []).append(str(p["run_id"]))
        for xy, ids in labels.items():
            ax.annotate(", ".join(ids), xy, fontsize=6, xytext=(3, 3), textcoords="offset points")
    for axis, vals in (("x", [p["values"][0] for p in pts]), ("y", [p["values"][1] for p in pts])):
        if _positive_wide(vals):
            (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    ax.set_xlabel(mx)
    ax.set_ylabel(my)
    ax.set_title(f"Pareto front: {len(best)} of {len(pts)} trials" + (f" ({front['name']})" if front.get("name") else ""),
                 fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return finish(fig)
