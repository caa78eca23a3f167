"""Times as users type them: ISO 8601 (a trailing Z or an offset; naive means UTC) or `24h` ago."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flakehunt.errors import FlakehuntError

_AGO = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_when(text: str, *, option: str = "time", now: datetime | None = None) -> datetime:
    """
    A UTC datetime from `2026-11-20T10:00Z`, `2026-11-20 10:00:00+01:00`, or `24h` (ago).

    >>> parse_when("2026-11-20T10:00Z").isoformat()
    '2026-11-20T10:00:00+00:00'
    >>> parse_when("2h", now=datetime(2026, 11, 20, 12, tzinfo=UTC)).hour
    10
    """
    text = text.strip()
    if match := _AGO.match(text):
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        try:
            return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
        except OverflowError:  # before year 1
            raise FlakehuntError(f"{option} {text!r} reaches back before the year 1") from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FlakehuntError(
            f"{option} {text!r} is not a time; use ISO 8601 like '2026-11-20T10:00Z' or an age like '24h'"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """`--since` and `--until` as UTC datetimes, either absent; an empty window is a user error."""
    now = datetime.now(UTC)  # one clock for both: `--since 1h --until 1h` is empty, not a microsecond
    start = parse_when(since, option="--since", now=now) if since else None
    end = parse_when(until, option="--until", now=now) if until else None
    check_window(start, end)
    return start, end


def check_window(since: datetime | None, until: datetime | None) -> None:
    """
    Raise when `since` is not before `until`: nothing could match, and an empty result would
    read as "nothing happened".
    """
    if since is not None and until is not None and since >= until:
        raise FlakehuntError(
            f"the time window is empty: --since {_shown(since)} is not before --until {_shown(until)}"
        )


def window_text(since: datetime | None, until: datetime | None) -> str:
    """
    >>> window_text(datetime(2026, 1, 1, tzinfo=UTC), None)
    'since 2026-01-01T00:00:00+00:00'
    """
    parts = [f"since {_shown(since)}" if since else "", f"until {_shown(until)}" if until else ""]
    return " ".join(part for part in parts if part)


def _shown(when: datetime) -> str:
    return when.isoformat(timespec="seconds")  # an age like 2h is read to the microsecond


def parse_event(text: str) -> tuple[datetime, str]:
    """
    `"2026-11-20T10:00Z deploy v42"` as (time, label).

    >>> parse_event("2026-11-20T10:00Z deploy v42")[1]
    'deploy v42'
    """
    when, _, label = text.strip().partition(" ")
    if not label.strip():
        raise FlakehuntError(
            f"--event {text!r} needs a time and a label, like '2026-11-20T10:00Z deploy v42'"
        )
    return parse_when(when, option="--event"), label.strip()
