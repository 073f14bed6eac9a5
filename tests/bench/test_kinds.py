"""Case selection, ratios, and the "not available" line for options this checkout lacks."""
from __future__ import annotations

import pytest

from zeta_rmt.bench.cases import Case, CaseSelectionError, all_cases, select
from zeta_rmt.bench.kinds import Context, run_derived, run_train


def names(cases):
    return [c.name for c in cases]


def test_selection_by_prefix_pattern_and_dependencies():
    cases = all_cases(quick=False)
    assert names(select(cases, ["graph_build/pyg"])) == [f"graph_build/pyg/N={n}" for n in
                                                          (10000, 100000, 1000000, 2000000)]
    assert names(select(cases, ["*N=2000000"])) == ["graph_build/pyg/N=2000000", "graph_build/banded/N=2000000",
                                                    "epoch/default/N=2000000"]
    picked = names(select(cases, ["stream/N=10000000"]))
    assert picked == ["dataset/zeros-1-10001000", "stream/N=10000000"]  # the dataset it reads comes along
    assert names(select(cases, ["stream/block=10000"]))[-1] == "stream/block=10000/rss_ratio"
    both = names(select(cases, ["loss/gue_mmd/fast/n=100000", "loss/gue_mmd/chunked/n=100000"]))
    assert both[-1] == "loss/gue_mmd/chunked_over_fast/n=100000"  # a ratio of two selected cases is added
    with pytest.raises(CaseSelectionError, match="'epoch/N=3' matches no case"):
        select(cases, ["epoch/N=3"])


def test_every_loss_mode_and_size_of_the_issue_is_a_case():
    full = names(all_cases(quick=False))
    for n in (10000, 100000, 1000000, 2000000):
        assert f"graph_build/pyg/N={n}" in full and f"epoch/default/N={n}" in full
    for mode in ("gue_nll/surmise", "gue_nll/gaudin", "gue_mmd/dense", "gue_mmd/chunked", "gue_mmd/sampled",
                 "gue_mmd/fast", "rg/seed", "rg/scale", "mse"):
        assert f"loss/{mode}/n=100000" in full
    assert {"stream/N=1000000", "stream/N=10000000", "stream/block=10000/N=1000000", "stream/block=10000/N=10000000",
            "stream/block=10000/rss_ratio", "overhead/N=10000"} <= set(full)


def test_derived_ratio_and_its_failure_line():
    ctx = Context()
    ok = {"status": "ok", "figures": {"seconds_at_n": 6.0}, "notes": {}}
    ctx.lines = {"a": ok, "b": {**ok, "figures": {"seconds_at_n": 0.5}, "notes": {"scaling": "n^2 ..."}}}
    case = Case("r", "derived", {"ratio": "seconds_at_n", "numerator": "a", "denominator": "b"}, 0, ("a", "b"))
    out = run_derived(case, ctx)
    assert out.status == "ok" and out.figures["ratio"] == 12.0 and out.notes["extrapolated_inputs"] == ["b"]
    ctx.lines["b"] = {"status": "failed", "figures": {}, "error": "timeout: ..."}
    out = run_derived(case, ctx)
    assert out.status == "failed" and "case b has no seconds_at_n (failed: timeout: ...)" == out.error


def test_an_option_the_configs_lack_is_reported_not_available_before_any_child():
    case = Case("epoch/x", "epoch", {"N": 1000, "epochs": 1, "overrides": ["model.net.no_such_option=1"]}, 60)
    out = run_train(case, Context())
    assert out.status == "not_available" and out.child is None
    assert "no_such_option" in out.error and out.error.startswith("not available in this checkout")
