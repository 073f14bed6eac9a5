"""GUE mathematics: unfolding, the Wigner surmise, Gaudin's exact spacing law, GUE sampling,
and spectral statistics.  Pure numpy/scipy/torch (no Lightning, no Hydra).

numpy functions take and return arrays; ``*_torch`` functions take and return tensors and
are differentiable in their argument.  Formulas are in each module's docstring and in
``docs/science.md``.

Names are imported lazily on first use (PEP 562), so ``import zeta_rmt.rmt.smooth`` stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "gaudin": ("GaudinTable", "S_MAX", "fredholm_derivatives", "gap_probability", "gap_probability_torch", "gaudin_cdf", "gaudin_cdf_torch", "gaudin_logpdf", "gaudin_logpdf_torch", "gaudin_moments", "gaudin_pdf", "gaudin_pdf_torch", "gaudin_ppf", "gaudin_table", "sample_gaudin",),
    "gue": ("gue_eigenvalues", "gue_spacings", "gue_tridiagonal", "gue_unfolded_bulk", "gue_unfolded_spectra", "semicircle_count",),
    "statistics": ("KSResult", "SPACING_LAWS", "gue_number_variance", "gue_number_variance_asymptotic", "ks_distance", "ks_test", "montgomery_r2", "number_variance", "pair_correlation", "poisson_cdf", "spectral_summary",),
    "surmise": ("WIGNER_MEAN", "WIGNER_VARIANCE", "sample_wigner", "sample_wigner_torch", "wigner_cdf", "wigner_cdf_torch", "wigner_logpdf", "wigner_logpdf_torch", "wigner_pdf", "wigner_pdf_torch", "wigner_ppf",),
    "unfolding": ("UNFOLDING_METHODS", "inverse_smooth_count", "local_mean_spacing", "local_mean_spacing_torch", "smooth_count", "smooth_count_torch", "smooth_density", "smooth_density_torch", "unfold", "unfold_torch", "unfolded_spacings", "unfolded_spacings_torch",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'zeta_rmt.rmt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"zeta_rmt.rmt.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
