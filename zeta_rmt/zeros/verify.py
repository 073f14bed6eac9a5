"""Re-check a zero dataset (or any source): integrity, ordering, count, accuracy.

Checks, in order:

1. **integrity** (sharded datasets): manifest complete, every shard's sha256, length and
   index range, shards contiguous and increasing across boundaries;
2. **values**: finite, positive, strictly increasing (every source);
3. **count** (Turing's method, see :func:`zeta_rmt.zeros.generator.certify_zeros`): a sign
   change of Z within 1e-8 of every value and the exact number of zeros between Gram
   anchors, so that no zero is missing or extra and every index is right; done on
   overlapping segments of at most 2·10⁶ zeros;
4. optional **spot checks**: random indices against ``mpmath.zetazero`` (20 digits);
5. optional **comparison** with another source (``against="odlyzko"``): max |Δγ|.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.zeros.textfile import fmt_num

_SEGMENT = 2_000_000
_OVERLAP = 4_000


@dataclass
class VerifyResult:
    source: str
    first: int = 0
    last: int = 0
    checks: dict = field(default_factory=dict)  # name -> human-readable outcome
    problems: list = field(default_factory=list)
    max_error_against: float | None = None
    max_error_index: int | None = None
    spot_max_error: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _zeros(n: int) -> str:
    return f"{n:,} zero" if n == 1 else f"{n:,} zeros"


def count_sentences(lo: int, hi: int, n_high: int, n_low: int, max_delta: float) -> list[str]:
    """The outcome of the count check, one clause per line: the Turing count, the sign changes
    above t = 600 and the polished zeros below it (singular/plural as the numbers ask)."""
    out = [f"Turing count exact for indices {lo}..{hi}"]
    if n_high:
        each = "the 1 zero" if n_high == 1 else f"each of the {_zeros(n_high)}"
        out.append(f"a sign change of Z within {max_delta:.1g} of {each} above t = 600")
    if n_low:
        verb = "matches" if n_low == 1 else "match"
        out.append(f"the {_zeros(n_low)} below t = 600 {verb} the mpmath-polished zeros to 1e-8")
    return out


def _values_by_segment(src, first, last, seg, overlap):
    """Yield (start, values) over [first, last] in overlapping segments."""
    s = first
    while s <= last:
        e = min(last, s + seg - 1)
        yield s, src.load(s, e - s + 1)
        if e == last:
            break
        s = e + 1 - overlap


def verify_source(
    source: str,
    *,
    count_check: bool = True,
    spot_checks: int = 0,
    against: str | None = None,
    seed: int = 0,
    storage_options: dict | None = None,
    log=None,
) -> VerifyResult:
    """Run the checks listed in the module docstring; problems are collected, not raised."""
    from zeta_rmt.zeros.sources import ShardedSource, open_source

    say = log or (lambda msg: None)
    res = VerifyResult(str(source))
    try:
        src = open_source(source, storage_options=storage_options)
    except ZeroDataError as exc:
        res.problems.append(str(exc))
        return res
    if src.last is None:
        res.problems.append(f"{source!r} is unbounded (the generator): verify a written dataset instead")
        return res
    res.first, res.last = src.first, src.last
    # 1. integrity
    if isinstance(src, ShardedSource):
        ds = src.ds
        try:
            entries = ds.entries()
            if not ds.manifest.get("complete"):
                res.problems.append(
                    f"{source}: manifest not finalised (all shards present); run `python -m zeta_rmt.zeros finalize {source}`"
                )
            prev = None
            for k, (e, spec) in enumerate(zip(entries, ds.specs())):
                if (int(e["start"]), int(e["count"])) != (spec.start, spec.count):
                    raise ZeroDataError(f"{source}: shard {k} covers {e['start']}+{e['count']}, plan says {spec.start}+{spec.count}")
                arr = ds.read_shard(e)  # sha256, length, ordering
                if prev is not None and not arr[0] > prev:
                    raise ZeroDataError(f"{source}: shard {e['file']} starts at {fmt_num(arr[0])}, not above the previous shard's last {fmt_num(prev)}")
                prev = float(arr[-1])
            versions = {e.get("generator_version") for e in entries}
            res.checks["integrity"] = (
                f"{len(entries)} shard(s): sha256, lengths, ranges and ordering OK (generator {', '.join(map(str, sorted(versions, key=str)))})"
            )
            say(res.checks["integrity"])
        except ZeroDataError as exc:
            res.problems.append(str(exc))
            return res
    # 2 + 3. values and count
    try:
        from zeta_rmt.zeros.generator import certify_zeros

        certified = []
        max_delta = 0.0
        for s, vals in _values_by_segment(src, src.first, src.last, _SEGMENT, _OVERLAP):
            if not count_check:
                continue
            cert = certify_zeros(vals, s)
            certified.append((cert.lower_anchor[0] + 2, cert.upper_anchor[0] + 1))
            max_delta = max(max_delta, cert.max_delta)
        res.checks["values"] = f"zeros {src.first}..{src.last}: finite, positive, strictly increasing"
        if count_check:
            covered_lo = min(a for a, _ in certified)
            covered_hi = max(b for _, b in certified)
            gaps = [(b1, a2) for (_, b1), (a2, _) in zip(certified, certified[1:]) if a2 > b1 + 1]
            if gaps:
                res.problems.append(f"count not certified between indices {gaps}")
            n_low = int(np.searchsorted(src.load(src.first, min(src.last - src.first + 1, 400)), 600.0))
            count_lines = count_sentences(covered_lo, covered_hi, src.last - src.first + 1 - n_low, n_low, max_delta)
            res.checks["count"] = "; ".join(count_lines)
        say(res.checks["values"])
        if count_check:
            for line in count_lines:  # one short line each: a terminal does not break them mid-sentence
                say(line)
    except ZeroDataError as exc:
        res.problems.append(str(exc))
    # 4. spot checks
    if spot_checks > 0:
        import mpmath

        rng = np.random.default_rng(seed)
        idx = np.unique(rng.integers(src.first, src.last + 1, size=spot_checks))
        worst = 0.0
        with mpmath.workdps(20):
            for n in idx:
                ref = float(mpmath.zetazero(int(n)).imag)
                worst = max(worst, abs(float(src.load(int(n), 1)[0]) - ref))
        res.spot_max_error = worst
        res.checks["spot"] = f"{idx.size} random zeros vs mpmath.zetazero: max |error| {worst:.3g}"
        say(res.checks["spot"])
        if worst > 1e-8:
            res.problems.append(f"spot checks: max error {worst:.3g} > 1e-8")
    # 5. comparison
    if against:
        try:
            other = open_source(against, storage_options=storage_options)
            lo = max(src.first, other.first)
            hi = src.last if other.last is None else min(src.last, other.last)
            if hi < lo:
                res.problems.append(f"{against!r} shares no indices with {source!r}")
            else:
                worst, where = 0.0, lo
                for s, vals in _values_by_segment(src, lo, hi, _SEGMENT, 0):
                    ref = other.load(s, vals.size)
                    d = np.abs(vals - ref)
                    k = int(np.argmax(d))
                    if d[k] >= worst:
                        worst, where = float(d[k]), s + k
                res.max_error_against, res.max_error_index = worst, where
                res.checks["against"] = (
                    f"max abs error vs {against} over zeros {lo}..{hi}: {worst:.3e} (at n = {where})"
                )
                say(res.checks["against"])
        except ZeroDataError as exc:
            res.problems.append(str(exc))
    return res
