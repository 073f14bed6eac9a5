"""Sharded datasets: write, resume, verify, load — on file://, memory:// and gs:// (emulator)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.fixtures.gcs_emulator import gcs_emulator, gcs_filesystem, make_bucket  # noqa: F401
from zeta_rmt.zeros import ZeroDataError, load_zeros
from zeta_rmt.zeros.cli import main
from zeta_rmt.zeros.odlyzko import load_table
from zeta_rmt.zeros.sharded import Dataset, generate_dataset, plan_shards
from zeta_rmt.zeros.verify import verify_source

START, COUNT, SHARD = 20_001, 2_500, 1_000  # three shards: 1000, 1000, 500
TABLE = np.asarray(load_table()[START - 1 : START - 1 + COUNT])


def test_plan_shards():
    specs = plan_shards(START, COUNT, SHARD)
    assert [(s.start, s.count) for s in specs] == [(20_001, 1000), (21_001, 1000), (22_001, 500)]
    assert specs[0].npy == "zeros_000000020001.npy"
    with pytest.raises(ZeroDataError):
        plan_shards(1, 0, 10)


def _roundtrip(url):
    summary = generate_dataset(url, START, COUNT, SHARD, progress=False)
    assert summary == {**summary, "shards": 3, "generated": 3, "skipped": 0, "complete": True}
    got = load_zeros(url, START, COUNT)
    assert np.max(np.abs(got - TABLE)) < 1e-8
    assert np.array_equal(load_zeros(url, START + 990, 20), got[990:1010])  # across a shard boundary
    with pytest.raises(ZeroDataError, match=rf"holds zeros {START}..{START + COUNT - 1} \({COUNT} zeros\)"):
        load_zeros(url, START + COUNT - 5, 10)
    again = generate_dataset(url, START, COUNT, SHARD, progress=False)
    assert (again["generated"], again["skipped"]) == (0, 3)  # resume: verified shards skipped
    res = verify_source(url, against="odlyzko")
    assert res.ok, res.problems
    assert res.max_error_against < 1e-8
    return got


def test_file_url_write_resume_verify(tmp_path):
    root = tmp_path / "ds"
    got = _roundtrip(f"file://{root}")
    man = json.loads((root / "manifest.json").read_text())
    assert man["complete"] and man["generator"]["version"] and len(man["shards"]) == 3
    assert all(len(e["sha256"]) == 64 for e in man["shards"])
    # a plain path and the manifest itself work too
    assert np.array_equal(load_zeros(str(root), START, 5), got[:5])
    assert np.array_equal(load_zeros(str(root / "manifest.json"), START, 5), got[:5])


def test_resume_regenerates_only_missing_or_corrupt_shards(tmp_path):
    root = str(tmp_path / "ds")
    generate_dataset(root, START, COUNT, SHARD, progress=False)
    ds = Dataset(root)
    (tmp_path / "ds" / "zeros_000000021001.json").unlink()  # shard 1 unfinished
    raw = bytearray((tmp_path / "ds" / "zeros_000000022001.npy").read_bytes())
    raw[-3] ^= 0xFF  # shard 2 corrupted
    (tmp_path / "ds" / "zeros_000000022001.npy").write_bytes(bytes(raw))
    with pytest.raises(ZeroDataError, match=r"zeros_000000022001\.npy: checksum mismatch"):
        load_zeros(root, START + 2000, 10)
    summary = generate_dataset(root, START, COUNT, SHARD, progress=False)
    assert (summary["generated"], summary["skipped"]) == (2, 1)
    assert np.max(np.abs(load_zeros(root, START, COUNT) - TABLE)) < 1e-8
    assert ds.finalize()


def test_incomplete_dataset_and_parameter_clash(tmp_path):
    root = str(tmp_path / "ds")
    ds = Dataset(root)
    ds.write_plan(START, COUNT, SHARD, "1.0.0")
    with pytest.raises(ZeroDataError, match=r"incomplete, 3 of 3 shards missing.*rerun"):
        load_zeros(root, START, 10)
    with pytest.raises(ZeroDataError, match="already exists here"):
        generate_dataset(root, START, COUNT + 1, SHARD, progress=False)


def test_verify_reports_a_missing_zero(tmp_path):
    """A dataset whose shard lost a zero (and was re-checksummed) fails the count check."""
    root = tmp_path / "ds"
    generate_dataset(str(root), START, COUNT, SHARD, progress=False)
    ds = Dataset(str(root))
    spec = plan_shards(START, COUNT, SHARD)[1]
    vals = ds.read_shard(ds.entries()[1])
    bad = np.insert(np.delete(vals, 500), 999, vals[-1] + 0.05)  # drop one zero, pad at the end
    ds.write_shard(spec, bad, {"generator_version": "1.0.0"})
    man = json.loads((root / "manifest.json").read_text())
    man["complete"] = False
    (root / "manifest.json").write_text(json.dumps(man))
    res = verify_source(str(root))
    assert not res.ok
    assert any("no sign change" in p or "count check failed" in p for p in res.problems), res.problems


def test_memory_url_dataset():
    url = "memory://zeta-test/ds"
    try:
        generate_dataset(url, START, COUNT, SHARD, progress=False)
        assert np.max(np.abs(load_zeros(url, START, COUNT) - TABLE)) < 1e-8
    finally:
        import fsspec

        fsspec.filesystem("memory").rm("/zeta-test", recursive=True)


def test_gs_dataset_through_the_emulator(gcs_emulator):
    bucket = make_bucket("zeta-zeros")
    url = f"{bucket}/datasets/z"
    _roundtrip(url)
    fs = gcs_filesystem()
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls("zeta-zeros/datasets/z"))
    assert names[0] == "manifest.json" and sum(n.endswith(".npy") for n in names) == 3
    # a corrupted object is refused there too
    key = "zeta-zeros/datasets/z/zeros_000000020001.npy"
    data = bytearray(fs.cat(key))
    data[-1] ^= 1
    fs.pipe(key, bytes(data))
    with pytest.raises(ZeroDataError, match="checksum mismatch"):
        load_zeros(url, START, 10)


def test_cli_generate_info_verify_export(tmp_path, capsys):
    root = str(tmp_path / "ds")
    assert main(["generate", "--start", str(START), "--count", "2.5e3", "--out", root, "--shard-size", "1_000",
                 "--no-progress"]) == 0
    assert main(["info", root]) == 0
    out = capsys.readouterr().out
    assert f"zeros {START}..{START + COUNT - 1}" in out and "done" in out
    assert main(["verify", root, "--against", "odlyzko"]) == 0
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if x.startswith("max abs error vs odlyzko")][0]
    assert float(line.split(":")[1].split()[0]) < 1e-8
    txt = tmp_path / "z.txt"
    assert main(["export", root, "--format", "txt", "--out", str(txt)]) == 0
    assert np.array_equal(load_zeros(str(txt), START, COUNT), load_zeros(root, START, COUNT))
    assert main(["verify", str(txt), "--no-count-check"]) == 0
    assert main(["info", "odlyzko"]) == 0
    # bad input exits 2 with the reason
    assert main(["verify", str(tmp_path / "nothing.txt")]) == 1
    assert main(["info", str(tmp_path / "nothing.txt")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_two_workers(tmp_path):
    root = str(tmp_path / "ds")
    assert main(["generate", "--start", "1", "--count", "3000", "--out", root, "--shard-size", "1000",
                 "--workers", "2", "--no-progress"]) == 0
    assert np.max(np.abs(load_zeros(root, 1, 3000) - np.asarray(load_table()[:3000]))) < 1e-8
