"""Vertex AI Experiments logging for Lightning, with a local journal and offline sync.

``VertexAIExperimentsLogger`` (select it with ``logger=vertex``) appends every call to a
journal in the run directory and uploads it in the background; ``python -m
zeta_rmt.loggers.vertex sync RUN_DIR`` uploads whatever did not get through, exactly once.
See docs/vertex_logger.md. The Vertex AI SDK (``google-cloud-aiplatform``, the 'gcp'
extra) is imported only when something is uploaded; Lightning only when the logger class
is used (so that ``sync`` starts quickly).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VertexAIExperimentsLogger": ".logger",
    "flatten_params": ".params",
    "Target": ".sdk",
    "VertexUnavailable": ".sdk",
    "TransientError": ".sdk",
    "PermanentError": ".sdk",
    "SyncReport": ".sync",
    "find_journals": ".sync",
    "run_status": ".sync",
    "sync_run": ".sync",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
