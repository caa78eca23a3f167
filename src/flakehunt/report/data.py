"""
Everything a report says, gathered from a case in any state, as plain JSON-able data.

Renderers (markdown, html, json) only format this data; redaction works on it before any
renderer sees it, so every format is redacted the same way.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from typing import Any

import polars as pl

from flakehunt import __version__
from flakehunt.case import Case, read_journal
from flakehunt.correlate import correlate_case
from flakehunt.correlate.hypotheses import CAUSES
from flakehunt.correlate.stats import rate_upper_bound, wilson_interval
from flakehunt.errors import FlakehuntError
from flakehunt.schema import PROBE_CONFIGURATION
from flakehunt.store import scan_dataset, scan_exchanges

CONFIGURATION = (*PROBE_CONFIGURATION, "location")  # location: the runner, for run-store rounds
MAX_EXAMPLES = 5


def gather(case: Case) -> dict[str, Any]:
    """The report's content for `case`: what was reported, tried, found, and what is missing."""
    settings = case.settings()
    exchanges = scan_exchanges(case)
    sources = dict(
        exchanges.group_by("source").len().collect().iter_rows()
    )  # {"cdn": n, "origin": n, "har": n, "probe": n}
    runs = scan_dataset(case, "probe_runs")
    has_runs = "outcome" in runs.collect_schema().names()
    data: dict[str, Any] = {
        "case": {"id": case.id, "created": str(settings.get("created", "")), "reported": _reported(settings)},
        "generated": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "by": f"flakehunt {__version__} on Python {platform.python_version()}",
        },
        "data": {
            "probe_runs": runs.select(pl.len()).collect().item() if has_runs else 0,
            "exchanges": {source: count for source, count in sources.items() if source},
        },
        "reproduction": _reproduction(runs) if has_runs else None,
        "edge_addresses": _edge_addresses(exchanges, runs if has_runs else None),
        "pop_cities": dict(
            exchanges.filter(pl.col("edge_pop").is_not_null() & pl.col("pop_city").is_not_null())
            .select("edge_pop", "pop_city")
            .unique("edge_pop")
            .collect()
            .iter_rows()
        ),
        "correlation": None,
        "journal": read_journal(case),
        "missing": [],
    }
    try:
        rules = settings.get("correlate", {})
        events = [tuple(event) for event in rules.get("events", [])]
        data["correlation"] = correlate_case(
            case, failure=rules.get("failure"), expect=rules.get("expect"), events=events, remember=False
        ).to_dict()
    except FlakehuntError as exc:
        data["correlation_problem"] = str(exc)
    data["missing"] = _missing(data, settings)
    if data["reproduction"] is not None:
        data["reproduction"]["recipe"] = _recipe(case, runs, data["correlation"], data["reproduction"])
    data["customer_har"] = _har_versus_probes(exchanges)
    data["examples"] = _examples(runs if has_runs else None, data["correlation"])
    data["commands"] = _commands(case, settings, data)
    return data


def _edge_addresses(exchanges: pl.LazyFrame, runs: pl.LazyFrame | None) -> list[str]:
    """CDN edge addresses: infrastructure the report may name, unlike the visitors' addresses."""
    found = set(exchanges.select(pl.col("edge_ip").drop_nulls().unique()).collect()["edge_ip"])
    if runs is not None and "edge_ip" in runs.collect_schema().names():
        found |= set(runs.select(pl.col("edge_ip").drop_nulls().unique()).collect()["edge_ip"])
    return sorted(found)


def _har_versus_probes(exchanges: pl.LazyFrame) -> list[dict[str, Any]]:
    """
    What the customer's browser got (from their HAR) next to what probes get now, per asset:
    which edge served it, and which version (ETag, else content hash, else size).
    """
    version = pl.coalesce(
        pl.col("etag"), pl.col("content_hash"), pl.format("{} bytes", pl.col("content_length"))
    )
    assets = pl.col("path").str.contains(r"\.(js|mjs|css)$") & (pl.col("status") == 200)
    har = (
        exchanges.filter((pl.col("source") == "har") & assets)
        .group_by("path")
        .agg(pl.col("edge_pop").last(), version.last().alias("version"), pl.col("ts").last())
        .collect()
    )
    if har.is_empty():
        return []
    probes = (
        exchanges.filter((pl.col("source") == "probe") & assets & pl.col("path").is_in(har["path"].to_list()))
        .sort("ts")
        .group_by("path", "edge_pop")
        .agg(version.last().alias("version"))
        .collect()
    )
    rows = []
    for row in har.iter_rows(named=True):
        now = probes.filter(pl.col("path") == row["path"])
        at_edge = now.filter(pl.col("edge_pop") == row["edge_pop"])["version"].to_list()
        majority = now["version"].mode().sort().to_list()[:1] if now.height else []
        current = majority[0] if majority else None
        rows.append(
            {
                "path": row["path"],
                "customer_edge": row["edge_pop"],
                "customer_version": row["version"],
                "probes_at_that_edge": at_edge[0] if at_edge else None,
                "probes_majority": current,
                "customer_got_current": (row["version"] == current) if current else None,
            }
        )
    return rows


def _reported(settings: dict[str, Any]) -> dict[str, Any]:
    reported = dict(settings.get("reported", {}))
    for key in ("url", "symptom", "since", "until"):
        if key in settings and key not in reported:
            reported[key] = settings[key]
    return {key: str(value) for key, value in reported.items()}


def _reproduction(runs: pl.LazyFrame) -> dict[str, Any]:
    """Per configuration: runs, failures, errors, rate, Wilson interval, upper bound when 0 failed."""
    names = runs.collect_schema().names()
    dims = [d for d in CONFIGURATION if d in names]
    table = (
        runs.group_by(dims)
        .agg(
            (pl.col("outcome") != "error").sum().alias("runs"),
            (pl.col("outcome") == "fail").sum().alias("failures"),
            (pl.col("outcome") == "error").sum().alias("errors"),
        )
        .sort(dims)
        .collect()
    )
    rows = []
    for row in table.iter_rows(named=True):
        n, failures = row["runs"], row["failures"]
        lo, hi = wilson_interval(failures, n) if n else (0.0, 1.0)
        entry = {
            "dimensions": {d: row[d] for d in dims},
            "runs": n,
            "failures": failures,
            "errors": row["errors"],
            "rate": failures / n if n else None,
            "ci95": [float(lo), float(hi)],
        }
        if n and failures == 0:
            bound = float(rate_upper_bound(0, n))
            entry["statement"] = f"0/{n}: failure rate below {bound:.1%}"
        rows.append(entry)
    totals = {key: sum(r[key] for r in rows) for key in ("runs", "failures", "errors")}
    return {"configurations": rows, **totals}


def _recipe(
    case: Case, runs: pl.LazyFrame, correlation: dict[str, Any] | None, reproduction: dict[str, Any]
) -> dict[str, Any] | None:
    """
    The smallest configuration that reproduces the failure, its probability, and the one command
    that shows it: the strongest probe explanation (fewest dimensions that matter), else the
    configuration whose failure rate has the highest lower bound.
    """
    findings = (correlation or {}).get("sets", {}).get("probes", {}).get("explanations", [])
    if findings:
        best = findings[0]
        dims, failures, n = best["dimensions"], best["failures"], best["support"]
    else:
        failing = [r for r in reproduction["configurations"] if r["failures"]]
        if not failing:
            return None
        row = max(failing, key=lambda r: (r["ci95"][0], r["failures"]))
        dims = {k: v for k, v in row["dimensions"].items() if v is not None}
        failures, n = row["failures"], row["runs"]
    lo, hi = wilson_interval(failures, n)
    return {
        "dimensions": dims,
        "runs": n,
        "failures": failures,
        "rate": failures / n,
        "ci95": [float(lo), float(hi)],
        "command": _probe_command(case, runs, dims),
    }


def _probe_command(case: Case, runs: pl.LazyFrame, dims: dict[str, Any]) -> str | None:
    names = runs.collect_schema().names()
    if not {"spec", "url", "started"} <= set(names):
        return None
    latest = runs.sort("started").select("spec", "url").tail(1).collect()
    if latest.is_empty():
        return None
    spec, url = latest.row(0)
    spec = spec if str(spec).endswith((".yaml", ".yml")) else f"probes/{spec}.yaml"
    command = f"flakehunt probe {spec} --case {case.id} --url {url} --repeat 10"
    if "edge_pop" in dims and "edge_ip" in names:
        ips = runs.filter(pl.col("edge_pop") == dims["edge_pop"]).select("edge_ip").unique().collect()
        if ips.height:
            command += f" --edge-ips {ips.item(0, 0)}"
    for key, value in dims.items():
        if key not in ("edge_pop", "edge_ip") and value is not None:
            command += f" --customer '{key}={value}'"
    return command


def _missing(data: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    missing = []
    exchanges = data["data"]["exchanges"]
    if not data["data"]["probe_runs"]:
        missing.append("no probe runs yet: the failure has not been reproduced (run 'flakehunt probe')")
    if not ({"cdn", "origin"} & set(exchanges)):
        missing.append("no CDN or origin logs ingested (run 'flakehunt ingest')")
    if "har" not in exchanges:
        missing.append("no HAR from the customer")
    if "url" not in data["case"]["reported"]:
        missing.append("the case does not record the URL the customer reported")
    return missing


def _examples(runs: pl.LazyFrame | None, correlation: dict[str, Any] | None) -> dict[str, Any]:
    examples: dict[str, Any] = {"failed_runs": [], "request_ids": []}
    if runs is not None:
        names = runs.collect_schema().names()
        wanted = [
            c
            for c in (
                "run_id",
                "edge_pop",
                "browser",
                "failed_checks",
                "console_errors",
                "har_path",
                "screenshot_path",
            )
            if c in names
        ]
        failed = runs.filter(pl.col("outcome") == "fail").select(wanted).head(MAX_EXAMPLES).collect()
        examples["failed_runs"] = failed.to_dicts()
    if correlation:
        for hypothesis in correlation["hypotheses"]:
            skew = hypothesis["evidence"].get("version_skew")
            if skew:
                examples["request_ids"].extend(skew["example_request_ids"])
    examples["request_ids"] = examples["request_ids"][:MAX_EXAMPLES]
    return examples


def _commands(case: Case, settings: dict[str, Any], data: dict[str, Any]) -> list[str]:
    commands = []
    rules = settings.get("correlate", {})
    # A run store's view (flakehunt.watch.history) is rebuilt from the store: name the store.
    target = f"--store {settings['store']}" if settings.get("store") else f"--case {case.id}"
    correlate = f"flakehunt correlate {target}"
    if rules.get("expect"):
        correlate += f' --expect "{rules["expect"]}"'
    elif rules.get("failure"):
        correlate += f' --failure "{rules["failure"]}"'
    commands.append(correlate)
    commands.append(f"flakehunt report {target} --audience engineer --format html")
    return commands


def cause_text(cause: str, key: str, fill: dict[str, Any]) -> str:
    """A cause's text from causes.toml with its placeholders filled (unknown ones left as words)."""
    template = CAUSES.get(cause, {}).get(key, "")

    class _Keep(dict):
        def __missing__(self, name: str) -> str:
            return name.replace("_", " ")

    return template.format_map(_Keep(fill))
