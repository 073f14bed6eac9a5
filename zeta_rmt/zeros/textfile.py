"""The groups' text format: one γ_n per line, n = 1, 2, … in order (e.g. ``zeta_zeros_10k.txt``).

Lines may carry surrounding whitespace and any number of digits (mpmath writes 30);
trailing blank lines are ignored. An optional first line ``# zeta_rmt zeros start=N count=M``
(written by ``python -m zeta_rmt.zeros export``) says that the lines are γ_N … γ_{N+M−1}; without
it they are γ_1, γ_2, …  ``count`` is checked against the lines (a truncated file is refused).
That header is the only comment allowed: ``#`` anywhere else (or a first line that is some other
comment) is an error, since the indices of the zeros would then be a guess. ``np.loadtxt`` skips
the header as a comment. Everything else is an error naming the file and line:
a non-numeric or empty line, NaN/inf, a value ≤ 0, a value not above the previous line
(duplicate or out of order), or a file with no values at all.

A gzip-compressed file (a name ending in ``.gz``, or bytes starting with the gzip magic 1f 8b)
is decompressed and read the same way.

Also here: :func:`check_values` (finite, positive, strictly increasing — used by every source),
:func:`check_float64` (zeros must be float64 unless the caller opts in) and :func:`fmt_num`
(numbers in messages as plain text: ``7265.96``, never ``np.float64(7265.96)``).
"""
from __future__ import annotations

import gzip
import math
import re
import zlib

import numpy as np

from zeta_rmt.zeros.errors import ZeroDataError

HEADER_PREFIX = "# zeta_rmt zeros"
GZIP_MAGIC = b"\x1f\x8b"
_HEADER_RE = re.compile(r"^#\s*zeta_rmt\s+zeros((?:\s+[A-Za-z_]\w*=\S*)*)\s*$")


def fmt_num(x) -> str:
    """A number for a message: ``7265.96`` (shortest round-trip repr), not ``np.float64(7265.96)``."""
    try:
        return repr(float(x))
    except (TypeError, ValueError):
        return str(x)


def check_float64(dtype, origin: str, max_height=None, *, allow_low_precision: bool = False) -> None:
    """Refuse zeros not stored as float64 (either byte order), saying what they would lose.

    float32 has a resolution (ulp) of 0.0625 at γ = 10⁶, about 12% of the mean spacing
    2π / log(γ/2π) there; float16 is coarser still. ``allow_low_precision`` accepts any float
    dtype (the values are widened to float64, their rounding stays)."""
    dt = np.dtype(dtype)
    if dt.kind == "f" and dt.itemsize == 8:
        return
    if allow_low_precision and dt.kind == "f":
        return
    why = ""
    if dt.kind == "f" and dt.itemsize < 8 and max_height is not None:
        g = float(max_height)
        if math.isfinite(g) and g > 0:
            with np.errstate(all="ignore"):
                ulp = float(np.spacing(np.abs(dt.type(g))))
            why = f", whose resolution at its largest zero γ = {fmt_num(g)} is {fmt_num(ulp)}"
            if g > 2 * math.pi:
                spacing = 2 * math.pi / math.log(g / (2 * math.pi))
                why += f" ({100 * ulp / spacing:.3g}% of the mean spacing {spacing:.4g} there)"
    raise ZeroDataError(
        f"{origin}: stored as {dt.name}{why}; zeros must be float64 (little- or big-endian): "
        "re-save the file as float64, or pass allow_low_precision=True (data.allow_low_precision=true) "
        "to accept the rounded values"
    )


def check_values(values: np.ndarray, origin: str, *, unit: str = "line", first: int = 1) -> None:
    """Raise :class:`ZeroDataError` naming ``origin`` and the ``unit`` number of the first
    value that is not finite, not positive, or not above its predecessor."""
    values = np.asarray(values)
    if values.size == 0:
        raise ZeroDataError(f"{origin}: holds no zeros (empty)")
    finite = np.isfinite(values)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise ZeroDataError(f"{origin}: {unit} {first + k}: {fmt_num(values[k])} is not a finite number")
    positive = values > 0
    if not positive.all():
        k = int(np.flatnonzero(~positive)[0])
        raise ZeroDataError(f"{origin}: {unit} {first + k}: {fmt_num(values[k])} is not positive (zeros have gamma > 14)")
    if values.size > 1:
        steps = np.diff(values) > 0
        if not steps.all():
            k = int(np.flatnonzero(~steps)[0]) + 1
            what = "duplicates" if values[k] == values[k - 1] else "is below"
            raise ZeroDataError(
                f"{origin}: {unit} {first + k}: {fmt_num(values[k])} {what} the previous value {fmt_num(values[k - 1])} "
                f"({unit} {first + k - 1}); zeros must be strictly increasing"
            )


def _parse_header(line: bytes, origin: str) -> tuple[int, int | None]:
    text = line.decode("utf-8", "replace").strip()
    m = _HEADER_RE.match(text)
    if not m:
        raise ZeroDataError(
            f"{origin}: line 1: {text[:60]!r} is a comment but not a `{HEADER_PREFIX} start=N count=M` header; "
            "that header is the only comment allowed (remove the line: the zeros are then numbered 1, 2, ...)"
        )
    fields = dict(tok.split("=", 1) for tok in m.group(1).split())
    out = {}
    for key in ("start", "count"):
        raw = fields.get(key)
        if raw is None:
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise ZeroDataError(f"{origin}: line 1: header {key}={raw} is not a positive integer")
        out[key] = int(raw)
    if "start" not in out:
        raise ZeroDataError(f"{origin}: line 1: the `{HEADER_PREFIX}` header has no start=N (the index of the first zero)")
    return out["start"], out.get("count")


def decompress_text(data: bytes, origin: str) -> bytes:
    """The text of a file that may be gzip-compressed: decompressed when its bytes start with the
    gzip magic 1f 8b or ``origin`` (its name or URL) ends in ``.gz``; other bytes unchanged."""
    gz = data[:2] == GZIP_MAGIC
    if not gz and not origin.lower().endswith(".gz"):
        return data
    if not gz:
        raise ZeroDataError(f"{origin}: named .gz but not gzip-compressed (it does not start with the gzip "
                            "magic bytes 1f 8b); rename it without .gz if it is plain text")
    try:
        text = gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise ZeroDataError(f"{origin}: damaged or truncated gzip file ({str(exc) or type(exc).__name__})") from None
    if text.startswith(b"\x93NUMPY"):
        raise ZeroDataError(f"{origin}: a gzip-compressed .npy; .npy sources are read uncompressed "
                            "(decompress it, e.g. gunzip, and load the .npy)")
    return text


def parse_text_file(data: bytes, origin: str) -> tuple[int, np.ndarray]:
    """Parse and validate the text format: (index of the first zero, float64 values). Gzip-compressed
    text (``.gz``, or bytes starting with 1f 8b) is decompressed first (:func:`decompress_text`)."""
    data = decompress_text(data, origin)
    lines = data.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    start, expected, first_line = 1, None, 1
    if lines and lines[0].lstrip().startswith(b"#"):
        start, expected = _parse_header(lines[0], origin)
        lines, first_line = lines[1:], 2
    if not lines:
        raise ZeroDataError(f"{origin}: holds no zeros (empty file)")
    try:
        values = np.array(lines).astype(np.float64)
    except ValueError:
        values = None
    if values is None:
        for k, raw in enumerate(lines):
            text = raw.strip()
            line = k + first_line
            if not text:
                raise ZeroDataError(f"{origin}: line {line} is empty; expected one zero per line")
            if text.startswith(b"#"):
                raise ZeroDataError(
                    f"{origin}: line {line}: comment lines are not allowed here; only line 1 may be a "
                    f"`{HEADER_PREFIX} start=N count=M` header"
                )
            try:
                float(text)
            except ValueError:
                shown = text[:60].decode("utf-8", "replace")
                raise ZeroDataError(f"{origin}: line {line}: {shown!r} is not a number") from None
        raise ZeroDataError(f"{origin}: could not parse the file as one number per line")
    if expected is not None and expected != values.size:
        raise ZeroDataError(
            f"{origin}: header says count={expected} but the file holds {values.size} zeros "
            "(truncated or appended to?); export it again"
        )
    check_values(values, origin, first=first_line)
    return start, values


def parse_text(data: bytes, origin: str) -> np.ndarray:
    """The values of :func:`parse_text_file` (γ_start, γ_start+1, …)."""
    return parse_text_file(data, origin)[1]


def text_header(start: int, count: int) -> bytes:
    """The leading line that keeps a text file's indices: ``# zeta_rmt zeros start=N count=M``."""
    return f"{HEADER_PREFIX} start={int(start)} count={int(count)}\n".encode()


def format_text(values: np.ndarray) -> bytes:
    """One value per line, shortest repr that reads back to the same float64."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return b""
    return ("\n".join(map(repr, values.tolist())) + "\n").encode()
