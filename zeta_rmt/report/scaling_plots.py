"""Figures of the scaling sweep (:mod:`zeta_rmt.report.scaling`): ``skill_vs_n.png`` and
``ks_vs_n.png``. Every ``*_figure`` returns a finished figure (None when nothing is plotted),
every ``*_plot`` saves it and returns the file.

What they draw: per arm and N, every seed as a faint ring and the mean with its 95 % t CI over
seeds as a bar (a lone run: its dot and a hollow mean marker, no bar); a thin line joins the means
of one arm at successive N, never the seeds. N is on a log axis with ticks at the swept N; the
arms are drawn slightly apart in N (a fixed factor per arm) so that their bars do not hide each
other. No offset notation on the value axes; the layout is constrained so titles and the legend
stay inside the figure."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, ScalarFormatter  # noqa: E402

from zeta_rmt.report.collect import Run  # noqa: E402
from zeta_rmt.report.stats import mean_ci  # noqa: E402

DPI = 110
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
SKILL_PANELS = (("extrap/skill/smooth", "skill vs the smooth baseline"),
                ("extrap/skill/explicit_formula", "skill vs the explicit-formula baseline"))
KS_PANELS = (("extrap/ks/gaudin", "KS to Gaudin's GUE law"),
             ("extrap/ks/true", "KS to the true zeros' spacings"))
KS_REFERENCE = "extrap/ks/zeros_gaudin"
BASELINE_LABEL = "as good as the baseline"


def _n_text(n: float) -> str:
    from zeta_rmt.report.scaling import n_text

    return n_text(int(round(n)))


def _by_n(runs: list[Run], arm: str, metric: str) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in runs:
        if r.ok and r.arm == arm and r.num_zeros is not None:
            v = r.metric(metric)
            if v is not None:
                out.setdefault(int(r.num_zeros), []).append(v)
    return dict(sorted(out.items()))


def _sizes(runs: list[Run]) -> list[int]:
    return sorted({int(r.num_zeros) for r in runs if r.ok and r.num_zeros is not None})


def dodge_factors(arms: list[str], sizes: list[int]) -> dict[str, float]:
    """Multiplicative x offset per arm: arms side by side around each N, 1 for a single arm."""
    if len(arms) < 2 or not sizes:
        return {a: 1.0 for a in arms}
    span = math.log10(max(sizes) / min(sizes)) if min(sizes) > 0 else 1.0
    step = 0.03 * max(span, 0.3)  # decades between neighbouring arms
    mid = (len(arms) - 1) / 2
    return {a: 10 ** (step * (i - mid)) for i, a in enumerate(arms)}


def _n_axis(ax, sizes: list[int], factors: dict[str, float]) -> None:
    ax.set_xscale("log")
    lo = min(sizes) * min(factors.values())
    hi = max(sizes) * max(factors.values())
    pad = 10 ** max(0.08 * math.log10(hi / lo) if hi > lo else 0.0, 0.06)
    ax.set_xlim(lo / pad, hi * pad)
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _n_text(v)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("N (zeros in the training graph)")


def _plain_y(ax) -> None:
    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    ax.yaxis.set_major_formatter(fmt)
    ax.ticklabel_format(axis="y", useOffset=False)


def _draw_arm(ax, runs: list[Run], arm: str, metric: str, color: str, factor: float) -> list[float]:
    """Seeds (faint rings), mean ± 95 % CI per N, a thin line through this arm's means. Returns the
    y values drawn (dots and bar ends)."""
    series = _by_n(runs, arm, metric)
    drawn: list[float] = []
    if not series:
        return drawn
    xs_mean, ys_mean = [], []
    for n, vals in series.items():
        x = n * factor
        ax.scatter(np.full(len(vals), x), vals, s=26, facecolors="none", edgecolors=color, alpha=0.6,
                   linewidths=0.9, zorder=4)
        s = mean_ci(vals)
        drawn += list(vals) + [v for v in (s.ci_low, s.ci_high) if math.isfinite(v)]
        xs_mean.append(x)
        ys_mean.append(s.mean)
        if s.n >= 2 and math.isfinite(s.ci_low):
            ax.errorbar([x], [s.mean], yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]], fmt="o", ms=5,
                        color=color, capsize=3, lw=1.4, zorder=3)
        else:
            ax.plot([x], [s.mean], "o", ms=5, mfc="white", color=color, zorder=3)
    if len(xs_mean) >= 2:
        ax.plot(xs_mean, ys_mean, "-", color=color, lw=0.9, alpha=0.8, zorder=1)
    ax.plot([], [], "o-", color=color, ms=5, lw=1.4, label=arm)  # the legend entry
    return drawn


def _figure(runs: list[Run], arms: list[str], panels, suptitle: str, zero_line: bool, reference: str | None):
    sizes = _sizes(runs)
    ok = [r for r in runs if r.ok]
    panels = [(m, t) for m, t in panels if any(r.metric(m) is not None for r in ok)]
    if not sizes or not panels or not arms:
        return None
    factors = dodge_factors(arms, sizes)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 4.3), dpi=DPI, squeeze=False,
                             layout="constrained")
    for k, (ax, (metric, title)) in enumerate(zip(axes[0], panels)):
        drawn = []
        for i, arm in enumerate(arms):
            drawn += _draw_arm(ax, runs, arm, metric, COLORS[i % len(COLORS)], factors[arm])
        if zero_line:
            ax.axhline(0.0, color="black", lw=1.0, ls="--", zorder=1, label=BASELINE_LABEL)
        if reference and k == 0:
            ref = {n: float(np.mean(v)) for n, v in _reference(runs).items()}
            drawn += list(ref.values())
            if ref:
                ax.plot(list(ref), list(ref.values()), linestyle="none", marker="*", ms=11, color="black",
                        zorder=4, label="true zeros vs Gaudin (reference)")
        if not zero_line:  # a distance in [0, 1]: from 0, with room above the highest bar
            top = max(drawn, default=0.0)
            ax.set_ylim(0.0, min(1.05, max(1.1 * top, 0.05)))
        _n_axis(ax, sizes, factors)
        _plain_y(ax)
        ax.set_ylabel(metric, fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = [], []
    seeds = axes[0][0].scatter([], [], s=26, facecolors="none", edgecolors="grey", alpha=0.6, linewidths=0.9,
                               label="one run (seed)")
    handles.append(seeds)
    labels.append(seeds.get_label())
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle(suptitle, fontsize=10)
    return fig


def _reference(runs: list[Run]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r in runs:
        if r.ok and r.num_zeros is not None:
            v = r.metric(KS_REFERENCE)
            if v is not None:
                out.setdefault(int(r.num_zeros), []).append(v)
    return dict(sorted(out.items()))


def skill_vs_n_figure(runs: list[Run], arms: list[str]):
    """Two panels (skill vs the smooth and the explicit-formula baseline) against N per arm."""
    return _figure(runs, arms, SKILL_PANELS, "skill against N per arm: mean ± 95 % CI over seeds (rings: single runs)",
                   zero_line=True, reference=None)


def ks_vs_n_figure(runs: list[Run], arms: list[str]):
    """Two panels (KS to Gaudin, KS to the true zeros' spacings) against N per arm, with the true
    zeros' own KS to Gaudin (``extrap/ks/zeros_gaudin``) as black stars on the first."""
    return _figure(runs, arms, KS_PANELS, "KS distance of the predicted unfolded spacings against N per arm "
                                          "(mean ± 95 % CI over seeds)", zero_line=False, reference=KS_REFERENCE)


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def skill_vs_n_plot(runs: list[Run], arms: list[str], path: Path) -> Path | None:
    fig = skill_vs_n_figure(runs, arms)
    return None if fig is None else _save(fig, Path(path))


def ks_vs_n_plot(runs: list[Run], arms: list[str], path: Path) -> Path | None:
    fig = ks_vs_n_figure(runs, arms)
    return None if fig is None else _save(fig, Path(path))
