"""The statistics of correlate, checked against textbook values and scipy's own tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from flakehunt.correlate.stats import (
    association_p_values,
    benjamini_hochberg,
    rate_upper_bound,
    risk_ratio,
    runs_needed,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("failures", "n", "lo", "hi"),
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3.
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_interval_matches_newcombe(failures, n, lo, hi):
    got_lo, got_hi = wilson_interval(failures, n)
    assert (round(float(got_lo), 4), round(float(got_hi), 4)) == (lo, hi)


def test_wilson_interval_is_vectorised_and_handles_empty_groups():
    lo, hi = wilson_interval(np.array([81, 0]), np.array([263, 0]))
    assert lo.tolist()[1] == 0.0 and hi.tolist()[1] == 1.0
    assert round(float(lo[0]), 4) == 0.2553


def test_zero_failures_in_40_bounds_the_rate_below_7_2_percent():
    assert float(rate_upper_bound(0, 40)) == pytest.approx(1 - 0.05 ** (1 / 40))
    assert round(float(rate_upper_bound(0, 40)), 3) == 0.072


@pytest.mark.parametrize(("failures", "n"), [(1, 20), (3, 40), (17, 90)])
def test_upper_bound_is_the_one_sided_clopper_pearson_bound(failures, n):
    # The two-sided 90 % exact interval's upper end is the one-sided 95 % bound.
    expected = stats.binomtest(failures, n).proportion_ci(confidence_level=0.90, method="exact").high
    assert float(rate_upper_bound(failures, n)) == pytest.approx(expected)


def test_runs_needed_to_tell_5_percent_from_0():
    assert runs_needed(0.05) == 59
    assert float(rate_upper_bound(0, 59)) < 0.05 < float(rate_upper_bound(0, 58))
    assert runs_needed(0.05, confidence=0.99) == 90  # ceil(log 0.01 / log 0.95) = ceil(89.8)
    with pytest.raises(ValueError, match="rate and confidence"):
        runs_needed(0.0)


def test_small_tables_get_fishers_exact_test():
    rng = np.random.default_rng(7)
    a, b, c, d = (rng.integers(0, 12, 200) for _ in range(4))
    p, exact = association_p_values(a, a + b, a + c, a + b + c + d)
    assert exact.all()
    expected = [
        stats.fisher_exact([[ai, bi], [ci, di]], alternative="greater").pvalue
        for ai, bi, ci, di in zip(a, b, c, d, strict=True)
    ]
    np.testing.assert_allclose(p, expected, rtol=1e-9)


def test_large_tables_get_the_one_sided_yates_chi_square():
    table = np.array([[2400, 9600], [15000, 120000]])
    p, exact = association_p_values(table[0, 0], table[0].sum(), table[:, 0].sum(), table.sum())
    assert not exact.any()
    two_sided = stats.chi2_contingency(table, correction=True).pvalue
    assert float(p) == pytest.approx(two_sided / 2, rel=1e-6)


def test_a_group_failing_less_is_not_significant():
    p, _ = association_p_values([0], [50], [30], [100])
    assert float(p[0]) == 1.0


def test_risk_ratio_matches_scipy_relative_risk():
    rr, lo, hi = risk_ratio(27, 39, 9, 38)
    result = stats.contingency.relative_risk(27, 66, 9, 47)
    ci = result.confidence_interval(confidence_level=0.95)
    assert (float(rr), float(lo), float(hi)) == pytest.approx((result.relative_risk, ci.low, ci.high))


def test_risk_ratio_with_an_empty_cell_adds_one_half_to_every_cell():
    rr, lo, hi = risk_ratio(3, 0, 0, 40)
    assert float(rr) == pytest.approx((3.5 / 4) / (0.5 / 41))
    assert np.isfinite([lo, hi]).all() and float(lo) > 1


def test_benjamini_hochberg_on_the_papers_example():
    # Benjamini & Hochberg (1995), section 4: 15 p-values, q = 0.05 rejects the four smallest.
    p = [
        0.0001,
        0.0004,
        0.0019,
        0.0095,
        0.0201,
        0.0278,
        0.0298,
        0.0344,
        0.0459,
        0.3240,
        0.4262,
        0.5719,
        0.6528,
        0.7590,
        1.000,
    ]
    adjusted = benjamini_hochberg(p)
    assert int((adjusted < 0.05).sum()) == 4
    assert np.isnan(benjamini_hochberg([0.01, np.nan])[1])
