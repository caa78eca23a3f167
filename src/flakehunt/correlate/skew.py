"""
Version skew: an edge still serving an old version of an asset is a finding by itself.

No failure rule is needed. For each cacheable path, the version each edge served (its ETag,
else content hash, else content length — CloudFront's standard logs carry only the length) is
compared, after the current version first appeared, with what origin serves or, without origin
data, with what most edges serve. On real traffic this is often the clearest signal: a stale
script barely moves a status-code failure rate, but it changes the script's size at one edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

VERSION = "version"


@dataclass
class SkewFinding:
    """Edge `edge_pop` served `path` in an old version after the current one was live."""

    path: str
    edge_pop: str
    source: str  # which data showed it: cdn, har or probe
    served_version: str
    current_version: str
    reference: str  # "origin" or "majority of edges"
    stale_responses: int  # responses of the old version at this edge after the current one appeared
    edge_responses: int  # all responses of this path at this edge in that time
    other_edges: int  # edges serving the current version
    last_seen: str
    example_request_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _versioned(exchanges: pl.LazyFrame) -> pl.LazyFrame:
    return (
        exchanges.filter(
            (pl.col("status") == 200) & pl.col("path").is_not_null() & pl.col("ts").is_not_null()
        )
        .with_columns(
            pl.coalesce(
                pl.col("etag"),
                pl.col("content_hash"),
                pl.format("{} bytes", pl.col("content_length")),
            ).alias(VERSION)
        )
        .filter(pl.col(VERSION).is_not_null())
    )


def find_version_skew(exchanges: pl.LazyFrame, paths: list[str]) -> list[SkewFinding]:
    """
    Edges that served an old version of any of `paths` after the current version appeared.

    The current version is origin's latest, or, without origin data, the one most edges served
    last. Findings are sorted by the number of stale responses.
    """
    findings: list[SkewFinding] = []
    data = (
        _versioned(exchanges.filter(pl.col("path").is_in(paths)))
        .select("ts", "source", "path", "edge_pop", VERSION, "request_id")
        .collect()
    )
    origin = data.filter(pl.col("source") == "origin")
    # Each source names versions its own way (CDN logs by size, probes by ETag): compare within one.
    for source in sorted(set(data["source"].drop_nulls()) - {"origin"}):
        for path in paths:
            rows = pl.concat(
                [
                    data.filter((pl.col("source") == source) & (pl.col("path") == path)),
                    origin.filter(pl.col("path") == path),
                ]
            )
            findings.extend(_skew_of(rows, path, source))
    return sorted(findings, key=lambda f: f.stale_responses, reverse=True)


def _skew_of(rows: pl.DataFrame, path: str, source: str) -> list[SkewFinding]:
    findings: list[SkewFinding] = []
    current, reference = _current_version(rows)
    if current is None:
        return findings
    since = rows.filter(pl.col(VERSION) == current)["ts"].min()
    at_edges = rows.filter(pl.col("edge_pop").is_not_null() & (pl.col("ts") >= since))
    per_edge = at_edges.group_by("edge_pop").agg(
        pl.len().alias("responses"),
        (pl.col(VERSION) != current).sum().alias("stale"),
        pl.col(VERSION).filter(pl.col(VERSION) != current).mode().first().alias("served"),
        pl.col("ts").max().alias("last_seen"),
        pl.col(VERSION).sort_by("ts").last().alias("latest"),
        pl.col("request_id").filter(pl.col(VERSION) != current).drop_nulls().head(3).alias("examples"),
    )
    current_edges = per_edge.filter(pl.col("stale") < pl.col("responses")).height
    # Still stale at the end: an edge that caught up late during a rollout is not a finding.
    for row in per_edge.filter(pl.col("latest") != current).iter_rows(named=True):
        findings.append(
            SkewFinding(
                path=path,
                edge_pop=row["edge_pop"],
                source=source,
                served_version=row["served"],
                current_version=current,
                reference=reference,
                stale_responses=row["stale"],
                edge_responses=row["responses"],
                other_edges=current_edges,
                last_seen=row["last_seen"].isoformat(),
                example_request_ids=row["examples"],
            )
        )
    return findings


def _current_version(rows: pl.DataFrame) -> tuple[str | None, str]:
    origin = rows.filter(pl.col("source") == "origin").sort("ts")
    if origin.height:
        return origin[VERSION][-1], "origin"
    latest_per_edge = (
        rows.filter(pl.col("edge_pop").is_not_null())
        .sort("ts")
        .group_by("edge_pop")
        .agg(pl.col(VERSION).last())
    )
    if latest_per_edge.height < 2:
        return None, ""
    counts = latest_per_edge.group_by(VERSION).len().sort(["len", VERSION], descending=[True, False])
    if counts.height > 1 and counts["len"][0] == counts["len"][1]:
        return None, ""  # no majority: nothing to call stale
    return counts[VERSION][0], "majority of edges"
