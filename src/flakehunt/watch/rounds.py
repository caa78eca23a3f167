"""
A probe round into a run store: the seam between the probe runner and scheduled probing.

`flakehunt probe SPEC --store URI` runs one round (`probe_into_store`, what cron, systemd,
Kubernetes and GitHub Actions start); `flakehunt watch` runs one every interval (`watch_spec`,
whose rounds come from `probe_round`). Both store the same thing for a round, one immutable file
set tagged with the runner's location (see `flakehunt.watch.runstore`):

- the runs (`probe_runs` rows), which carry the outcome and the configuration;
- the exchanges the browsers made (`source = probe`), so correlate sees asset versions per edge;
- the HAR and screenshot of up to `ARTIFACT_RUNS` failed runs, so the store holds the evidence
  on its own (a runner's disk, or a Kubernetes pod, may be gone when someone reads it).

The probe runner needs a case to write into. Without `--case` a round runs in a scratch case in
a temporary folder, removed once the round is stored: a runner probing every 15 minutes for
weeks keeps its history in the store, not twice. With `--case` the round also stays in that case.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text

from flakehunt.case import Case, open_case
from flakehunt.errors import FlakehuntError
from flakehunt.watch.alerts import Alert, AlertPolicy, AlertTracker
from flakehunt.watch.interval import parse_interval, parse_jitter
from flakehunt.watch.loop import RoundData, RoundReport, RunRound, WatchSummary, replay, watch
from flakehunt.watch.notify import Notifications, to_lines, to_store, to_webhook
from flakehunt.watch.runstore import check_location, default_location, new_round_id, open_store

if TYPE_CHECKING:
    from flakehunt.probe import ProbeResult, ProbeSpec

ARTIFACT_RUNS = 5  # failed runs per round whose HAR and screenshot are copied into the store


def run_probe_round(
    spec: ProbeSpec, *, case: Case | None = None, **probe_options: Any
) -> tuple[ProbeResult, RoundData]:
    """
    Run `spec` once through the probe runner and gather what a store keeps of the round.

    Parameters
    ----------
    spec
        From `flakehunt.probe.load_spec`.
    case
        Where the probe runner writes; None runs in a scratch case that is removed afterwards.
    **probe_options
        Passed to `flakehunt.probe.run_probe` (repeat, concurrency, url, edge_ips, ...).

    Returns
    -------
    tuple[ProbeResult, RoundData]
        The runner's result, and the round's runs, exchanges and artifact bytes.
    """
    from flakehunt.probe import run_probe

    with _round_case(case) as round_case:
        result = run_probe(spec, case=round_case, **probe_options)
        return result, _round_data(result)


@contextmanager
def _round_case(case: Case | None) -> Iterator[Case]:
    if case is not None:
        yield case
        return
    with tempfile.TemporaryDirectory(prefix="flakehunt-round-") as folder:
        yield open_case("round", root=Path(folder))


def _round_data(result: ProbeResult) -> RoundData:
    """The round as stored; artifact files are read now, before a scratch case disappears."""
    artifacts: dict[str, bytes] = {}
    failed = [run for run in result.runs if run.outcome == "fail"]
    for run in failed[:ARTIFACT_RUNS]:
        for path in (run.har_path, run.screenshot_path):
            if path and Path(path).is_file():
                artifacts[path] = Path(path).read_bytes()
    return RoundData(result.runs_frame(), result.exchanges, artifacts)


@dataclass
class StoredProbe:
    """One `flakehunt probe --store` round: the probe's result, where it went, what it alerted."""

    result: ProbeResult
    store: str
    location: str
    round_id: str
    path: str
    alerts: list[Alert] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.result.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.result.to_dict(),
            "store": {
                "uri": self.store,
                "location": self.location,
                "round_id": self.round_id,
                "file": self.path,
            },
            "alerts": [alert.to_dict() for alert in self.alerts],
        }

    def __rich__(self) -> Group:
        lines: list[Any] = [
            self.result,
            Text(f"round {self.round_id} stored in {self.store}", style="fh.dim"),
        ]
        lines.extend(Text(f"alert: {alert.text}", style="fh.fail") for alert in self.alerts)
        return Group(*lines)


def probe_into_store(
    spec_path: Path,
    *,
    store: str,
    location: str | None = None,
    endpoint: str | None = None,
    case: Case | None = None,
    policy: AlertPolicy | None = None,
    **probe_options: Any,
) -> StoredProbe:
    """
    `flakehunt probe SPEC --store URI`: run one round, append it to the store, judge alerts.

    The alert tracker replays this location's recent rounds from the store first, so a probe
    started by cron every 15 minutes alerts exactly as `flakehunt watch` would; alerts are
    recorded in the store and returned.

    Parameters
    ----------
    spec_path
        The probe spec.
    store, endpoint
        The run store and an S3-compatible endpoint (see `open_store`).
    location
        This runner's name; default the host name.
    case
        Also keep the round in this case (its HARs and screenshots stay there); default none.
    policy
        The alert test's windows and levels; default `AlertPolicy()`.
    **probe_options
        Passed to `flakehunt.probe.run_probe`.

    Returns
    -------
    StoredProbe
    """
    from flakehunt.probe import load_spec

    location = check_location(location or default_location())
    run_store = open_store(store, endpoint=endpoint)
    spec = load_spec(spec_path)
    tracker = AlertTracker(policy or AlertPolicy())
    replay(tracker, run_store, location)
    started = datetime.now(UTC)
    result, data = run_probe_round(spec, case=case, **probe_options)
    round_id = new_round_id(location, started)
    path = run_store.append_round(
        data.runs, location=location, round_id=round_id, exchanges=data.exchanges, artifacts=data.artifacts
    )
    alerts = tracker.observe(data.runs, ts=started, location=location)
    if alerts:
        to_store(run_store, location=location)(alerts)
    return StoredProbe(result, store, location, round_id, run_store.address(path), alerts)


def probe_round(spec_path: Path, **probe_options: Any) -> RunRound:
    """
    A round function for `watch`: each call runs the spec once and returns the round to store.

    The spec is read once, here, so a bad spec stops `flakehunt watch` before its first wait.
    Rounds run in scratch cases (see the module docstring).
    """
    from flakehunt.probe import load_spec

    spec = load_spec(spec_path)

    def run_round() -> RoundData:
        return run_probe_round(spec, **probe_options)[1]

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
    max_rounds: int | None = None,
    policy: AlertPolicy | None = None,
    **probe_options: Any,
) -> WatchSummary:
    """
    `flakehunt watch`: parse the options, build the round and the notifiers, run the loop.

    Alerts go to `on_alert` (one line each), the store's alert record and, with `notify_url`, a
    Slack-compatible webhook; a webhook that keeps failing is reported to `on_notify_error` and
    the watch goes on. `max_rounds`, `policy` and `probe_options` (passed to `run_probe`, e.g.
    `url`, `edge_ips`, `repeat`) are for library callers and tests; the command uses the spec.
    """
    interval = parse_interval(every)
    location = check_location(location or default_location())
    run_store = open_store(store, endpoint=s3_endpoint)
    targets = [to_lines(on_alert), to_store(run_store, location=location)]
    if notify_url:
        targets.append(to_webhook(notify_url))
    return watch(
        probe_round(spec_path, **probe_options),
        every=interval,
        jitter=parse_jitter(jitter, every=interval),
        duration=parse_interval(duration, option="--for") if duration else None,
        max_rounds=max_rounds,
        store=run_store,
        location=location,
        notify=Notifications(targets, on_error=on_notify_error),
        tracker=AlertTracker(policy or AlertPolicy()),
        on_round=on_round,
    )
