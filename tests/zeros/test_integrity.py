"""No silent bad data: edited manifests, truncated files, a corrupt Odlyzko cache, low-precision
dtypes, text files that lose their indices, and CLI output-location errors (issue 12)."""
from __future__ import annotations

import io
import json
import pickle
import shutil
import warnings
import zlib

import fsspec
import numpy as np
import pytest

from zeta_rmt.zeros import ZeroDataError, load_zeros, odlyzko
from zeta_rmt.zeros.cli import main
from zeta_rmt.zeros.sharded import Dataset, plan_shards
from zeta_rmt.zeros.textfile import check_values

START, COUNT, SHARD = 1, 3000, 1000  # three shards of synthetic zeros


def _synthetic(start: int, count: int) -> np.ndarray:
    """Strictly increasing float64 'zeros' gamma_n = 100 + n / 2 (cheap, exact in binary)."""
    return 100.0 + 0.5 * np.arange(start, start + count, dtype=np.float64)


def _make_ds(root, values=None, start=START, count=COUNT, shard=SHARD, finalize=True) -> np.ndarray:
    ds = Dataset(str(root))
    ds.write_plan(start, count, shard, "test")
    vals = _synthetic(start, count) if values is None else values
    for spec in plan_shards(start, count, shard):
        ds.write_shard(spec, vals[spec.start - start : spec.end - start + 1], {"generator_version": "test"})
    if finalize:
        assert ds.finalize()
    return vals


def _edit_manifest(root, fn) -> None:
    p = root / "manifest.json"
    man = json.loads(p.read_text())
    fn(man)
    p.write_text(json.dumps(man))


def _npy(values, dtype="<f8") -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(values).astype(dtype))
    return buf.getvalue()


# -- 1. edited manifest.json ---------------------------------------------------------------------
def _drop_middle(m):
    del m["shards"][1]


def _raise_count(m):
    m["shards"][1]["count"] += 5


def _raise_count_and_end(m):
    m["shards"][1]["count"] += 5
    m["shards"][1]["end"] += 5


def _shift_start(m):
    m["shards"][1]["start"] += 5
    m["shards"][1]["end"] += 5


def _overlap(m):
    e = dict(m["shards"][0])
    m["shards"].insert(1, e)


def _first_not_at_start(m):
    for e in m["shards"]:
        e["start"] += 1
        e["end"] += 1


def _count_not_int(m):
    m["shards"][2]["count"] = "500"


def _shift_everything(m):
    """Every index moved by 5 consistently: only the sidecars still tell the truth."""
    m["start"] += 5
    m["end"] += 5
    for e in m["shards"]:
        e["start"] += 5
        e["end"] += 5


def _edit_first(m):
    m["shards"][1]["first"] = 700.0  # still above shard 0's last, but not the shard's value


@pytest.mark.parametrize(
    "edit, match",
    [
        (_drop_middle, r"manifest\.json: zeros 1001\.\.2000 are in no shard \(gap before zeros_000000002001\.npy\)"),
        (_raise_count, r"manifest\.json: shard entry 1 \(zeros_000000001001\.npy\): end 2000 is not start \+ count - 1 = 2005"),
        (_raise_count_and_end, r"zeros_000000002001\.npy starts at zero 2001, inside the previous shard zeros_000000001001\.npy \(1001\.\.2005\)"),
        (_shift_start, r"zeros 1001\.\.1005 are in no shard \(gap before zeros_000000001001\.npy\)"),
        (_overlap, r"zeros_000000000001\.npy starts at zero 1, inside the previous shard zeros_000000000001\.npy \(1\.\.1000\)"),
        (_first_not_at_start, r"first shard zeros_000000000001\.npy starts at zero 2, but the dataset starts at 1"),
        (_count_not_int, r"shard entry 2 \(zeros_000000002001\.npy\): count is '500', expected a positive integer"),
        (_shift_everything, r"zeros_000000000001\.npy: its sidecar zeros_000000000001\.json says zeros 1\.\.1000, the manifest entry says 6\.\.1005"),
        (_edit_first, r"zeros_000000001001\.npy: the manifest entry says first zero 700\.0, the shard's first value is 600\.5"),
    ],
)
def test_edited_manifest_is_refused_naming_the_shard(tmp_path, edit, match):
    root = tmp_path / "ds"
    _make_ds(root)
    _edit_manifest(root, edit)
    with pytest.raises(ZeroDataError, match=match) as info:
        load_zeros(str(root), 1001, 1005)
    assert "\n" not in str(info.value) and "generate" in str(info.value)  # one line, says what to do


def test_manifest_end_past_the_last_shard(tmp_path):
    root = tmp_path / "ds"
    _make_ds(root)

    def grow(m):
        m["count"] += 5
        m["end"] += 5

    _edit_manifest(root, grow)
    with pytest.raises(ZeroDataError, match=r"last shard zeros_000000002001\.npy ends at zero 3000, but the dataset ends at 3005"):
        load_zeros(str(root), 2990, 5)


@pytest.mark.parametrize("kind", ["parent", "absolute", "subdir"])
def test_manifest_file_names_must_stay_inside_the_dataset(tmp_path, kind):
    root = tmp_path / "ds"
    _make_ds(root)
    shutil.copy(root / "zeros_000000000001.npy", tmp_path / "x.npy")  # same bytes: the hash matches
    (root / "sub").mkdir()
    shutil.copy(root / "zeros_000000000001.npy", root / "sub" / "x.npy")
    name = {"parent": "../x.npy", "absolute": str(tmp_path / "x.npy"), "subdir": "sub/x.npy"}[kind]

    def point(m):
        m["shards"][0]["file"] = name

    _edit_manifest(root, point)
    with pytest.raises(ZeroDataError, match=r"shard entry 0 has file .*x\.npy.*not a bare \.npy file name inside the dataset"):
        load_zeros(str(root), 1, 10)


@pytest.mark.parametrize("complete", [False, True])
def test_zeros_must_increase_across_shard_borders(tmp_path, complete):
    """Two shards, each valid and checksummed, whose values go down at the border."""
    root = tmp_path / "ds"
    vals = _synthetic(1, 2000)
    vals[1000:] -= 10.0  # shard 2 starts below the end of shard 1 (still increasing inside each)
    _make_ds(root, vals, start=1, count=2000, finalize=False)
    if complete:  # a hand-made complete manifest without first/last (so only the values can tell)
        ds = Dataset(str(root))
        shards = [{k: v for k, v in ds.read_sidecar(s).items() if k not in ("first", "last")} for s in ds.specs()]
        _edit_manifest(root, lambda m: m.update(complete=True, shards=shards))
    with pytest.raises(ZeroDataError, match=r"zeros_000000001001\.npy.*not above.*zeros_000000000001\.npy"):
        load_zeros(str(root), 990, 20)


# -- 2. truncated .npy ------------------------------------------------------------------------------
def test_truncated_npy_remote_and_local(tmp_path):
    data = _npy(_synthetic(1, 200))
    fs = fsspec.filesystem("memory")
    fs.pipe("/integrity/t.npy", data[:-96])  # a whole number of float64s short: read short, silently
    try:
        with pytest.raises(ZeroDataError, match=rf"t\.npy: file has {len(data) - 96} bytes, its \.npy header .* needs {len(data)}: truncated\?"):
            load_zeros("memory://integrity/t.npy", 1, 200)
        # truncated after it was opened: every read checks the bytes it got
        from zeta_rmt.zeros import open_source

        fs.pipe("/integrity/u.npy", data)
        src = open_source("memory://integrity/u.npy")
        fs.pipe("/integrity/u.npy", data[:-96])
        with pytest.raises(ZeroDataError, match=r"u\.npy: read 1504 of 1600 bytes for zeros 1\.\.200"):
            src.load(1, 200)
    finally:
        fs.rm("/integrity", recursive=True)
    p = tmp_path / "t.npy"
    p.write_bytes(data[:-100])
    with pytest.raises(ZeroDataError, match=rf"t\.npy: file has {len(data) - 100} bytes, .* needs {len(data)}: truncated\?"):
        load_zeros(str(p), 1, 10)


# -- 3. the Odlyzko cache -------------------------------------------------------------------------
@pytest.fixture
def small_table(tmp_path, monkeypatch):
    """A 500-zero stand-in for the package's zeros.sobj, with the cache under tmp_path."""
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path / "cache"))
    vals = _synthetic(1, 500)
    sobj = tmp_path / "zeros.sobj"
    sobj.write_bytes(zlib.compress(pickle.dumps(vals.tolist(), protocol=2)))
    monkeypatch.setattr(odlyzko, "table_path", lambda: sobj)
    monkeypatch.setattr(odlyzko, "ODLYZKO_COUNT", 500)
    monkeypatch.setattr(odlyzko, "_VERIFIED", {}, raising=False)
    return vals


def _nan(p):
    a = np.load(p)
    a[10] = np.nan
    np.save(p, a)


def _duplicate(p):
    a = np.load(p)
    a[11] = a[10]
    np.save(p, a)


def _nudge(p):  # still a valid table, but not the one that was cached
    a = np.load(p)
    a[100] += 1e-3
    np.save(p, a)


def _truncate(p):
    p.write_bytes(p.read_bytes()[:-100])


def _no_checksum(p):
    for c in p.parent.glob(p.name + ".*"):
        c.unlink()


@pytest.mark.parametrize(
    "damage, why",
    [(_nan, "sha256"), (_duplicate, "sha256"), (_nudge, "sha256"), (_truncate, "truncated"), (_no_checksum, "no checksum")],
)
def test_bad_odlyzko_cache_is_rebuilt(small_table, tmp_path, damage, why):
    first = np.array(odlyzko.load_table())
    assert np.array_equal(first, small_table)
    (cached,) = (tmp_path / "cache").glob("odlyzko_*.npy")
    damage(cached)
    odlyzko._VERIFIED.clear()  # as in a new process
    with pytest.warns(RuntimeWarning, match=rf"{cached.name}.*{why}.*rebuilt") as rec:
        again = np.array(odlyzko.load_table())
    assert len(rec) == 1 and "\n" not in str(rec[0].message)
    assert np.array_equal(again, small_table)
    odlyzko._VERIFIED.clear()
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        assert np.array_equal(np.array(odlyzko.load_table()), small_table)  # good again: no second rebuild
    assert not [w for w in later if issubclass(w.category, RuntimeWarning)]


# -- 4. float64 only (unless opted in) --------------------------------------------------------------
@pytest.mark.parametrize("dtype, base", [("<f4", 1.0e6), ("<f2", 1000.0)])
def test_low_precision_npy_refused_unless_opted_in(tmp_path, dtype, base):
    vals = base + np.arange(200, dtype=np.float64)
    name = np.dtype(dtype).name
    p = tmp_path / "low.npy"
    p.write_bytes(_npy(vals, dtype))
    fs = fsspec.filesystem("memory")
    fs.pipe("/integrity_low/low.npy", _npy(vals, dtype))
    try:
        for url in (str(p), "memory://integrity_low/low.npy"):
            with pytest.raises(ZeroDataError, match=rf"low\.npy: stored as {name}, whose resolution at its largest zero .* of the mean spacing .*float64.*allow_low_precision=True"):
                load_zeros(url, 1, 10)
            got = load_zeros(url, 1, 200, allow_low_precision=True)
            assert got.dtype == np.float64 and np.array_equal(got, vals.astype(dtype).astype(np.float64))
    finally:
        fs.rm("/integrity_low", recursive=True)
    p.write_bytes(_npy(vals, ">f8"))  # big-endian float64 is fine
    assert np.array_equal(load_zeros(str(p), 1, 200), vals)


def test_low_precision_shard_refused_unless_opted_in(tmp_path):
    from zeta_rmt.zeros import storage

    root = tmp_path / "ds"
    vals = _make_ds(root, start=1, count=2000)
    data = _npy(vals[:1000], "<f4")
    (root / "zeros_000000000001.npy").write_bytes(data)

    def rehash(m):
        m["shards"][0].update(sha256=storage.sha256(data), bytes=len(data))

    _edit_manifest(root, rehash)
    with pytest.raises(ZeroDataError, match=r"zeros_000000000001\.npy: stored as float32.*float64.*allow_low_precision=True"):
        load_zeros(str(root), 1, 10)
    assert np.array_equal(load_zeros(str(root), 1, 10, allow_low_precision=True), vals[:10])


def test_data_module_passes_allow_low_precision(tmp_path):
    from zeta_rmt.data import FullGraphDataModule
    from zeta_rmt.data.base import DataConfigError

    p = tmp_path / "low.npy"
    vals = np.asarray(load_zeros("odlyzko", 1, 200))
    p.write_bytes(_npy(vals, "<f4"))
    kw = dict(source=str(p), num_zeros=100, extrapolation_window=10, far_window_start=None)
    with pytest.raises(DataConfigError, match="allow_low_precision"):
        FullGraphDataModule(**kw).load()
    got = FullGraphDataModule(**kw, allow_low_precision=True).load()
    assert np.array_equal(got, vals[:110].astype(np.float32).astype(np.float64))


# -- 5. text files keep their indices ---------------------------------------------------------------
def test_text_export_keeps_the_start_index(tmp_path, capsys):
    out = tmp_path / "far.txt"
    assert main(["export", "odlyzko", "--start", "1000000", "--count", "5", "--format", "txt", "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "# zeta_rmt zeros start=1000000 count=5"
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "zeros 1000000..1000004 (5)" in capsys.readouterr().out
    assert np.array_equal(load_zeros(str(out), 1_000_000, 5), load_zeros("odlyzko", 1_000_000, 5))
    assert np.array_equal(load_zeros(str(out), 1_000_002, 2), load_zeros("odlyzko", 1_000_002, 2))
    with pytest.raises(ZeroDataError, match=r"far\.txt' holds zeros 1000000\.\.1000004 \(5 zeros\); requested 1\.\.5"):
        load_zeros(str(out), 1, 5)
    # header-less files (the groups' format) are still zeros 1..n
    plain = tmp_path / "plain.txt"
    plain.write_text("\n".join(out.read_text().splitlines()[1:]) + "\n")
    assert np.array_equal(load_zeros(str(plain), 1, 5), load_zeros("odlyzko", 1_000_000, 5))


@pytest.mark.parametrize(
    "body, match",
    [
        ("# zeta_rmt zeros start=7 count=3\n14.1\n21.0\n", r"bad\.txt: header says count=3 but the file holds 2 zeros"),
        ("14.1\n# a note\n21.0\n", r"bad\.txt: line 2: comment lines are not allowed here"),
        ("# zeros from somewhere\n14.1\n", r"bad\.txt: line 1: .* is a comment but not a `# zeta_rmt zeros start=N"),
        ("# zeta_rmt zeros start=0\n14.1\n", r"bad\.txt: line 1: header start=0 is not a positive integer"),
        ("# zeta_rmt zeros start=5\n14.1\n14.1\n", r"bad\.txt: line 3: 14\.1 duplicates the previous value 14\.1 \(line 2\)"),
    ],
)
def test_text_header_errors(tmp_path, body, match):
    p = tmp_path / "bad.txt"
    p.write_text(body)
    with pytest.raises(ZeroDataError, match=match):
        load_zeros(str(p), 1, 1)


# -- 17. output-location errors in the CLI ----------------------------------------------------------
@pytest.mark.parametrize("cmd", ["generate", "export", "finalize"])
def test_cli_output_location_errors_are_one_line_exit_2(tmp_path, capsys, cmd):
    afile = tmp_path / "a_file"
    afile.write_text("x")
    adir = tmp_path / "a_dir"
    adir.mkdir()
    argv = {
        "generate": ["generate", "--count", "10", "--out", str(afile), "--no-progress"],
        "export": ["export", "odlyzko", "--count", "5", "--out", str(adir)],
        "finalize": ["finalize", str(afile)],
    }[cmd]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    assert str(afile if cmd != "export" else adir) in err


# -- 18. plain numbers in messages ----------------------------------------------------------------
def test_messages_print_plain_numbers():
    with pytest.raises(ZeroDataError, match=r"x\.npy: index 3: 7265\.96 duplicates the previous value 7265\.96 \(index 2\)") as info:
        check_values(np.array([14.13, 7265.96, 7265.96]), "x.npy", unit="index")
    assert "np.float64" not in str(info.value)
    with pytest.raises(ZeroDataError, match=r"line 2: nan is not a finite number"):
        check_values(np.array([14.13, np.nan]), "y.txt")
