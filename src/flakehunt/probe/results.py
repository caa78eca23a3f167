"""What a probe round found: one record per run, and the per-configuration summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Group
from rich.table import Table
from rich.text import Text

from flakehunt.correlate.stats import rate_upper_bound, wilson_interval
from flakehunt.schema import PROBE_RUN_SCHEMA, conform

if TYPE_CHECKING:
    from flakehunt.probe.freshness import FreshnessReport

# The dimensions a configuration is summarized by (the run's columns, edge as its address).
CONFIG_COLUMNS = ("browser", "device", "locale", "timezone", "geolocation", "network", "blocker", "cache")


@dataclass
class FailedCheck:
    check: str
    expected: str
    observed: str


@dataclass
class RunRecord:
    """One run of one configuration; `outcome` is pass, fail or error (the tool failed)."""

    run_id: str
    config: dict[str, Any]
    repeat: int
    started: datetime
    ended: datetime
    outcome: str
    failed_checks: list[FailedCheck] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    navigation_ms: float | None = None
    load_ms: float | None = None
    checked_request_ms: float | None = None
    unsupported: list[str] = field(default_factory=list)
    edge_pop: str | None = None
    browser_version: str | None = None
    har_path: str | None = None
    screenshot_path: str | None = None
    attempt: int = 1
    retries: int = 0
    error: str | None = None

    def row(self, *, probe_id: str, spec: str, url: str) -> dict[str, Any]:
        config = self.config
        return {
            "run_id": self.run_id,
            "probe_id": probe_id,
            "spec": spec,
            "url": url,
            "started": self.started,
            "ended": self.ended,
            **{name: config.get(name) for name in CONFIG_COLUMNS},
            "browser_version": self.browser_version,
            "edge_ip": config.get("edge"),
            "edge_pop": self.edge_pop,
            "repeat": self.repeat,
            "outcome": self.outcome,
            "failed_checks": [asdict(check) for check in self.failed_checks],
            "console_errors": self.console_errors,
            "page_errors": self.page_errors,
            "failed_requests": self.failed_requests,
            "navigation_ms": self.navigation_ms,
            "load_ms": self.load_ms,
            "checked_request_ms": self.checked_request_ms,
            "unsupported": self.unsupported,
            "har_path": self.har_path,
            "screenshot_path": self.screenshot_path,
            "attempt": self.attempt,
            "retries": self.retries,
            "error": self.error,
        }


@dataclass
class ConfigSummary:
    dimensions: dict[str, Any]
    runs: int
    failures: int
    errors: int
    unsupported: list[str]

    @property
    def counted(self) -> int:
        """Runs that tested the site: errors are the tool's failures, not the site's."""
        return self.runs - self.errors

    @property
    def rate(self) -> float | None:
        return self.failures / self.counted if self.counted else None

    @property
    def ci95(self) -> tuple[float, float]:
        low, high = wilson_interval(self.failures, self.counted)
        return float(low), float(high)

    def statement(self) -> str:
        """
        The result in words, with its uncertainty.

        >>> ConfigSummary({}, 40, 0, 0, []).statement()
        '0/40: failure rate below 7.2 %'
        >>> ConfigSummary({}, 10, 3, 0, []).statement()
        '3/10 failed: 30 % (95 % CI 10.8-60.3 %)'
        """
        if not self.counted:
            return f"no usable runs ({self.errors} errors)"
        if not self.failures:
            bound = float(rate_upper_bound(0, self.counted)) * 100
            return f"0/{self.counted}: failure rate below {bound:.1f} %"
        low, high = (x * 100 for x in self.ci95)
        rate = self.failures / self.counted * 100
        return f"{self.failures}/{self.counted} failed: {rate:.0f} % (95 % CI {low:.1f}-{high:.1f} %)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimensions": self.dimensions,
            "runs": self.runs,
            "failures": self.failures,
            "errors": self.errors,
            "rate": self.rate,
            "ci95": list(self.ci95),
            "unsupported": self.unsupported,
            "statement": self.statement(),
        }


@dataclass
class ProbeResult:
    """A probe round: every run, the exchanges the pages made, and the summary per configuration."""

    probe_id: str
    spec_name: str
    url: str
    runs: list[RunRecord]
    exchanges: pl.DataFrame
    planned: int
    budget_exhausted: bool = False
    freshness: FreshnessReport | None = None  # the spec's `freshness` assets across edges

    @property
    def configurations(self) -> list[ConfigSummary]:
        return summarize(self.runs)

    @property
    def failed(self) -> bool:
        """Whether any configuration failed at least once, or an edge serves a stale asset (exit 1)."""
        stale = self.freshness is not None and bool(self.freshness.stale)
        return stale or any(run.outcome == "fail" for run in self.runs)

    def runs_frame(self) -> pl.DataFrame:
        return runs_frame(self.runs, probe_id=self.probe_id, spec=self.spec_name, url=self.url)

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe_id": self.probe_id,
            "spec": self.spec_name,
            "url": self.url,
            "planned": self.planned,
            "completed": len(self.runs),
            "budget_exhausted": self.budget_exhausted,
            "configurations": [summary.to_dict() for summary in self.configurations],
            **({"freshness": self.freshness.to_dict()} if self.freshness is not None else {}),
        }

    def __rich__(self) -> Group:
        summaries = self.configurations
        varying = [
            name
            for name in (*CONFIG_COLUMNS, "edge", "edge_pop")
            if len({str(s.dimensions.get(name)) for s in summaries}) > 1
        ] or ["browser"]
        table = Table(title=f"probe {self.spec_name}: {len(self.runs)} runs", title_justify="left")
        for name in varying:
            table.add_column(name)
        for name in ("runs", "fail", "error"):
            table.add_column(name, justify="right")
        table.add_column("result")
        for summary in summaries:
            style = "fh.fail" if summary.failures else "fh.pass"
            table.add_row(
                *[str(summary.dimensions.get(name) or "-") for name in varying],
                str(summary.runs),
                Text(str(summary.failures), style=style),
                Text(str(summary.errors), style="fh.error" if summary.errors else ""),
                Text(summary.statement(), style=style),
            )
        notes = []
        if unsupported := sorted({u for s in summaries for u in s.unsupported}):
            notes.append(
                Text(f"not supported by a browser, so not applied: {', '.join(unsupported)}", "fh.dim")
            )
        if self.budget_exhausted:
            notes.append(
                Text(f"time budget ran out: {len(self.runs)} of {self.planned} runs done", "fh.error")
            )
        freshness = [self.freshness] if self.freshness is not None else []
        return Group(table, *notes, *freshness)


def runs_frame(runs: Iterable[RunRecord], *, probe_id: str, spec: str, url: str) -> pl.DataFrame:
    """Runs as rows of the case's `probe_runs` dataset."""
    rows = [run.row(probe_id=probe_id, spec=spec, url=url) for run in runs]
    return conform(pl.DataFrame(rows, schema=PROBE_RUN_SCHEMA), PROBE_RUN_SCHEMA)


def config_key(run: RunRecord) -> tuple:
    return (*(run.config.get(name) for name in CONFIG_COLUMNS), run.config.get("edge"))


def summarize(runs: Iterable[RunRecord]) -> list[ConfigSummary]:
    """Group runs by configuration (edge included) and count outcomes, in first-seen order."""
    groups: dict[tuple, list[RunRecord]] = {}
    for run in runs:
        groups.setdefault(config_key(run), []).append(run)
    summaries = []
    for members in groups.values():
        config = members[0].config
        pops = [run.edge_pop for run in members if run.edge_pop]
        dimensions = {name: config.get(name) for name in CONFIG_COLUMNS}
        dimensions["edge"] = config.get("edge")
        dimensions["edge_pop"] = max(set(pops), key=pops.count) if pops else None
        summaries.append(
            ConfigSummary(
                dimensions=dimensions,
                runs=len(members),
                failures=sum(run.outcome == "fail" for run in members),
                errors=sum(run.outcome == "error" for run in members),
                unsupported=sorted({u for run in members for u in run.unsupported}),
            )
        )
    return summaries
