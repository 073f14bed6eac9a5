"""load_zeros over every kind of source, and its errors on bad input."""
from __future__ import annotations

import sys

import fsspec
import numpy as np
import pytest

from zeta_rmt.zeros import ZeroDataError, load_zeros, open_source
from zeta_rmt.zeros.odlyzko import ODLYZKO_COUNT, load_table
from zeta_rmt.zeros.textfile import format_text

FIRST = np.asarray(load_table()[:200], dtype=np.float64)


def _write(path, text: str):
    path.write_text(text)
    return str(path)


def test_table_default_and_range_error():
    assert np.array_equal(load_zeros("odlyzko", 1, 200), FIRST)
    with pytest.raises(ZeroDataError, match=f"holds zeros 1..{ODLYZKO_COUNT}"):
        load_zeros("odlyzko", ODLYZKO_COUNT - 5, 10)


def test_text_file_roundtrip_and_past_the_end(tmp_path):
    p = tmp_path / "zeta_zeros_200.txt"
    p.write_bytes(format_text(FIRST))
    assert np.array_equal(load_zeros(str(p), 1, 200), FIRST)
    assert np.array_equal(load_zeros(f"file://{p}", 11, 5), FIRST[10:15])
    with pytest.raises(ZeroDataError, match=r"holds zeros 1\.\.200 \(200 zeros\); requested 150\.\.249"):
        load_zeros(str(p), 150, 100)


def test_text_file_in_mpmath_format_with_whitespace(tmp_path):
    text = "  14.1347251417346937904572519836  \n21.0220396387715549926284795939\r\n25.0108575801456887632137909926\n\n"
    vals = load_zeros(_write(tmp_path / "z.txt", text), 1, 3)
    assert vals.tolist() == [14.1347251417346937904572519836, 21.0220396387715549926284795939, 25.0108575801456887632137909926]


@pytest.mark.parametrize(
    "body, line, what",
    [
        ("14.13\n21.02\nabc\n25.01\n", 3, "not a number"),
        ("14.13\n\n21.02\n", 2, "is empty"),
        ("14.13\nnan\n", 2, "not a finite"),
        ("14.13\ninf\n", 2, "not a finite"),
        ("14.13\n21.02\n21.02\n", 3, "duplicates"),
        ("14.13\n25.01\n21.02\n", 3, "is below"),
        ("-14.13\n21.02\n", 1, "not positive"),
    ],
)
def test_bad_text_files_name_file_and_line(tmp_path, body, line, what):
    path = _write(tmp_path / "bad.txt", body)
    with pytest.raises(ZeroDataError, match=rf"bad\.txt: line {line}\b.*{what}|bad\.txt: line {line} {what}"):
        load_zeros(path, 1, 1)


def test_empty_text_file(tmp_path):
    with pytest.raises(ZeroDataError, match=r"empty\.txt: holds no zeros"):
        load_zeros(_write(tmp_path / "empty.txt", "\n\n"), 1, 1)


def test_npy_local_is_memory_mapped_and_validated(tmp_path):
    p = tmp_path / "z.npy"
    np.save(p, FIRST)
    src = open_source(str(p))
    assert isinstance(src.mm, np.memmap)
    assert np.array_equal(load_zeros(str(p), 5, 10), FIRST[4:14])
    bad = FIRST.copy()
    bad[50] = bad[49]
    np.save(tmp_path / "dup.npy", bad)
    with pytest.raises(ZeroDataError, match=r"dup\.npy: index 51"):
        load_zeros(str(tmp_path / "dup.npy"), 1, 100)
    np.save(tmp_path / "two_d.npy", np.ones((3, 3)))
    with pytest.raises(ZeroDataError, match="1-D float array"):
        load_zeros(str(tmp_path / "two_d.npy"), 1, 1)


def test_memory_urls_for_text_and_npy():
    fs = fsspec.filesystem("memory")
    fs.pipe("/zeros/a.txt", format_text(FIRST))
    import io

    buf = io.BytesIO()
    np.save(buf, FIRST)
    fs.pipe("/zeros/a.npy", buf.getvalue())
    try:
        assert np.array_equal(load_zeros("memory://zeros/a.txt", 100, 50), FIRST[99:149])
        assert np.array_equal(load_zeros("memory://zeros/a.npy", 100, 50), FIRST[99:149])  # ranged read
        with pytest.raises(ZeroDataError, match="holds zeros 1..200"):
            load_zeros("memory://zeros/a.npy", 190, 20)
    finally:
        fs.rm("/zeros", recursive=True)


def test_generate_source_matches_the_table_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("ZETA_RMT_CACHE", str(tmp_path))
    ref = np.asarray(load_table()[4999:5499])
    got = load_zeros("generate", 5000, 500)
    assert np.max(np.abs(got - ref)) < 1e-8
    cached = list((tmp_path / "generated").glob("zeros_5000_500_*.npy"))
    assert len(cached) == 1
    np.save(cached[0], got + 1.0)  # the cache is what is served next time
    assert np.array_equal(load_zeros("generate", 5000, 500), got + 1.0)


def test_unknown_source_names_the_known_ones():
    with pytest.raises(ZeroDataError, match="'odlyzko' and 'generate'"):
        load_zeros("odlyzco", 1, 10)


def test_missing_file():
    with pytest.raises(ZeroDataError, match="no such file"):
        load_zeros("/nonexistent/zeros.txt", 1, 10)


def test_gs_without_gcsfs_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # import gcsfs -> ImportError
    with pytest.raises(ZeroDataError, match=r"gcsfs.*zeta_rmt\[gcp\]"):
        load_zeros("gs://bucket/zeros.txt", 1, 10)


@pytest.mark.parametrize("start, count", [(0, 5), (1, 0), (True, 3)])
def test_bad_ranges(start, count):
    with pytest.raises(ZeroDataError):
        load_zeros("odlyzko", start, count)
