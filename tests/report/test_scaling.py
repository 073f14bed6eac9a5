"""The scaling verdict (issue 14): synthetic sweeps over N with known answers (Scenario A,
Scenario B, no arm beating the smooth baseline, a gap that grows with N), the statistics under it,
the two figures, and one tiny real `experiment=scaling` multirun end to end."""
from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from scipy import stats as sps  # noqa: E402

from tests.fixtures.network_guard import guarded_command  # noqa: E402
from zeta_rmt.report import scaling, scaling_plots  # noqa: E402
from zeta_rmt.report.build import build_report  # noqa: E402
from zeta_rmt.report.collect import Run, collect  # noqa: E402
from zeta_rmt.report.render import to_markdown  # noqa: E402
from zeta_rmt.report.stats import (  # noqa: E402
    INTERACTION_TEST_NAME,
    PAIRED_TEST_NAME,
    TEST_NAME,
    interaction_test,
    ols_slope,
    paired_test,
)

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"full": "zeta_rmt.data.FullGraphDataModule", "cluster": "zeta_rmt.data.ClusterDataModule"}
#: report arm label -> (regime, rg weight, rg variant)
ARMS = {"full+rg": ("full", 0.1, "seed"), "full+local_rg": ("full", 0.1, "scale"), "full": ("full", 0.0, None),
        "cluster": ("cluster", 0.0, None), "cluster+local_rg": ("cluster", 0.1, "scale")}
SIZES = (10_000, 100_000, 1_000_000)
OFFSETS = (0.004, -0.003, 0.001, -0.002)   # per seed: spread without randomness
OFFSETS_2 = (-0.002, 0.003, 0.002, -0.001)
SMOOTH_MAE = 0.2                           # the smooth baseline's MAE in mean spacings


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def write_run(d: Path, arm: str, n: int, seed: int, skill: float | None = None, *, skill_ef: float = -3.0,
              status: str = "completed", steps: int = 100) -> Path:
    """A run folder as `python -m zeta_rmt.train -m experiment=scaling` leaves it (metrics.json and the
    .hydra config the arm label comes from); extrap/mae_spacings = smooth MAE x (1 - skill)."""
    regime, rg, variant = ARMS[arm]
    (d / ".hydra").mkdir(parents=True)
    loss = {"weights": {"mse": 1.0, "rg": rg, "gue_nll": 0.02, "gue_mmd": 0.05}}
    if variant:
        loss["components"] = {"rg": {"variant": variant}}
    cfg = {"seed": seed, "optimized_metric": "extrap/mse", "data": {"_target_": TARGETS[regime], "num_zeros": n},
           "loss": loss, "trainer": {"max_steps": steps}}
    (d / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    rec = {"status": status, "regime": regime, "num_zeros": n, "seed": seed, "wall_time_s": 0.0, "epochs": 0,
           "optimized_metric": "extrap/mse", "final": {}, "best": None, "data": {}}
    if status == "skipped":
        rec["reason"] = f"data.num_zeros={n} is above max_num_zeros for this configuration: skipped"
    elif status == "failed":
        rec["error"] = {"type": "RuntimeError", "message": "boom", "traceback": "..."}
    else:
        mae = SMOOTH_MAE * (1 - skill)
        nodes = steps * (int(0.9 * n) if regime == "full" else 100)
        rec.update(wall_time_s=1.0 + math.log10(n), epochs=steps if regime == "full" else 1, global_step=steps,
                   train_nodes_seen=nodes)
        rec["final"] = {"extrap/mse": mae ** 2, "extrap/mae_spacings": mae, "extrap/skill/smooth": skill,
                        "extrap/skill/explicit_formula": skill_ef, "extrap/baseline/smooth/mae_spacings": SMOOTH_MAE,
                        "extrap/ks/gaudin": 0.3 - 0.05 * skill, "extrap/ks/true": 0.32 - 0.05 * skill,
                        "extrap/ks/zeros_gaudin": 0.05 + 0.002 * math.log10(n)}
    (d / "metrics.json").write_text(json.dumps(rec))
    return d


class Sweep:
    def __init__(self, root: Path):
        self.root = root
        self.k = 0

    def add(self, arm: str, n: int, seed: int, skill=None, **kw):
        write_run(self.root / str(self.k), arm, n, seed, skill, **kw)
        self.k += 1


def x_of(n: int) -> float:
    return math.log10(n) - 4  # decades above 10^4


@pytest.fixture
def scenario_a(tmp_path):
    """full+rg and cluster equally good at every N, both far above the smooth baseline."""
    sw = Sweep(tmp_path / "scenario_a")
    for n in SIZES:
        for s in range(4):
            sw.add("full+rg", n, s, 0.8 + OFFSETS[s])
            sw.add("cluster", n, s, 0.8 + OFFSETS_2[s])
    return sw.root


@pytest.fixture
def scenario_b(tmp_path):
    """full+rg clearly better than cluster (whose seeds do not pair with full+rg's: Welch)."""
    sw = Sweep(tmp_path / "scenario_b")
    for n in SIZES:
        for s in range(4):
            sw.add("full+rg", n, s, 0.8 + OFFSETS[s], skill_ef=0.3 + OFFSETS[s])
            sw.add("cluster", n, 10 + s, 0.5 + OFFSETS_2[s])
    return sw.root


@pytest.fixture
def no_arm_beats(tmp_path):
    sw = Sweep(tmp_path / "no_arm_beats")
    for n in SIZES:
        for s in range(4):
            sw.add("full+rg", n, s, -0.5 + OFFSETS[s])
            sw.add("cluster", n, s, -0.7 + OFFSETS_2[s])
    return sw.root


@pytest.fixture
def gap_grows(tmp_path):
    """Four arms. Full graph: with rg rises 0.1 per decade, without rg falls 0.05 (the gap grows);
    full-graph arms are skipped at 10^6 (above their cap). Cluster: both rise 0.02 per decade (the
    gap is flat). One failed cluster run."""
    sw = Sweep(tmp_path / "gap_grows")
    for n in SIZES:
        for s in range(4):
            if n > 100_000:
                sw.add("full+rg", n, s, status="skipped")
                sw.add("full", n, s, status="skipped")
            else:
                sw.add("full+rg", n, s, 0.5 + 0.1 * x_of(n) + OFFSETS[s])
                sw.add("full", n, s, 0.5 - 0.05 * x_of(n) + OFFSETS_2[s])
            sw.add("cluster", n, s, 0.4 + 0.02 * x_of(n) + OFFSETS_2[s])
            sw.add("cluster+local_rg", n, s, 0.45 + 0.02 * x_of(n) + OFFSETS[s])
    sw.add("cluster", 10_000, 9, status="failed")
    return sw.root


def _part(root: Path, out: Path):
    runs = collect([str(root)])
    out.mkdir(parents=True, exist_ok=True)
    part = scaling.scaling_part(runs, out)
    assert part is not None
    for name in ("skill_vs_n", "ks_vs_n"):
        assert part.figs[name] == out / f"{name}.png" and (out / f"{name}.png").stat().st_size > 10_000
    return part, runs


def test_scenario_a_equal_arms_both_beating_the_smooth_baseline(scenario_a, tmp_path):
    part, _ = _part(scenario_a, tmp_path / "rep")
    p1 = part.data["part1"]
    assert p1["num_zeros"] == 10_000 and part.data["sizes"] == list(SIZES)
    assert p1["beats"] == {"full+rg": {"smooth": True, "explicit_formula": False},
                           "cluster": {"smooth": True, "explicit_formula": False}}
    c = p1["contrast"]
    assert (c["arm_a"], c["arm_b"], c["paired"], c["pairs"]) == ("full+rg", "cluster", True, 4)
    assert c["test"]["test"] == PAIRED_TEST_NAME and c["test"]["p_value"] > 0.05
    assert (p1["scenario"], c["why"]) == ("A", "negligible difference") and part.data["scenario"] == "A"
    assert p1["sentence"].startswith("At N = 10⁴, full+rg and cluster beat the smooth baseline: full+rg skill 0.8")
    assert "No arm beats the explicit-formula baseline: " in p1["sentence"]
    assert ("extrap/mae_spacings (lower is better), paired two-sided t-test over 4 seeds present in both arms, "
            "α = 0.05") in p1["sentence"]
    assert "Scenario A: no significant difference (p ≥ 0.05), and the 95 % CI of the difference lies within ±10%" \
        in p1["sentence"]
    p2 = part.data["part2"]
    assert p2["gaps"] == []  # no regime holds both an rg and a no-rg arm
    assert p2["rmt_only"]["cluster"]["trend"] == "no significant trend"
    assert "Gap with rg − without rg: not tested" in p2["sentence"]
    # the flat skill: slopes near 0, every CI holding 0
    for arm in ("full+rg", "cluster"):
        s = p2["slopes"][arm]
        assert s["n"] == 12 and s["sizes"] == list(SIZES) and s["ci_low"] < 0 < s["ci_high"]


def test_scenario_b_full_graph_significantly_better_with_welch(scenario_b, tmp_path):
    part, _ = _part(scenario_b, tmp_path / "rep")
    p1 = part.data["part1"]
    c = p1["contrast"]
    assert (c["paired"], c["pairs"], c["test"]["test"]) == (False, 0, TEST_NAME)  # seeds 0-3 vs 10-13
    assert c["test"]["p_value"] < 1e-4 and c["test"]["diff"] == pytest.approx(SMOOTH_MAE * (-0.3), abs=2e-3)
    assert (p1["scenario"], c["why"]) == ("B", "full graph significantly better")
    assert p1["beats"] == {"full+rg": {"smooth": True, "explicit_formula": True},
                           "cluster": {"smooth": True, "explicit_formula": False}}
    sentence = p1["sentence"]
    assert sentence.startswith("At N = 10⁴, full+rg and cluster beat the smooth baseline: ")
    assert "full+rg beats the explicit-formula baseline (cluster does not): " in sentence
    assert f"{TEST_NAME} (n = 4, 4: seeds do not pair)" in sentence
    assert "Scenario B: the full graph is significantly better at this N (p < 0.05)" in sentence
    assert [x["scenario"] for x in part.data["contrast_per_n"]] == ["B", "B", "B"]


def test_no_arm_beats_the_smooth_baseline_says_so_first(no_arm_beats, tmp_path):
    part, _ = _part(no_arm_beats, tmp_path / "rep")
    p1 = part.data["part1"]
    assert p1["any_beats"] == {"smooth": False, "explicit_formula": False}
    assert all(not b["smooth"] for b in p1["beats"].values())
    first = p1["sentence"].split(". ")[0]
    assert first.startswith("No arm beats the smooth baseline at N = 10⁴: full+rg skill -0.5")
    assert "cluster skill -0.7" in first
    # the arm comparison comes after it, and says what it compares
    assert p1["sentence"].index("No arm beats the smooth baseline") < p1["sentence"].index("Arms at N = 10⁴")
    assert "(Both arms are compared although neither beats the smooth baseline.)" in p1["sentence"]
    assert p1["scenario"] == "B"  # full+rg's error is lower, significantly: still stated after
    md = to_markdown(part.blocks, tmp_path / "rep")
    assert md.startswith("## Verdict as N grows (scaling sweep)\n")
    first_bold = md.split("**")[1]  # the section's first verdict sentence
    assert first_bold.startswith("No arm beats the smooth baseline at N = 10⁴")
    assert "(skill_vs_n.png)" in md and "(ks_vs_n.png)" in md


def test_gap_grows_with_n_and_skipped_runs_are_not_failures(gap_grows, tmp_path):
    rep = build_report([gap_grows], tmp_path / "rep")
    data = json.loads(rep.json.read_text())
    sc = data["scaling"]
    gaps = {(g["with_rg"], g["without_rg"]): g for g in sc["part2"]["gaps"]}
    assert set(gaps) == {("full+rg", "full"), ("cluster+local_rg", "cluster")}
    full = gaps[("full+rg", "full")]
    assert full["direction"] == "grows" and full["sizes"] == [10_000, 100_000]  # 10^6 skipped
    assert full["test"]["test"] == INTERACTION_TEST_NAME and full["test"]["p_value"] < 1e-4
    assert full["test"]["interaction"] == pytest.approx(0.15, abs=0.01) and full["test"]["df"] == 16 - 4
    assert gaps[("cluster+local_rg", "cluster")]["direction"] == "is flat"
    sentence = sc["part2"]["sentence"]
    assert "Gap full+rg − full (skill): grows (gap " in sentence
    assert "Gap cluster+local_rg − cluster (skill): is flat (" in sentence
    assert f"{INTERACTION_TEST_NAME}, α = 0.05" in sentence
    slopes = sc["part2"]["slopes"]
    assert slopes["full+rg"]["slope"] == pytest.approx(0.1, abs=0.01) and slopes["full+rg"]["ci_low"] > 0
    assert slopes["cluster"]["sizes"] == list(SIZES)
    rmt = sc["part2"]["rmt_only"]
    assert rmt["full"]["trend"] == "falls" and rmt["cluster"]["trend"] == "rises"
    assert "The RMT-only arm full loses skill as N grows" in sentence
    assert "The RMT-only arm cluster gains skill as N grows" in sentence
    assert sc["part1"]["contrast"]["arm_a"] == "full+rg" and sc["part1"]["contrast"]["arm_b"] == "cluster"
    # skipped: neither completed nor failed, shown apart
    arms = data["arms"]
    assert (arms["full+rg"]["runs"], arms["full+rg"]["completed"], arms["full+rg"]["skipped"],
            arms["full+rg"]["failed"]) == (12, 8, 4, 0)
    assert (arms["cluster"]["skipped"], arms["cluster"]["failed"]) == (0, 1)
    cell = next(c for c in sc["cells"] if c["arm"] == "full" and c["num_zeros"] == 1_000_000)
    assert (cell["runs"], cell["completed"], cell["skipped"], cell["failed"]) == (4, 0, 4, 0)
    cell = next(c for c in sc["cells"] if c["arm"] == "full+rg" and c["num_zeros"] == 100_000)
    assert cell["steps"] == [100] and cell["train_nodes_seen"]["mean"] == 100 * 90_000
    md = rep.markdown.read_text()
    section = md.index("## Verdict as N grows (scaling sweep)")
    assert section < md.index("## Verdict over all N pooled")  # before the single-N verdict, which stays
    assert md[section:].split("**")[1] == sc["part1"]["sentence"]
    assert "(skill_vs_n.png)" in md and "(ks_vs_n.png)" in md
    assert set(data["plots"]) >= {"skill_vs_n", "ks_vs_n"} and rep.plots["ks_vs_n"].exists()
    assert "| arm | runs | completed | failed | skipped |" in md
    assert "| full+rg | 12 | 8 | 0 | 4 |" in md
    assert "| full | 10⁶ | 4 | 0 | 4 | 0 | - | - | - |" in md  # the budget table
    assert "Matched budget: every completed run of every arm took 100 optimiser steps" in md


def test_gap_shrinks_and_an_arm_at_one_n():
    """In-memory runs: a with-rg advantage that closes as N grows, and an arm seen at one N only."""
    runs = []
    for n in SIZES:
        for s in range(3):
            for arm, y in (("cluster+local_rg", 0.6 - 0.1 * x_of(n)), ("cluster", 0.3)):
                runs.append(Run(run_id=f"{arm}{n}{s}", source="-", status="completed", regime="cluster", seed=s,
                                num_zeros=n, final={"extrap/skill/smooth": y + OFFSETS[s],
                                                    "extrap/mae_spacings": 0.1},
                                config={"loss.weights.rg": 0.1 if "+" in arm else 0.0,
                                        "loss.components.rg.variant": "scale"}))
    runs.append(Run(run_id="one", source="-", status="completed", regime="full", seed=0, num_zeros=10_000,
                    final={"extrap/skill/smooth": 0.1}, config={"loss.weights.rg": 0.1}))
    res = scaling.analyse(runs)
    (gap,) = res["part2"]["gaps"]
    assert (gap["with_rg"], gap["direction"]) == ("cluster+local_rg", "shrinks")
    assert "full+rg: one N only (N = 10⁴), no slope" in res["part2"]["sentence"]
    c = res["part1"]["contrast"]  # full+rg (one run) vs cluster at 10^4: no test
    assert (c["why"], res["scenario"]) == ("too few seeds", "inconclusive")
    assert "Inconclusive: a test needs at least 2 completed seeds in each arm at this N." in res["part1"]["sentence"]
    assert scaling.analyse([r for r in runs if r.num_zeros == 10_000]) is None  # one N: not a scaling sweep


def test_interaction_paired_and_slope_statistics_match_independent_formulas():
    rng = np.random.default_rng(3)
    x = np.repeat([4.0, 4.5, 5.0, 6.0], 3)
    y1 = 0.2 + 0.1 * x + rng.normal(0, 0.02, x.size)
    y0 = 0.5 + 0.02 * x + rng.normal(0, 0.02, x.size)
    t = interaction_test(np.r_[x, x], np.r_[y1, y0], np.r_[np.ones_like(x), np.zeros_like(x)])
    # the same test written as a comparison of two regression slopes with a pooled residual variance
    b1, b0 = sps.linregress(x, y1), sps.linregress(x, y0)
    rss = sum(float(np.sum((y - (f.intercept + f.slope * x)) ** 2)) for y, f in ((y1, b1), (y0, b0)))
    sxx = float(np.sum((x - x.mean()) ** 2))
    se = math.sqrt(rss / (2 * x.size - 4) * 2 / sxx)
    assert t["interaction"] == pytest.approx(b1.slope - b0.slope) and t["stderr"] == pytest.approx(se)
    assert t["p_value"] == pytest.approx(2 * sps.t.sf(abs(b1.slope - b0.slope) / se, 2 * x.size - 4))
    a, b = y1[:6], y0[:6]
    pt = paired_test(a, b)
    ref = sps.ttest_rel(a, b)
    assert (pt.test, pt.df) == (PAIRED_TEST_NAME, 5) and pt.p_value == pytest.approx(ref.pvalue)
    h = sps.t.ppf(0.975, 5) * np.std(a - b, ddof=1) / math.sqrt(6)
    assert (pt.ci_low, pt.ci_high) == pytest.approx((np.mean(a - b) - h, np.mean(a - b) + h))
    fit, lin = ols_slope(x, y1), sps.linregress(x, y1)
    assert fit["slope"] == pytest.approx(lin.slope) and fit["df"] == x.size - 2
    assert fit["ci_high"] - fit["slope"] == pytest.approx(sps.t.ppf(0.975, x.size - 2) * lin.stderr)
    assert n_texts() == ["10⁴", "3·10⁴", "10⁵", "2000", "12345"]


def n_texts():
    return [scaling.n_text(n) for n in (10_000, 30_000, 100_000, 2000, 12345)]


def _offset_texts(fig) -> list[str]:
    fig.canvas.draw()
    return [a.get_offset_text().get_text() for ax in fig.axes for a in (ax.xaxis, ax.yaxis)]


def test_figures_are_honest(gap_grows):
    runs = collect([str(gap_grows)])
    arms = ["full+rg", "full", "cluster", "cluster+local_rg"]
    skill, ks = scaling_plots.skill_vs_n_figure(runs, arms), scaling_plots.ks_vs_n_figure(runs, arms)
    for fig in (skill, ks):
        assert len(fig.axes) == 2 and all(t == "" for t in _offset_texts(fig))
        for ax in fig.axes:
            assert ax.get_xscale() == "log"
            assert [int(round(v)) for v in ax.get_xticks()] == list(SIZES)
            assert [t.get_text() for t in ax.get_xticklabels()] == ["10⁴", "10⁵", "10⁶"]
            for line in ax.get_lines():  # a line joins the means of one arm at distinct N, never seeds
                xs = np.asarray(line.get_xdata(), dtype=float)
                if len(xs) >= 2 and line.get_linestyle() not in ("None", "none", ""):
                    assert len(set(np.round(xs, 6))) == len(xs) or line.get_label() == scaling_plots.BASELINE_LABEL
            bb = ax.title.get_window_extent()
            assert fig.bbox.x0 <= bb.x0 and bb.x1 <= fig.bbox.x1 and bb.y1 <= fig.bbox.y1
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert labels[:1] == ["one run (seed)"] and all(a in labels for a in arms)
    assert scaling_plots.BASELINE_LABEL in [t.get_text() for t in skill.legends[0].get_texts()]
    assert "true zeros vs Gaudin (reference)" in [t.get_text() for t in ks.legends[0].get_texts()]


@pytest.mark.slow
def test_tiny_scaling_multirun_end_to_end(tmp_path):
    """`python -m zeta_rmt.train -m experiment=scaling` on 2 arms x 2 N x 2 seeds (10 steps; the
    full-graph arm capped at the smaller N; one validation, at the end), then the report: both figures
    and both verdict parts."""
    sweep = tmp_path / "scaling"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(guarded_command(
        "zeta_rmt.train", "-m", "experiment=scaling", "ab_arm=full_rg,cluster_no_rg", "data.num_zeros=2000,4000",
        "seed=0,1", "ab_rg.steps=10", "ab_rg.val_every_steps=10", "scaling.full_max_n=2000",
        f"hydra.sweep.dir={sweep}", "+trainer.enable_progress_bar=false",
        # what this test does not read: checkpoints, predictions (spacings.png), the per-run spacing figure
        "~callbacks.spacing_plot", "~callbacks.model_checkpoint", "~callbacks.last_checkpoint",
        "~callbacks.predictions_dump"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    statuses = sorted(json.loads(p.read_text())["status"] for p in sweep.glob("*/metrics.json"))
    assert statuses == ["completed"] * 6 + ["skipped"] * 2
    rep = build_report([sweep], tmp_path / "rep")
    for name in ("skill_vs_n", "ks_vs_n"):
        assert rep.plots[name].exists()
    data = json.loads(rep.json.read_text())
    sc = data["scaling"]
    assert sc["sizes"] == [2000, 4000] and sc["part1"]["num_zeros"] == 2000
    assert set(sc["part1"]["beats"]) == {"full+local_rg", "cluster"}  # the residual model's rg arm: scale
    c = sc["part1"]["contrast"]
    assert (c["arm_a"], c["arm_b"], c["paired"], c["test"]["test"]) == ("full+local_rg", "cluster", True,
                                                                       PAIRED_TEST_NAME)
    assert sc["scenario"] in ("A", "B", "inconclusive")
    assert sc["part2"]["slopes"]["cluster"]["sizes"] == [2000, 4000]
    assert "full+local_rg: one N only (N = 2000), no slope" in sc["part2"]["sentence"]
    assert (data["arms"]["full+local_rg"]["skipped"], data["arms"]["full+local_rg"]["failed"]) == (2, 0)
    md = rep.markdown.read_text()
    assert "### Part 1: at the smallest N of the sweep, N = 2000" in md and "### Part 2: the trend" in md
    assert sc["verdict"][0] in md and sc["verdict"][1] in md
    assert "Matched budget: every completed run of every arm took 10 optimiser steps" in md
