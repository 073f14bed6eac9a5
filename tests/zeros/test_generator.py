"""The generator against Odlyzko's table (truth to ~4e-9), mpmath, and its own proofs."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

from zeta_rmt.zeros import ZeroDataError
from zeta_rmt.zeros import generator as gen
from zeta_rmt.zeros.generator import GenerationReport, GeneratorCountError, certify_zeros, generate_zeros
from zeta_rmt.zeros.odlyzko import ODLYZKO_COUNT, load_table


@pytest.fixture(scope="module")
def table():
    return np.asarray(load_table())


def _check_window(table, start, count):
    rep = GenerationReport()
    got = generate_zeros(start, count, report=rep)
    ref = table[start - 1 : start - 1 + count]
    assert got.shape == ref.shape  # no missing or extra zero
    assert np.max(np.abs(got - ref)) < 1e-8
    for a, b, *_ in rep.anchors:  # Turing anchors bracket the range
        assert a <= start - 2 and b >= start + count - 2
    return rep


def test_first_thousand_zeros(table):
    rep = _check_window(table, 1, 1000)
    assert rep.anchors[0][0] == -1  # anchored at g_{-1}, N(g_{-1}) = 0
    assert rep.polished == int(np.sum(table[:1000] < gen.T_POLISH))
    assert rep.count == 1000 and 1.0 <= rep.root_iterations_mean < 8.0


@pytest.mark.parametrize("start, count", [(137, 50), (999, 2), (40_000, 3000), (1_234_567, 5000)])
def test_random_windows_of_the_table(table, start, count):
    _check_window(table, start, count)


def test_windows_drawn_at_random(table):
    rng = np.random.default_rng(2026)
    for start in rng.integers(2, ODLYZKO_COUNT - 1000, size=4):
        _check_window(table, int(start), 400)


def test_end_of_the_table(table):
    _check_window(table, ODLYZKO_COUNT - 3000 + 1, 3000)


def test_chunks_join_exactly(table):
    got = generate_zeros(500_000, 2500, chunk=1000)
    assert np.max(np.abs(got - table[499_999:502_499])) < 1e-8


def test_known_values_from_spec():
    known = {
        1: 14.134725141734693,
        10: 49.773832477672302,
        10_000: 9877.782654004,
        1_000_000: 600269.677012445,
        2_001_052: 1132490.658714411,
    }
    for n, v in known.items():
        assert generate_zeros(n, 1)[0] == pytest.approx(v, abs=1e-8)
    assert generate_zeros(1, 1)[0] == pytest.approx(14.134725141734693, abs=1e-10)  # mpmath-polished


def test_matches_mpmath_zetazero_above_the_table():
    n = 10_000_000
    got = generate_zeros(n - 2, 5)
    with mpmath.workdps(20):
        ref = float(mpmath.zetazero(n).imag)
    assert got[2] == pytest.approx(ref, abs=1e-8)


def test_first_rosser_rule_exception_is_handled():
    """Gram block 13999525..13999528 violates Rosser's rule; the union is searched instead."""
    rep = GenerationReport()
    got = generate_zeros(13_999_520, 16, report=rep)
    assert rep.rosser_exceptions, "the known exception should have been met"
    lo, hi, _ = rep.rosser_exceptions[0]
    assert lo <= 13_999_525 and hi >= 13_999_528
    with mpmath.workdps(20):
        for k in (6, 7, 8):  # zeros 13999526..13999528, around the exception
            x = got[k]
            assert mpmath.siegelz(x - 1e-8) * mpmath.siegelz(x + 1e-8) < 0
        assert got[7] == pytest.approx(float(mpmath.zetazero(13_999_527).imag), abs=1e-8)


def test_height_limit_is_refused_with_a_clear_error():
    with pytest.raises(ZeroDataError, match=r"2\^27"):
        generate_zeros(gen.max_index() + 1, 1)


@pytest.mark.parametrize("bad", [(0, 5), (5, 0), (1.5, 2)])
def test_bad_ranges(bad):
    with pytest.raises(ZeroDataError):
        generate_zeros(*bad)


def test_unresolvable_blocks_raise_instead_of_returning_short(monkeypatch):
    monkeypatch.setattr(gen, "_MAX_LEVEL", 0)  # no resampling: blocks of length >= 2 cannot be resolved
    with pytest.raises(GeneratorCountError, match="refusing to return"):
        generate_zeros(100_000, 200)


def test_missing_turing_anchors_raise(monkeypatch):
    monkeypatch.setattr(gen, "brent_blocks", lambda t: 10**9)  # more Rosser blocks than any margin holds
    with pytest.raises(GeneratorCountError, match="Turing anchors"):
        generate_zeros(50_000, 100)


def test_certify_accepts_the_table_and_catches_defects(table):
    vals = table[299_999:310_000].copy()
    cert = certify_zeros(vals, 300_000)
    assert cert.lower_anchor[0] >= 299_998 and cert.upper_anchor[0] <= 309_999
    assert cert.sign_checked == vals.size and cert.max_delta <= 1e-8
    with pytest.raises(ZeroDataError, match="count check failed"):
        certify_zeros(np.delete(vals, 5000), 300_000)  # a missing zero
    with pytest.raises(ZeroDataError, match="count check failed"):
        certify_zeros(table[300_000:310_001], 300_000)  # indices shifted by one
    moved = vals.copy()
    moved[777] += 1e-6
    with pytest.raises(ZeroDataError, match="no sign change"):
        certify_zeros(moved, 300_000)
