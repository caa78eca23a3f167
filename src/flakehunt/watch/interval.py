"""Intervals as people write them on the command line: `15m`, `1h30m`, `6h`, `1d`; jitter as `20%`."""

from __future__ import annotations

import re
from datetime import timedelta

from flakehunt.errors import FlakehuntError

_PART = re.compile(r"(\d+)([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_interval(text: str, *, option: str = "--every") -> timedelta:
    """
    Parse `15m`, `90s`, `1h30m` or `2d` into a positive timedelta.

    >>> parse_interval("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_interval("7 minutes")
    Traceback (most recent call last):
    ...
    flakehunt.errors.FlakehuntError: --every has bad interval '7 minutes'; write it like 15m, 1h30m, 90s or 1d
    """
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != cleaned:
        raise FlakehuntError(f"{option} has bad interval {text!r}; write it like 15m, 1h30m, 90s or 1d")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise FlakehuntError(f"{option} must be longer than zero, got {text!r}")
    return timedelta(seconds=seconds)


def parse_jitter(text: str, *, every: timedelta) -> timedelta:
    """
    Parse jitter as a share of the interval (`20%`) or an interval (`30s`); at most the interval.

    >>> parse_jitter("20%", every=timedelta(minutes=15))
    datetime.timedelta(seconds=180)
    >>> parse_jitter("0", every=timedelta(minutes=15))
    datetime.timedelta(0)
    """
    cleaned = text.strip()
    if cleaned in ("", "0", "0%"):
        return timedelta(0)
    if cleaned.endswith("%"):
        try:
            share = float(cleaned[:-1]) / 100
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            raise FlakehuntError(f"--jitter has bad share {text!r}; give 0% to 100% or an interval like 30s")
        return every * share
    jitter = parse_interval(cleaned, option="--jitter")
    if jitter > every:
        raise FlakehuntError(f"--jitter {text!r} is longer than --every; rounds would overlap")
    return jitter


def format_interval(interval: timedelta) -> str:
    """
    The shortest way to write `interval` back (`timedelta(minutes=90)` -> `1h30m`).

    >>> format_interval(timedelta(minutes=90)), format_interval(timedelta(days=7))
    ('1h30m', '7d')
    """
    seconds = int(interval.total_seconds())
    text = ""
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            text += f"{count}{unit}"
    return text or "0s"
