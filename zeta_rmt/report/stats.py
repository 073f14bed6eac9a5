"""Statistics of the A/B comparison: mean +- 95 % CI over seeds, Welch's t-test, a bootstrap,
a power-based sample size, and the verdict (Scenario A, Scenario B or inconclusive).

The verdict compares the extrapolation error (lower is better) of the full-graph arm (``a``)
and the cluster arm (``b``) with a two-sided Welch t-test at level ``alpha``:

* p < alpha and the full graph has the lower mean error: **Scenario B** (only the full-graph
  model works as well: a scalable rg_penalty is needed);
* p < alpha and the cluster regime has the lower error: **Scenario A** (the RMT priors alone do at
  least as well; rg_penalty is not essential);
* otherwise **Scenario A** only if the difference is shown to be negligible: the 95 % Welch
  confidence interval of the difference of means lies inside +- ``min_effect`` x (the full-graph
  mean error); "not significant" with a wide interval is **inconclusive**, and the report gives
  the number of seeds per regime that would decide it (80 % power):
  n = (z_{1-alpha/2} + z_{0.8})^2 (s_a^2 + s_b^2) / D^2, with D the observed difference when it is
  at least the margin (to make it significant), else (margin - |difference|) (to fit the
  interval inside the margin), refined with t quantiles.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

TEST_NAME = "Welch's two-sided t-test (unequal variances)"


@dataclass
class Summary:
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


def mean_ci(x, confidence: float = 0.95) -> Summary:
    """Mean and its t-based confidence interval (NaN bounds with fewer than 2 values)."""
    x = np.asarray([v for v in x if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n < 2:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    sd = float(x.std(ddof=1))
    h = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    return Summary(n, mean, sd, mean - h, mean + h)


@dataclass
class TestResult:
    test: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float           # mean_a - mean_b
    statistic: float
    df: float
    p_value: float
    ci_low: float         # 95 % CI of the difference (Welch)
    ci_high: float

    def as_dict(self) -> dict:
        return asdict(self)


def welch_test(a, b, confidence: float = 0.95) -> TestResult:
    """Welch's t-test of mean(a) == mean(b) and the Welch CI of mean(a) - mean(b).

    Degenerate cases (a variance of zero in both samples) are decided exactly: equal means give
    p = 1, different means p = 0. Fewer than 2 values in a sample give NaN."""
    a = np.asarray([v for v in a if v is not None and math.isfinite(v)], dtype=np.float64)
    b = np.asarray([v for v in b if v is not None and math.isfinite(v)], dtype=np.float64)
    na, nb = int(a.size), int(b.size)
    ma = float(a.mean()) if na else math.nan
    mb = float(b.mean()) if nb else math.nan
    diff = ma - mb
    if na < 2 or nb < 2:
        return TestResult(TEST_NAME, na, nb, ma, mb, diff, math.nan, math.nan, math.nan, math.nan, math.nan)
    va, vb = float(a.var(ddof=1)), float(b.var(ddof=1))
    se2 = va / na + vb / nb
    if se2 == 0.0:
        p = 1.0 if diff == 0 else 0.0
        stat = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return TestResult(TEST_NAME, na, nb, ma, mb, diff, stat, float(na + nb - 2), p, diff, diff)
    se = math.sqrt(se2)
    df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    res = sps.ttest_ind(a, b, equal_var=False)
    h = float(sps.t.ppf(0.5 + confidence / 2, df) * se)
    return TestResult(TEST_NAME, na, nb, ma, mb, diff, float(res.statistic), float(df), float(res.pvalue),
                      diff - h, diff + h)


def bootstrap_diff(a, b, n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap of mean(a) - mean(b): its CI and a two-sided p-value
    (2 x (k + 1) / (n + 1), k the smaller number of resampled differences on either side of 0)."""
    a = np.asarray([v for v in a if v is not None and math.isfinite(v)], dtype=np.float64)
    b = np.asarray([v for v in b if v is not None and math.isfinite(v)], dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return {"test": "bootstrap of the difference of means", "ci_low": math.nan, "ci_high": math.nan,
                "p_value": math.nan, "n_resamples": 0}
    rng = np.random.default_rng(seed)
    da = a[rng.integers(0, a.size, (n_resamples, a.size))].mean(axis=1)
    db = b[rng.integers(0, b.size, (n_resamples, b.size))].mean(axis=1)
    d = da - db
    lo, hi = np.quantile(d, [0.5 - confidence / 2, 0.5 + confidence / 2])
    # (k + 1) / (n + 1): a p-value of a resampling test is never 0
    tail = min(int(np.sum(d <= 0)), int(np.sum(d >= 0)))
    p = min(1.0, 2 * (tail + 1) / (n_resamples + 1))
    return {"test": f"bootstrap of the difference of means (percentile, {n_resamples} resamples)", "ci_low": float(lo),
            "ci_high": float(hi), "p_value": p, "n_resamples": n_resamples}


def sample_size(sd_a: float, sd_b: float, delta: float, alpha: float = 0.05, power: float = 0.8,
                max_n: int = 1_000_000) -> int | None:
    """Seeds per arm so that a two-sided level-``alpha`` Welch test detects a difference ``delta``
    with probability ``power`` (normal formula refined with t quantiles). None if undefined."""
    var = sd_a**2 + sd_b**2
    if not (math.isfinite(var) and math.isfinite(delta)) or delta == 0:
        return None
    if var == 0:
        return 2
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    n = max(2, math.ceil(z**2 * var / delta**2))
    for _ in range(20):
        df = max(1, 2 * n - 2)
        t = sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)
        new = max(2, math.ceil(t**2 * var / delta**2))
        if new == n:
            break
        n = new
    return min(n, max_n)


@dataclass
class Verdict:
    scenario: str            # "A" | "B" | "inconclusive"
    sentence: str
    metric: str
    arm_a: str
    arm_b: str
    alpha: float
    min_effect: float
    margin: float
    test: dict
    bootstrap: dict
    needed_n: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _g(x: float) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.4g}"


def decide(a, b, *, metric: str, arm_a: str, arm_b: str, alpha: float = 0.05, min_effect: float = 0.1,
           power: float = 0.8, setting: str | None = None) -> Verdict:
    """The verdict for errors ``a`` (full-graph arm) and ``b`` (cluster arm); lower is better.
    ``setting`` (e.g. "N = 2000, 300 epochs") is quoted in the sentence."""
    t = welch_test(a, b)
    boot = bootstrap_diff(a, b)
    margin = abs(t.mean_a) * min_effect if math.isfinite(t.mean_a) else math.nan
    where = f" ({setting})" if setting else ""
    base = (f"{metric}{where}: {arm_a} {_g(t.mean_a)} (n={t.n_a}) vs {arm_b} {_g(t.mean_b)} (n={t.n_b}), "
            f"{TEST_NAME} p = {_g(t.p_value)}")

    def verdict(scenario: str, sentence: str, n: int | None = None) -> Verdict:
        return Verdict(scenario, sentence, metric, arm_a, arm_b, alpha, min_effect, margin, t.as_dict(), boot, n)

    if t.n_a < 2 or t.n_b < 2:
        return verdict("inconclusive",
                       f"Inconclusive: {base}; a test needs at least 2 completed seeds in each regime "
                       f"(run at least 3 seeds per regime, e.g. seed=0,1,2).", None)
    if t.p_value < alpha:
        if t.diff < 0:
            return verdict("B", f"Scenario B (full graph significantly better): {base} < {alpha:g}, so "
                                f"rg_penalty / the full graph matters at this N and a scalable rg_penalty is needed.")
        return verdict("A", f"Scenario A (no advantage for the full graph; here the cluster regime is "
                            f"significantly better): {base} < {alpha:g}, so rg_penalty is not essential at this N.")
    sd_a, sd_b = _sd(a), _sd(b)
    if math.isfinite(margin) and t.ci_low >= -margin and t.ci_high <= margin:
        return verdict("A", f"Scenario A (no significant difference): {base} >= {alpha:g}, and the 95 % CI of "
                            f"the difference [{_g(t.ci_low)}, {_g(t.ci_high)}] lies within +-{min_effect:.0%} of "
                            f"the full-graph error (+-{_g(margin)}): drop rg_penalty and scale out.")
    if abs(t.diff) >= margin:
        n = sample_size(sd_a, sd_b, abs(t.diff), alpha, power)
        why = f"to detect the observed difference {_g(t.diff)} at {power:.0%} power"
    else:
        n = sample_size(sd_a, sd_b, margin - abs(t.diff), alpha, power)
        why = (f"to fit the 95 % CI of the difference inside +-{min_effect:.0%} of the full-graph error "
               f"(+-{_g(margin)}) at {power:.0%} power")
    need = f"about {n} seeds per regime" if n is not None else "more seeds per regime"
    return verdict("inconclusive",
                   f"Inconclusive: {base} >= {alpha:g}, but the 95 % CI of the difference "
                   f"[{_g(t.ci_low)}, {_g(t.ci_high)}] is wider than +-{min_effect:.0%} of the full-graph error; "
                   f"{need} would decide it ({why}).", n)


def _sd(x) -> float:
    x = np.asarray([v for v in x if v is not None and math.isfinite(v)], dtype=np.float64)
    return float(x.std(ddof=1)) if x.size >= 2 else math.nan


# -- paired seeds, trends and interactions (the scaling sweep, zeta_rmt.report.scaling) --------------
PAIRED_TEST_NAME = "paired two-sided t-test over seeds"
OLS_SLOPE_TEST = "OLS slope with a t-based CI (n − 2 df)"
INTERACTION_TEST_NAME = "t-test of the arm × log10 N interaction in an OLS fit"


def paired_test(a, b, confidence: float = 0.95) -> TestResult:
    """Paired t-test of mean(a - b) == 0 for values paired by position (the same seed in both arms)
    and the t CI of that mean difference. Pairs with a missing or non-finite value are dropped;
    zero spread of the differences is decided exactly (p = 1 for a zero mean, else 0)."""
    pairs = [(float(x), float(y)) for x, y in zip(a, b)
             if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    n = len(pairs)
    xa = np.asarray([p[0] for p in pairs], dtype=np.float64)
    xb = np.asarray([p[1] for p in pairs], dtype=np.float64)
    ma = float(xa.mean()) if n else math.nan
    mb = float(xb.mean()) if n else math.nan
    diff = ma - mb
    if n < 2:
        return TestResult(PAIRED_TEST_NAME, n, n, ma, mb, diff, math.nan, math.nan, math.nan, math.nan, math.nan)
    d = xa - xb
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        p = 1.0 if diff == 0 else 0.0
        stat = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return TestResult(PAIRED_TEST_NAME, n, n, ma, mb, diff, stat, float(n - 1), p, diff, diff)
    res = sps.ttest_rel(xa, xb)
    h = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    return TestResult(PAIRED_TEST_NAME, n, n, ma, mb, diff, float(res.statistic), float(n - 1), float(res.pvalue),
                      diff - h, diff + h)


def paired_sample_size(sd_diff: float, delta: float, alpha: float = 0.05, power: float = 0.8,
                       max_n: int = 1_000_000) -> int | None:
    """Seed pairs so that a two-sided level-``alpha`` paired t-test detects a mean difference
    ``delta`` with probability ``power`` (normal formula refined with t quantiles)."""
    if not (math.isfinite(sd_diff) and math.isfinite(delta)) or delta == 0:
        return None
    if sd_diff == 0:
        return 2
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    n = max(2, math.ceil((z * sd_diff / delta) ** 2))
    for _ in range(20):
        t = sps.t.ppf(1 - alpha / 2, n - 1) + sps.t.ppf(power, n - 1)
        new = max(2, math.ceil((t * sd_diff / delta) ** 2))
        if new == n:
            break
        n = new
    return min(n, max_n)


def scenario_of(t: TestResult, alpha: float = 0.05, min_effect: float = 0.1) -> tuple[str, str, float]:
    """The rules of :func:`decide` applied to any test of errors ``a`` (full-graph arm) minus ``b``
    (cluster arm), lower is better: (scenario, why, margin) with scenario "A" | "B" |
    "inconclusive" and why one of "too few seeds", "full graph significantly better",
    "cluster significantly better", "negligible difference", "CI wider than the margin"."""
    margin = abs(t.mean_a) * min_effect if math.isfinite(t.mean_a) else math.nan
    if t.n_a < 2 or t.n_b < 2 or not math.isfinite(t.p_value):
        return "inconclusive", "too few seeds", margin
    if t.p_value < alpha:
        if t.diff < 0:
            return "B", "full graph significantly better", margin
        return "A", "cluster significantly better", margin
    if math.isfinite(margin) and t.ci_low >= -margin and t.ci_high <= margin:
        return "A", "negligible difference", margin
    return "inconclusive", "CI wider than the margin", margin


def ols_slope(x, y, confidence: float = 0.95) -> dict:
    """Least-squares line y = intercept + slope x: the slope, its standard error, its t-based CI
    (n − 2 df) and the two-sided p-value of slope == 0. Pairs with a non-finite value are dropped;
    fewer than 2 distinct x give NaN, exactly 2 points a slope without CI."""
    pts = [(float(u), float(v)) for u, v in zip(x, y)
           if u is not None and v is not None and math.isfinite(u) and math.isfinite(v)]
    n = len(pts)
    out = {"test": OLS_SLOPE_TEST, "n": n, "df": n - 2, "slope": math.nan, "intercept": math.nan,
           "stderr": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    xs = np.asarray([p[0] for p in pts], dtype=np.float64)
    ys = np.asarray([p[1] for p in pts], dtype=np.float64)
    if n < 2 or np.ptp(xs) == 0:
        return out
    if n == 2:
        slope = float((ys[1] - ys[0]) / (xs[1] - xs[0]))
        out.update(slope=slope, intercept=float(ys[0] - slope * xs[0]))
        return out
    res = sps.linregress(xs, ys)
    se = float(res.stderr)
    h = float(sps.t.ppf(0.5 + confidence / 2, n - 2) * se)
    p = float(res.pvalue) if se > 0 else (1.0 if res.slope == 0 else 0.0)
    out.update(slope=float(res.slope), intercept=float(res.intercept), stderr=se, ci_low=float(res.slope) - h,
               ci_high=float(res.slope) + h, p_value=p)
    return out


def interaction_test(x, y, group, confidence: float = 0.95) -> dict:
    """OLS fit y = b0 + b1 x + b2 g + b3 g x (g = 1 for one arm, 0 for the other) and the two-sided
    t-test of b3 == 0: b3 is how much faster y rises with x in the g = 1 arm, i.e. the slope of the
    gap (g = 1 minus g = 0) against x. Returns the coefficients, b3's standard error, t, df
    (n − 4), p-value and CI; NaN where the design is rank-deficient or df < 1."""
    rows = [(float(u), float(v), float(g)) for u, v, g in zip(x, y, group)
            if u is not None and v is not None and math.isfinite(u) and math.isfinite(v)]
    n = len(rows)
    out = {"test": INTERACTION_TEST_NAME, "n": n, "df": n - 4, "coef": [math.nan] * 4, "interaction": math.nan,
           "stderr": math.nan, "statistic": math.nan, "p_value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    if n < 4:
        return out
    xs = np.asarray([r[0] for r in rows])
    ys = np.asarray([r[1] for r in rows])
    gs = np.asarray([r[2] for r in rows])
    design = np.column_stack([np.ones(n), xs, gs, gs * xs])
    coef, _, rank, _ = np.linalg.lstsq(design, ys, rcond=None)
    if rank < 4:
        return out
    b3 = float(coef[3])
    out.update(coef=[float(c) for c in coef], interaction=b3)
    df = n - 4
    if df < 1:
        return out
    resid = ys - design @ coef
    sigma2 = float(resid @ resid) / df
    se = math.sqrt(sigma2 * float(np.linalg.inv(design.T @ design)[3, 3]))
    if se == 0.0:
        stat = 0.0 if b3 == 0 else math.copysign(math.inf, b3)
        out.update(stderr=0.0, statistic=stat, p_value=1.0 if b3 == 0 else 0.0, ci_low=b3, ci_high=b3)
        return out
    stat = b3 / se
    h = float(sps.t.ppf(0.5 + confidence / 2, df) * se)
    out.update(stderr=se, statistic=stat, p_value=float(2 * sps.t.sf(abs(stat), df)), ci_low=b3 - h, ci_high=b3 + h)
    return out
