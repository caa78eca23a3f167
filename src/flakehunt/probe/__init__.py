"""
Probes: real browsers across a configuration matrix, repeated, pinned to each CDN edge.

    spec = load_spec("probes/conversion-pixel.yaml")
    result = run_probe(spec, case=open_case("T-1"), url=world.site_url, edge_ips=["127.0.0.2"])
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from flakehunt import aio
from flakehunt.case import Case, record
from flakehunt.errors import FlakehuntError, interruption
from flakehunt.probe.edges import ResolverAnswers, discover_edges, resolve_edges
from flakehunt.probe.freshness import FRESHNESS, FreshnessReport, check_freshness, fetch_asset
from flakehunt.probe.matrix import expand_matrix
from flakehunt.probe.results import ConfigSummary, ProbeResult, RunRecord
from flakehunt.probe.runner import ProgressFn, RunnerSettings, RunPlan, default_concurrency
from flakehunt.probe.spec import ProbeSpec, SpecError, load_spec, parse_spec
from flakehunt.probe.writer import PROBE_RUNS as PROBE_RUNS
from flakehunt.probe.writer import RunWriter, exchanges_frame
from flakehunt.store import write_part

__all__ = [
    "ConfigSummary",
    "FreshnessReport",
    "ProbeResult",
    "ProbeSpec",
    "ResolverAnswers",
    "RunRecord",
    "SpecError",
    "check_freshness",
    "default_concurrency",
    "discover_edges",
    "load_spec",
    "parse_spec",
    "resolve_edges",
    "run_probe",
]


def run_probe(
    spec: ProbeSpec,
    *,
    case: Case,
    repeat: int | None = None,
    concurrency: int | None = None,
    budget_seconds: float | None = None,
    url: str | None = None,
    edge_ips: Sequence[str] | None = None,
    resolvers: Sequence[str] | None = None,
    customer: Mapping[str, Any] | None = None,
    origin: str | None = None,
    on_progress: ProgressFn | None = None,
    write_every: int = 25,
) -> ProbeResult:
    """
    Run a probe spec across its matrix, pinned to each edge, and store what it saw in the case.

    Parameters
    ----------
    spec
        From `load_spec`.
    case
        Runs go to its `probe_runs` dataset, the pages' requests to `exchanges` (source "probe"),
        the spec's `freshness` answers to `freshness`, HARs and screenshots of failed runs under
        `probes/<probe-id>/`, a line to its journal. Runs are written as they finish (a part
        per `write_every` runs, or every 15 s), so an interrupted probe keeps what it finished.
    repeat, concurrency, budget_seconds
        Override the spec's repeat; runs in flight (default: `default_concurrency()`, four
        per core, while pages load one per core at a time); stop starting runs after this many
        seconds.
    url
        Replaces the spec's `url` (its steps' relative paths then apply to this site).
    edge_ips
        Edge addresses or hostnames to pin runs to; replaces the spec's `edges`. With neither and
        `edge: all`, the site's hostname is resolved: through each of `resolvers` when given
        (`IP` or `IP:PORT`, e.g. public resolvers in several regions), else by this machine.
    customer
        The customer's own configuration (`{"browser": "firefox", "blocker": "basic"}`), always
        probed in addition to the matrix.
    origin
        Origin base URL for `header` checks with `equals_origin` (replaces the spec's `origin`).
    on_progress
        Called as `(label, done, total)` after every run.
    write_every
        Finished runs per stored part (a part is also written every 15 s and on interrupt).

    Returns
    -------
    ProbeResult
        Every run, the per-configuration summary and the freshness report (when the spec lists
        assets); `.failed` says whether any run failed or any edge serves a stale asset.

    Raises
    ------
    SpecError
        A bad override (repeat < 1, unknown device, missing secret).
    MissingEnvironmentError
        A browser is not installed or does not start.
    KeyboardInterrupt
        After storing the runs that finished and journaling the interruption.
    """
    base_url = url or spec.url
    if not urlsplit(base_url).scheme.startswith("http"):
        raise SpecError(f"--url must be an http(s) URL, got {base_url!r}")
    repeat = spec.repeat if repeat is None else repeat
    if repeat < 1:
        raise SpecError(f"--repeat must be at least 1, got {repeat}")
    concurrency = concurrency or default_concurrency()
    if concurrency < 1:
        raise SpecError(f"--concurrency must be at least 1, got {concurrency}")
    edges, resolved = _edges(spec, base_url, edge_ips, resolvers)
    configs = expand_matrix(spec, edges=edges, customer=customer)
    probe_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    plans = [
        RunPlan(f"{probe_id}-{index:05d}", config, r)
        for index, (config, r) in enumerate((c, r) for c in configs for r in range(repeat))
    ]
    plans.sort(key=lambda plan: (plan.browser_key[0], str(plan.browser_key[1])))
    settings = RunnerSettings(
        spec=spec,
        url=base_url,
        host=urlsplit(base_url).hostname or "",
        concurrency=concurrency,
        budget_seconds=budget_seconds,
        artifacts_dir=case.root / "probes" / probe_id,
        origin_values=_origin_values(spec, base_url, origin or spec.origin),
        secrets=_secrets(spec),
    )
    params: dict[str, Any] = {
        "probe_id": probe_id,
        "spec": str(spec.path or spec.name),
        "url": base_url,
        "repeat": repeat,
        "concurrency": concurrency,
        "edges": edges,
        "customer": dict(customer or {}),
        "configurations": len(configs),
    }
    if resolved is not None:
        params["resolvers"] = {"answers": resolved.by_resolver, "errors": resolved.errors}
    writer = RunWriter(case, probe_id=probe_id, spec=spec.name, url=base_url, every=write_every)
    try:
        runner = aio.run(_run(settings, plans, configs, on_progress, writer.add))
    except BaseException as exc:  # Ctrl-C, or a browser that will not start: keep what finished
        writer.flush()
        why = _why_stopped(exc)
        outcome = f"{why} after {writer.written} of {len(plans)} runs; the finished runs are stored"
        record(case, "probe", params=params, outcome=outcome)
        raise
    writer.flush()
    freshness = _freshness(spec, base_url, edges, origin or spec.origin)
    if freshness is not None:
        write_part(case, FRESHNESS, probe_id, freshness.frame(probe_id=probe_id))
    result = ProbeResult(
        probe_id=probe_id,
        spec_name=spec.name,
        url=base_url,
        runs=runner.records,
        exchanges=exchanges_frame(runner.exchanges),
        planned=len(plans),
        budget_exhausted=runner.budget_exhausted,
        freshness=freshness,
    )
    failures = sum(run.outcome == "fail" for run in result.runs)
    errors = sum(run.outcome == "error" for run in result.runs)
    outcome = f"{len(result.runs)} runs, {failures} failed, {errors} errors"
    if freshness is not None:
        stale = ", ".join(freshness.stale_edges) or "none"
        outcome += f"; freshness of {len(spec.freshness)} assets, stale at: {stale}"
    record(case, "probe", params=params, outcome=outcome)
    return result


async def _run(settings: RunnerSettings, plans: list[RunPlan], configs: list[dict], on_progress, on_record):
    from playwright.async_api import async_playwright

    from flakehunt.probe.runner import Runner

    async with async_playwright() as playwright:
        devices = playwright.devices
        for config in configs:
            if config["device"] and config["device"] not in devices:
                close = [name for name in devices if config["device"].lower() in name.lower()][:3]
                hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
                raise SpecError(f"matrix.device has unknown value {config['device']!r}{hint}")
        runner = Runner(settings, playwright, plans, on_record=on_record)
        await runner.run(on_progress)
    return runner


def _edges(
    spec: ProbeSpec, url: str, edge_ips: Sequence[str] | None, resolvers: Sequence[str] | None
) -> tuple[list[str], ResolverAnswers | None]:
    given = list(edge_ips or spec.edges)
    wants_all = spec.dimensions.get("edge") == ("all",)
    if resolvers and not given:
        answers = resolve_edges(urlsplit(url).hostname or "", resolvers)
        return answers.addresses, answers
    if given or wants_all:
        return discover_edges(url, edge_ips=given), None
    return [e for e in spec.dimensions.get("edge", ()) if e], None


def _why_stopped(exc: BaseException) -> str:
    """What the journal says of a probe that did not finish: Ctrl-C, SIGTERM or an error."""
    return interruption(exc) if isinstance(exc, KeyboardInterrupt) else f"stopped ({exc})"


def _freshness(spec: ProbeSpec, url: str, edges: list[str], origin: str | None) -> FreshnessReport | None:
    """The spec's `freshness` assets fetched through every probed edge (and origin), once."""
    if not spec.freshness:
        return None
    assets = [urljoin(url, asset) for asset in spec.freshness]
    return check_freshness(assets, edge_ips=edges or discover_edges(url), origin=origin)


def _origin_values(spec: ProbeSpec, url: str, origin: str | None) -> dict[str, str | None]:
    """For `header` checks with `equals_origin`: the header as origin serves it, fetched once."""
    values: dict[str, str | None] = {}
    for check in spec.checks:
        if check.kind != "header" or not check.params.get("equals_origin"):
            continue
        if not origin:
            raise SpecError(
                f"check {check.name!r} compares with origin; give the spec an 'origin' or --origin"
            )
        asset = urljoin(origin, check.params["url"])
        fetched = fetch_asset(asset, via="origin", host=urlsplit(url).netloc)
        values[check.name] = {"etag": fetched.etag, "last-modified": fetched.last_modified}.get(
            check.params["name"]
        )
    return values


def _secrets(spec: ProbeSpec) -> dict[str, str]:
    """Values of the environment variables the spec's steps name; never logged or stored."""
    names = [step.args["secret"] for step in spec.steps if "secret" in step.args]
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise FlakehuntError(f"the spec fills a secret from ${missing[0]}, which is not set; export it first")
    return {name: os.environ[name] for name in names}
