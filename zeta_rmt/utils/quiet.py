"""Silence what every run printed that nobody asked for (installed by ``import zeta_rmt``).

Each filter names one message and why it is harmless; nothing else is hidden:

* Lightning's "💡 Tip: ... litlogger" line is an advertisement for another product;
* Lightning 2.6's ``utilities/_pytree.py`` builds ``LeafSpec()``, which torch 2.13 deprecates: the
  warning is about Lightning's code, the result is the same (fixed upstream in a later release);
* gcsfs logs "experimental features enabled" at INFO each time it is imported, also on runs that
  never touch ``gs://`` (Lightning imports it to probe for object storage);
* on Python 3.10 (the Vertex AI image), Google's client libraries warn at import that 3.10 support
  ends in a future release: a notice about their future versions, not this run.
"""
from __future__ import annotations

import logging
import warnings

_installed = False


class _DropAdvert(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("💡 Tip:")


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero",
                 "lightning_fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_DropAdvert())
    logging.getLogger("gcsfs").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    warnings.filterwarnings("ignore", category=FutureWarning,
                            message=r"\s*You are using (a non-supported Python version|a Python version)")
