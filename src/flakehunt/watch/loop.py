"""
The watch loop: run a round on a schedule, store it whole, update the rates, raise alerts.

What a round *is* comes from outside: `run_round()` returns the round's runs, one row per run
with an `outcome` (pass, fail, error) and the configuration's columns, or a `RoundData` that
adds the exchanges and artifacts to keep with them. `flakehunt watch` builds it
from the probe runner (see `flakehunt.watch.rounds`); tests build it from plain HTTP requests
through edgesim. Clock and sleep are injectable so a six-hour watch can be tested in seconds.

Stopping: the first SIGINT or SIGTERM during a round lets the round finish and be recorded, then
the loop ends; a second one abandons the round, and nothing of it is recorded. During the wait
between rounds, one signal ends the loop at once. The store write is atomic either way (see
runstore), so the store never holds part of a round.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from flakehunt.errors import FlakehuntError
from flakehunt.watch.alerts import RAISED, Alert, AlertTracker, ConfigRate
from flakehunt.watch.notify import Notifier
from flakehunt.watch.runstore import RunStore, check_location, new_round_id


@dataclass(frozen=True)
class RoundData:
    """A round with what to keep beside its runs (see `RunStore.append_round`)."""

    runs: pl.DataFrame
    exchanges: pl.DataFrame | None = None
    artifacts: dict[str, bytes] = field(default_factory=dict)


RunRound = Callable[[], "pl.DataFrame | RoundData"]


@dataclass(frozen=True)
class RoundReport:
    """One recorded round: when, how many runs and failures, which alerts it raised."""

    number: int
    round_id: str
    started: datetime
    runs: int
    failures: int
    alerts: list[Alert]


@dataclass
class WatchSummary:
    """What a watch did; `alerting` lists configurations whose alert had not cleared at the end."""

    rounds: list[RoundReport] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    alerting: list[dict[str, str]] = field(default_factory=list)
    rates: list[ConfigRate] = field(default_factory=list)
    stopped_by: str | None = None

    @property
    def raised(self) -> list[Alert]:
        return [alert for alert in self.alerts if alert.kind == RAISED]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounds": len(self.rounds),
            "runs": sum(r.runs for r in self.rounds),
            "failures": sum(r.failures for r in self.rounds),
            "alerts": [alert.to_dict() for alert in self.alerts],
            "alerting": self.alerting,
            "rates": [rate.to_dict() for rate in self.rates],
            "stopped_by": self.stopped_by,
        }

    def __str__(self) -> str:
        stop = f", stopped by {self.stopped_by}" if self.stopped_by else ""
        still = f"; still alerting: {len(self.alerting)}" if self.alerting else ""
        return f"{len(self.rounds)} rounds, {len(self.alerts)} alerts{still}{stop}"


class _Stop(Exception):
    """Raised by the signal handler to leave a wait, or a round on the second signal."""


@dataclass
class _Signals:
    phase: str = "waiting"  # waiting, running, committing
    received: list[str] = field(default_factory=list)

    def handle(self, signum: int, _frame: object) -> None:
        self.received.append(signal.Signals(signum).name)
        if self.phase == "waiting" or (self.phase == "running" and len(self.received) >= 2):
            raise _Stop

    @contextmanager
    def installed(self, enabled: bool) -> Iterator[None]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def watch(
    run_round: RunRound,
    *,
    every: timedelta,
    store: RunStore,
    location: str,
    jitter: timedelta = timedelta(0),
    duration: timedelta | None = None,
    max_rounds: int | None = None,
    notify: Notifier | None = None,
    tracker: AlertTracker | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_round: Callable[[RoundReport], None] | None = None,
    handle_signals: bool = True,
) -> WatchSummary:
    """
    Run `run_round` every `every` (plus up to `jitter`), append each round to `store`, alert.

    Parameters
    ----------
    run_round
        Returns one round's runs: an `outcome` column and configuration columns (see alerts).
    every, jitter
        Round k starts at start + k * every + a uniform delay in [0, jitter], so runners in
        several places do not hit the site in step. A round that overruns skips the slots it
        missed instead of running back to back.
    duration, max_rounds
        Stop before a round that would start after `duration`, or after `max_rounds` rounds;
        with neither, run until a signal.
    store, location
        Each round is appended whole (`RunStore.append_round`), tagged with `location`. The
        tracker first replays this location's recent rounds from the store, so a restarted
        watch keeps its baseline.
    notify
        Called with each round's alerts (see `flakehunt.watch.notify`).
    tracker
        Rates and the alert test; default `AlertTracker()`.
    clock, sleep, rng
        Injectable time and randomness for tests.
    on_round
        Called after each recorded round (the CLI prints progress with it).
    handle_signals
        Install SIGINT/SIGTERM handlers (main thread only) for the clean stop described in
        the module docstring.

    Returns
    -------
    WatchSummary
    """
    check_location(location)
    if every <= timedelta(0):
        raise FlakehuntError(f"--every must be longer than zero, got {every}")
    tracker = tracker or AlertTracker()
    rng = rng or random.Random()
    replay(tracker, store, location)
    summary = WatchSummary()
    signals = _Signals()
    start = clock()
    slot = 0
    with signals.installed(handle_signals):
        try:
            while max_rounds is None or len(summary.rounds) < max_rounds:
                due = start + every * slot + jitter * rng.random()
                if duration is not None and due - start >= duration:
                    break
                signals.phase = "waiting"
                if signals.received:
                    break
                wait = (due - clock()).total_seconds()
                if wait > 0:
                    sleep(wait)
                report = _one_round(run_round, store, location, tracker, signals, clock, len(summary.rounds))
                if notify and report.alerts:
                    notify(report.alerts)
                summary.rounds.append(report)
                summary.alerts.extend(report.alerts)
                if on_round:
                    on_round(report)
                if signals.received:
                    break
                elapsed_slots = int((clock() - start) / every)
                slot = max(slot + 1, elapsed_slots + 1)
        except _Stop:
            pass
    summary.stopped_by = signals.received[0] if signals.received else None
    summary.alerting = tracker.alerting
    summary.rates = tracker.rates()
    return summary


def _one_round(
    run_round: RunRound,
    store: RunStore,
    location: str,
    tracker: AlertTracker,
    signals: _Signals,
    clock: Callable[[], datetime],
    number: int,
) -> RoundReport:
    started = clock()
    round_id = new_round_id(location, started)
    signals.phase = "running"
    produced = run_round()
    data = produced if isinstance(produced, RoundData) else RoundData(produced)
    frame = data.runs
    if "outcome" not in frame.columns and not frame.is_empty():
        raise FlakehuntError(f"a round needs an 'outcome' column; it has {frame.columns!r}")
    signals.phase = "committing"  # from here on a signal only asks to stop after this round
    store.append_round(
        frame,
        location=location,
        round_id=round_id,
        exchanges=data.exchanges,
        artifacts=data.artifacts if isinstance(produced, RoundData) else None,
    )
    alerts = tracker.observe(frame, ts=started, location=location)
    failures = int((frame["outcome"] == "fail").sum()) if "outcome" in frame.columns else 0
    return RoundReport(number, round_id, started, frame.height, failures, alerts)


def replay(tracker: AlertTracker, store: RunStore, location: str) -> None:
    """Feed the tracker this location's latest rounds from the store (alerts already sent)."""
    keep = tracker.policy.recent_rounds + tracker.policy.baseline_rounds * 4
    history = store.scan().filter(pl.col("location") == location).collect()
    if history.is_empty():
        return
    rounds = history.group_by("round_id").agg(pl.col("round_ts").first()).sort("round_ts").tail(keep)
    for round_id, round_ts in rounds.iter_rows():
        tracker.observe(history.filter(pl.col("round_id") == round_id), ts=round_ts, location=location)
