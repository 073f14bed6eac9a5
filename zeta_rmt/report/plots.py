"""PNG figures of a report (matplotlib, Agg backend). Every function returns the file it wrote,
or None when the runs hold nothing to plot (e.g. no sweep over loss weights)."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from zeta_rmt.report.collect import Run  # noqa: E402
from zeta_rmt.report.stats import mean_ci  # noqa: E402

DPI = 110
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _color(arms: list[str], arm: str) -> str:
    return COLORS[arms.index(arm) % len(COLORS)]


def _positive_wide(values) -> bool:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return bool(v) and min(v) > 0 and max(v) / min(v) >= 20


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def arms_plot(runs: list[Run], arms: list[str], metrics: list[tuple[str, str]], path: Path) -> Path | None:
    """One panel per (metric, title): every seed as a dot, the mean +- 95 % CI as a bar."""
    ok = [r for r in runs if r.ok]
    panels = [(m, t) for m, t in metrics if any(r.metric(m) is not None for r in ok)]
    if not panels or not arms:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (metric, title) in zip(axes[0], panels):
        allv = []
        for i, arm in enumerate(arms):
            vals = [r.metric(metric) for r in ok if r.arm == arm]
            vals = [v for v in vals if v is not None]
            allv += vals
            if not vals:
                continue
            ax.scatter(i + rng.uniform(-0.12, 0.12, len(vals)), vals, s=18, alpha=0.7, color=_color(arms, arm))
            s = mean_ci(vals)
            if s.n >= 2:
                ax.errorbar(i + 0.25, s.mean, yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]], fmt="o",
                            color="black", capsize=4, ms=5)
            else:
                ax.plot(i + 0.25, s.mean, "o", color="black", ms=5)
        ax.set_xticks(range(len(arms)), arms, rotation=20)
        ax.set_title(title, fontsize=10)
        if _positive_wide(allv):
            ax.set_yscale("log")
        if metric.startswith("extrap/skill"):
            ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    fig.suptitle("per arm: seeds (dots), mean and 95 % CI (black)", fontsize=10)
    return _save(fig, path)


def _as_number(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def sensitivity_plot(runs: list[Run], varying: list[str], metric: str, path: Path, arms: list[str]) -> Path | None:
    """The metric against every swept parameter (numeric: scatter + mean per value, log axis when
    wide; others: one column per value), and a heat map of the mean over the first two swept loss
    weights when the sweep is a grid."""
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
    n = len(keys) + (1 if grid else 0)
    ncol = min(3, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.5 * nrow), squeeze=False)
    flat = list(axes.flat)
    logy = _positive_wide([r.metric(metric) for r in ok])
    for ax, key in zip(flat, keys):
        pts = [(r.config[key], r.metric(metric), r.arm) for r in ok if key in r.config]
        nums = [_as_number(p[0]) for p in pts]
        if all(x is not None for x in nums):
            for arm in arms:
                xy = [(x, y) for x, (_, y, a) in zip(nums, pts) if a == arm]
                if xy:
                    ax.scatter(*zip(*xy), s=16, alpha=0.6, color=_color(arms, arm), label=arm)
            for arm in arms:  # the mean over seeds (and other parameters) per value, per arm
                means = defaultdict(list)
                for x, (_, y, a) in zip(nums, pts):
                    if a == arm:
                        means[x].append(y)
                mx = sorted(means)
                if len(mx) >= 2:
                    ax.plot(mx, [float(np.mean(means[x])) for x in mx], "-", lw=1, color=_color(arms, arm))
            if _positive_wide(nums) or (min(nums) > 0 and len(set(nums)) >= 3 and max(nums) / min(nums) >= 9):
                ax.set_xscale("log")
        else:
            labels = sorted({json.dumps(p[0], default=str) if not isinstance(p[0], str) else p[0] for p in pts})
            for i, lab in enumerate(labels):
                ys = [y for (v, y, _) in pts if (v if isinstance(v, str) else json.dumps(v, default=str)) == lab]
                ax.scatter(np.full(len(ys), i) + np.linspace(-0.1, 0.1, len(ys)), ys, s=16, alpha=0.7)
                ax.plot([i - 0.2, i + 0.2], [np.mean(ys)] * 2, "k-", lw=1.5)
            ax.set_xticks(range(len(labels)), labels, rotation=25, fontsize=7)
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    if len(arms) > 1 and keys:
        flat[0].legend(fontsize=7)
    if grid:
        kx, ky, xs, ys, cells = grid
        ax = flat[len(keys)]
        z = np.array([[float(np.mean(cells[(x, y)])) for x in xs] for y in ys])
        im = ax.imshow(np.log10(z) if logy and np.all(z > 0) else z, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [f"{x:.3g}" for x in xs], fontsize=7)
        ax.set_yticks(range(len(ys)), [f"{y:.3g}" for y in ys], fontsize=7)
        ax.set_xlabel(kx, fontsize=8)
        ax.set_ylabel(ky, fontsize=8)
        ax.set_title(("log10 " if logy and np.all(z > 0) else "") + f"mean {metric}", fontsize=9)
        fig.colorbar(im, ax=ax)
    for ax in flat[n:]:
        ax.axis("off")
    fig.suptitle(f"sensitivity of {metric} (final) to the swept parameters", fontsize=10)
    return _save(fig, path)


def spacings_plot(runs: list[Run], arms: list[str], path: Path) -> tuple[Path | None, dict]:
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
    fig, axes = plt.subplots(1, len(per_arm), figsize=(4.2 * len(per_arm), 3.4), squeeze=False)
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
    return _save(fig, path), info


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


def curves_plot(runs: list[Run], arms: list[str], metric: str, path: Path, max_runs: int = 60) -> Path | None:
    """Training loss and ``metric`` per epoch for every run with a history (colour = arm)."""
    with_hist = [r for r in runs if r.history][:max_runs]
    if not with_hist:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
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
        lines = [ln for ln in ax.get_lines()]
        ys = np.concatenate([ln.get_ydata() for ln in lines]) if lines else np.array([])
        if ys.size and np.all(ys > 0):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"training curves ({len(with_hist)} runs)", fontsize=10)
    return _save(fig, path)


def optuna_plot(runs: list[Run], metric: str, path: Path) -> Path | None:
    """Objective per trial and the best so far (Optuna sources)."""
    trials = sorted((r for r in runs if "trial" in r.extra), key=lambda r: r.extra["trial"])
    if not trials:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
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
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def pareto_plot(front: dict, path: Path) -> Path | None:
    """The first two objectives of a multi-objective search: every completed trial as a grey dot,
    the Pareto front as red dots, each labelled with its trial (a scatter; no connecting line)."""
    pts = [p for p in front.get("points", []) if len(p["values"]) >= 2
           and all(v is not None and math.isfinite(v) for v in p["values"][:2])]
    if not pts:
        return None
    mx, my = front["metrics"][:2]
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
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
        else:
            ax.ticklabel_format(axis=axis, style="plain", useOffset=False)
    ax.set_xlabel(mx)
    ax.set_ylabel(my)
    ax.set_title(f"Pareto front: {len(best)} of {len(pts)} trials" + (f" ({front['name']})" if front.get("name") else ""),
                 fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, path)
