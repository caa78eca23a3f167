"""Correlate: explain failures by dimension and over time (issue #5)."""

from flakehunt.correlate.explain import Explanation, Finding, NumericComparison, Verdict, explain
from flakehunt.correlate.hypotheses import Hypothesis, rank_hypotheses
from flakehunt.correlate.label import ExpectedSequence, label_by_predicate, label_by_sequence
from flakehunt.correlate.run import CorrelationResult, correlate_case
from flakehunt.correlate.skew import SkewFinding, find_version_skew
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
    "CorrelationResult",
    "EventAlignment",
    "ExpectedSequence",
    "Explanation",
    "Finding",
    "HourOfDay",
    "Hypothesis",
    "NumericComparison",
    "SkewFinding",
    "Timeline",
    "Verdict",
    "association_p_values",
    "benjamini_hochberg",
    "choose_bucket",
    "correlate_case",
    "explain",
    "find_version_skew",
    "label_by_predicate",
    "label_by_sequence",
    "rank_hypotheses",
    "rate_upper_bound",
    "risk_ratio",
    "runs_needed",
    "timeline",
    "wilson_interval",
]
