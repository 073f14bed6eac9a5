"""The Markdown renderer: one row per case (the newest), each kind in its own table."""
from __future__ import annotations

from zeta_rmt.bench.results import FORMAT
from zeta_rmt.bench.table import big, render

MACHINE = {"cpu_model": "Test CPU", "cores_usable": 2, "ram_total_gb": 25.3, "gpus": [],
           "versions": {"torch": "2.13.0", "torch_geometric": "2.8.1", "pytorch-lightning": "2.6.6"},
           "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False}}


def line(case, kind, params, figures, notes=None, status="ok", error=None):
    return {"case": case, "kind": kind, "status": status, "params": params, "threads": 1, "figures": figures,
            "units": {}, "notes": notes or {}, "error": error}


def doc(*runs):
    return {"format": FORMAT, "host": "h", "date": "2026-12-01",
            "runs": [{"run_id": str(i), "machine": MACHINE, "results": list(r)} for i, r in enumerate(runs)]}


def test_powers_of_ten():
    assert [big(n) for n in (10_000, 2_000_000, 100_000, 30_000, 2_001_052)] == ["10⁴", "2·10⁶", "10⁵", "3·10⁴",
                                                                               "2,001,052"]


def test_each_kind_renders_its_figures_and_the_newest_line_wins():
    old = line("epoch/default/N=2000000", "epoch", {"N": 2_000_000, "epochs": 3, "overrides": []}, {},
               status="failed", error="memory cap exceeded: resident set reached 8.01 GB > cap 8 GB")
    new = line("epoch/default/N=2000000", "epoch", {"N": 2_000_000, "epochs": 3, "overrides": []},
               {"setup_s": 20.0, "first_epoch_s": 9.0, "steady_epoch_s": 6.25, "peak_rss_epoch_gb": 4.9,
                "peak_rss_process_gb": 5.2}, {"used": {"gue_mmd_mode": "fast", "conv": "banded"}})
    dense = line("loss/gue_mmd/dense/n=100000", "loss", {"component": "gue_mmd", "mode": "dense", "n": 100_000},
                 {"seconds_at_n": 700.0, "seconds_at_measured_n": 7.0},
                 {"measured_n": 10_000, "scaling": "n^2 extrapolation from measured_n=10000 to n=100000"})
    stream = line("stream/block=10000/N=10000000", "stream",
                  {"N": 10_000_000, "overrides": ["data.num_parts=1000"]},
                  {"first_epoch_s": 225.0, "nodes_per_s": 39978.0, "peak_rss_epoch_gb": 0.724})
    ratio = line("stream/block=10000/rss_ratio", "derived", {}, {"ratio": 1.007},
                 {"ratio": "a / b", "target": "<= 1.2"})
    text = render(doc([old], [new, dense, stream, ratio]))
    assert text.count("Machine: Test CPU, 2 usable core(s)") == 1 and "; commit 0123456789." in text
    rows = text.splitlines()
    epoch = [r for r in rows if r.startswith("| 2·10⁶ |")]
    assert epoch == ["| 2·10⁶ | mmd=fast, conv=banded | 20 s | 9 s | 6.25 s | 4.9 GB | 5.2 GB | ok |"]
    assert "| gue_mmd | dense | 10⁵ | 10⁴ (n² extrapolated) | 700 s | 7 s | — | ok |" in rows
    assert "| stream/block=10000/N=10000000 | 10⁷ | 10⁴ | 225 s | 39,978 | 0.724 GB | — | — | ok |" in rows
    assert "| a / b | 1.01 | <= 1.2 |  | ok |" in rows


def test_a_failed_line_shows_its_error():
    bad = line("graph_build/pyg/N=10000", "graph_build", {"N": 10_000, "conv": "pyg"}, {}, status="failed",
               error="timeout: still running after 1 s; killed (raise --timeout to wait longer)")
    text = render(doc([bad]))
    assert "| 10⁴ | pyg | — | — | failed: timeout: still running after 1 s; killed" in text
