"""timeline: failure rate per bucket, onset by change point, hour of day, alignment with events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from flakehunt.correlate import choose_bucket, timeline
from flakehunt.errors import FlakehuntError

START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def observations(n: int, seed: int, span: timedelta, rate) -> pl.DataFrame:
    """`n` observations at uniform random times over `span`, failing with probability `rate(seconds)`."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, span.total_seconds(), n))
    ts = pl.Series(
        "ts", [START + timedelta(seconds=float(s)) for s in seconds], dtype=pl.Datetime("us", "UTC")
    )
    return pl.DataFrame({"ts": ts, "failed": rng.random(n) < rate(seconds)})


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (timedelta(minutes=50), "1m"),
        (timedelta(hours=3), "5m"),
        (timedelta(hours=12), "15m"),
        (timedelta(days=2), "1h"),
        (timedelta(days=10), "6h"),
        (timedelta(days=90), "1d"),
    ],
)
def test_bucket_size_comes_from_the_span(span, bucket):
    assert choose_bucket(span)[0] == bucket


def test_buckets_cover_the_data_without_gaps():
    frame = observations(3000, 1, timedelta(hours=3), lambda s: 0.05)
    result = timeline(frame.lazy())
    assert result.bucket == "5m"
    assert 20 <= result.buckets.height <= 61
    assert result.buckets["observations"].sum() == 3000
    assert result.buckets["failures"].sum() == frame["failed"].sum()
    steps = result.buckets["start"].diff().drop_nulls().unique().to_list()
    assert steps == [timedelta(minutes=5)]
    row = result.buckets.row(0, named=True)
    assert row["rate_lo"] <= row["rate"] <= row["rate_hi"]


def test_the_onset_is_found_near_a_seeded_change_and_lines_up_with_the_deploy():
    onset = timedelta(hours=3, minutes=17).total_seconds()
    frame = observations(6000, 2, timedelta(hours=6), lambda s: np.where(s < onset, 0.02, 0.2))
    deploy = START + timedelta(hours=3, minutes=15)
    result = timeline(frame, events=[(deploy.isoformat(), "deploy v42"), ("2026-11-20T08:00Z", "purge")])
    assert result.bucket == "15m"
    assert result.onset is not None and result.onset.direction == "up"
    found = (result.onset.at - START).total_seconds()
    assert abs(found - onset) < 120  # within two minutes, at the observation level
    assert result.onset.rate_before < 0.04 < 0.15 < result.onset.rate_after
    assert result.onset.p_value < 0.01
    nearest = result.nearest_event
    assert nearest.label == "deploy v42" and 0 < nearest.onset_offset_seconds < 240
    deploy_row = next(e for e in result.events if e.label == "deploy v42")
    n_after, f_after = deploy_row.after
    assert f_after / n_after > 0.15 and deploy_row.risk_ratio > 4 and deploy_row.p_value < 1e-6
    purge_row = next(e for e in result.events if e.label == "purge")
    assert purge_row.p_value > 0.01  # nothing changed at 08:00 (its "after" runs to the deploy)
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["nearest_event"]["event"] == "deploy v42"


def test_a_fix_is_a_downward_change_and_not_an_onset():
    fix = timedelta(hours=1).total_seconds()
    frame = observations(4000, 3, timedelta(hours=2), lambda s: np.where(s < fix, 0.15, 0.01))
    result = timeline(frame)
    assert [c.direction for c in result.change_points] == ["down"]
    assert result.onset is None


def test_a_constant_rate_has_no_change_point():
    frame = observations(5000, 4, timedelta(hours=5), lambda s: 0.05)
    assert timeline(frame).change_points == []


def test_an_hour_of_day_pattern_needs_whole_days_and_is_found():
    hour = lambda s: ((START.hour + s // 3600) % 24).astype(int)  # noqa: E731
    frame = observations(20000, 5, timedelta(days=5), lambda s: np.where(hour(s) == 14, 0.2, 0.02))
    result = timeline(frame)
    assert result.hour_of_day.peak_hours == [14]
    assert result.hour_of_day.p_value < 1e-6
    short = observations(2000, 5, timedelta(hours=20), lambda s: 0.05)
    assert timeline(short).hour_of_day.p_value is None


def test_naive_timestamps_are_read_as_utc_and_bad_input_is_one_line():
    frame = observations(200, 6, timedelta(hours=1), lambda s: 0.1)
    naive = frame.with_columns(pl.col("ts").dt.replace_time_zone(None))
    assert timeline(naive).buckets.equals(timeline(frame).buckets)
    with pytest.raises(FlakehuntError, match=r"cannot read event time 'yesterday'"):
        timeline(frame, events=[("yesterday", "deploy")])
    with pytest.raises(FlakehuntError, match=r"unknown bucket size '2m'"):
        timeline(frame, bucket="2m")
    with pytest.raises(FlakehuntError, match=r"time column 'failed' must be a datetime"):
        timeline(frame, ts="failed")
