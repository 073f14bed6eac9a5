"""The scaling sweep (``experiment=scaling``, issue 14): the research question as N grows.

A report source is a scaling sweep when its completed runs hold at least two distinct N
(``num_zeros``). The report then opens with "Verdict as N grows", in two parts:

1. **At the smallest N of the sweep** (10⁴ in the configured sweep): for every arm and each
   baseline (smooth, explicit formula), the mean skill over seeds with its 95 % t CI; an arm
   *beats* a baseline when the CI's lower bound is above 0 (skill = 1 − model MAE / baseline MAE
   in mean spacings). When no arm beats the smooth baseline, the first sentence says so. Then the
   contrast of the full-graph rg arm (``full+rg``, else ``full+local_rg``) with the cluster arm
   without rg (``cluster``) on ``extrap/mae_spacings`` (lower is better): a paired t-test over
   the seeds present in both arms when there are at least 2 pairs, else Welch's t-test; the
   scenario follows the rules of :func:`zeta_rmt.report.stats.decide` (B: the full graph
   significantly better; A: the cluster arm significantly better, or the difference shown
   negligible; else inconclusive).
2. **The trend**: per arm, the OLS slope of skill (against the smooth baseline) on log10 N over
   all completed runs, with its 95 % t CI (n − 2 df); for every regime holding an arm with rg and
   one without (``full+rg`` | ``full+local_rg`` vs ``full``; ``cluster+local_rg`` vs
   ``cluster``) at two or more common N, an OLS fit of skill on log10 N, an arm indicator and
   their interaction: the gap (with rg − without rg) *grows* when the interaction is significantly
   positive (its t-test at level α), *shrinks* when significantly negative, *is flat* otherwise.
   The RMT-only arms (no rg) are said to keep guiding the model when their slope is not
   significantly negative.

Plus a budget table per arm and N (runs, completed, skipped, failed, optimiser steps, train nodes
seen, wall time), ``skill_vs_n.png`` and ``ks_vs_n.png`` (:mod:`zeta_rmt.report.scaling_plots`),
and every number under ``"scaling"`` in ``report.json``.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from zeta_rmt.report.runs import Run, _num
from zeta_rmt.report.render import Heading, Image, Para, Table
from zeta_rmt.report.stats import (
    INTERACTION_TEST_NAME,
    TEST_NAME,
    interaction_test,
    mean_ci,
    ols_slope,
    paired_sample_size,
    paired_test,
    sample_size,
    scenario_of,
    welch_test,
)

ERROR = "extrap/mae_spacings"     # the arm contrast (lower is better)
SKILL = "extrap/skill/smooth"     # the trend and the gap
#: (key, metric, name in the text)
BASELINES = (("smooth", "extrap/skill/smooth", "the smooth baseline"),
             ("explicit_formula", "extrap/skill/explicit_formula", "the explicit-formula baseline"))
KS = (("gaudin", "extrap/ks/gaudin", "KS to Gaudin's GUE law"),
      ("true", "extrap/ks/true", "KS to the true zeros' spacings"))
KS_REFERENCE = "extrap/ks/zeros_gaudin"  # the true zeros' own KS to Gaudin
METRICS = (SKILL, "extrap/skill/explicit_formula", ERROR, "extrap/ks/gaudin", "extrap/ks/true", KS_REFERENCE)
TREND_TEST = "OLS slope on log10 N per decade of N, 95 % t CI with n − 2 df"
SECTION_TITLE = "Verdict as N grows (scaling sweep)"


# -- what the runs hold ------------------------------------------------------------------------------
def sweep_sizes(runs: list[Run]) -> list[int]:
    """The distinct N of the completed runs."""
    return sorted({int(r.num_zeros) for r in runs if r.ok and r.num_zeros is not None})


def is_scaling_sweep(runs: list[Run]) -> bool:
    """Completed runs at two or more distinct N."""
    return len(sweep_sizes(runs)) >= 2


def _arm_order(arm: str) -> tuple:
    return (arm.split("+")[0] != "full", arm)


def has_rg(arm: str) -> bool:
    return any("rg" in t for t in arm.split("+")[1:])


def contrast_arms(arms: list[str]) -> tuple[str, str] | None:
    """(the full-graph rg arm, the cluster arm without rg): full+rg, else full+local_rg, else any
    full-graph arm with an rg term; cluster. None when either is missing."""
    full_rg = [a for a in arms if a.split("+")[0] == "full" and has_rg(a)]
    if not full_rg or "cluster" not in arms:
        return None
    a = "full+rg" if "full+rg" in full_rg else "full+local_rg" if "full+local_rg" in full_rg else full_rg[0]
    return a, "cluster"


def rg_pairs(arms: list[str]) -> list[tuple[str, str]]:
    """(arm with rg, the same regime's arm without rg) for every regime holding both."""
    out = []
    for without in sorted((a for a in arms if "+" not in a), key=_arm_order):
        out += [(a, without) for a in sorted(arms, key=_arm_order) if a.split("+")[0] == without and has_rg(a)]
    return out


def _budget_of(run: Run) -> tuple[float | None, float | None]:
    """(optimiser steps, train nodes seen): ``global_step`` and ``train_nodes_seen`` of metrics.json."""
    return run.global_step, run.train_nodes_seen




def _summary(values) -> dict:
    s = mean_ci([v for v in values if v is not None])
    return {**s.__dict__, "half_width": s.half_width}


# -- formatting --------------------------------------------------------------------------------------
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def n_text(n: int) -> str:
    """10000 -> "10⁴", 30000 -> "3·10⁴", 2000 -> "2000" (plain below 10⁴ or when not m·10^k)."""
    n = int(n)
    if n < 10_000:
        return str(n)
    k = int(math.floor(math.log10(n)))
    m, rem = divmod(n, 10**k)
    if rem:
        return str(n)
    return ("" if m == 1 else f"{m}·") + "10" + str(k).translate(_SUP)


def g(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "nan"
    return f"{x:.{digits}g}"


def _ci_text(s: dict, digits: int = 3) -> str:
    if s["n"] >= 2:
        return f"{g(s['mean'], digits)} (95 % CI [{g(s['ci_low'], digits)}, {g(s['ci_high'], digits)}], n = {s['n']})"
    if s["n"] == 1:
        return f"{g(s['mean'], digits)} (n = 1, no CI)"
    return "no completed run"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _range_text(ns: list[int]) -> str:
    return f"N = {n_text(ns[0])}" if len(ns) == 1 else f"N = {n_text(ns[0])}..{n_text(ns[-1])}"


# -- the analysis -----------------------------------------------------------------------------------
def analyse(runs: list[Run], alpha: float = 0.05, min_effect: float = 0.1) -> dict | None:
    """Every number of the scaling verdict (see the module doc), or None for a single-N source."""
    sizes = sweep_sizes(runs)
    if len(sizes) < 2:
        return None
    arms = sorted({r.arm for r in runs if r.num_zeros is not None}, key=_arm_order)
    ok_arms = [a for a in arms if any(r.ok and r.arm == a for r in runs)]
    cells = []
    for arm in arms:
        for n in sorted({int(r.num_zeros) for r in runs if r.arm == arm and r.num_zeros is not None}):
            rs = [r for r in runs if r.arm == arm and r.num_zeros == n]
            ok = [r for r in rs if r.ok]
            budget = [_budget_of(r) for r in ok]
            steps = sorted({int(s) for s, _ in budget if s is not None})
            cells.append({
                "arm": arm, "num_zeros": n, "runs": len(rs), "completed": len(ok),
                "skipped": sum(r.skipped for r in rs), "failed": sum(r.failed for r in rs),
                "seeds": sorted({r.seed for r in ok if r.seed is not None}),
                "steps": steps, "steps_mean": _summary([s for s, _ in budget])["mean"],
                "train_nodes_seen": _summary([t for _, t in budget]),
                "wall_time_s": _summary([r.wall_time_s for r in ok]),
                "metrics": {m: _summary([r.metric(m) for r in ok]) for m in METRICS},
            })
    part1 = _part1(runs, ok_arms, sizes, alpha, min_effect)
    part2 = _part2(runs, ok_arms, alpha)
    per_n_contrast = []
    pair = contrast_arms(ok_arms)
    if pair:
        for n in sizes:
            c = _contrast(runs, pair, n, alpha, min_effect)
            if c["test"]["n_a"] and c["test"]["n_b"]:
                per_n_contrast.append(c)
    return {"sizes": sizes, "arms": arms, "alpha": alpha, "min_effect": min_effect, "cells": cells,
            "part1": part1, "part2": part2, "contrast_per_n": per_n_contrast, "scenario": part1["scenario"],
            "verdict": [part1["sentence"], part2["sentence"]]}


def _values_by_seed(runs: list[Run], arm: str, n: int, metric: str) -> dict:
    """{seed: value} of the completed runs of ``arm`` at N = ``n`` (several runs of one seed: their mean;
    runs without a seed get keys of their own and never pair)."""
    acc = defaultdict(list)
    for i, r in enumerate(runs):
        if r.ok and r.arm == arm and r.num_zeros == n:
            v = r.metric(metric)
            if v is not None:
                acc[r.seed if r.seed is not None else f"run{i}"].append(v)
    return {k: sum(v) / len(v) for k, v in acc.items()}


def _contrast(runs: list[Run], pair: tuple[str, str], n: int, alpha: float, min_effect: float) -> dict:
    a, b = pair
    va, vb = _values_by_seed(runs, a, n, ERROR), _values_by_seed(runs, b, n, ERROR)
    common = sorted((s for s in va if s in vb and isinstance(s, int)), key=int)
    paired = len(common) >= 2
    if paired:
        t = paired_test([va[s] for s in common], [vb[s] for s in common])
    else:
        t = welch_test(list(va.values()), list(vb.values()))
    scenario, why, margin = scenario_of(t, alpha, min_effect)
    needed = None
    if why == "CI wider than the margin":
        delta = abs(t.diff) if abs(t.diff) >= margin else margin - abs(t.diff)
        if paired:
            d = [va[s] - vb[s] for s in common]
            sd = mean_ci(d).sd
            needed = paired_sample_size(sd, delta, alpha)
        else:
            needed = sample_size(mean_ci(list(va.values())).sd, mean_ci(list(vb.values())).sd, delta, alpha)
    return {"num_zeros": n, "arm_a": a, "arm_b": b, "metric": ERROR, "paired": paired, "pairs": len(common),
            "test": t.as_dict(), "scenario": scenario, "why": why, "margin": margin, "needed_seeds": needed}


def _part1(runs: list[Run], arms: list[str], sizes: list[int], alpha: float, min_effect: float) -> dict:
    n0 = sizes[0]
    at_n0 = [a for a in arms if any(r.ok and r.arm == a and r.num_zeros == n0 for r in runs)]
    skill = {a: {key: _summary([r.metric(m) for r in runs if r.ok and r.arm == a and r.num_zeros == n0])
                 for key, m, _ in BASELINES} for a in at_n0}
    beats = {a: {key: bool(s["n"] >= 2 and s["ci_low"] > 0) for key, s in d.items()} for a, d in skill.items()}
    any_beats = {key: any(beats[a][key] for a in at_n0) for key, _, _ in BASELINES}
    sentences = []
    for key, _, name in BASELINES:
        listed = [f"{a} skill {_ci_text(skill[a][key])}" for a in at_n0]
        if not at_n0:
            continue
        if not any_beats[key]:
            lead = f"No arm beats {name} at N = {n_text(n0)}" if key == "smooth" else f"No arm beats {name}"
            sentences.append(f"{lead}: " + "; ".join(listed) + ".")
        else:
            won = [a for a in at_n0 if beats[a][key]]
            lost = [a for a in at_n0 if not beats[a][key]]
            where = f"At N = {n_text(n0)}, " if key == "smooth" else ""
            verb = "beats" if len(won) == 1 else "beat"
            text = f"{where}{_join(won)} {verb} {name}"
            if lost:
                text += f" ({_join(lost)} {'does' if len(lost) == 1 else 'do'} not)"
            sentences.append(text + ": " + "; ".join(listed) + ".")
    pair = contrast_arms(at_n0)
    contrast = _contrast(runs, pair, n0, alpha, min_effect) if pair else None
    if contrast is None:
        sentences.append(f"No arm contrast at N = {n_text(n0)}: it needs a full-graph rg arm (full+rg or "
                         f"full+local_rg) and the cluster arm without rg with completed runs there "
                         f"(arms: {', '.join(at_n0) or 'none'}).")
        scenario = None
    else:
        sentences.append(_contrast_sentence(contrast, alpha, min_effect, not any_beats["smooth"]))
        scenario = contrast["scenario"]
    return {"num_zeros": n0, "arms": at_n0, "skill": skill, "beats": beats, "any_beats": any_beats,
            "contrast": contrast, "scenario": scenario, "sentence": " ".join(sentences)}


def _contrast_sentence(c: dict, alpha: float, min_effect: float, none_beat_smooth: bool) -> str:
    t = c["test"]
    a, b = c["arm_a"], c["arm_b"]
    test = (f"paired two-sided t-test over {c['pairs']} seeds present in both arms" if c["paired"]
            else f"{TEST_NAME} (n = {t['n_a']}, {t['n_b']}: seeds do not pair)")
    stats = (f"{a} {g(t['mean_a'], 4)} vs {b} {g(t['mean_b'], 4)}, difference {g(t['diff'], 3)} (95 % CI "
             f"[{g(t['ci_low'], 3)}, {g(t['ci_high'], 3)}]), p = {g(t['p_value'], 3)}")
    head = f"Arms at N = {n_text(c['num_zeros'])}, {a} vs {b} on {ERROR} (lower is better), {test}, α = {alpha:g}: "
    why = c["why"]
    if why == "too few seeds":
        tail = "Inconclusive: a test needs at least 2 completed seeds in each arm at this N."
    elif why == "full graph significantly better":
        tail = (f"Scenario B: the full graph is significantly better at this N (p < {alpha:g}), so rg_penalty / the "
                f"full graph matters here and a scalable rg_penalty is needed.")
    elif why == "cluster significantly better":
        tail = (f"Scenario A: the cluster arm is significantly better at this N (p < {alpha:g}), so rg_penalty is "
                f"not essential here.")
    elif why == "negligible difference":
        tail = (f"Scenario A: no significant difference (p ≥ {alpha:g}), and the 95 % CI of the difference lies "
                f"within ±{min_effect:.0%} of the full-graph error (±{g(c['margin'])}).")
    else:
        need = (f"about {c['needed_seeds']} seeds per arm" if c["needed_seeds"] is not None else "more seeds")
        tail = (f"Inconclusive: not significant (p ≥ {alpha:g}), but the 95 % CI of the difference is wider than "
                f"±{min_effect:.0%} of the full-graph error (±{g(c['margin'])}); {need} would decide it.")
    note = " (Both arms are compared although neither beats the smooth baseline.)" if none_beat_smooth else ""
    return head + stats + ". " + tail + note


def _part2(runs: list[Run], arms: list[str], alpha: float) -> dict:
    slopes = {}
    for a in arms:
        pts = [(math.log10(r.num_zeros), r.metric(SKILL)) for r in runs
               if r.ok and r.arm == a and r.num_zeros and r.metric(SKILL) is not None]
        ns = sorted({round(10**x) for x, _ in pts})
        fit = ols_slope([x for x, _ in pts], [y for _, y in pts])
        slopes[a] = {**fit, "sizes": ns}
    rmt_only = {}
    for a in arms:
        if has_rg(a) or len(slopes[a]["sizes"]) < 2:
            continue
        s = slopes[a]
        if not math.isfinite(s["ci_high"]):
            trend = "undetermined"
        elif s["ci_high"] < 0:
            trend = "falls"
        elif s["ci_low"] > 0:
            trend = "rises"
        else:
            trend = "no significant trend"
        rmt_only[a] = {"trend": trend, "slope_nonnegative": bool(s["slope"] >= 0), "slope": s["slope"],
                       "ci_low": s["ci_low"], "ci_high": s["ci_high"]}
    gaps = []
    for with_rg, without in rg_pairs(arms):
        common = sorted(set(slopes[with_rg]["sizes"]) & set(slopes[without]["sizes"]))
        if len(common) < 2:
            continue
        xs, ys, gs = [], [], []
        means = {}
        for arm, flag in ((with_rg, 1.0), (without, 0.0)):
            for n in common:
                vals = [r.metric(SKILL) for r in runs if r.ok and r.arm == arm and r.num_zeros == n]
                vals = [v for v in vals if v is not None]
                means[(arm, n)] = sum(vals) / len(vals) if vals else math.nan
                xs += [math.log10(n)] * len(vals)
                ys += vals
                gs += [flag] * len(vals)
        test = interaction_test(xs, ys, gs)
        p, b3 = test["p_value"], test["interaction"]
        if not math.isfinite(p):
            direction = "undetermined"
        elif p < alpha and b3 > 0:
            direction = "grows"
        elif p < alpha and b3 < 0:
            direction = "shrinks"
        else:
            direction = "is flat"
        gap_at = {n: means[(with_rg, n)] - means[(without, n)] for n in common}
        gaps.append({"with_rg": with_rg, "without_rg": without, "sizes": common, "test": test,
                     "direction": direction, "gap_at": {str(n): v for n, v in gap_at.items()}})
    return {"slopes": slopes, "rmt_only": rmt_only, "gaps": gaps, "sentence": _part2_sentence(slopes, rmt_only, gaps,
                                                                                               arms, alpha)}


def _slope_text(a: str, s: dict) -> str:
    ns = s["sizes"]
    if len(ns) < 2:
        return f"{a}: one N only ({_range_text(ns) if ns else 'no completed run'}), no slope"
    if not math.isfinite(s["ci_low"]):
        return f"{a} {s['slope']:+.3g} per decade ({_range_text(ns)}, n = {s['n']}: no CI)"
    return (f"{a} {s['slope']:+.3g} per decade (95 % CI [{s['ci_low']:+.3g}, {s['ci_high']:+.3g}], "
            f"{_range_text(ns)}, n = {s['n']})")


def _part2_sentence(slopes: dict, rmt_only: dict, gaps: list, arms: list[str], alpha: float) -> str:
    out = [f"As N grows, skill against the smooth baseline ({TREND_TEST}): "
           + "; ".join(_slope_text(a, slopes[a]) for a in arms) + "."]
    for a, d in rmt_only.items():
        trend, ci = d["trend"], f"95 % CI [{d['ci_low']:+.3g}, {d['ci_high']:+.3g}]"
        if trend == "falls":
            out.append(f"The RMT-only arm {a} loses skill as N grows (slope {d['slope']:+.3g} < 0, {ci} below 0): "
                       f"the RMT priors alone do not keep guiding the model.")
        elif trend == "rises":
            out.append(f"The RMT-only arm {a} gains skill as N grows (slope {d['slope']:+.3g}, {ci} above 0): the "
                       f"RMT priors keep guiding the model.")
        elif trend == "no significant trend":
            sign = "≥ 0" if d["slope_nonnegative"] else "< 0"
            out.append(f"The RMT-only arm {a}: slope {d['slope']:+.3g} ({sign}), not significantly different from 0 "
                       f"({ci}): no evidence that its skill falls with N, though a fall of {d['ci_low']:+.3g} per "
                       f"decade is not excluded.")
        else:
            out.append(f"The RMT-only arm {a}: too few runs for a CI of its slope.")
    if not gaps:
        out.append("Gap with rg − without rg: not tested, no regime has an arm with rg and one without with "
                   "completed runs at 2 or more common N (arms: " + ", ".join(arms) + ").")
    for gp in gaps:
        t = gp["test"]
        ns = gp["sizes"]
        ends = (f"gap {g(gp['gap_at'][str(ns[0])])} at N = {n_text(ns[0])}, "
                f"{g(gp['gap_at'][str(ns[-1])])} at N = {n_text(ns[-1])}")
        out.append(f"Gap {gp['with_rg']} − {gp['without_rg']} (skill): {gp['direction']} ({ends}; interaction "
                   f"{g(t['interaction'])} per decade, 95 % CI [{g(t['ci_low'])}, {g(t['ci_high'])}], "
                   f"p = {g(t['p_value'])}; {INTERACTION_TEST_NAME}, α = {alpha:g}).")
    return " ".join(out)


# -- the report section -----------------------------------------------------------------------------
def _cell_text(s: dict) -> str:
    if s["n"] == 0:
        return "-"
    if s["n"] == 1:
        return f"{g(s['mean'], 4)} (n=1)"
    return f"{g(s['mean'], 4)} ± {g(s['half_width'], 2)} (n={s['n']})"


def blocks_of(res: dict, figs: dict[str, Path]) -> list:
    """The report blocks of :func:`analyse`'s result, figures included."""
    p1, p2 = res["part1"], res["part2"]
    blocks: list = [Heading(2, SECTION_TITLE),
                    Heading(3, f"Part 1: at the smallest N of the sweep, N = {n_text(p1['num_zeros'])}"),
                    Para(p1["sentence"], strong=True),
                    Heading(3, f"Part 2: the trend over {_range_text(res['sizes'])}"),
                    Para(p2["sentence"], strong=True),
                    Para(f"Sizes: {', '.join(n_text(n) for n in res['sizes'])}. skill = 1 − model MAE / baseline MAE "
                         f"in mean spacings on the extrapolation window (1 perfect, 0 as good as the baseline); "
                         f"an arm beats a baseline when the lower bound of the 95 % t CI of its mean skill over seeds "
                         f"is above 0. The arm contrast is a paired t-test over the seeds present in both arms "
                         f"(≥ 2 pairs), else Welch's t-test; Scenario A / B / inconclusive as in the single-N "
                         f"verdict below. The trend is an OLS fit of skill on log10 N over every completed run of "
                         f"the arm; "
                         f"the gap test fits skill ~ log10 N × arm (OLS) on both arms at their common N and tests the "
                         f"interaction coefficient (the slope of the gap per decade of N) with a t-test, "
                         f"α = {res['alpha']:g}.")]
    rows = []
    for a in p1["arms"]:
        for key, _, name in BASELINES:
            s = p1["skill"][a][key]
            rows.append([a, name.replace("the ", ""), _cell_text(s),
                         f"[{g(s['ci_low'])}, {g(s['ci_high'])}]" if s["n"] >= 2 else "-",
                         "yes" if p1["beats"][a][key] else "no"])
    blocks += [Heading(3, f"Skill at N = {n_text(p1['num_zeros'])}"),
               Table(["arm", "baseline", "mean skill ± CI half-width", "95 % CI", "beats it"], rows)]
    if res["contrast_per_n"]:
        blocks += [Heading(3, f"{res['contrast_per_n'][0]['arm_a']} vs {res['contrast_per_n'][0]['arm_b']} per N "
                              f"({ERROR}, lower is better)"),
                   Table(["N", "test", "mean A", "mean B", "A − B", "95 % CI", "p", "scenario"],
                         [[n_text(c["num_zeros"]), "paired" if c["paired"] else "Welch", g(c["test"]["mean_a"], 4),
                           g(c["test"]["mean_b"], 4), g(c["test"]["diff"], 3),
                           f"[{g(c['test']['ci_low'])}, {g(c['test']['ci_high'])}]", g(c["test"]["p_value"]),
                           c["scenario"]] for c in res["contrast_per_n"]]),
                   Para("Only the row at the smallest N is the verdict's pre-planned test; the others are unadjusted.")]
    blocks += [Heading(3, "Trend: skill against log10 N"),
               Table(["arm", "N range", "runs", "slope per decade", "95 % CI", "p (slope = 0)"],
                     [[a, _range_text(s["sizes"]) if s["sizes"] else "-", str(s["n"]), g(s["slope"]),
                       f"[{g(s['ci_low'])}, {g(s['ci_high'])}]", g(s["p_value"])] for a, s in p2["slopes"].items()])]
    if p2["gaps"]:
        blocks.append(Table(["with rg", "without rg", "common N", "interaction per decade", "95 % CI", "p",
                             "the gap"],
                            [[gp["with_rg"], gp["without_rg"], ", ".join(n_text(n) for n in gp["sizes"]),
                              g(gp["test"]["interaction"]), f"[{g(gp['test']['ci_low'])}, {g(gp['test']['ci_high'])}]",
                              g(gp["test"]["p_value"]), gp["direction"]] for gp in p2["gaps"]]))
    blocks += [Heading(3, "Per arm and N (mean ± 95 % CI half-width over seeds)"),
               Table(["arm", "N", "skill vs smooth", "skill vs explicit formula", ERROR, "KS to Gaudin",
                      "KS to true zeros", "true zeros' KS to Gaudin"],
                     [[c["arm"], n_text(c["num_zeros"]), *[_cell_text(c["metrics"][m]) for m in METRICS]]
                      for c in res["cells"] if c["completed"]]),
               Heading(3, "Budget per arm and N"),
               Para(_budget_sentence(res["cells"])),
               Table(["arm", "N", "runs", "completed", "skipped", "failed", "optimiser steps",
                      "train nodes seen (mean)", "wall time s (mean)"],
                     [[c["arm"], n_text(c["num_zeros"]), str(c["runs"]), str(c["completed"]), str(c["skipped"]),
                       str(c["failed"]), _steps_text(c["steps"]),
                       g(c["train_nodes_seen"]["mean"], 6) if c["train_nodes_seen"]["n"] else "-",
                       g(c["wall_time_s"]["mean"], 3) if c["wall_time_s"]["n"] else "-"] for c in res["cells"]]),
               Para("skipped: a point above the arm's N cap (scaling.full_max_n / scaling.cluster_max_n), recorded "
                    "without training; neither completed nor failed. A full-graph step sees every train node, a "
                    "cluster step one cluster: equal steps, unequal nodes seen.")]
    captions = {"skill_vs_n": "skill against N per arm (mean ± 95 % CI over seeds; rings: single runs), against the "
                              "smooth and the explicit-formula baselines; 0 = as good as the baseline",
                "ks_vs_n": "KS distance of the predicted unfolded spacings to Gaudin's GUE law and to the true "
                           "zeros' spacings against N per arm (mean ± 95 % CI), with the true zeros' own KS to Gaudin"}
    for name in ("skill_vs_n", "ks_vs_n"):
        if name in figs:
            blocks.append(Image(figs[name], captions[name]))
    return blocks


def _steps_text(steps: list[int]) -> str:
    if not steps:
        return "-"
    return str(steps[0]) if len(steps) == 1 else f"{steps[0]}..{steps[-1]}"


def _budget_sentence(cells: list[dict]) -> str:
    """Whether every completed run of every arm took the same number of optimiser steps."""
    steps = sorted({s for c in cells for s in c["steps"]})
    if not steps:
        return "No completed run recorded its optimiser steps (global_step in metrics.json)."
    if len(steps) == 1:
        return (f"Matched budget: every completed run of every arm took {steps[0]} optimiser steps "
                f"(global_step in metrics.json).")
    per_arm = defaultdict(set)
    for c in cells:
        per_arm[c["arm"]].update(c["steps"])
    return ("Unmatched budget: the completed runs took different numbers of optimiser steps ("
            + "; ".join(f"{a}: {', '.join(map(str, sorted(v)))}" for a, v in per_arm.items() if v) + ").")


@dataclass
class ScalingPart:
    """What a scaling sweep adds to the report: the numbers, the blocks and the figures."""

    data: dict
    blocks: list = field(default_factory=list)
    figs: dict[str, Path] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    def sentences(self) -> list[str]:
        """Part 1 and part 2 of the verdict, as the report states them."""
        return list(self.data["verdict"])


def scaling_part(runs: list[Run], out_dir: Path, *, alpha: float = 0.05, min_effect: float = 0.1) -> ScalingPart | None:
    """The scaling verdict, figures and blocks for ``runs`` (None unless they sweep N)."""
    res = analyse(runs, alpha=alpha, min_effect=min_effect)
    if res is None:
        return None
    from zeta_rmt.report import scaling_plots

    out_dir = Path(out_dir)
    arms = [a for a in res["arms"] if any(r.ok and r.arm == a for r in runs)]
    figs = {}
    for name, fn in (("skill_vs_n", scaling_plots.skill_vs_n_plot), ("ks_vs_n", scaling_plots.ks_vs_n_plot)):
        p = fn(runs, arms, out_dir / f"{name}.png")
        if p is not None:
            figs[name] = p
    return ScalingPart(res, blocks_of(res, figs), figs, list(runs))
