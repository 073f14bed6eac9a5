"""The sharded zero datasets the stream cases read, under the cache dir, and whether the
streaming backend exists in this checkout."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path


def dataset_dir(case_name: str) -> Path:
    """``<cache>/bench-<name>`` for the dataset case ``dataset/<name>`` (``zeta_rmt.utils.cache.cache_dir``)."""
    from zeta_rmt.utils.cache import cache_dir

    return cache_dir() / f"bench-{case_name.split('/', 1)[-1]}"


def dataset_complete(path: Path) -> bool:
    """True when ``path/manifest.json`` says every shard is written (``"complete": true``)."""
    try:
        return bool(json.loads((Path(path) / "manifest.json").read_text()).get("complete"))
    except (OSError, ValueError, AttributeError):
        return False


@lru_cache(maxsize=1)
def stream_available() -> str | None:
    """``None`` when ``data=cluster data.backend=stream`` composes, else why not (one line)."""
    from zeta_rmt.bench.kinds import resolve

    resolved, err = resolve(["data=cluster", "data.backend=stream"])
    if err is not None:
        return (f"not available: data.backend=stream does not compose in this checkout (the streaming cluster "
                f"backend of issue 11 has not landed): {err}")
    return None
