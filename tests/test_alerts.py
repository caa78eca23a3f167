"""Alerts: a configuration's failure rate against its own baseline, with a proper test on the counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from flakehunt.watch.alerts import RAISED, RECOVERED, AlertPolicy, AlertTracker, rise_p_value

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def round_frame(
    fail_share: dict[str, float], *, runs: int = 5, rng: random.Random | None = None
) -> pl.DataFrame:
    """One round of probe-like rows: `runs` runs per edge in Chromium, failing at the given share."""
    rng = rng or random.Random(0)
    rows = []
    for edge, share in fail_share.items():
        for i in range(runs):
            failed = rng.random() < share if 0 < share < 1 else share >= 1
            rows.append(
                {
                    "run_id": f"{edge}-{i}",
                    "edge_pop": edge,
                    "browser": "chromium",
                    "outcome": "fail" if failed else "pass",
                }
            )
    return pl.DataFrame(rows)


def feed(tracker: AlertTracker, rounds: list[dict[str, float]], rng: random.Random | None = None):
    """Observe each round; return [(round index, alert)]."""
    seen = []
    for index, shares in enumerate(rounds):
        for alert in tracker.observe(round_frame(shares, rng=rng), ts=T0 + timedelta(minutes=15 * index)):
            seen.append((index, alert))
    return seen


def test_a_rise_above_its_own_baseline_raises_then_recovers() -> None:
    healthy = {"FRA56-C1": 0.0, "IAD89-P2": 0.0, "NRT57-C3": 0.0}
    broken = {**healthy, "FRA56-C1": 1.0}
    alerts = feed(AlertTracker(), [healthy] * 8 + [broken] * 4 + [healthy] * 4)
    assert [(index, alert.kind, alert.configuration["edge_pop"]) for index, alert in alerts] == [
        (8, RAISED, "FRA56-C1"),  # the first broken round: 5/10 against 0/35
        (13, RECOVERED, "FRA56-C1"),  # two clean rounds after the fault: 0/10
    ]
    raised, recovered = alerts[0][1], alerts[1][1]
    assert (raised.recent_failures, raised.recent_runs, raised.baseline_failures, raised.baseline_runs) == (
        5,
        10,
        0,
        35,
    )
    assert raised.text.startswith(
        "edge FRA56-C1 x chromium: 5/10 failed in the last 2 rounds vs 0/35 before (p="
    )
    assert recovered.text.startswith(
        "edge FRA56-C1 x chromium recovered: 0/10 failed in the last 2 rounds vs"
    )
    assert (recovered.baseline_failures, recovered.baseline_runs) == (0, 35), (
        "the baseline froze at the alert"
    )


def test_the_incident_never_becomes_the_baseline() -> None:
    healthy, broken = {"FRA56-C1": 0.0}, {"FRA56-C1": 1.0}
    tracker = AlertTracker()
    alerts = feed(tracker, [healthy] * 8 + [broken] * 6 + [healthy] * 3 + [broken] * 2)
    assert [alert.kind for _, alert in alerts] == [RAISED, RECOVERED, RAISED]
    second = alerts[-1][1]
    assert second.baseline_failures == 0, "the first incident's failures stay out of the baseline"


def test_a_steadily_flaky_configuration_does_not_alert() -> None:
    """30 % failures all along is that configuration's normal; only a change is news."""
    rng = random.Random(1)
    for _ in range(10):
        tracker = AlertTracker()
        assert feed(tracker, [{"IAD89-P2": 0.3, "FRA56-C1": 0.0}] * 40, rng=rng) == []


def test_a_small_rise_on_a_flaky_baseline_is_not_significant() -> None:
    tracker = AlertTracker()
    rounds = [{"IAD89-P2": 0.2}] * 10 + [{"IAD89-P2": 0.4}] * 2
    assert feed(tracker, rounds, rng=random.Random(3)) == []


def test_too_few_runs_are_not_tested() -> None:
    tracker = AlertTracker(AlertPolicy(min_recent_runs=5, min_baseline_runs=10))
    alerts = feed(tracker, [{"FRA56-C1": 0.0}] * 8 + [{"FRA56-C1": 1.0}] * 3)
    assert alerts, "with 5 runs a round the rise is tested"
    sparse = AlertTracker(AlertPolicy(min_recent_runs=5, min_baseline_runs=10))
    for index in range(6):
        frame = round_frame({"FRA56-C1": 1.0 if index >= 4 else 0.0}, runs=1)
        assert sparse.observe(frame, ts=T0) == [], "one run a round never reaches the minimum"


def test_tool_errors_are_not_site_failures() -> None:
    tracker = AlertTracker()
    for _ in range(8):
        tracker.observe(round_frame({"FRA56-C1": 0.0}), ts=T0)
    errored = round_frame({"FRA56-C1": 0.0}).with_columns(outcome=pl.lit("error"))
    for _ in range(3):
        assert tracker.observe(errored, ts=T0) == []
    assert tracker.rates()[0].recent_runs == 0


def test_rates_are_rolling_per_configuration() -> None:
    tracker = AlertTracker()
    feed(tracker, [{"FRA56-C1": 0.0, "IAD89-P2": 0.0}] * 3 + [{"FRA56-C1": 1.0, "IAD89-P2": 0.0}])
    worst = tracker.rates()[0]
    assert worst.configuration == {"edge_pop": "FRA56-C1", "browser": "chromium"}
    assert (worst.recent_failures, worst.recent_runs, worst.rate) == (5, 10, 0.5)
    assert tracker.alerting == []


def test_alpha_is_shared_by_the_configurations_tested() -> None:
    """The same counts alert in a 1-configuration watch and not among 200 (Bonferroni)."""
    counts = [{"FRA56-C1": 0.0}] * 6
    # Last round 3/5 failed: 3/10 against 0/20, p = 0.030; level 0.05 alone, 0.05/200 among 200.
    assert rise_p_value((3, 10), (0, 20)) == pytest.approx(0.0296, abs=1e-4)
    policy = AlertPolicy(alpha=0.05, recent_rounds=2, baseline_rounds=4)
    alone = AlertTracker(policy)
    crowd = AlertTracker(policy)
    for index, shares in enumerate(counts):
        frame = round_frame(shares, runs=5)
        if index == 5:
            frame = frame.with_columns(outcome=pl.Series(["fail"] * 3 + ["pass"] * 2))
        others = [round_frame({f"E{n}": 0.0}) for n in range(199)]
        alone_alerts = alone.observe(frame, ts=T0)
        crowd_alerts = crowd.observe(pl.concat([frame, *others]), ts=T0)
    assert [a.kind for a in alone_alerts] == [RAISED]
    assert crowd_alerts == []


def test_alert_records_are_json_ready() -> None:
    alerts = feed(AlertTracker(), [{"FRA56-C1": 0.0}] * 8 + [{"FRA56-C1": 1.0}])
    record = alerts[0][1].to_dict()
    assert record["kind"] == "raised"
    assert record["label"] == "edge FRA56-C1 x chromium"
    assert record["ts"] == "2026-03-01T02:00:00+00:00"
    assert record["text"] == alerts[0][1].text
