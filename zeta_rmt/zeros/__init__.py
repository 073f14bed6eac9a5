"""Where zeros come from: Odlyzko's table, files and URLs, the project's generator, sharded datasets."""
from zeta_rmt.zeros.errors import ZeroDataError
from zeta_rmt.zeros.sources import load_zeros

__all__ = ["ZeroDataError", "load_zeros"]
