"""
Failures over time (issue #5, "Time"): the rate per time bucket, when it changed, whether it
follows the hour of day, and how it lines up with the user's events (deploys, purges).

Change points
-------------
Binary segmentation on the per-bucket counts with the Bernoulli likelihood ratio: for a segment,
every split between two buckets is scored by ``2 * (ll(left) + ll(right) - ll(segment))`` with
``ll(f, n) = f log(f/n) + (n-f) log(1-f/n)``, and the best split is kept when it is significant.
The maximum over splits has no textbook distribution, so its p-value is a seeded Monte Carlo
permutation test: under "no change" the segment's failures are spread over its buckets as a
multivariate hypergeometric draw, and the p-value is the share of 999 draws whose best split
scores at least as high. Segments on both sides are searched again, up to `max_change_points`.
Each change point is then placed at the observation where the same likelihood ratio peaks,
within the buckets on either side of the split. `ruptures` was considered: it has no binomial
cost for counts with unequal bucket sizes and no significance test, which are the two things
needed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps
from scipy.special import xlogy

from flakehunt.correlate.stats import association_p_values, risk_ratio, wilson_interval
from flakehunt.errors import FlakehuntError

# Bucket sizes a person reads easily; the smallest one giving at most MAX_BUCKETS buckets wins.
BUCKET_SIZES: tuple[tuple[str, timedelta], ...] = (
    ("1m", timedelta(minutes=1)),
    ("5m", timedelta(minutes=5)),
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("6h", timedelta(hours=6)),
    ("1d", timedelta(days=1)),
)
MAX_BUCKETS = 60
PERMUTATIONS = 999
# Hour-of-day patterns are only told apart from a trend when the data covers whole days.
MIN_SPAN_FOR_HOURS = timedelta(days=2)

Event = tuple[datetime | str, str]
_COUNTS = (
    pl.len().cast(pl.Int64).alias("observations"),
    pl.col("failed").sum().cast(pl.Int64).alias("failures"),
)


@dataclass(frozen=True)
class ChangePoint:
    """A time where the failure rate changed."""

    at: datetime  # first observation after the change
    bucket_start: datetime
    rate_before: float
    rate_after: float
    p_value: float

    @property
    def direction(self) -> str:
        return "up" if self.rate_after > self.rate_before else "down"

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "bucket_start": self.bucket_start.isoformat(),
            "direction": self.direction,
            "rate_before": self.rate_before,
            "rate_after": self.rate_after,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class EventAlignment:
    """Failure rates before and after one user-given event, up to the neighbouring events."""

    label: str
    at: datetime
    before: tuple[int, int]  # (observations, failures)
    after: tuple[int, int]
    risk_ratio: float | None  # rate after over rate before
    p_value: float | None  # one-sided: fails more often after
    onset_offset_seconds: float | None  # onset minus event; positive = onset after the event

    def to_dict(self) -> dict[str, Any]:
        def side(counts: tuple[int, int]) -> dict[str, Any]:
            n, f = counts
            return {"observations": n, "failures": f, "rate": f / n if n else None}

        return {
            "event": self.label,
            "at": self.at.isoformat(),
            "before": side(self.before),
            "after": side(self.after),
            "risk_ratio": self.risk_ratio,
            "p_value": self.p_value,
            "onset_offset_seconds": self.onset_offset_seconds,
        }


@dataclass(frozen=True)
class HourOfDay:
    """Failure rate by hour of day (UTC) and whether it differs between hours."""

    hours: pl.DataFrame = field(repr=False)  # hour, observations, failures, rate, rate_lo, rate_hi
    p_value: float | None  # chi-square test of equal rates; None when the span is under 2 days
    peak_hours: list[int]  # hours whose rate's lower bound is above the overall rate

    def to_dict(self) -> dict[str, Any]:
        return {"p_value": self.p_value, "peak_hours": self.peak_hours, "hours": self.hours.to_dicts()}


@dataclass(frozen=True)
class Timeline:
    """Failure rate over time, its change points and onset, hour-of-day pattern and events."""

    bucket: str
    buckets: pl.DataFrame = field(repr=False)  # start, observations, failures, rate, rate_lo, rate_hi
    change_points: list[ChangePoint]
    onset: ChangePoint | None  # the earliest upward change point
    hour_of_day: HourOfDay
    events: list[EventAlignment]

    @property
    def nearest_event(self) -> EventAlignment | None:
        """The event closest to the onset, if both exist."""
        aligned = [e for e in self.events if e.onset_offset_seconds is not None]
        return min(aligned, key=lambda e: abs(e.onset_offset_seconds), default=None)

    def to_dict(self) -> dict[str, Any]:
        nearest = self.nearest_event
        return {
            "bucket": self.bucket,
            "buckets": [
                {**row, "start": row["start"].isoformat()} for row in self.buckets.iter_rows(named=True)
            ],
            "change_points": [c.to_dict() for c in self.change_points],
            "onset": self.onset.to_dict() if self.onset else None,
            "nearest_event": (
                {"event": nearest.label, "offset_seconds": nearest.onset_offset_seconds} if nearest else None
            ),
            "hour_of_day": self.hour_of_day.to_dict(),
            "events": [e.to_dict() for e in self.events],
        }


def choose_bucket(span: timedelta) -> tuple[str, timedelta]:
    """
    The bucket size for data covering `span`: the smallest of 1m/5m/15m/1h/6h/1d that gives at
    most 60 buckets (so 20 to 60 where the sizes allow; 1d beyond 60 days).

    Examples
    --------
    >>> choose_bucket(timedelta(hours=3))[0]
    '5m'
    >>> choose_bucket(timedelta(days=7))[0]
    '6h'
    """
    for name, size in BUCKET_SIZES:
        if span / size <= MAX_BUCKETS:
            return name, size
    return BUCKET_SIZES[-1]


def timeline(
    frame: pl.LazyFrame | pl.DataFrame,
    *,
    label: str = "failed",
    ts: str = "ts",
    events: Sequence[Event] = (),
    bucket: str | None = None,
    alpha: float = 0.05,
    max_change_points: int = 5,
    seed: int = 0,
) -> Timeline:
    """
    Failure rate over time, with change points, onset, hour-of-day pattern and events.

    Parameters
    ----------
    frame
        Observations with a UTC timestamp column `ts` and a boolean `label` (True = failed);
        rows with a null in either are left out. A timestamp without a time zone is read as UTC.
    events
        ``(when, label)`` pairs such as ``("2026-11-20T10:00Z", "deploy v42")``; `when` is a
        datetime or an ISO 8601 string.
    bucket
        One of ``1m 5m 15m 1h 6h 1d``; by default chosen from the data's span
        (:func:`choose_bucket`).
    alpha
        Significance level of each change point's permutation test.
    max_change_points
        At most this many change points are searched for.
    seed
        Seed of the permutation test, so the same data gives the same answer.

    Returns
    -------
    Timeline

    Raises
    ------
    FlakehuntError
        A missing or mistyped column, an unknown bucket size, or an unreadable event time.
    """
    lf = _observations(frame.lazy(), ts, label)
    parsed_events = sorted((_parse_when(when), name) for when, name in events)
    span_df = lf.select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi")).collect()
    lo, hi = span_df.row(0)
    if bucket is None:
        bucket, size = choose_bucket((hi - lo) if lo is not None else timedelta(0))
    else:
        sizes = dict(BUCKET_SIZES)
        if bucket not in sizes:
            raise FlakehuntError(f"unknown bucket size {bucket!r}; use one of {', '.join(sizes)}")
        size = sizes[bucket]
    buckets = _bucket_counts(lf, bucket, lo, hi)
    change_points = _change_points(lf, buckets, size, alpha, max_change_points, seed)
    onset = next((c for c in change_points if c.direction == "up"), None)
    return Timeline(
        bucket=bucket,
        buckets=buckets,
        change_points=change_points,
        onset=onset,
        hour_of_day=_hour_of_day(lf, (hi - lo) if lo is not None else timedelta(0)),
        events=_align_events(lf, parsed_events, onset),
    )


def _observations(lf: pl.LazyFrame, ts: str, label: str) -> pl.LazyFrame:
    schema = lf.collect_schema()
    for name in (ts, label):
        if name not in schema:
            raise FlakehuntError(
                f"no column {name!r} in the observations; available: {', '.join(schema.names())}"
            )
    if schema[label] != pl.Boolean:
        raise FlakehuntError(f"label column {label!r} must be boolean (True = failed), got {schema[label]}")
    dtype = schema[ts]
    if not isinstance(dtype, pl.Datetime):
        raise FlakehuntError(f"time column {ts!r} must be a datetime, got {dtype}")
    stamp = pl.col(ts)
    stamp = (
        stamp.dt.replace_time_zone("UTC") if dtype.time_zone is None else stamp.dt.convert_time_zone("UTC")
    )
    return lf.select(stamp.alias("ts"), pl.col(label).alias("failed")).drop_nulls()


def _parse_when(when: datetime | str) -> datetime:
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.strip())
        except ValueError:
            raise FlakehuntError(
                f"cannot read event time {when!r}; write it as ISO 8601, e.g. '2026-11-20T10:00Z'"
            ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _bucket_counts(lf: pl.LazyFrame, bucket: str, lo: datetime | None, hi: datetime | None) -> pl.DataFrame:
    schema = {"start": pl.Datetime("us", "UTC"), "observations": pl.Int64, "failures": pl.Int64}
    if lo is None:
        counts = pl.DataFrame(schema=schema)
    else:
        every = bucket  # polars' duration strings: "m" is a minute, "mo" a month
        counts = lf.group_by(pl.col("ts").dt.truncate(every).alias("start")).agg(*_COUNTS).collect()
        first, last = counts["start"].min(), counts["start"].max()
        grid = pl.DataFrame({"start": pl.datetime_range(first, last, every, eager=True, time_unit="us")})
        counts = grid.join(counts, on="start", how="left").fill_null(0).cast(schema)
    n = counts["observations"].to_numpy()
    f = counts["failures"].to_numpy()
    lo_ci, hi_ci = wilson_interval(f, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, f / np.maximum(n, 1), np.nan)
    return counts.with_columns(
        pl.Series("rate", rate).fill_nan(None),
        pl.Series("rate_lo", lo_ci, dtype=pl.Float64),
        pl.Series("rate_hi", hi_ci, dtype=pl.Float64),
    )


def _loglik(f: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return xlogy(f, np.where(n > 0, f / n, 1.0)) + xlogy(n - f, np.where(n > 0, (n - f) / n, 1.0))


def _split_scores(n: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Likelihood ratio of splitting after each position (last axis); -inf where a side is empty."""
    cn, cf = np.cumsum(n, axis=-1)[..., :-1], np.cumsum(f, axis=-1)[..., :-1]
    total_n, total_f = n.sum(axis=-1, keepdims=True), f.sum(axis=-1, keepdims=True)
    score = 2 * (_loglik(cf, cn) + _loglik(total_f - cf, total_n - cn) - _loglik(total_f, total_n))
    return np.where((cn > 0) & (cn < total_n), score, -np.inf)


def _change_points(
    lf: pl.LazyFrame, buckets: pl.DataFrame, size: timedelta, alpha: float, limit: int, seed: int
) -> list[ChangePoint]:
    n = buckets["observations"].to_numpy().astype(np.int64)
    f = buckets["failures"].to_numpy().astype(np.int64)
    rng = np.random.default_rng(seed)
    found: dict[int, float] = {}  # split index (first bucket after) -> p-value
    segments = [(0, len(n))]
    while segments and len(found) < limit:
        start, stop = segments.pop(0)
        seg_n, seg_f = n[start:stop], f[start:stop]
        total_f = int(seg_f.sum())
        if stop - start < 2 or total_f == 0 or total_f == seg_n.sum():
            continue
        scores = _split_scores(seg_n.astype(float), seg_f.astype(float))
        best = int(np.argmax(scores))
        if not np.isfinite(scores[best]):
            continue
        draws = rng.multivariate_hypergeometric(seg_n, total_f, size=PERMUTATIONS)
        null_best = _split_scores(np.broadcast_to(seg_n, draws.shape).astype(float), draws.astype(float)).max(
            axis=-1
        )
        p = (1 + int((null_best >= scores[best] - 1e-9).sum())) / (PERMUTATIONS + 1)
        if p < alpha:
            found[start + best + 1] = p
            segments += [(start, start + best + 1), (start + best + 1, stop)]
    if not found:
        return []
    splits = sorted(found)
    edges = [0, *splits, len(n)]
    starts = buckets["start"].to_list()
    out = []
    for i, split in enumerate(splits):
        before = slice(edges[i], split)
        after = slice(split, edges[i + 2])
        out.append(
            ChangePoint(
                at=_refine(lf, starts, size, n, f, (edges[i], split, edges[i + 2])),
                bucket_start=starts[split],
                rate_before=float(f[before].sum() / n[before].sum()),
                rate_after=float(f[after].sum() / n[after].sum()),
                p_value=found[split],
            )
        )
    return out


def _refine(
    lf: pl.LazyFrame, starts: list[datetime], size: timedelta, n: np.ndarray, f: np.ndarray, seg: tuple
) -> datetime:
    """The observation where the split of segment `seg` peaks, searched in the two buckets around it."""
    first, split, stop = seg
    window_lo = starts[split - 1]
    window_hi = starts[split] + size
    rows = lf.filter(pl.col("ts").is_between(window_lo, window_hi, closed="left")).sort("ts").collect()
    labels = rows["failed"].to_numpy().astype(float)
    if len(labels) < 2:
        return starts[split]
    # Counts of the segment before and after the window, then every split inside the window.
    n_pre, f_pre = n[first : split - 1].sum(), f[first : split - 1].sum()
    n_post, f_post = n[split + 1 : stop].sum(), f[split + 1 : stop].sum()
    cut = np.arange(1, len(labels))
    cf = np.cumsum(labels)[:-1]
    left_n, left_f = n_pre + cut, f_pre + cf
    right_n, right_f = n_post + (len(labels) - cut), f_post + (labels.sum() - cf)
    score = _loglik(left_f, left_n) + _loglik(right_f, right_n)
    return rows["ts"][int(cut[int(np.argmax(score))])]


def _hour_of_day(lf: pl.LazyFrame, span: timedelta) -> HourOfDay:
    hours = (
        lf.group_by(pl.col("ts").dt.hour().cast(pl.Int8).alias("hour")).agg(*_COUNTS).sort("hour").collect()
    )
    n = hours["observations"].to_numpy()
    f = hours["failures"].to_numpy()
    lo, hi = wilson_interval(f, n)
    hours = hours.with_columns(
        pl.Series("rate", f / np.maximum(n, 1)),
        pl.Series("rate_lo", lo, dtype=pl.Float64),
        pl.Series("rate_hi", hi, dtype=pl.Float64),
    )
    total_n, total_f = int(n.sum()), int(f.sum())
    p_value = None
    peaks: list[int] = []
    if span >= MIN_SPAN_FOR_HOURS and len(n) >= 2 and 0 < total_f < total_n:
        table = np.column_stack([f, n - f])
        p_value = float(sps.chi2_contingency(table, correction=False).pvalue)
        overall = total_f / total_n
        if p_value < 0.05:
            peaks = hours.filter(pl.col("rate_lo") > overall)["hour"].to_list()
    return HourOfDay(hours=hours, p_value=p_value, peak_hours=peaks)


def _align_events(
    lf: pl.LazyFrame, events: list[tuple[datetime, str]], onset: ChangePoint | None
) -> list[EventAlignment]:
    if not events:
        return []
    # Segment k holds the observations between event k-1 and event k.
    segment = pl.sum_horizontal([(pl.col("ts") >= when).cast(pl.Int32) for when, _ in events])
    counts = (
        lf.group_by(segment.alias("segment"))
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("failed").sum().cast(pl.Int64).alias("f"))
        .collect()
    )
    by_segment = {row["segment"]: (row["n"], row["f"]) for row in counts.iter_rows(named=True)}
    out = []
    for k, (when, name) in enumerate(events):
        before = by_segment.get(k, (0, 0))
        after = by_segment.get(k + 1, (0, 0))
        rr = p = None
        if before[0] and after[0]:
            (n_b, f_b), (n_a, f_a) = before, after
            rr = float(risk_ratio(f_a, n_a - f_a, f_b, n_b - f_b)[0])
            p = float(association_p_values([f_a], [n_a], f_a + f_b, n_a + n_b)[0][0])
        offset = (onset.at - when).total_seconds() if onset else None
        out.append(EventAlignment(name, when, before, after, rr, p, offset))
    return out
