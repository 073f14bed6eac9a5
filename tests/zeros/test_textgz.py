"""Gzip-compressed text zero files are read like plain ones (issue 13, item 8), and the verify
command's count message reads as sentences with the right number."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from zeta_rmt.zeros import ZeroDataError, load_zeros
from zeta_rmt.zeros.odlyzko import load_table
from zeta_rmt.zeros.textfile import format_text, parse_text, text_header
from zeta_rmt.zeros.verify import count_sentences, verify_source

FIRST = np.asarray(load_table()[:300], dtype=np.float64)


def test_gzip_text_round_trip_through_load_zeros(tmp_path):
    p = tmp_path / "zeta_zeros_300.txt.gz"
    p.write_bytes(gzip.compress(format_text(FIRST)))
    assert np.array_equal(load_zeros(str(p), 1, 300), FIRST)
    assert np.array_equal(load_zeros(f"file://{p}", 101, 5), FIRST[100:105])
    # the export header (start index) survives compression
    q = tmp_path / "part.gz"
    q.write_bytes(gzip.compress(text_header(201, 100) + format_text(FIRST[200:])))
    assert np.array_equal(load_zeros(str(q), 201, 100), FIRST[200:])
    with pytest.raises(ZeroDataError, match=r"holds zeros 201\.\.300"):
        load_zeros(str(q), 1, 10)


def test_gzip_is_recognised_by_its_magic_bytes_too(tmp_path):
    p = tmp_path / "zeros.txt"  # compressed, but not named .gz
    p.write_bytes(gzip.compress(format_text(FIRST[:50])))
    assert np.array_equal(load_zeros(str(p), 1, 50), FIRST[:50])
    assert np.array_equal(parse_text(gzip.compress(b"14.134725141734693\n21.02203963877155\n"), "mem"),
                          [14.134725141734693, 21.02203963877155])


def test_bad_gzip_files_say_what_is_wrong(tmp_path):
    data = gzip.compress(format_text(FIRST))
    (tmp_path / "cut.txt.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ZeroDataError, match=r"cut\.txt\.gz: damaged or truncated gzip file"):
        load_zeros(str(tmp_path / "cut.txt.gz"), 1, 1)
    (tmp_path / "plain.gz").write_bytes(format_text(FIRST[:3]))
    with pytest.raises(ZeroDataError, match=r"plain\.gz: named \.gz but not gzip-compressed"):
        load_zeros(str(tmp_path / "plain.gz"), 1, 1)
    (tmp_path / "bad.txt.gz").write_bytes(gzip.compress(b"14.13\nabc\n"))
    with pytest.raises(ZeroDataError, match=r"bad\.txt\.gz: line 2: 'abc' is not a number"):
        load_zeros(str(tmp_path / "bad.txt.gz"), 1, 1)


def test_count_message_is_one_sentence_per_line_with_the_right_number():
    lines = count_sentences(1, 300, 0, 300, 0.0)
    assert lines == ["Turing count exact for indices 1..300",
                     "the 300 zeros below t = 600 match the mpmath-polished zeros to 1e-8"]
    one = count_sentences(1, 2, 1, 1, 2e-9)
    assert one[1] == "a sign change of Z within 2e-09 of the 1 zero above t = 600"
    assert one[2] == "the 1 zero below t = 600 matches the mpmath-polished zeros to 1e-8"
    high = count_sentences(5000, 6000, 1001, 0, 1e-9)
    assert high[1] == "a sign change of Z within 1e-09 of each of the 1,001 zeros above t = 600"
    assert len(high) == 2 and not any("below" in s for s in high)  # never "the 0 below match"
    assert all(len("  ok  " + s) <= 80 for s in lines + one + high)  # a terminal does not wrap them


def test_verify_logs_the_count_lines(tmp_path):
    p = tmp_path / "z.txt.gz"
    p.write_bytes(gzip.compress(format_text(FIRST)))
    said = []
    res = verify_source(str(p), log=said.append)
    assert res.ok, res.problems
    assert "the 300 zeros below t = 600 match the mpmath-polished zeros to 1e-8" in said
    assert res.checks["count"] == "; ".join(said[-2:])
