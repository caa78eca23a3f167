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
from flakehunt.correlate.timeline import (
    ChangePoint,
    EventAlignment,
    HourOfDay,
    Timeline,
    choose_bucket,
    timeline,
)

__all__ = [
    "ChangePoint",
    "EventAlignment",
    "Explanation",
    "Finding",
    "HourOfDay",
    "NumericComparison",
    "Timeline",
    "Verdict",
    "association_p_values",
    "benjamini_hochberg",
    "choose_bucket",
    "explain",
    "rate_upper_bound",
    "risk_ratio",
    "runs_needed",
    "timeline",
    "wilson_interval",
]
