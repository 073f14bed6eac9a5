"""``python -m zeta_rmt.bench`` end to end on its cheapest real case (the graph build at N = 10⁴),
through the CLI in a subprocess, writing into ``tmp_path`` (never into docs/benchmarks)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE = "graph_build/pyg/N=10000"
# edges of the graph on 10^4 nodes, offsets {1,2,3,5,7,11,13}: self-loops + both directions
EDGES_1E4 = 10_000 + 2 * sum(10_000 - d for d in (1, 2, 3, 5, 7, 11, 13))


def bench(*args, out: Path, check_rc=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", ZETA_RMT_BENCH_OUT=str(out / "env_default"))
    proc = subprocess.run([sys.executable, "-m", "zeta_rmt.bench", *args, "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr[-3000:]
    return proc


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def results_file(out: Path) -> Path:
    files = sorted(out.glob("results-*-*.json"))
    assert len(files) == 1, files
    return files[0]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A real case on 2 threads, then the same case again past a 0.3 s time limit, into one folder."""
    out = tmp_path_factory.mktemp("bench")
    first = bench("--case", CASE, "--threads", "2", out=out, check_rc=0)
    doc_after_first = json.loads(results_file(out).read_text())
    second = bench("--case", CASE, "--timeout", "0.3", out=out, check_rc=1)
    return out, first, second, doc_after_first


def test_case_prints_one_json_line_with_figures(two_runs):
    first = two_runs[1]
    (line,) = json_lines(first.stdout)
    assert line["case"] == CASE and line["kind"] == "graph_build" and line["status"] == "ok"
    assert line["params"] == {"N": 10_000, "conv": "pyg"}
    assert line["figures"]["edges"] == EDGES_1E4
    assert line["figures"]["seconds"] > 0 and line["units"]["seconds"] == "s"
    assert line["threads"] == 2 and line["notes"]["threads_in_child"] == 2  # --threads reaches torch in the child
    assert line["child_peak_rss_gb"] > 0.05  # a python + torch child
    assert line["error"] is None


def test_timeout_becomes_an_error_line(two_runs):
    second = two_runs[2]
    (line,) = json_lines(second.stdout)
    assert line["status"] == "failed" and line["error"].startswith("timeout: still running after 0.3 s")
    assert line["timeout_s"] == 0.3 and line["figures"] == {}


def test_results_file_is_valid_json_with_machine_info_and_appends(two_runs):
    out, first, second, doc1 = two_runs
    path = results_file(out)
    assert path.name.startswith("results-") and path.name.endswith(".json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "zeta_rmt.bench.results/1"
    assert len(doc1["runs"]) == 1 and len(doc["runs"]) == 2
    assert doc["runs"][0] == doc1["runs"][0]  # the first run is kept as it was: appended, not overwritten
    for run, proc in zip(doc["runs"], (first, second)):
        m = run["machine"]
        assert m["cpu_model"] and m["cores_usable"] >= 1 and m["ram_total_gb"] > 0
        assert m["versions"]["torch"] and m["versions"]["torch_geometric"] and m["versions"]["pytorch-lightning"]
        assert len(m["git"]["commit"]) == 40
        assert isinstance(m["gpus"], list)
        assert run["results"] == json_lines(proc.stdout)  # what was printed is what was stored
    assert not (out / "env_default").exists()  # --out wins over $ZETA_RMT_BENCH_OUT


def test_table_renders_the_latest_results(two_runs):
    out = two_runs[0]
    proc = subprocess.run([sys.executable, "-m", "zeta_rmt.bench", "table", str(results_file(out))], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "**Graph build" in text and "| N | operator | build |" in text
    rows = [r for r in text.splitlines() if r.startswith("| 10⁴ | pyg |")]
    assert len(rows) == 1  # one row per case: the newest result, the timed-out one
    assert "| failed: timeout: still running after 0.3 s" in rows[0]


def test_table_refuses_a_file_that_is_not_results(tmp_path):
    bad = tmp_path / "results-x-2026-01-01.json"
    bad.write_text("{not json")
    proc = subprocess.run([sys.executable, "-m", "zeta_rmt.bench", "table", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "not valid JSON" in proc.stderr


def test_memory_cap_becomes_an_error_line(tmp_path):
    proc = bench("--case", CASE, "--mem-cap-gb", "0.03", out=tmp_path, check_rc=1)
    (line,) = json_lines(proc.stdout)
    assert line["status"] == "failed" and line["error"].startswith("memory cap exceeded")
    assert line["mem_cap_gb"] == 0.03


def test_list_and_unknown_case(tmp_path):
    proc = bench("--list", "--quick", out=tmp_path, check_rc=0)
    names = proc.stdout.split()
    assert "epoch/default/N=10000" in names and any(n.startswith("stream/") for n in names)
    proc = bench("--case", "no/such/case", out=tmp_path, check_rc=2)
    assert "'no/such/case' matches no case" in proc.stderr
    assert not list(tmp_path.glob("results-*"))  # nothing ran, nothing written
