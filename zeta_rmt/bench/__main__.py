"""``python -m zeta_rmt.bench``: see :mod:`zeta_rmt.bench.cli`."""
from zeta_rmt.bench.cli import main

raise SystemExit(main())
