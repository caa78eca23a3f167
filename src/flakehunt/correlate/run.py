"""`flakehunt correlate`: label, explain, timeline and hypotheses for one case, as one result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from rich.console import Group
from rich.table import Table
from rich.text import Text

from flakehunt.case import Case, record
from flakehunt.correlate.explain import Explanation, explain
from flakehunt.correlate.hypotheses import ErrorCounts, Evidence, Hypothesis, rank_hypotheses
from flakehunt.correlate.label import (
    ASSET_ATTRIBUTES,
    ASSET_TIMING,
    DEFAULT_FAILURE,
    LABEL,
    ExpectedSequence,
    asset_column,
    asset_paths,
    label_by_predicate,
    label_by_sequence,
    viewer_source,
    with_session_attributes,
)
from flakehunt.correlate.layers import trace_beacons
from flakehunt.correlate.skew import find_version_skew
from flakehunt.correlate.timeline import Timeline, timeline
from flakehunt.errors import FlakehuntError
from flakehunt.schema import PROBE_CONFIGURATION
from flakehunt.store import scan_dataset, scan_exchanges
from flakehunt.timeparse import window_text

LOG_DIMENSIONS = (
    "edge_pop", "pop_country", "geo_country", "geo_region", "asn", "ua_family", "ua_major",
    "os_family", "device_class", "cache_status", "status_class", "hour",
)  # fmt: skip
LOG_NUMERIC = ("time_taken_ms", "ttfb_ms", "bytes_sent", "age")
# `location` is the runner, for rounds from a run store (flakehunt watch, probe --store).
PROBE_DIMENSIONS = (*PROBE_CONFIGURATION, "location")
PROBE_NUMERIC = ("load_ms", "navigation_ms")
ASSET_DIMENSIONS = ("content_length", "etag", "cache_status")
MAX_DIMENSIONS_AT_ORDER_3 = 12
PROBE_MIN_SUPPORT = 3


BREAKDOWNS = (("edge_pop",), ("browser",), ("ua_family",), ("edge_pop", "browser"), ("edge_pop", "ua_family"))


@dataclass
class CorrelationResult:
    case_id: str
    labelling: dict[str, str]
    sets: dict[str, Explanation]
    hypotheses: list[Hypothesis]
    timeline: Timeline | None
    skew: list[dict[str, Any]] = field(default_factory=list)
    # set -> "edge_pop" / "edge_pop x browser" -> rows of {dimension values, observations, failures, rate}
    breakdown: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    beacons: dict[str, Any] | None = None  # where failed runs' beacons were lost (layers.py)

    @property
    def observations(self) -> int:
        return sum(result.observations for result in self.sets.values())

    @property
    def failures(self) -> int:
        return sum(result.failures for result in self.sets.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "observations": self.observations,
            "failures": self.failures,
            "labelling": self.labelling,
            "hypotheses": [h.to_dict() for h in self.hypotheses],
            "explanations": [
                {"set": name, **finding.to_dict()}
                for name, result in self.sets.items()
                for finding in result.explanations
            ],
            "sets": {name: result.to_dict() for name, result in self.sets.items()},
            "version_skew": self.skew,
            "beacons": self.beacons,
            "breakdown": self.breakdown,
            "timeline": self.timeline.to_dict() if self.timeline else None,
        }

    def __rich__(self) -> Group:
        parts: list[Any] = [
            Text(
                f"case {self.case_id}: {self.failures} failures in {self.observations} observations",
                style="fh.key",
            )
        ]
        for name, rule in self.labelling.items():
            parts.append(Text(f"  {name}: {rule}", style="fh.dim"))
        table = Table(title="hypotheses", header_style="fh.key")
        for column in ("confidence", "cause", "implicates", "next step"):
            table.add_column(column, overflow="fold")
        for h in self.hypotheses:
            implicates = ", ".join(f"{k}={v}" for k, v in h.implicates.items()) or "-"
            table.add_row(f"{h.confidence:.2f}", h.cause, implicates, h.next_step)
        parts.append(table)
        findings = [(name, f) for name, result in self.sets.items() for f in result.explanations][:10]
        if findings:
            explanation = Table(title="what separates failures from successes", header_style="fh.key")
            for column in (
                "set",
                "group",
                "failures/support",
                "rate",
                "outside",
                "risk ratio (95 % CI)",
                "p adj.",
            ):
                explanation.add_column(column)
            for name, f in findings:
                explanation.add_row(
                    name,
                    " & ".join(f"{k}={v}" for k, v in f.dimensions.items()),
                    f"{f.failures}/{f.support}",
                    f"{f.rate:.0%}",
                    f"{f.rate_outside:.0%}",
                    f"{f.risk_ratio:.1f} ({f.risk_ratio_ci[0]:.1f}–{f.risk_ratio_ci[1]:.1f})",
                    f"{f.p_adjusted:.1e}",
                )
            parts.append(explanation)
        return Group(*parts)


def correlate_case(
    case: Case,
    *,
    failure: str | None = None,
    expect: str | None = None,
    events: Sequence[tuple[datetime | str, str]] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    remember: bool = True,
) -> CorrelationResult:
    """
    Label failures, explain them by dimension, build the timeline and rank hypotheses.

    Parameters
    ----------
    failure
        SQL predicate over the normalized columns marking a failed exchange; default
        ``status >= 500 OR cache_status = 'error'``.
    expect
        An expected sequence (``"<anchor> -> <follow-up> within 30s"``); each anchor request is
        one observation, failed when its follow-up never came. Takes precedence over `failure`.
    events
        ``(when, label)`` pairs, e.g. deploys and purges, to align with the failure onset.
    remember
        Record the run in the journal and keep the rules in case.toml, so reports and later
        runs use them; off for the correlation a report makes for itself.

    Raises
    ------
    FlakehuntError
        A rule does not parse or names an unknown column; the case has no data at all.
    """
    sequence = ExpectedSequence.parse(expect) if expect else None
    exchanges = scan_exchanges(case, since=since, until=until)
    logs = exchanges.filter(pl.col("source") != "probe")
    sets: dict[str, Explanation] = {}
    observed_sets: dict[str, pl.LazyFrame] = {}
    labelling: dict[str, str] = {}
    observations_for_time: pl.LazyFrame | None = None

    source = viewer_source(logs)
    if source is not None:
        viewer = logs.filter(pl.col("source") == source)
        paths = asset_paths(viewer)
        if sequence is not None:
            observed = label_by_sequence(viewer, sequence)
            labelling["logs"] = f"{source} exchanges: expect {sequence}"
        else:
            observed = label_by_predicate(viewer, failure or DEFAULT_FAILURE)
            labelling["logs"] = f"{source} exchanges: failed when {failure or DEFAULT_FAILURE}"
        observed = with_session_attributes(_with_derived(observed), viewer, paths)
        dims, numeric = _present(
            observed, [*LOG_DIMENSIONS, *_asset_dims(paths)], [*LOG_NUMERIC, *_asset_timing(paths)]
        )
        sets["logs"] = _explain(observed, dims, numeric)
        observed_sets["logs"] = observed
        observations_for_time = observed

    runs = _probe_observations(case, exchanges)
    if runs is not None:
        dims, numeric = _present(
            runs, [*PROBE_DIMENSIONS, *_asset_dims(_probe_assets(exchanges))], PROBE_NUMERIC
        )
        # Probes are few by design (a handful of runs per configuration): exact tests on small groups.
        sets["probes"] = _explain(runs, dims, numeric, min_support=PROBE_MIN_SUPPORT)
        observed_sets["probes"] = runs
        labelling["probes"] = "probe runs: failed when a check failed (errors of the tool left out)"
        if observations_for_time is None and "ts" in runs.collect_schema().names():
            observations_for_time = runs

    if not sets and (since or until):
        raise FlakehuntError(
            f"case {case.id!r} has no exchanges or probe runs {window_text(since, until)}; "
            "widen --since/--until, or leave them out"
        )
    if not sets:
        raise FlakehuntError(
            f"case {case.id!r} has no exchanges or probe runs yet; "
            "run 'flakehunt ingest' or 'flakehunt probe' first"
        )
    evidence = _evidence(exchanges, logs, source, sets, observations_for_time, events)
    if runs is not None:
        evidence.beacons = trace_beacons(
            exchanges, scan_dataset(case, "probe_runs"), beacon=sequence.follow_up if sequence else None
        )
    result = CorrelationResult(
        case.id,
        labelling,
        sets,
        rank_hypotheses(evidence),
        evidence.timeline,
        [s.to_dict() for s in evidence.skew],
        {name: _breakdown(frame) for name, frame in observed_sets.items()},
        evidence.beacons,
    )
    if remember:
        _remember(case, result, failure=failure, expect=expect, events=events)
    return result


def _remember(case: Case, result: CorrelationResult, *, failure, expect, events) -> None:
    rules = {"failure": failure, "expect": expect, "events": [[str(when), what] for when, what in events]}
    if any(rules.values()):
        case.update_settings(correlate={key: value for key, value in rules.items() if value})
    top = result.hypotheses[0]
    record(
        case,
        "correlate",
        params=rules,
        outcome=f"{result.failures}/{result.observations} failed; top: {top.cause} ({top.confidence:.2f}) {top.summary}",
    )


def _evidence(exchanges, logs, source, sets, observations_for_time, events) -> Evidence:
    viewer_facing = exchanges.filter(pl.col("source") != "origin")
    assets = asset_paths(viewer_facing)
    pages = _page_paths(viewer_facing)
    pop_countries = dict(
        exchanges.filter(pl.col("edge_pop").is_not_null() & pl.col("pop_country").is_not_null())
        .select("edge_pop", "pop_country")
        .unique("edge_pop")
        .collect()
        .iter_rows()
    )
    origin = logs.filter(pl.col("source") == "origin")
    errors = ErrorCounts.of(logs.filter(pl.col("source") == source), origin) if source else None
    time = None
    if observations_for_time is not None:
        time = timeline(observations_for_time.select("ts", LABEL), events=events)
    return Evidence(
        sets=sets,
        skew=find_version_skew(exchanges, assets),
        page_skew=find_version_skew(exchanges, pages),
        errors=errors,
        timeline=time,
        pop_countries=pop_countries,
    )


def _breakdown(observed: pl.LazyFrame) -> dict[str, list[dict[str, Any]]]:
    """Failure counts by edge and by browser, and by the two together, for tables and heatmaps."""
    names = set(observed.collect_schema().names())
    queries = {
        " x ".join(dims): observed.group_by(list(dims))
        .agg(pl.len().alias("observations"), pl.col(LABEL).sum().alias("failures"))
        .with_columns((pl.col("failures") / pl.col("observations")).alias("rate"))
        .sort(list(dims))
        for dims in BREAKDOWNS
        if set(dims) <= names
    }
    frames = pl.collect_all(list(queries.values()))
    return {key: frame.to_dicts() for key, frame in zip(queries, frames, strict=True)}


def _with_derived(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(
        pl.concat_str([(pl.col("status") // 100).cast(pl.String), pl.lit("xx")]).alias("status_class"),
        pl.col("ts").dt.hour().alias("hour"),
    )


def _asset_dims(paths: list[str]) -> list[str]:
    return [asset_column(p, a) for p in paths for a in ASSET_DIMENSIONS if a in ASSET_ATTRIBUTES]


def _asset_timing(paths: list[str]) -> list[str]:
    return [asset_column(p, ASSET_TIMING) for p in paths]


def _present(frame: pl.LazyFrame, dims: list[str], numeric: list[str]) -> tuple[list[str], list[str]]:
    """The dimensions that exist and vary (a column with one value explains nothing)."""
    names = frame.collect_schema().names()
    dims = [d for d in dict.fromkeys(dims) if d in names]
    numeric = [n for n in dict.fromkeys(numeric) if n in names]
    if not dims:
        return [], numeric
    distinct = frame.select([pl.col(d).n_unique() for d in dims]).collect().row(0)
    return [d for d, n in zip(dims, distinct, strict=True) if n > 1], numeric


def _explain(
    frame: pl.LazyFrame, dims: list[str], numeric: list[str], *, min_support: int = 5
) -> Explanation:
    order = 3 if len(dims) <= MAX_DIMENSIONS_AT_ORDER_3 else 2
    return explain(
        frame, label=LABEL, dimensions=dims, numeric=numeric, max_order=order, min_support=min_support
    )


def _page_paths(exchanges: pl.LazyFrame, limit: int = 3) -> list[str]:
    pages = (
        exchanges.filter(pl.col("content_type").str.starts_with("text/html") & (pl.col("status") == 200))
        .group_by("path")
        .len()
        .sort(["len", "path"], descending=[True, False])
        .head(limit)
        .collect()
    )
    return pages["path"].to_list()


def _probe_assets(exchanges: pl.LazyFrame) -> list[str]:
    return asset_paths(exchanges.filter(pl.col("source") == "probe"))


def _probe_observations(case: Case, exchanges: pl.LazyFrame) -> pl.LazyFrame | None:
    runs = scan_dataset(case, "probe_runs")
    names = runs.collect_schema().names()
    if "outcome" not in names:
        return None
    runs = runs.filter(pl.col("outcome") != "error").with_columns((pl.col("outcome") == "fail").alias(LABEL))
    if "ts" not in names:
        started = next((c for c in ("started", "started_at", "start") if c in names), None)
        if started:
            runs = runs.with_columns(pl.col(started).alias("ts"))
    if "run_id" in names:
        runs = runs.rename({"run_id": "session"}) if "session" not in names else runs
        probe_exchanges = exchanges.filter(pl.col("source") == "probe")
        runs = with_session_attributes(runs, probe_exchanges, _probe_assets(exchanges))
    return runs
