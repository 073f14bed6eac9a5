"""Where derived data lives (``.npy`` caches, partitions, generated zeros, benchmark datasets).

A neutral home: the science packages (``zeros``, ``rmt``), the data modules and the benchmarks all
import it, and it imports nothing of the project.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$ZETA_RMT_CACHE``, else ``$XDG_CACHE_HOME/zeta_rmt``, else ``~/.cache/zeta_rmt`` (created)."""
    root = os.environ.get("ZETA_RMT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zeta_rmt"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
