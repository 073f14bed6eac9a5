"""GUE mathematics: unfolding, the Wigner surmise, Gaudin's exact spacing law, GUE sampling,
and spectral statistics.  Pure numpy/scipy/torch (no Lightning, no Hydra).

numpy functions take and return arrays; ``*_torch`` functions take and return tensors and
are differentiable in their argument.  Formulas are in each module's docstring and in
``docs/science.md``.
"""
from zeta_rmt.rmt.gaudin import (
    S_MAX,
    GaudinTable,
    fredholm_derivatives,
    gap_probability,
    gap_probability_torch,
    gaudin_cdf,
    gaudin_cdf_torch,
    gaudin_logpdf,
    gaudin_logpdf_torch,
    gaudin_moments,
    gaudin_pdf,
    gaudin_pdf_torch,
    gaudin_ppf,
    gaudin_table,
    sample_gaudin,
)
from zeta_rmt.rmt.gue import (
    gue_eigenvalues,
    gue_spacings,
    gue_tridiagonal,
    gue_unfolded_bulk,
    gue_unfolded_spectra,
    semicircle_count,
)
from zeta_rmt.rmt.statistics import (
    SPACING_LAWS,
    KSResult,
    gue_number_variance,
    gue_number_variance_asymptotic,
    ks_distance,
    ks_test,
    montgomery_r2,
    number_variance,
    pair_correlation,
    poisson_cdf,
    spectral_summary,
)
from zeta_rmt.rmt.surmise import (
    WIGNER_MEAN,
    WIGNER_VARIANCE,
    sample_wigner,
    sample_wigner_torch,
    wigner_cdf,
    wigner_cdf_torch,
    wigner_logpdf,
    wigner_logpdf_torch,
    wigner_pdf,
    wigner_pdf_torch,
    wigner_ppf,
)
from zeta_rmt.rmt.unfolding import (
    UNFOLDING_METHODS,
    inverse_smooth_count,
    local_mean_spacing,
    local_mean_spacing_torch,
    smooth_count,
    smooth_count_torch,
    smooth_density,
    smooth_density_torch,
    unfold,
    unfold_torch,
    unfolded_spacings,
    unfolded_spacings_torch,
)

__all__ = [name for name in dir() if not name.startswith("_") and name not in ("gaudin", "gue", "statistics", "surmise", "unfolding")]
