"""
Follow each failing run's beacon across the layers that logged it.

A probe's request carries the CDN's request id (x-amz-cf-id, cf-ray, ...); the CDN log line has
the same id, and the edge forwards it to origin. So for every failed run we can say where its
beacon was lost: never requested by the page, blocked in the browser, answered with an error,
reached the edge but not origin, or made it all the way — "lost at layer X in k of n runs".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl

from flakehunt.correlate.label import parse_predicate

DEFAULT_BEACON = "path LIKE '%pixel%' OR path LIKE '%beacon%' OR path LIKE '%/collect%'"
NEVER_REQUESTED = "never requested by the page"
BLOCKED = "blocked in the browser"
ERROR = "answered with an error"
NOT_AT_EDGE = "sent, but not in the CDN logs"
EDGE_ONLY = "reached the edge, not origin"
DELIVERED = "reached origin"
UNTRACED = "answered (no CDN logs to follow it)"


def _vendor_value(key: str) -> pl.Expr:
    return (
        pl.col("vendor")
        .list.eval(pl.element().filter(pl.element().struct.field("key") == key).struct.field("value"))
        .list.first()
    )


def trace_beacons(
    exchanges: pl.LazyFrame, runs: pl.LazyFrame, *, beacon: str | None = None
) -> dict[str, Any] | None:
    """
    Where the beacon of each failed probe run was lost.

    Parameters
    ----------
    beacon
        SQL predicate picking the beacon request (default: a path with pixel, beacon or /collect).

    Returns
    -------
    dict or None
        ``{"failed_runs": n, "layers": {layer: k}, "statement": ..., "examples": [...]}``; None
        when there are no failed runs.
    """
    names = runs.collect_schema().names()
    if "outcome" not in names or "run_id" not in names:
        return None
    failed = runs.filter(pl.col("outcome") == "fail").select("run_id").collect()["run_id"].to_list()
    if not failed:
        return None
    picked = parse_predicate(beacon or DEFAULT_BEACON, option="beacon")
    sent = (
        exchanges.filter(
            (pl.col("source") == "probe") & pl.col("run_id").is_in(failed) & picked.fill_null(False)
        )
        .select("run_id", "request_id", "status", _vendor_value("blocked").alias("blocked"))
        .collect()
    )
    logged = exchanges.filter(pl.col("source").is_in(["cdn", "origin"]) & pl.col("request_id").is_not_null())
    seen = logged.group_by("request_id").agg(pl.col("source").unique().alias("sources")).collect()
    sources_by_id = {row["request_id"]: set(row["sources"]) for row in seen.iter_rows(named=True)}
    has_cdn_logs = bool(seen.height) and any("cdn" in s for s in sources_by_id.values())

    layers: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    by_run = {run: sent.filter(pl.col("run_id") == run).to_dicts() for run in failed}
    for run, requests in by_run.items():
        layer = _layer(requests, sources_by_id, has_cdn_logs)
        layers[layer] += 1
        if len(examples) < 5:
            examples.append(
                {
                    "run_id": run,
                    "layer": layer,
                    "request_id": next((r["request_id"] for r in requests if r["request_id"]), None),
                }
            )
    top, count = layers.most_common(1)[0]
    return {
        "failed_runs": len(failed),
        "layers": dict(layers),
        "statement": f"lost at layer '{top}' in {count} of {len(failed)} failed runs",
        "cdn_logs": has_cdn_logs,
        "examples": examples,
    }


def _layer(requests: list[dict[str, Any]], sources_by_id: dict[str, set[str]], has_cdn_logs: bool) -> str:
    if not requests:
        return NEVER_REQUESTED
    if all(r["blocked"] == "true" for r in requests):
        return BLOCKED
    answered = [r for r in requests if r["status"] is not None]
    if not answered:
        return ERROR
    if all(r["status"] >= 400 for r in answered):
        return ERROR
    if not has_cdn_logs:
        return UNTRACED
    sources = set().union(*(sources_by_id.get(r["request_id"], set()) for r in answered))
    if "origin" in sources:
        return DELIVERED
    if "cdn" in sources:
        return EDGE_ONLY
    return NOT_AT_EDGE
