"""
`flakehunt investigate`: the whole job in one call — record what the customer reported, probe
their configuration and its neighbours through every edge, ingest the logs and their HAR,
correlate, and write the reports. Re-running continues the case: probes add runs, ingest skips
files it already has, and the reports are rewritten from everything the case holds.
"""

from __future__ import annotations

import copy
import glob
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from rich.console import Group
from rich.text import Text

from flakehunt.case import Case, record
from flakehunt.correlate import CorrelationResult, correlate_case
from flakehunt.correlate.hypotheses import CONFIDENT
from flakehunt.errors import FlakehuntError
from flakehunt.report import RenderedReport, render_report
from flakehunt.report.data import gather

StepFn = Callable[[str], None]

# How a customer names their browser -> the engine we can run; None: we have no such engine.
BROWSER_ENGINES = {
    "chrome": "chromium", "chromium": "chromium", "edge": "chromium", "brave": "chromium", "opera": "chromium",
    "firefox": "firefox", "safari": None,
}  # fmt: skip
# The neighbour of each customer setting that tells whether that setting matters.
_VARIATION = {
    "browser": lambda v: "firefox" if v == "chromium" else "chromium",
    "blocker": lambda v: "off" if v != "off" else "basic",
    "device": lambda v: "Desktop Chrome" if v != "Desktop Chrome" else "Pixel 7",
    "locale": lambda v: "en-US" if v != "en-US" else "de-DE",
    "geolocation": lambda v: "new-york" if v != "new-york" else "frankfurt",
    "network": lambda v: "fast" if v != "fast" else "slow-3g",
}
REPORTS = (("engineer", "html"), ("engineer", "md"), ("customer", "md"), ("exec", "md"))


@dataclass
class Customer:
    """What the customer told us about their setup; every field optional."""

    browser: str | None = None
    device: str | None = None
    region: str | None = None
    locale: str | None = None
    timezone: str | None = None
    vpn: bool = False
    adblock: bool = False

    def probe_configuration(self) -> tuple[dict[str, Any], list[str]]:
        """The probe dimensions for this setup, and notes on what cannot be reproduced."""
        config: dict[str, Any] = {}
        notes: list[str] = []
        if self.browser:
            family = self.browser.strip().split()[0].lower()
            if family not in BROWSER_ENGINES:
                raise FlakehuntError(
                    f"--browser {self.browser!r} is not a browser flakehunt knows; use one of: "
                    f"{', '.join(BROWSER_ENGINES)}"
                )
            engine = BROWSER_ENGINES[family]
            if engine is None:
                notes.append(
                    f"{self.browser} cannot be run here (no WebKit); probed in Chromium and Firefox instead"
                )
            else:
                config["browser"] = engine
        if self.device:
            config["device"] = self.device
        if self.region:
            config["geolocation"] = self.region.lower().replace(" ", "-")
        if self.locale:
            config["locale"] = self.locale
        if self.timezone:
            config["timezone"] = self.timezone
        if self.adblock:
            config["blocker"] = "basic"
        if self.vpn:
            notes.append("the customer's VPN cannot be reproduced; every edge is probed instead")
        return config, notes

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value not in (None, False)}


@dataclass
class InvestigationResult:
    case: Case
    notes: list[str]
    probe: Any | None  # flakehunt.probe.ProbeResult
    ingested: list[Any]  # flakehunt.ingest.IngestSummary per ingest
    correlation: CorrelationResult | None
    reports: list[RenderedReport] = field(default_factory=list)

    @property
    def top(self) -> Any | None:
        if not self.correlation:
            return None
        top = self.correlation.hypotheses[0]
        return top if top.cause != "none" and top.confidence >= CONFIDENT else None

    @property
    def site_failing(self) -> bool:
        return bool((self.probe and self.probe.failed) or self.top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.id,
            "site_failing": self.site_failing,
            "notes": self.notes,
            "probe": self.probe.to_dict() if self.probe else None,
            "ingest": [summary.to_dict() for summary in self.ingested],
            "correlation": self.correlation.to_dict() if self.correlation else None,
            "reports": [str(r.path) for r in self.reports],
        }

    def __rich__(self) -> Group:
        lines = [Text(f"case {self.case.id}", style="fh.key")]
        lines += [Text(f"note: {note}", style="fh.dim") for note in self.notes]
        if self.probe:
            runs = self.probe.runs_frame()
            failed = int((runs["outcome"] == "fail").sum()) if runs.height else 0
            lines.append(Text(f"probes: {failed} of {runs.height} runs failed"))
        if self.top:
            lines.append(
                Text(f"likely cause ({self.top.confidence:.0%}): {self.top.summary}", style="fh.fail")
            )
            lines.append(Text(f"next step: {self.top.next_step}"))
        else:
            lines.append(Text("no confident cause yet; see the engineer report for what was examined"))
        lines += [Text(f"report: {r.path}") for r in self.reports]
        return Group(*lines)


def _check_paths(paths: Sequence[str]) -> None:
    for path in paths:
        if path == "-":
            continue
        if glob.has_magic(path):
            if not glob.glob(path):
                raise FlakehuntError(f"no file matches {path!r}")
        elif not Path(path).exists():
            raise FlakehuntError(f"no file or folder {path!r}")


def _check_resolves(host: str) -> None:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        raise FlakehuntError(
            f"cannot resolve {host!r} from this machine; check the URL, or pass --edge-ips to probe given edges"
        ) from None


def builtin_spec(name: str) -> Path:
    """
    A spec shipped with flakehunt: `probes/<name>.yaml` of the source tree (editable installs)
    or the copy packaged under flakehunt/specs/ (wheels).
    """
    packaged = resources.files("flakehunt").joinpath("specs", f"{name}.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    source_tree = Path(__file__).resolve().parents[2] / "probes" / f"{name}.yaml"
    if source_tree.is_file():
        return source_tree
    raise FlakehuntError(f"no built-in probe spec {name!r}")


def probe_spec_for(url: str, spec_path: Path | None, customer_config: dict[str, Any]):
    """The spec to run: the given one (or the page-health default) with the customer's variations."""
    from flakehunt.probe import parse_spec

    path = spec_path or builtin_spec("page-health")
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FlakehuntError(f"cannot read probe spec {str(path)!r}: {exc.strerror}") from None
    data = copy.deepcopy(data)
    data["url"] = url
    matrix = data.setdefault("matrix", {})
    matrix.setdefault("edge", "all")
    include = list(matrix.get("include") or [])
    for dimension, value in customer_config.items():
        neighbour = (
            {**customer_config, dimension: _VARIATION[dimension](value)} if dimension in _VARIATION else None
        )
        if neighbour:
            include.append(neighbour)
    if include:
        matrix["include"] = include
    return parse_spec(data, source=str(path), path=path)


def investigate(
    url: str,
    *,
    case: Case,
    customer: Customer | None = None,
    symptom: str | None = None,
    spec: Path | None = None,
    logs: Sequence[str] = (),
    har: Sequence[str] = (),
    edge_ips: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    expect: str | None = None,
    failure: str | None = None,
    events: Sequence[tuple[datetime | str, str]] = (),
    repeat: int | None = None,
    concurrency: int | None = None,
    geoip_dir: Path | None = None,
    probe: bool = True,
    history: str | None = None,
    history_since: datetime | None = None,
    on_step: StepFn | None = None,
) -> InvestigationResult:
    """
    Run the whole investigation for `url` into `case` and write its reports.

    Raises
    ------
    FlakehuntError
        A bad URL, spec, log path or rule (exit 2); MissingEnvironmentError when a browser is
        missing (exit 3).
    """
    step = on_step or (lambda _message: None)
    # Every mistake we can see up front fails before any work starts.
    host = urlsplit(url).hostname
    if not urlsplit(url).scheme.startswith("http") or not host:
        raise FlakehuntError(f"URL {url!r} is not an http(s) address")
    customer = customer or Customer()
    config, notes = customer.probe_configuration()
    _check_paths([*logs, *har])
    probe_spec = probe_spec_for(url, spec, config) if probe else None
    if probe and not edge_ips:
        _check_resolves(host)
    case.update_settings(
        reported={
            **case.settings().get("reported", {}),
            "url": url,
            **({"symptom": symptom} if symptom else {}),
            **{key: str(value) for key, value in customer.to_dict().items()},
        }
    )
    record(
        case,
        "investigate",
        params={"url": url, "customer": customer.to_dict(), "logs": list(logs), "har": list(har)},
        outcome="started",
    )
    if history:
        from flakehunt.watch import attach_history

        attached = attach_history(case, history, since=history_since)
        step(f"attached {attached} scheduled probe runs from {history}")
    ingested = []
    if logs or har:
        from flakehunt.ingest import ingest_paths

        step(f"ingesting {len(logs) + len(har)} log/HAR path(s)")
        ingested.append(ingest_paths([*logs, *har], case=case, since=since, until=until, geoip_dir=geoip_dir))
    probe_result = None
    if probe:
        from flakehunt.probe import run_probe

        step(f"probing {url} with spec {probe_spec.name!r} through every edge")
        probe_result = run_probe(
            probe_spec,
            case=case,
            url=url,
            edge_ips=list(edge_ips) if edge_ips else None,
            customer=config or None,
            repeat=repeat,
            concurrency=concurrency,
        )
    step("correlating")
    correlation = correlate_case(
        case, expect=expect, failure=failure, events=events, since=since, until=until
    )
    step("writing reports")
    content = gather(case)
    reports = [
        render_report(case, audience=audience, format_name=fmt, data=content) for audience, fmt in REPORTS
    ]
    result = InvestigationResult(case, notes, probe_result, ingested, correlation, reports)
    top = result.top
    record(
        case,
        "investigate",
        params={"url": url},
        outcome=(f"{top.cause} ({top.confidence:.2f}): {top.summary}" if top else "no confident cause")
        + f"; reports in {case.reports_dir}",
    )
    return result
