"""
Scheduled probing (issue #7): a run store shared by runners, alerts on a configuration's own
baseline, notifications, the watch loop, and scheduler configs for `flakehunt schedule`.
"""

from flakehunt.watch.alerts import Alert, AlertPolicy, AlertTracker, ConfigRate, rise_p_value
from flakehunt.watch.history import attach_history, store_case
from flakehunt.watch.interval import format_interval, parse_interval, parse_jitter
from flakehunt.watch.loop import RoundData, RoundReport, WatchSummary, watch
from flakehunt.watch.notify import (
    Notifications,
    NotifyError,
    post_webhook,
    slack_payload,
    to_lines,
    to_store,
    to_webhook,
)
from flakehunt.watch.rounds import StoredProbe, probe_into_store, probe_round, watch_spec
from flakehunt.watch.runstore import CompactSummary, RunStore, default_location, open_store
from flakehunt.watch.schedule import EMITTERS, emit_schedule

__all__ = [
    "EMITTERS",
    "Alert",
    "AlertPolicy",
    "AlertTracker",
    "CompactSummary",
    "ConfigRate",
    "Notifications",
    "NotifyError",
    "RoundData",
    "RoundReport",
    "RunStore",
    "StoredProbe",
    "WatchSummary",
    "attach_history",
    "default_location",
    "emit_schedule",
    "format_interval",
    "open_store",
    "parse_interval",
    "parse_jitter",
    "post_webhook",
    "probe_into_store",
    "probe_round",
    "rise_p_value",
    "slack_payload",
    "store_case",
    "to_lines",
    "to_store",
    "to_webhook",
    "watch",
    "watch_spec",
]
