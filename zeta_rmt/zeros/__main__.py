"""``python -m zeta_rmt.zeros``: see :mod:`zeta_rmt.zeros.cli`."""
import sys

from zeta_rmt.zeros.cli import main

if __name__ == "__main__":
    sys.exit(main())
