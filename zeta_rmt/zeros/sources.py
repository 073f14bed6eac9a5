"""One entry point for zeros: ``load_zeros(source, start, count)``.

Indices are 1-based as in mathematics: ``load_zeros("odlyzko", 1, 10)`` returns
gamma_1 .. gamma_10.
"""
from __future__ import annotations

import numpy as np

from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.zeros.odlyzko import ODLYZKO_COUNT, load_table


def _check_range(start: int, count: int) -> None:
    if int(start) != start or start < 1:
        raise ZeroDataError(f"start must be a 1-based index >= 1, got {start!r}")
    if int(count) != count or count < 1:
        raise ZeroDataError(f"count must be a positive integer, got {count!r}")


def load_zeros(source: str = "odlyzko", start: int = 1, count: int = 10_000) -> np.ndarray:
    """Return gamma_start .. gamma_{start+count-1} as a float64 array.

    ``source``: ``"odlyzko"`` (the table, n <= 2,001,052).
    """
    _check_range(start, count)
    if source == "odlyzko":
        end = start + count - 1
        if end > ODLYZKO_COUNT:
            raise ZeroDataError(
                f"source 'odlyzko' holds zeros 1..{ODLYZKO_COUNT}; requested {start}..{end}"
            )
        return np.array(load_table()[start - 1 : end], dtype=np.float64)
    raise ZeroDataError(f"unknown zero source {source!r}; known: 'odlyzko'")
