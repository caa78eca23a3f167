"""Correlate: explain failures by dimension and over time (issue #5)."""

from flakehunt.correlate.explain import Explanation, Finding, NumericComparison, Verdict, explain
from flakehunt.correlate.stats import (
    association_p_values,
    benjamini_hochberg,
    rate_upper_bound,
    risk_ratio,
    runs_needed,
    wilson_interval,
)

__all__ = [
    "Explanation",
    "Finding",
    "NumericComparison",
    "Verdict",
    "association_p_values",
    "benjamini_hochberg",
    "explain",
    "rate_upper_bound",
    "risk_ratio",
    "runs_needed",
    "wilson_interval",
]
