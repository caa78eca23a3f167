"""
The statistics correlate stands on: rates with intervals, 2x2 association tests, risk ratios,
multiple-testing correction and "how many more runs".

Everything takes numpy arrays (or scalars) and works on many groups at once, because explain
tests tens of thousands of groups in one call.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

# Below this smallest expected cell count a 2x2 table gets Fisher's exact test, above it the
# chi-square test. Cochran's textbook rule says 5, but that rule is about the 5 % level: after a
# Benjamini-Hochberg correction over thousands of groups the decision is made in the far tail
# (p ~ 1e-5), where the chi-square approximation of a skewed count is anti-conservative by a
# factor of 100 at an expected count of 5 and still of 2 at 1000 (a Poisson tail five standard
# deviations out). The exact test is cheap (the hypergeometric survival function, vectorised),
# so it covers every table except the very large ones.
EXACT_BELOW_EXPECTED = 1000.0

# Added to every cell of a 2x2 table that has an empty cell before a risk ratio and its interval
# are computed (Haldane-Anscombe correction), so "3 of 3 failed here, 0 of 40 elsewhere" gets a
# finite ratio and interval instead of infinity.
CONTINUITY = 0.5


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(failures, n, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """
    Wilson score interval for a failure rate (two-sided).

    Parameters
    ----------
    failures, n
        Failure counts and trial counts, scalars or arrays of the same shape. ``n == 0`` gives
        the uninformative interval [0, 1].
    confidence
        Two-sided confidence level.

    Returns
    -------
    (lo, hi)
        Arrays (0-d for scalar input) of the interval bounds.

    Examples
    --------
    Newcombe (1998), Table I: 81 of 263 gives 0.2553 to 0.3662.

    >>> lo, hi = wilson_interval(81, 263)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    f = np.asarray(failures, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = f / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return lo, hi


def rate_upper_bound(failures, n, *, confidence: float = 0.95) -> np.ndarray:
    """
    One-sided exact (Clopper-Pearson) upper bound of a failure rate.

    With no failures it is ``1 - (1 - confidence) ** (1 / n)``: "0 failures in 40 runs: the
    failure rate is below 7.2 % at 95 % confidence".

    Examples
    --------
    >>> round(float(rate_upper_bound(0, 40)), 4)
    0.0722
    >>> round(float(rate_upper_bound(0, 59)), 4)
    0.0495
    """
    f = np.asarray(failures, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = stats.beta.ppf(confidence, f + 1, n - f)
    return np.where(f >= n, 1.0, np.where(n > 0, bound, 1.0))


def runs_needed(rate: float = 0.05, *, confidence: float = 0.95) -> int:
    """
    Runs of one configuration needed to tell a failure rate of `rate` from 0 %.

    The smallest n with ``(1 - rate) ** n <= 1 - confidence``: with that many runs a true rate
    of `rate` shows at least one failure with probability `confidence`, and if none shows, the
    exact upper bound of the rate is below `rate` (see :func:`rate_upper_bound`).

    Examples
    --------
    >>> runs_needed(0.05)
    59
    >>> runs_needed(0.01)
    299
    """
    if not 0 < rate < 1 or not 0 < confidence < 1:
        raise ValueError(f"rate and confidence must be in (0, 1), got {rate!r} and {confidence!r}")
    return math.ceil(math.log(1 - confidence) / math.log(1 - rate) - 1e-12)


def association_p_values(failures, support, total_failures, total) -> tuple[np.ndarray, np.ndarray]:
    """
    One-sided p-values that a group fails more often than the rest, for many groups at once.

    Each group gives the 2x2 table (failures, successes) inside the group against outside it.
    The alternative is "the group's failure rate is higher" (the question correlate asks; a group
    that fails less is the complement of one that fails more).

    Tables whose smallest expected cell count is below ``EXACT_BELOW_EXPECTED`` get Fisher's
    exact test, computed as the hypergeometric survival function (identical to
    ``scipy.stats.fisher_exact(..., alternative="greater")``, but vectorised); larger ones the
    chi-square test with Yates' correction, made one-sided through its signed square root.

    Parameters
    ----------
    failures, support
        Failures and observations inside each group (arrays of the same shape).
    total_failures, total
        Failures and observations overall (scalars or arrays broadcasting against them).

    Returns
    -------
    (p, exact)
        p-values, and a boolean array that is True where the exact test was used.

    Examples
    --------
    >>> p, exact = association_p_values([7], [10], [9], [30])
    >>> from scipy.stats import fisher_exact
    >>> bool(np.isclose(p[0], fisher_exact([[7, 3], [2, 18]], alternative="greater").pvalue))
    True
    """
    a = np.asarray(failures, dtype=float)
    n1 = np.asarray(support, dtype=float)
    k = np.broadcast_to(np.asarray(total_failures, dtype=float), a.shape)
    n = np.broadcast_to(np.asarray(total, dtype=float), a.shape)
    n2 = n - n1
    expected = np.minimum.reduce([n1 * k / n, n1 * (n - k) / n, n2 * k / n, n2 * (n - k) / n])
    exact = ~(expected >= EXACT_BELOW_EXPECTED)
    p = np.ones(a.shape)
    if exact.any():
        p[exact] = stats.hypergeom.sf(a[exact] - 1, n[exact], k[exact], n1[exact])
    big = ~exact
    if big.any():
        a_, n1_, k_, n_ = a[big], n1[big], k[big], n[big]
        n2_ = n_ - n1_
        e = n1_ * k_ / n_
        # Signed root of Pearson's chi-square with Yates' correction: (|O - E| - 1/2) / sd, the
        # sd from the margins, so z**2 is scipy.stats.chi2_contingency(correction=True)'s statistic.
        var = n1_ * n2_ * k_ * (n_ - k_) / n_**3
        d = a_ - e
        z = np.sign(d) * np.maximum(np.abs(d) - 0.5, 0.0) / np.sqrt(var)
        p[big] = stats.norm.sf(z)
    return np.clip(p, 0.0, 1.0), exact


def risk_ratio(a, b, c, d, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Risk ratio of the 2x2 table [[a, b], [c, d]] with its log-method confidence interval.

    ``a`` failures and ``b`` successes inside the group, ``c`` and ``d`` outside: the ratio is
    ``(a / (a + b)) / (c / (c + d))`` and the interval ``exp(log RR +- z * se)`` with
    ``se = sqrt(1/a - 1/(a+b) + 1/c - 1/(c+d))`` (Katz et al. 1978). A table with an empty cell
    gets ``CONTINUITY`` (0.5) added to all four cells first, for the ratio and the interval alike.

    Returns
    -------
    (ratio, lo, hi)

    Examples
    --------
    27 of 66 failing inside against 9 of 47 outside (the same figures as
    ``scipy.stats.contingency.relative_risk(27, 66, 9, 47)``):

    >>> rr, lo, hi = risk_ratio(27, 39, 9, 38)
    >>> round(float(rr), 2), round(float(lo), 2), round(float(hi), 2)
    (2.14, 1.11, 4.11)
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (a, b, c, d))
    a, b, c, d = np.broadcast_arrays(a, b, c, d)
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    shift = np.where(zero, CONTINUITY, 0.0)
    a, b, c, d = a + shift, b + shift, c + shift, d + shift
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (a / (a + b)) / (c / (c + d))
        se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    z = _z(confidence)
    log_rr = np.log(ratio)
    return ratio, np.exp(log_rr - z * se), np.exp(log_rr + z * se)


def benjamini_hochberg(p_values) -> np.ndarray:
    """
    Benjamini-Hochberg adjusted p-values (false discovery rate), NaN left as NaN.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.2]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out
