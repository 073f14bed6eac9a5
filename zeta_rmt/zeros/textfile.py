"""The groups' text format: one γ_n per line, n = 1, 2, … in order (e.g. ``zeta_zeros_10k.txt``).

Lines may carry surrounding whitespace and any number of digits (mpmath writes 30);
trailing blank lines are ignored. Everything else is an error naming the file and line:
a non-numeric or empty line, NaN/inf, a value ≤ 0, a value not above the previous line
(duplicate or out of order), or a file with no values at all.
"""
from __future__ import annotations

import numpy as np

from zeta_rmt.zeros.errors import ZeroDataError


def check_values(values: np.ndarray, origin: str, *, unit: str = "line", first: int = 1) -> None:
    """Raise :class:`ZeroDataError` naming ``origin`` and the ``unit`` number of the first
    value that is not finite, not positive, or not above its predecessor."""
    values = np.asarray(values)
    if values.size == 0:
        raise ZeroDataError(f"{origin}: holds no zeros (empty)")
    finite = np.isfinite(values)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise ZeroDataError(f"{origin}: {unit} {first + k}: {values[k]!r} is not a finite number")
    positive = values > 0
    if not positive.all():
        k = int(np.flatnonzero(~positive)[0])
        raise ZeroDataError(f"{origin}: {unit} {first + k}: {values[k]!r} is not positive (zeros have gamma > 14)")
    if values.size > 1:
        steps = np.diff(values) > 0
        if not steps.all():
            k = int(np.flatnonzero(~steps)[0]) + 1
            what = "duplicates" if values[k] == values[k - 1] else "is below"
            raise ZeroDataError(
                f"{origin}: {unit} {first + k}: {values[k]!r} {what} the previous value {values[k - 1]!r} "
                f"({unit} {first + k - 1}); zeros must be strictly increasing"
            )


def parse_text(data: bytes, origin: str) -> np.ndarray:
    """Parse and validate the text format; returns float64 γ_1, γ_2, …"""
    lines = data.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ZeroDataError(f"{origin}: holds no zeros (empty file)")
    try:
        values = np.array(lines).astype(np.float64)
    except ValueError:
        values = None
    if values is None:
        for k, raw in enumerate(lines):
            text = raw.strip()
            if not text:
                raise ZeroDataError(f"{origin}: line {k + 1} is empty; expected one zero per line")
            try:
                float(text)
            except ValueError:
                shown = text[:60].decode("utf-8", "replace")
                raise ZeroDataError(f"{origin}: line {k + 1}: {shown!r} is not a number") from None
        raise ZeroDataError(f"{origin}: could not parse the file as one number per line")
    check_values(values, origin)
    return values


def format_text(values: np.ndarray) -> bytes:
    """One value per line, shortest repr that reads back to the same float64."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return b""
    return ("\n".join(map(repr, values.tolist())) + "\n").encode()
