"""zeta_rmt: graph neural networks on the Riemann zeta zeros under random-matrix priors."""

__version__ = "0.1.0"


def _early_gcs_env() -> None:
    # gcsfs reads GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT once, when it is imported (Lightning may import
    # it first): with a local GCS emulator switch its zonal/HNS path off now (see zeta_rmt.utils.remote)
    import os
    import sys

    if os.environ.get("STORAGE_EMULATOR_HOST") and "gcsfs" not in sys.modules:
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def _early_thread_env() -> None:
    # OpenMP (libgomp, torch's CPU thread pool) reads its wait policy once, when torch starts it: idle
    # threads that spin collapse a run when another process shares the cores (see zeta_rmt.utils.threads)
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_early_gcs_env()
_early_thread_env()
del _early_gcs_env, _early_thread_env

from zeta_rmt.utils import quiet as _quiet  # noqa: E402  (stdlib only: logging and warnings filters)

_quiet.install()
del _quiet
