"""
When to say "this configuration started failing" and "it is back to normal", from counts alone.

Each configuration (edge x browser x ...) is compared with its own history: the runs of the
last `recent_rounds` rounds against the runs of the `baseline_rounds` rounds before them.

The test is a one-sided Fisher exact test on the 2x2 table (failed / passed x recent / baseline):
it is exact at the small counts a few rounds give (7/10 against 0/40), it needs no normal
approximation, and unlike a binomial test against the baseline's rate it does not treat that
rate as known (a baseline of 0/40 does not mean the true rate is 0, which would make any single
failure "impossible"). A configuration needs `min_recent_runs` recent and `min_baseline_runs`
baseline runs before it is tested at all, and the level `alpha` is split across the
configurations tested in a round (Bonferroni), so a 60-configuration matrix watched every
15 minutes does not page anyone by chance.

Once raised, the alert's baseline is frozen and the rounds of the incident never enter any
later baseline (an hour of failures must not become the new normal). It clears when the recent
window is clearly not above that baseline any more (one-sided p >= `recover_p`, 0.2 by default:
hysteresis, so a configuration hovering at the edge does not flap). Runs whose outcome is `error`
are the tool's failures, not the site's, and are left out of both counts (DESIGN.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from scipy.stats import fisher_exact

from flakehunt.errors import FlakehuntError
from flakehunt.schema import PROBE_CONFIGURATION

DIMENSIONS = PROBE_CONFIGURATION  # the columns that name a configuration, edge first
RAISED, RECOVERED = "raised", "recovered"

ConfigKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AlertPolicy:
    """The knobs of the test; the defaults suit 5-10 runs per configuration per round."""

    recent_rounds: int = 2
    baseline_rounds: int = 24
    min_recent_runs: int = 5
    min_baseline_runs: int = 10
    alpha: float = 0.01
    recover_p: float = 0.2


@dataclass(frozen=True)
class Alert:
    """A configuration's failure rate rose above its baseline (`raised`) or came back (`recovered`)."""

    kind: str
    configuration: dict[str, str]
    recent_failures: int
    recent_runs: int
    baseline_failures: int
    baseline_runs: int
    rounds: int
    p_value: float
    ts: datetime
    location: str | None = None

    @property
    def label(self) -> str:
        return config_label(self.configuration)

    @property
    def text(self) -> str:
        """
        The alert in one line, with the counts it rests on.

        >>> from datetime import UTC
        >>> Alert("raised", {"edge_pop": "FRA56-C1", "browser": "chromium"}, 7, 10, 0, 40, 2, 6.1e-6,
        ...       datetime(2026, 1, 1, tzinfo=UTC)).text
        'edge FRA56-C1 x chromium: 7/10 failed in the last 2 rounds vs 0/40 before (p<0.0001)'
        """
        counts = (
            f"{self.recent_failures}/{self.recent_runs} failed in the last {self.rounds} rounds"
            f" vs {self.baseline_failures}/{self.baseline_runs} before"
        )
        where = f", from {self.location}" if self.location else ""
        if self.kind == RECOVERED:
            return f"{self.label} recovered: {counts} the alert ({format_p(self.p_value)}){where}"
        return f"{self.label}: {counts} ({format_p(self.p_value)}){where}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ts": self.ts.isoformat(), "label": self.label, "text": self.text}


@dataclass
class _Round:
    failures: int
    runs: int
    incident: bool = False


@dataclass
class _History:
    rounds: deque[_Round]
    alerting: bool = False
    frozen_baseline: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class ConfigRate:
    """One configuration's rolling failure rate: recent window and baseline."""

    configuration: dict[str, str]
    recent_failures: int
    recent_runs: int
    baseline_failures: int
    baseline_runs: int
    alerting: bool

    @property
    def rate(self) -> float | None:
        return self.recent_failures / self.recent_runs if self.recent_runs else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": config_label(self.configuration), "rate": self.rate}


@dataclass
class AlertTracker:
    """
    Rolling failure counts per configuration, and the alerts they call for.

    Parameters
    ----------
    policy
        Window sizes, minimum runs and levels (see the module docstring for the reasoning).
    dimensions
        The columns that name a configuration; default: those of `DIMENSIONS` a round has.
    """

    policy: AlertPolicy = field(default_factory=AlertPolicy)
    dimensions: Sequence[str] | None = None
    _histories: dict[ConfigKey, _History] = field(default_factory=dict)

    def observe(self, frame: pl.DataFrame, *, ts: datetime, location: str | None = None) -> list[Alert]:
        """
        Add one round's runs (an `outcome` column and the dimension columns); return its alerts.

        Every configuration seen so far gets a round, with zero runs when this round lacked it.
        """
        counts = self._count(frame)
        keep = self.policy.recent_rounds + self.policy.baseline_rounds * 4
        for key in counts.keys() - self._histories.keys():
            self._histories[key] = _History(deque(maxlen=keep))
        for key, history in self._histories.items():
            failures, runs = counts.get(key, (0, 0))
            history.rounds.append(_Round(failures, runs, incident=history.alerting))
        testable = [key for key, history in self._histories.items() if self._testable(history)]
        level = self.policy.alpha / max(1, len(testable))
        alerts = []
        for key in testable:
            alert = self._judge(key, self._histories[key], level, ts=ts, location=location)
            if alert:
                alerts.append(alert)
        return alerts

    def rates(self) -> list[ConfigRate]:
        """Every configuration's recent and baseline counts, worst recent rate first."""
        rates = []
        for key, history in self._histories.items():
            recent, baseline = self._windows(history)
            rates.append(ConfigRate(dict(key), *recent, *baseline, alerting=history.alerting))
        return sorted(rates, key=lambda r: (-(r.rate or 0.0), config_label(r.configuration)))

    @property
    def alerting(self) -> list[dict[str, str]]:
        """The configurations whose alert has not cleared yet."""
        return [dict(key) for key, history in self._histories.items() if history.alerting]

    # -- inside -------------------------------------------------------------------------------

    def _count(self, frame: pl.DataFrame) -> dict[ConfigKey, tuple[int, int]]:
        if "outcome" not in frame.columns:
            if frame.is_empty():
                return {}
            raise FlakehuntError(f"a round needs an 'outcome' column; it has {frame.columns!r}")
        names = [name for name in (self.dimensions or DIMENSIONS) if name in frame.columns]
        counted = frame.filter(pl.col("outcome").is_in(["pass", "fail"]))
        if not names:
            counted = counted.with_columns(pl.lit("all").alias("configuration"))
            names = ["configuration"]
        grouped = counted.group_by(names).agg(
            (pl.col("outcome") == "fail").sum().alias("failures"), pl.len().alias("runs")
        )
        counts = {}
        for row in grouped.iter_rows(named=True):
            key = tuple((name, str(row[name])) for name in names if row[name] is not None)
            counts[key] = (int(row["failures"]), int(row["runs"]))
        return counts

    def _windows(self, history: _History) -> tuple[tuple[int, int], tuple[int, int]]:
        rounds = list(history.rounds)
        recent = rounds[-self.policy.recent_rounds :]
        if history.alerting:
            return _sum(recent), history.frozen_baseline
        earlier = [r for r in rounds[: -self.policy.recent_rounds] if not r.incident]
        return _sum(recent), _sum(earlier[-self.policy.baseline_rounds :])

    def _testable(self, history: _History) -> bool:
        (_, recent_runs), (_, baseline_runs) = self._windows(history)
        return recent_runs >= self.policy.min_recent_runs and baseline_runs >= self.policy.min_baseline_runs

    def _judge(
        self, key: ConfigKey, history: _History, level: float, *, ts: datetime, location: str | None
    ) -> Alert | None:
        recent, baseline = self._windows(history)
        p_value = rise_p_value(recent, baseline)
        if not history.alerting and p_value < level:
            history.alerting, history.frozen_baseline = True, baseline
            for past in list(history.rounds)[-self.policy.recent_rounds :]:
                past.incident = True
            kind = RAISED
        elif history.alerting and p_value >= self.policy.recover_p:
            history.alerting = False
            kind = RECOVERED
        else:
            return None
        rounds = min(self.policy.recent_rounds, len(history.rounds))
        return Alert(kind, dict(key), *recent, *baseline, rounds, p_value, ts, location)


def rise_p_value(recent: tuple[int, int], baseline: tuple[int, int]) -> float:
    """
    One-sided Fisher exact p-value that the recent failure rate is above the baseline's.

    Both arguments are `(failures, runs)`.

    >>> round(rise_p_value((7, 10), (0, 40)), 7)
    1.2e-06
    >>> rise_p_value((0, 10), (0, 40))
    1.0
    """
    (rf, rn), (bf, bn) = recent, baseline
    return float(fisher_exact([[rf, rn - rf], [bf, bn - bf]], alternative="greater").pvalue)


def config_label(configuration: Mapping[str, str]) -> str:
    """
    A configuration as people say it.

    >>> config_label({"edge_pop": "FRA56-C1", "browser": "chromium"})
    'edge FRA56-C1 x chromium'
    """
    order = {name: index for index, name in enumerate(DIMENSIONS)}
    names = sorted(configuration, key=lambda name: (order.get(name, len(order)), name))
    parts = [f"edge {configuration[n]}" if n == "edge_pop" else str(configuration[n]) for n in names]
    return " x ".join(parts) or "every configuration"


def format_p(p_value: float) -> str:
    """
    >>> format_p(0.00004), format_p(0.0123), format_p(1.0)
    ('p<0.0001', 'p=0.012', 'p=1')
    """
    return "p<0.0001" if p_value < 1e-4 else f"p={p_value:.2g}"


def _sum(rounds: Sequence[_Round]) -> tuple[int, int]:
    return sum(r.failures for r in rounds), sum(r.runs for r in rounds)
