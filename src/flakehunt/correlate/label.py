"""
Labelling: which observations failed (issue #5, section 1).

An observation is one row that can fail or not:
- a probe run (its outcome; `error` runs are the tool's failures and are left out);
- a log exchange, failed when a predicate over the normalized columns holds
  (`--failure "status >= 500 OR cache_status = 'error'"`, polars' SQL expression syntax);
- an anchor request of an expected sequence, failed when its follow-up never came
  (`--expect "path = '/checkout' -> path LIKE '/pixel.gif%' within 30s"`): how a pixel that
  "fires sometimes" shows up in logs, as an absence.

Every observation also carries *session attributes*: what the same client got for the site's
cacheable assets (edge, cache status, size, ETag of `/static/app.js` ...), so a stale asset can be
blamed although the failing request is a different one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from flakehunt.errors import FlakehuntError
from flakehunt.schema import EXCHANGE_SCHEMA

DEFAULT_FAILURE = "status >= 500 OR cache_status = 'error'"
LABEL = "failed"
SESSION = "session"
# Viewer-facing sources first: an origin log sees only cache misses.
SOURCE_PREFERENCE = ("cdn", "har", "origin")
ASSET_ATTRIBUTES = ("edge_pop", "cache_status", "content_length", "etag")  # categorical
ASSET_TIMING = "time_taken_ms"  # numeric: how long the asset took
_ASSET_PATH = re.compile(r"\.(js|mjs|css)$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> timedelta:
    """
    `30s`, `500ms`, `5m`, `1h` as a timedelta.

    >>> parse_duration("30s")
    datetime.timedelta(seconds=30)
    """
    match = _DURATION.match(text.strip())
    if not match:
        raise FlakehuntError(f"duration {text!r} is not like '30s', '500ms', '5m' or '1h'")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_predicate(sql: str, *, option: str = "--failure", columns: list[str] | None = None) -> pl.Expr:
    """
    A SQL boolean expression over the normalized columns as a polars expression.

    Raises
    ------
    FlakehuntError
        The expression does not parse, or names a column that does not exist.
    """
    try:
        expr = pl.sql_expr(sql)
    except pl.exceptions.PolarsError as exc:
        raise FlakehuntError(f"{option} {sql!r} is not a SQL expression: {_first_line(exc)}") from None
    known = columns or list(EXCHANGE_SCHEMA)
    for name in expr.meta.root_names():
        if name not in known:
            raise FlakehuntError(
                f"{option} {sql!r} names unknown column {name!r}; columns are: {', '.join(known)}"
            )
    return expr


@dataclass(frozen=True)
class ExpectedSequence:
    """Every request matching `anchor` must be followed by one matching `follow_up` within `within`."""

    anchor: str
    follow_up: str
    within: timedelta

    @classmethod
    def parse(cls, text: str) -> ExpectedSequence:
        """
        Parse `"<anchor> -> <follow-up> within <duration>"`.

        >>> ExpectedSequence.parse("path = '/checkout' -> path LIKE '/pixel.gif%' within 30s").within.seconds
        30
        """
        match = re.match(r"^(?P<anchor>.+?)\s*->\s*(?P<follow>.+?)\s+within\s+(?P<within>\S+)\s*$", text)
        if not match:
            raise FlakehuntError(
                f"--expect {text!r} is not like \"path = '/checkout' -> path LIKE '/pixel.gif%' within 30s\""
            )
        sequence = cls(match["anchor"], match["follow"], parse_duration(match["within"]))
        parse_predicate(sequence.anchor, option="--expect")
        parse_predicate(sequence.follow_up, option="--expect")
        return sequence

    def __str__(self) -> str:
        return f"{self.anchor} -> {self.follow_up} within {int(self.within.total_seconds())}s"


def viewer_source(exchanges: pl.LazyFrame) -> str | None:
    """The most viewer-facing log source present (probe exchanges are not logs)."""
    present = set(exchanges.select(pl.col("source").unique()).collect()["source"].drop_nulls())
    return next((source for source in SOURCE_PREFERENCE if source in present), None)


def with_session(exchanges: pl.LazyFrame) -> pl.LazyFrame:
    """Add the session key: a probe run, else client IP + user agent (DESIGN: "Sessions")."""
    return exchanges.with_columns(
        pl.coalesce(
            pl.col("run_id"),
            pl.concat_str(
                [pl.col("client_ip").fill_null("-"), pl.col("user_agent").fill_null("-")], separator="|"
            ),
        ).alias(SESSION)
    )


def label_by_predicate(exchanges: pl.LazyFrame, predicate: str = DEFAULT_FAILURE) -> pl.LazyFrame:
    """Every exchange is an observation; `failed` is the predicate (a null counts as not failed)."""
    expr = parse_predicate(predicate)
    return exchanges.with_columns(expr.fill_null(False).alias(LABEL))


def label_by_sequence(exchanges: pl.LazyFrame, sequence: ExpectedSequence) -> pl.LazyFrame:
    """
    One observation per anchor request; failed when the same session made no follow-up request
    within the window.
    """
    anchor = parse_predicate(sequence.anchor, option="--expect")
    follow_up = parse_predicate(sequence.follow_up, option="--expect")
    sessions = with_session(exchanges).filter(pl.col("ts").is_not_null())
    anchors = sessions.filter(anchor.fill_null(False)).sort("ts")
    follow_ups = (
        sessions.filter(follow_up.fill_null(False))
        .select(SESSION, pl.col("ts").alias("follow_up_ts"), pl.col("ts").alias("_on"))
        .sort("_on")
    )
    joined = anchors.join_asof(
        follow_ups,
        left_on="ts",
        right_on="_on",
        by=SESSION,
        strategy="forward",
        tolerance=sequence.within,
        check_sortedness=False,
    )
    return joined.drop("_on").with_columns(pl.col("follow_up_ts").is_null().alias(LABEL))


def asset_paths(exchanges: pl.LazyFrame, *, limit: int = 3) -> list[str]:
    """The most requested script and style paths: the assets whose version can explain a failure."""
    counts = (
        exchanges.filter(pl.col("path").str.contains(_ASSET_PATH.pattern))
        .group_by("path")
        .len()
        .sort(["len", "path"], descending=[True, False])
        .head(limit)
        .collect()
    )
    return counts["path"].to_list()


def asset_column(path: str, attribute: str) -> str:
    """
    The name of a session attribute column.

    >>> asset_column("/static/app.js", "content_length")
    'app.js content_length'
    """
    return f"{path.rsplit('/', 1)[-1]} {attribute}"


def with_session_attributes(
    observations: pl.LazyFrame, exchanges: pl.LazyFrame, paths: list[str]
) -> pl.LazyFrame:
    """
    Attach, per observation, what its session received for each asset path nearest in time to
    the observation: edge, cache status, content length, ETag, and how long it took.
    """
    sessions = with_session(exchanges).filter(pl.col("ts").is_not_null())
    if SESSION not in observations.collect_schema().names():
        observations = with_session(observations)
    for path in paths:
        fetched = (
            sessions.filter(pl.col("path") == path)
            .select(
                SESSION,
                pl.col("ts").alias("_asset_ts"),
                *[pl.col(a).cast(pl.String).alias(asset_column(path, a)) for a in ASSET_ATTRIBUTES],
                pl.col(ASSET_TIMING).alias(asset_column(path, ASSET_TIMING)),
            )
            .sort("_asset_ts")
        )
        observations = (
            observations.sort("ts")
            .join_asof(
                fetched,
                left_on="ts",
                right_on="_asset_ts",
                by=SESSION,
                strategy="nearest",
                check_sortedness=False,
            )
            .drop("_asset_ts")
        )
    return observations


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
