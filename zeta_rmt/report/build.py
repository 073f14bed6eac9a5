"""Assemble the report: collect runs, compute the statistics, draw the plots, write
``report.md``, ``report.html`` and ``report.json`` (the numbers, machine-readable)."""
from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from zeta_rmt.report import pareto, scaling, plots
from zeta_rmt.report.collect import (
    ReportInputError,
    Run,
    collect,
    common_and_varying,
    config_diff,
    is_study_source,
    varying_choices,
)
from zeta_rmt.report.render import Details, Heading, Image, Para, Pre, Table, to_html, to_markdown
from zeta_rmt.report.stats import TEST_NAME, bootstrap_diff, decide, mean_ci, welch_test

DEFAULT_METRIC = "extrap/mse"
SECONDARY = ("extrap/mae_spacings", "extrap/skill/smooth")


def fmt(v, digits: int = 6) -> str:
    """How every number appears in the report."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "nan"
    return f"{f:.{digits}g}"


def fmt_ci(s) -> str:
    if s.n == 0:
        return "-"
    if s.n < 2:
        return f"{fmt(s.mean, 4)} (n=1)"
    return f"{fmt(s.mean, 4)} ± {fmt(s.half_width, 2)}"


@dataclass
class Report:
    out_dir: Path
    markdown: Path
    html: Path
    json: Path
    verdict: str | None
    scenario: str | None
    plots: dict[str, Path] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    scaling_verdict: list[str] | None = None  # the two parts of a sweep over N (issue 14)


def default_out_dir(paths: list[str]) -> Path:
    if len(paths) == 1:
        src = paths[0]
        if src.startswith("vertex://"):
            return Path("report_" + src.rstrip("/").rsplit("/", 1)[-1])
        if is_study_source(src):
            p = Path(src.split(":///", 1)[1] if ":///" in src else src)
            return p.parent / f"{p.stem}_report"
        p = Path(src)
        return (p.parent if p.is_file() else p) / "report"
    return Path("report")


def pick_contrast(arms: list[str], compare: tuple[str, str] | None) -> tuple[str, str] | None:
    """The two arms of the verdict: the full-graph arm with rg_penalty (else any full-graph arm)
    against the cluster arm without rg (else any cluster arm)."""
    if compare:
        a, b = compare
        missing = [x for x in (a, b) if x not in arms]
        if missing:
            raise ReportInputError(f"--compare: no runs in arm(s) {missing}; arms: {arms}")
        return a, b
    full = [a for a in arms if a.split("+")[0] == "full"]
    cluster = [a for a in arms if a.split("+")[0] == "cluster"]
    if not full or not cluster:
        return None
    a = "full+rg" if "full+rg" in full else next((x for x in full if "+" in x), full[0])
    b = "cluster" if "cluster" in cluster else cluster[0]
    return a, b


def _metric_name(runs: list[Run], metric: str | None) -> str:
    if metric:
        return metric
    names = Counter(r.optimized_metric for r in runs if r.optimized_metric)
    return names.most_common(1)[0][0] if names else DEFAULT_METRIC


def _values(runs: list[Run], arm: str, metric: str) -> list[float]:
    return [v for r in runs if r.ok and r.arm == arm for v in [r.metric(metric)] if v is not None]


def _setting(runs: list[Run]) -> str | None:
    """"N = 2000, 300 epochs" (or the ranges) of the compared runs."""
    def span(values, unit):
        vals = sorted({v for v in values if v is not None})
        if not vals:
            return None
        return f"{unit} = {vals[0]}" if len(vals) == 1 else f"{unit} = {vals[0]}..{vals[-1]}"

    parts = [span([r.num_zeros for r in runs], "N"), span([r.epochs for r in runs], "epochs")]
    parts = [p.replace("epochs = ", "") + " epochs" if p and p.startswith("epochs") else p for p in parts]
    return ", ".join(p for p in parts if p) or None


def _caveats(runs: list[Run], arms: list[str], contrast: tuple[str, str] | None) -> list[str]:
    """What the verdict sentence does not say: the budget in optimiser steps, and whether any
    model beats the smooth baseline at all."""
    out = []
    budgets = {r.config.get("trainer.max_steps") for r in runs if r.ok and contrast and r.arm in contrast}
    matched = len(budgets) == 1 and isinstance(next(iter(budgets)), int) and next(iter(budgets)) > 0
    if matched:  # experiment=ab_rg / scaling: every arm stops after the same number of optimiser steps
        out.append(f"the budget is matched in optimiser steps: {next(iter(budgets))} per run in every arm "
                   f"(trainer.max_steps); a full-graph step sees every train node, a cluster step one cluster; "
                   f"mean wall times are in the table below.")
    if contrast and not matched:
        steps = []
        for arm in contrast:
            rs = [r for r in runs if r.ok and r.arm == arm]
            epochs = sorted({r.epochs for r in rs if r.epochs is not None})
            parts = sorted({r.config.get("data.num_parts") for r in rs if isinstance(r.config.get("data.num_parts"), int)})
            if not epochs:
                continue
            e = epochs[0] if len(epochs) == 1 else f"{epochs[0]}..{epochs[-1]}"
            if arm.split("+")[0] == "cluster" and len(parts) == 1 and len(epochs) == 1:
                steps.append(f"{arm}: {e} epochs x {parts[0]} clusters = {epochs[0] * parts[0]} optimiser steps")
            elif arm.split("+")[0] == "full":
                steps.append(f"{arm}: {e} epochs = {e} optimiser steps on the whole graph")
        if steps:
            out.append("the budget is equal in epochs, not in optimiser steps (" + "; ".join(steps)
                       + "); mean wall times are in the table below.")
    skills = {a: mean_ci(_values(runs, a, "extrap/skill/smooth")).mean for a in arms}
    known = {a: v for a, v in skills.items() if math.isfinite(v)}
    if known and all(v < 0 for v in known.values()):
        out.append("no arm beats the smooth baseline N0⁻¹(n − 1/2) on the extrapolation window (mean skill < 0 "
                   "in every arm: " + ", ".join(f"{a} {fmt(v, 3)}" for a, v in known.items())
                   + "), so this compares models that have not learned the zeros beyond their smooth trend.")
    return out


def build_report(paths, out_dir=None, *, metric: str | None = None, alpha: float = 0.05, min_effect: float = 0.1,
                 compare: tuple[str, str] | None = None, study: str | None = None, vertex_options: dict | None = None,
                 title: str | None = None) -> Report:
    paths = [str(p) for p in paths]
    if not paths:
        raise ReportInputError("no sources given")
    if not 0 < alpha < 1:
        raise ReportInputError(f"--alpha must be in (0, 1), got {alpha}")
    if not min_effect > 0:
        raise ReportInputError(f"--min-effect must be > 0, got {min_effect}")
    runs = collect(paths, study=study, vertex_options=vertex_options)
    out = Path(out_dir) if out_dir is not None else default_out_dir(paths)
    out.mkdir(parents=True, exist_ok=True)
    metric = _metric_name(runs, metric)
    secondary = [m for m in SECONDARY if m != metric]
    arms = sorted({r.arm for r in runs}, key=lambda a: (a.split("+")[0] != "full", a))
    ok_arms = [a for a in arms if any(r.ok and r.arm == a for r in runs)]
    common, varying = common_and_varying(runs)
    groups = varying_choices(runs)
    title = title or "zeta_rmt report: " + ", ".join(paths)

    # -- statistics -------------------------------------------------------------------------
    contrast = pick_contrast(ok_arms, compare)
    verdict = None
    if contrast:
        a, b = contrast
        compared = [r for r in runs if r.ok and r.arm in (a, b)]
        verdict = decide(_values(runs, a, metric), _values(runs, b, metric), metric=metric, arm_a=a, arm_b=b,
                         alpha=alpha, min_effect=min_effect, setting=_setting(compared))
    per_arm = {}
    for arm in arms:
        rs = [r for r in runs if r.arm == arm]
        ok = [r for r in rs if r.ok]
        per_arm[arm] = {
            "runs": len(rs), "completed": len(ok), "failed": sum(r.failed for r in rs),
            "skipped": sum(r.skipped for r in rs),
            "num_zeros": sorted({r.num_zeros for r in rs if r.num_zeros is not None}),
            "epochs": sorted({r.epochs for r in ok if r.epochs is not None}),
            "metrics": {m: mean_ci(_values(runs, arm, m)).__dict__ for m in [metric, *secondary]},
            "wall_time_s": mean_ci([r.wall_time_s for r in ok if r.wall_time_s is not None]).__dict__,
        }
    pairwise = []
    for a, b in itertools.combinations(ok_arms, 2):
        for m in [metric, *secondary]:
            va, vb = _values(runs, a, m), _values(runs, b, m)
            if len(va) >= 2 and len(vb) >= 2:
                pairwise.append({"metric": m, "arm_a": a, "arm_b": b, "welch": welch_test(va, vb).as_dict(),
                                 "bootstrap": bootstrap_diff(va, vb)})

    # -- plots ------------------------------------------------------------------------------
    figs: dict[str, Path] = {}

    def keep(name, p):
        if p is not None:
            figs[name] = p

    keep("arms", plots.arms_plot(runs, ok_arms, [(metric, f"{metric} (final)"),
                                                 ("extrap/skill/smooth", "skill vs smooth baseline")],
                                 out / "arms.png"))
    spacing_fig, spacing_info = plots.spacings_plot(runs, ok_arms, out / "spacings.png")
    keep("spacings", spacing_fig)
    keep("sensitivity", plots.sensitivity_plot(runs, varying, metric, out / "sensitivity.png", ok_arms))
    keep("curves", plots.curves_plot(runs, arms, metric, out / "curves.png"))
    keep("optuna", plots.optuna_plot(runs, metric, out / "optuna.png"))
    scal = scaling.scaling_part(runs, out, alpha=alpha, min_effect=min_effect)  # a sweep over N (issue 14)
    fronts = pareto.pareto_fronts(paths, runs, study)  # multi-objective Optuna searches
    pareto_section, pareto_figs = pareto.pareto_blocks(fronts, out)

    # -- leaderboard --------------------------------------------------------------------------
    def sort_key(r: Run):
        v = r.metric(metric)
        return (0 if r.ok and v is not None else 1, v if v is not None else math.inf, r.run_id)

    board = sorted(runs, key=sort_key)
    rows, run_json = [], []
    for rank, r in enumerate(board, 1):
        best = r.best or {}
        best_v = best.get(metric)
        best_txt = f"{fmt(best_v)} (epoch {best.get('epoch')})" if best_v is not None else "-"
        diff = config_diff(r, varying, groups)
        rows.append([str(rank) if r.ok else "-", r.run_id, r.status, r.arm, fmt(r.seed), fmt(r.num_zeros),
                     fmt(r.epochs), fmt(r.final.get(metric)), best_txt, fmt(r.final.get("extrap/mae_spacings")),
                     fmt(r.final.get("extrap/skill/smooth")), fmt(r.wall_time_s, 3), diff or "-", r.error or ""])
        run_json.append({"rank": rank if r.ok else None, "run_id": r.run_id, "source": r.source, "status": r.status,
                         "arm": r.arm, "regime": r.regime, "seed": r.seed, "num_zeros": r.num_zeros,
                         "epochs": r.epochs, "wall_time_s": r.wall_time_s, "metric": metric,
                         "value": r.final.get(metric), "best": best_v,
                         "final": {m: r.final.get(m) for m in [metric, *secondary]},
                         "config_diff": diff, "error": r.error, **({"extra": r.extra} if r.extra else {})})

    caveats = _caveats(runs, ok_arms, contrast) if verdict is not None else []

    # -- document ---------------------------------------------------------------------------
    n_ok = sum(r.ok for r in runs)
    statuses = Counter(r.status for r in runs)
    blocks: list = [Heading(1, "zeta_rmt report"),
                    Para(f"Sources: {', '.join(paths)}. Generated {_dt.datetime.now().isoformat(timespec='seconds')}. "
                         f"{len(runs)} runs: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + "."),
                    *(scal.blocks if scal is not None else []),
                    Heading(2, "Verdict" if scal is None else "Verdict over all N pooled (one N at a time: above)")]
    if verdict is not None:
        blocks.append(Para(verdict.sentence, strong=True))
        t = verdict.test
        blocks.append(Para(
            f"Question (SPEC §1): is rg_penalty essential? Compared: {verdict.arm_a} (full graph) vs "
            f"{verdict.arm_b} (Cluster-GCN) on {metric} at the end of training (lower is better). Test: {TEST_NAME}, "
            f"α = {alpha:g}: t = {fmt(t['statistic'], 4)}, df = {fmt(t['df'], 3)}, p = {fmt(t['p_value'], 4)}; "
            f"difference of means ({verdict.arm_a} − {verdict.arm_b}) {fmt(t['diff'], 4)}, 95 % CI "
            f"[{fmt(t['ci_low'], 4)}, {fmt(t['ci_high'], 4)}]; {verdict.bootstrap['test']}: 95 % CI "
            f"[{fmt(verdict.bootstrap['ci_low'], 4)}, {fmt(verdict.bootstrap['ci_high'], 4)}], "
            f"p = {fmt(verdict.bootstrap['p_value'], 4)}. Scenario A also requires, when p ≥ α, that the CI lie "
            f"within ±{min_effect:.0%} of the full-graph mean error (else: inconclusive, with the seeds needed)."))
        for c in caveats:
            blocks.append(Para("Caveat: " + c))
    else:
        blocks.append(Para("No verdict: the runs do not hold completed runs of both regimes (full and cluster); "
                           f"arms with completed runs: {ok_arms or 'none'}.", strong=True))
    blocks += [Heading(2, "Per arm (mean ± 95 % CI over runs)"),
               Table(["arm", "runs", "completed", "failed", "skipped", "N", "epochs", f"{metric}", *secondary,
                      "wall time s"],
                     [[arm, str(d["runs"]), str(d["completed"]), str(d["failed"]), str(d["skipped"]),
                       ",".join(map(str, d["num_zeros"])) or "-", ",".join(map(str, d["epochs"])) or "-",
                       *[fmt_ci(mean_ci(_values(runs, arm, m))) for m in [metric, *secondary]],
                       fmt_ci(mean_ci([r.wall_time_s for r in runs if r.ok and r.arm == arm
                                       and r.wall_time_s is not None]))]
                      for arm, d in per_arm.items()]),
               Para("Arm = regime plus every rg-type loss term with a positive weight (full+rg: Team 1's loss; "
                    "cluster: Team 2's). skill = 1 − model MAE / smooth-baseline MAE in mean spacings "
                    "(1 perfect, 0 as good as the smooth baseline N0⁻¹(n − 1/2), < 0 worse).")]
    if pairwise:
        blocks += [Heading(3, "Pairwise tests"),
                   Table(["metric", "arm A", "arm B", "mean A − mean B", "95 % CI (Welch)", "Welch p",
                          "bootstrap p"],
                         [[p["metric"], p["arm_a"], p["arm_b"], fmt(p["welch"]["diff"], 4),
                           f"[{fmt(p['welch']['ci_low'], 4)}, {fmt(p['welch']['ci_high'], 4)}]",
                           fmt(p["welch"]["p_value"], 4), fmt(p["bootstrap"]["p_value"], 4)] for p in pairwise]),
                   Para("Unadjusted p-values; only the verdict's contrast is the pre-planned test.")]
    blocks += pareto_section
    blocks.append(Heading(2, "Plots"))
    captions = {
        "arms": f"{metric} and skill per arm: every run, mean and 95 % CI",
        "spacings": "unfolded spacings of the predicted heights (validation + extrapolation nodes) vs Gaudin's "
                    "GUE law and the true zeros",
        "sensitivity": f"sensitivity of {metric} to the swept parameters",
        "curves": f"training curves: train/loss and {metric} per epoch",
        "optuna": "Optuna: objective per trial and best so far",
    }
    for name, p in figs.items():
        blocks.append(Image(p, captions[name]))
    if spacing_info:
        blocks.append(Table(["arm", "runs", "spacings", "non-positive share", "KS predicted vs Gaudin",
                             "KS predicted vs true zeros", "KS true zeros vs Gaudin (reference)"],
                            [[a, str(d["runs"]), str(d["spacings"]), fmt(d["nonpositive_share"], 3),
                              fmt(d["ks_gaudin"], 4), fmt(d["ks_true"], 4), fmt(d["ks_gaudin_true_zeros"], 4)]
                             for a, d in spacing_info.items()]))
    if "sensitivity" not in figs:
        blocks.append(Para("No sensitivity plot: no swept parameter varies inside an arm (only seeds, or only what "
                           "tells the arms apart)."))
    if "curves" not in figs:
        blocks.append(Para("No training curves: no run has a history.json."))
    blocks += [Heading(2, f"Leaderboard (sorted by final {metric}; failed runs last)"),
               Table(["rank", "run", "status", "arm", "seed", "N", "epochs", f"{metric} (final)", f"{metric} (best)",
                      "mae_spacings", "skill/smooth", "wall s", "config diff", "error"], rows),
               Para("final: at the end of training (used for ranking and tests); best: the lowest value over "
                    "validation epochs -- picked on the extrapolation window itself, so optimistic. config diff: "
                    "the config groups and keys that differ between the runs of this report (seed aside).")]
    if common:
        blocks.append(Details("configuration shared by every run",
                              [Pre("\n".join(f"{k}: {v}" for k, v in common.items()))]))
    figs.update(pareto_figs)
    if scal is not None:  # (its images are in its own section, above)
        figs.update(scal.figs)
    md = to_markdown(blocks, out)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(to_html(blocks, title))
    data = {
        "sources": paths, "metric": metric, "alpha": alpha, "min_effect": min_effect,
        "verdict": verdict.as_dict() if verdict else None, "arms": per_arm, "pairwise": pairwise,
        "caveats": caveats, "spacings": spacing_info, "plots": {k: str(v) for k, v in figs.items()}, "runs": run_json,
        "completed": n_ok, "pareto": fronts, **({"scaling": scal.data} if scal is not None else {}),
    }
    (out / "report.json").write_text(json.dumps(data, indent=2, default=str))
    return Report(out, out / "report.md", out / "report.html", out / "report.json",
                  verdict.sentence if verdict else None, verdict.scenario if verdict else None, figs, runs,
                  scal.sentences() if scal is not None else None)
