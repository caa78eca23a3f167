"""
The round `flakehunt watch` runs: the seam between the watch loop and the probe runner.

`watch()` only needs a `run_round() -> DataFrame` of runs; this module is the one place that
builds it from the probe runner (issue #4), so swapping what a round is means changing
`probe_round` here and nothing in the loop, the store or the alerts. `watch_spec` is what the
`flakehunt watch` command calls.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from flakehunt.errors import FlakehuntError, NotImplementedYetError
from flakehunt.watch.interval import parse_interval, parse_jitter
from flakehunt.watch.loop import RoundReport, RunRound, WatchSummary, watch
from flakehunt.watch.notify import Notifications, to_lines, to_store, to_webhook
from flakehunt.watch.runstore import check_location, default_location, open_store


def probe_round(spec_path: Path, *, location: str) -> RunRound:
    """
    A round function running the probe spec once per call and returning its runs.

    Each call runs the spec's whole matrix through `flakehunt.probe.run_probe`, kept in a
    case named `watch-<location>` (HARs and screenshots of failed runs live there), and returns
    the runs (`ProbeResult.runs_frame()`: `outcome` plus the configuration's columns).

    Raises
    ------
    NotImplementedYetError
        The probe runner is not part of this build yet.
    """
    try:
        from flakehunt.probe import load_spec, run_probe
    except ImportError:
        raise NotImplementedYetError(
            "'flakehunt watch' needs the probe runner (issue #4), which is not in this build yet"
        ) from None
    from flakehunt.case import open_case

    spec = load_spec(spec_path)

    def run_round() -> pl.DataFrame:
        result = run_probe(spec, case=open_case(f"watch-{location}"))
        return result.runs_frame()

    return run_round


def watch_spec(
    spec_path: Path,
    *,
    every: str,
    jitter: str = "0",
    duration: str | None = None,
    store: str,
    location: str | None = None,
    s3_endpoint: str | None = None,
    notify_url: str | None = None,
    on_alert: Callable[[str], None],
    on_notify_error: Callable[[FlakehuntError], None],
    on_round: Callable[[RoundReport], None] | None = None,
) -> WatchSummary:
    """
    `flakehunt watch`: parse the options, build the round and the notifiers, run the loop.

    Alerts go to `on_alert` (one line each), the store's alert record and, with `notify_url`, a
    Slack-compatible webhook; a webhook that keeps failing is reported to `on_notify_error` and
    the watch goes on.
    """
    interval = parse_interval(every)
    location = check_location(location or default_location())
    run_store = open_store(store, endpoint=s3_endpoint)
    targets = [to_lines(on_alert), to_store(run_store, location=location)]
    if notify_url:
        targets.append(to_webhook(notify_url))
    return watch(
        probe_round(spec_path, location=location),
        every=interval,
        jitter=parse_jitter(jitter, every=interval),
        duration=parse_interval(duration, option="--for") if duration else None,
        store=run_store,
        location=location,
        notify=Notifications(targets, on_error=on_notify_error),
        on_round=on_round,
    )
