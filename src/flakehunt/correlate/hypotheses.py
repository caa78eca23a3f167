"""
Hypotheses: turn explanations, version skew, error counts and the timeline into named causes.

Each cause of `causes.toml` has one rule function here that reads the evidence and returns
hypotheses with a confidence in [0, 1]. Confidence is built from the same numbers the
explanation reports — adjusted p-value, the lower bound of the risk ratio, and the share of all
failures the group covers — so a cause is never confident on noise: a group must first pass
the Benjamini-Hochberg-corrected test to count at all.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import polars as pl

from flakehunt.correlate.explain import Explanation, Finding, NumericComparison, Verdict
from flakehunt.correlate.label import asset_column
from flakehunt.correlate.skew import SkewFinding
from flakehunt.correlate.stats import association_p_values
from flakehunt.correlate.timeline import Timeline

CAUSES: dict[str, dict[str, Any]] = tomllib.loads(
    resources.files("flakehunt.correlate").joinpath("causes.toml").read_text()
)
CONFIDENT = 0.5


@dataclass
class Hypothesis:
    cause: str
    confidence: float
    implicates: dict[str, Any]
    evidence: dict[str, Any]
    next_step: str
    summary: str

    @property
    def title(self) -> str:
        return CAUSES[self.cause]["title"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "confidence": round(self.confidence, 3),
            "title": self.title,
            "summary": self.summary,
            "implicates": self.implicates,
            "evidence": self.evidence,
            "next_step": self.next_step,
        }


@dataclass
class ErrorCounts:
    """Status counts of viewer-facing exchanges, the evidence for edge, origin and rate faults."""

    by_edge: pl.DataFrame  # edge_pop, requests, errors (5xx)
    by_cache: pl.DataFrame  # cache_status, requests, errors
    by_client: pl.DataFrame  # client_ip, asn, requests, limited (429)
    origin: pl.DataFrame  # status, requests: the 5xx answers origin itself logged

    @classmethod
    def of(cls, viewer: pl.LazyFrame, origin: pl.LazyFrame) -> ErrorCounts:
        error = (pl.col("status") >= 500) | (pl.col("cache_status") == "error")
        counts = [pl.len().alias("requests"), error.fill_null(False).sum().alias("errors")]
        by_edge = viewer.filter(pl.col("edge_pop").is_not_null()).group_by("edge_pop").agg(counts)
        by_cache = viewer.group_by("cache_status").agg(counts)
        by_client = viewer.group_by("client_ip", "asn").agg(
            pl.len().alias("requests"), (pl.col("status") == 429).fill_null(False).sum().alias("limited")
        )
        origin_errors = (
            origin.filter(pl.col("status") >= 500).group_by("status").agg(pl.len().alias("requests"))
        )
        return cls(*pl.collect_all([by_edge, by_cache, by_client, origin_errors]))


@dataclass
class Evidence:
    """Everything the rules read; any part may be missing (no logs, no probes)."""

    sets: dict[str, Explanation]  # "logs", "probes"
    skew: list[SkewFinding] = field(default_factory=list)
    page_skew: list[SkewFinding] = field(default_factory=list)  # documents that differ by edge
    errors: ErrorCounts | None = None
    timeline: Timeline | None = None
    pop_countries: dict[str, str] = field(default_factory=dict)
    beacons: dict[str, Any] | None = None  # layers.trace_beacons

    def findings(self) -> list[tuple[str, Finding, Explanation]]:
        return [(name, f, result) for name, result in self.sets.items() for f in result.explanations]


def score(finding: Finding, result: Explanation) -> float:
    """
    Confidence that `finding` is the cause, from significance, effect size and coverage.

    >>> from flakehunt.correlate.explain import Finding, Verdict
    >>> strong = Finding(
    ...     {"edge_pop": "X"}, 60, 54, 0.9, 0.02, 45.0, (20.0, 90.0), 1e-30, 1e-28, Verdict.SIGNIFICANT
    ... )
    >>> round(score(strong, type("R", (), {"failures": 60})()), 2)
    0.97
    """
    if finding.verdict is not Verdict.SIGNIFICANT:
        return 0.0
    p = finding.p_adjusted
    significance = 1.0 if p < 1e-3 else 0.8 if p < 1e-2 else 0.6
    effect = min(1.0, math.log2(max(finding.risk_ratio_ci[0], 1.0)) / 3)
    coverage = finding.failures / result.failures if result.failures else 0.0
    return min(0.99, significance * (0.4 + 0.3 * effect + 0.3 * coverage))


def _best(
    evidence: Evidence, dims: set[str], *, only: dict | None = None, never: dict | None = None
) -> tuple[str, Finding, float] | None:
    """The highest-scoring finding using only `dims`, with values allowed by `only` / `never`."""

    def allowed(finding: Finding) -> bool:
        for key, value in finding.dimensions.items():
            if only and key in only and str(value) not in only[key]:
                return False
            if never and key in never and str(value) in never[key]:
                return False
        return set(finding.dimensions) <= dims

    candidates = [(name, f, score(f, result)) for name, f, result in evidence.findings() if allowed(f)]
    return max(candidates, key=lambda c: c[2], default=None)


def _describe(dimensions: dict[str, Any]) -> str:
    return " and ".join(f"{key}={value}" for key, value in dimensions.items())


def _make(cause: str, confidence: float, implicates: dict, evidence: dict, **words: Any) -> Hypothesis:
    rule = CAUSES[cause]
    fill = {**implicates, "description": _describe(implicates), **words}
    return Hypothesis(
        cause,
        confidence,
        implicates,
        evidence,
        rule["next_step"].format_map(_Missing(fill)),
        rule["summary"].format_map(_Missing(fill)),
    )


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


# -- one rule per cause ---------------------------------------------------------------------------


def stale_cache(evidence: Evidence) -> list[Hypothesis]:
    """One hypothesis per (edge, path), however many sources (logs, probes, HAR) showed the skew."""
    by_target: dict[tuple[str, str], Hypothesis] = {}
    for hypothesis in _stale_per_source(evidence):
        key = (hypothesis.implicates["edge_pop"], hypothesis.implicates["path"])
        kept = by_target.get(key)
        if kept is None:
            hypothesis.evidence["seen_in"] = [hypothesis.evidence["version_skew"]["source"]]
            by_target[key] = hypothesis
            continue
        kept.evidence["seen_in"].append(hypothesis.evidence["version_skew"]["source"])
        kept.evidence.setdefault("also", []).append(hypothesis.evidence)
        kept.confidence = min(0.99, max(kept.confidence, hypothesis.confidence) + 0.02)
    return list(by_target.values())


def _stale_per_source(evidence: Evidence) -> list[Hypothesis]:
    rule, out = CAUSES["stale_cache"], []
    for skew in evidence.skew:
        dims = {"edge_pop", asset_column(skew.path, "content_length"), asset_column(skew.path, "etag")}
        best = _best(evidence, dims)
        confidence = rule["skew_alone_confidence"]
        support: dict[str, Any] = {"version_skew": skew.to_dict()}
        if best and _implicates_edge_or_version(best[1], skew):
            confidence = min(0.99, max(confidence, best[2]) + 0.05)
            support["failures"] = {"set": best[0], **best[1].to_dict()}
        out.append(_make("stale_cache", confidence, {"edge_pop": skew.edge_pop, "path": skew.path}, support))
    return out


def _implicates_edge_or_version(finding: Finding, skew: SkewFinding) -> bool:
    values = {str(v) for v in finding.dimensions.values()}
    return skew.edge_pop in values or skew.served_version.removesuffix(" bytes") in values


def edge_fault(evidence: Evidence) -> list[Hypothesis]:
    stale_edges = {s.edge_pop for s in evidence.skew}
    best = _best(evidence, {"edge_pop"})
    if not best or best[1].dimensions["edge_pop"] in stale_edges:
        return []
    name, finding, confidence = best
    edge = finding.dimensions["edge_pop"]
    support: dict[str, Any] = {"failures": {"set": name, **finding.to_dict()}}
    errors = _edge_error_test(evidence, edge)
    if errors is not None:
        support["errors"] = errors
    if errors is None or errors["p_value"] >= 0.01:
        if any(s.edge_pop == edge for s in evidence.page_skew):
            return []  # the page itself differs at this edge: geo_specific reads that
        confidence *= CAUSES["edge_fault"]["without_errors"]
    return [_make("edge_fault", confidence, {"edge_pop": edge}, support)]


def _edge_error_test(evidence: Evidence, edge: str) -> dict[str, Any] | None:
    if evidence.errors is None or evidence.errors.by_edge.is_empty():
        return None
    table = evidence.errors.by_edge
    inside = table.filter(pl.col("edge_pop") == edge)
    if inside.is_empty():
        return None
    n, f = int(inside["requests"][0]), int(inside["errors"][0])
    total, total_f = int(table["requests"].sum()), int(table["errors"].sum())
    p, _ = association_p_values([f], [n], total_f, total)
    return {
        "edge_errors": f,
        "edge_requests": n,
        "other_errors": total_f - f,
        "other_requests": total - n,
        "p_value": float(p[0]),
    }


def origin_fault(evidence: Evidence) -> list[Hypothesis]:
    """Errors at most edges, none of them standing out, and origin itself logging 5xx."""
    if evidence.errors is None or evidence.errors.by_edge.is_empty():
        return []
    edges = evidence.errors.by_edge
    errors = int(edges["errors"].sum())
    if errors == 0:
        return []
    spread = edges.filter(pl.col("errors") > 0).height / edges.height
    if spread < CAUSES["origin_fault"]["min_edge_share"]:
        return []
    worst = edges.sort("errors", descending=True)["edge_pop"][0]
    worst_test = _edge_error_test(evidence, worst)
    if worst_test and worst_test["p_value"] < 1e-3:
        return []  # one edge stands out: edge_fault reads that
    origin = evidence.errors.origin
    origin_errors = int(origin["requests"].sum()) if not origin.is_empty() else 0
    hits = {r["cache_status"]: r for r in evidence.errors.by_cache.iter_rows(named=True)}.get("hit")
    hit_error_rate = hits["errors"] / hits["requests"] if hits and hits["requests"] else 0.0
    error_rate = errors / int(edges["requests"].sum())
    failures = sum(result.failures for result in evidence.sets.values())
    # Errors must be able to explain a real share of the failures, not be background noise.
    weight = min(1.0, errors / failures) if failures else 0.0
    best = _best(evidence, {"cache_status", "status_class"})
    if weight < CAUSES["origin_fault"]["min_failure_share"] and not best:
        return []
    confidence = 0.35 + 0.2 * spread + (0.2 if origin_errors else 0.0) + 0.2 * weight
    confidence += 0.05 if hit_error_rate < error_rate / 4 else 0.0
    if best:
        confidence = max(confidence, best[2])
    implicates: dict[str, Any] = {"source": "origin"}
    if origin_errors:
        implicates["status"] = int(origin.sort("requests", descending=True)["status"][0])
    support = {
        "errors_at_edges": errors,
        "edges_with_errors": edges.filter(pl.col("errors") > 0).height,
        "edges": edges.height,
        "origin_5xx": origin_errors,
        "hit_error_rate": hit_error_rate,
        "error_rate": error_rate,
    }
    return [_make("origin_fault", min(confidence, 0.97), implicates, support)]


def _dimension_rule(cause: str) -> Callable[[Evidence], list[Hypothesis]]:
    """A cause named by its own dimensions (browser, blocker, region, network)."""

    spec = CAUSES[cause]

    def rule(evidence: Evidence) -> list[Hypothesis]:
        best = _best(evidence, set(spec["dimensions"]), only=spec.get("only"), never=spec.get("never"))
        if not best:
            return []
        name, finding, confidence = best
        return [
            _make(
                cause, confidence, dict(finding.dimensions), {"failures": {"set": name, **finding.to_dict()}}
            )
        ]

    rule.__name__ = cause
    return rule


_browser_by_dimension = _dimension_rule("browser_specific")
_blocking_by_dimension = _dimension_rule("client_blocking")


def _desktop_finding(evidence: Evidence) -> Finding | None:
    best = _best(evidence, {"device_class"}, only={"device_class": ["desktop"]})
    return best[1] if best else None


def browser_specific(evidence: Evidence) -> list[Hypothesis]:
    found = _browser_by_dimension(evidence)
    desktop = _desktop_finding(evidence)
    if found and desktop:
        # Every desktop family failing about equally is not one browser's bug.
        ratio = CAUSES["browser_specific"]["subsumed_by_desktop"]
        rate = found[0].evidence["failures"]["rate"]
        if found[0].evidence["failures"]["set"] == "logs" and rate < ratio * desktop.rate:
            found[0].confidence *= 0.5
    return found


def client_blocking(evidence: Evidence) -> list[Hypothesis]:
    found = _blocking_by_dimension(evidence)
    beacons = evidence.beacons or {}
    blocked = beacons.get("layers", {}).get("blocked in the browser", 0)
    if blocked and blocked * 2 >= beacons["failed_runs"]:
        # The browser itself refused to send the beacon in most failed runs.
        share = blocked / beacons["failed_runs"]
        for hypothesis in found:
            hypothesis.evidence["beacons"] = beacons
            hypothesis.confidence = max(hypothesis.confidence, 0.6 + 0.35 * share)
        if not found:
            found.append(
                _make(
                    "client_blocking",
                    0.5 + 0.3 * share,
                    {"layer": "browser"},
                    {"beacons": beacons},
                    description="the beacon is sent",
                )
            )
    for hypothesis in found:
        if "blocker" not in hypothesis.implicates:
            hypothesis.confidence *= CAUSES["client_blocking"]["from_logs_alone"]
        elif str(hypothesis.implicates["blocker"]) in {"off", "none", "False"}:
            hypothesis.confidence = 0.0
    return [h for h in found if h.confidence > 0]


_geo_by_dimension = _dimension_rule("geo_specific")


def geo_specific(evidence: Evidence) -> list[Hypothesis]:
    found = _geo_by_dimension(evidence)
    stale_edges = {s.edge_pop for s in evidence.skew}
    # Probes reach each region through its edge: the page itself differing at a failing edge,
    # with no stale asset, is origin varying content by the viewer's country.
    best = _best(evidence, {"edge_pop"})
    if best and best[1].dimensions["edge_pop"] not in stale_edges:
        edge = best[1].dimensions["edge_pop"]
        for page in evidence.page_skew:
            if page.edge_pop == edge:
                country = evidence.pop_countries.get(edge, "the region of edge " + edge)
                support = {"page_versions": page.to_dict(), "failures": {"set": best[0], **best[1].to_dict()}}
                found.append(
                    _make(
                        "geo_specific",
                        best[2],
                        {"pop_country": country, "edge_pop": edge},
                        support,
                        description=f"{country} (edge {edge})",
                    )
                )
                break
    return found


def deploy_regression(evidence: Evidence) -> list[Hypothesis]:
    timeline = evidence.timeline
    if timeline is None or timeline.onset is None or not timeline.events:
        return []
    nearest = timeline.nearest_event
    if nearest is None or nearest.p_value is None or nearest.p_value >= 0.01:
        return []
    bucket_seconds = _bucket_seconds(timeline.bucket)
    if abs(nearest.onset_offset_seconds) > CAUSES["deploy_regression"]["max_offset_buckets"] * bucket_seconds:
        return []
    # Across all dimensions: no single non-version dimension value holds most failures.
    for _, finding, result in evidence.findings():
        dimension = next(iter(finding.dimensions))
        concentrated = finding.failures > 0.5 * result.failures and finding.rate_outside < 0.5 * finding.rate
        if finding.order == 1 and not _is_version_or_time(dimension) and concentrated:
            return []
    onset = timeline.onset
    confidence = min(0.95, 0.6 + 0.35 * min(1.0, -math.log10(max(nearest.p_value, 1e-12)) / 12))
    support = {"onset": onset.to_dict(), "event": nearest.to_dict()}
    return [_make("deploy_regression", confidence, {"event": nearest.label}, support, event=nearest.label)]


def _is_version_or_time(name: str) -> bool:
    """A new asset version everywhere, or the hour, is what a deploy looks like, not a competing cause."""
    return name == "hour" or name.endswith((" content_length", " etag"))


def _bucket_seconds(bucket: str) -> int:
    return int(bucket[:-1]) * {"m": 60, "h": 3600, "d": 86400}[bucket[-1]]


_network_by_dimension = _dimension_rule("network_timing")


def network_timing(evidence: Evidence) -> list[Hypothesis]:
    found = _network_by_dimension(evidence)
    min_effect = CAUSES["network_timing"]["min_effect"]
    slow: list[tuple[str, NumericComparison]] = [
        (name, n)
        for name, result in evidence.sets.items()
        for n in result.numeric
        if n.verdict is Verdict.SIGNIFICANT and (n.effect or 0) >= min_effect and "time" in n.dimension
    ]
    for name, comparison in slow:
        confidence = min(
            0.95, 0.5 + 0.45 * (comparison.effect - 0.5) * 2 * (1 if comparison.p_adjusted < 1e-3 else 0.7)
        )
        found.append(
            _make(
                "network_timing",
                confidence,
                {comparison.dimension: f"> {comparison.median_passed:g}"},
                {"timing": {"set": name, **comparison.to_dict()}},
                description=f"{comparison.dimension} is high (median {comparison.median_failed:g} "
                f"for failures vs {comparison.median_passed:g})",
            )
        )
    return found


def rate_limited(evidence: Evidence) -> list[Hypothesis]:
    if evidence.errors is None:
        return []
    clients = evidence.errors.by_client.sort("limited", descending=True)
    limited = int(clients["limited"].sum())
    if limited == 0:
        return []
    top = clients.head(5).filter(pl.col("limited") > 0)
    concentration = int(top["limited"].sum()) / limited
    if concentration < CAUSES["rate_limited"]["min_concentration"]:
        return []
    total = int(clients["requests"].sum())
    failures = sum(result.failures for result in evidence.sets.values())
    # As many refusals as failures is what makes the limit the cause, not just present.
    weight = min(1.0, limited / failures) if failures else 0.0
    confidence = min(0.95, 0.5 + 0.25 * concentration + 0.25 * weight)
    asns = sorted({a for a in top["asn"].to_list() if a is not None})
    implicates: dict[str, Any] = {"client_ip": top["client_ip"].to_list()}
    if len(asns) == 1:
        implicates["asn"] = asns[0]
    support = {"responses_429": limited, "from_top_clients": int(top["limited"].sum()), "requests": total}
    return [
        _make(
            "rate_limited",
            confidence,
            implicates,
            support,
            description=f"{len(top)} client(s)" + (f" in AS{asns[0]}" if len(asns) == 1 else ""),
        )
    ]


RULES: list[Callable[[Evidence], list[Hypothesis]]] = [
    stale_cache,
    edge_fault,
    origin_fault,
    browser_specific,
    client_blocking,
    geo_specific,
    deploy_regression,
    network_timing,
    rate_limited,
]


def rank_hypotheses(evidence: Evidence) -> list[Hypothesis]:
    """Every rule's hypotheses, strongest first; `none` leads when no cause is confident."""
    found = [h for rule in RULES for h in rule(evidence)]
    found.sort(key=lambda h: h.confidence, reverse=True)
    strongest = found[0].confidence if found else 0.0
    if strongest < CONFIDENT:
        examined = {name: result.examined for name, result in evidence.sets.items()}
        observations = {
            name: [result.observations, result.failures] for name, result in evidence.sets.items()
        }
        none = _make(
            "none", 1.0 - strongest, {}, {"examined": examined, "observations_failures": observations}
        )
        found.insert(0, none)
    return found
