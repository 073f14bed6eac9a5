"""Where zeros come from: Odlyzko's table, files and URLs, the project's generator, sharded datasets.

``load_zeros(source, start, count)`` is the one data API (see :mod:`zeta_rmt.zeros.sources`);
``python -m zeta_rmt.zeros`` the command line (see :mod:`zeta_rmt.zeros.cli`).
Submodules are imported lazily: ``import zeta_rmt.zeros`` does not load numba.
"""
from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.zeros.sources import load_zeros, open_source

__all__ = ["ZeroDataError", "load_zeros", "open_source", "generate_zeros", "GENERATOR_VERSION"]


def __getattr__(name):
    if name in ("generate_zeros", "GENERATOR_VERSION"):
        from zeta_rmt.zeros import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'zeta_rmt.zeros' has no attribute {name!r}")
