"""Scheduled probing with real browsers: watch alerts and clears, stores from two places correlate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from flakehunt.case import open_case, read_journal
from flakehunt.cli import app
from flakehunt.correlate import correlate_case
from flakehunt.edgesim import SimWorld
from flakehunt.errors import ExitCode
from flakehunt.store import scan_dataset
from flakehunt.watch.alerts import RAISED, RECOVERED, AlertPolicy
from flakehunt.watch.history import attach_history
from flakehunt.watch.rounds import watch_spec
from flakehunt.watch.runstore import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
runner = CliRunner()

# The smallest spec that can fail: one page through one engine, pinned to each edge given.
TINY_SPEC = {
    "name": "checkout-served",
    "url": "http://shop.test/",
    "steps": [{"goto": "/checkout"}],
    "checks": [{"name": "page served", "request": "/checkout", "status": [200]}],
    "settle_ms": 0,
    "matrix": {"browser": ["chromium"]},
    "repeat": 3,
}


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "checkout-served.yaml"
    path.write_text(yaml.safe_dump(TINY_SPEC))
    return path


def test_watch_alerts_when_an_edge_breaks_and_clears_when_it_heals(tmp_path: Path, spec_path: Path) -> None:
    # Short windows and a looser level for a short test (the defaults are tested in
    # test_alerts.py and test_watch.py): one round is the recent window (3 runs per edge), two
    # clean rounds the baseline (6 runs). 3/3 against 0/6 gives p = 1/C(9,3) = 0.012, below
    # alpha 0.05 split over the two edges; 0/3 against that frozen baseline clears (p = 1).
    policy = AlertPolicy(recent_rounds=1, min_recent_runs=3, min_baseline_runs=6, alpha=0.05)
    fault_on, fault_off = 2, 3
    lines: list[str] = []
    store_uri = str(tmp_path / "store")
    with SimWorld(preset="no-fault", edges=2, logs_dir=tmp_path / "sim", seed=5) as world:
        broken = world.specs[0].pop

        def between_rounds(report) -> None:
            if report.number + 1 == fault_on:
                world.set_faults(failing_edges={broken: 1.0})
            if report.number + 1 == fault_off:
                world.set_faults(failing_edges={})

        summary = watch_spec(
            spec_path,
            every="2s",
            store=store_uri,
            location="fra-office",
            on_alert=lines.append,
            on_notify_error=pytest.fail,
            on_round=between_rounds,
            max_rounds=4,
            policy=policy,
            url=world.site_url,
            edge_ips=world.describe()["edge_ips"].split(","),
            concurrency=3,
        )

    kinds = [
        (report.number, alert.kind, alert.configuration["edge_pop"])
        for report in summary.rounds
        for alert in report.alerts
    ]
    assert kinds == [(fault_on, RAISED, broken), (fault_off, RECOVERED, broken)], lines
    assert summary.alerting == []
    assert len(lines) == 2 and "3/3 failed in the last 1 rounds vs 0/6 before" in lines[0]
    assert lines[0].endswith("from fra-office")

    store = open_store(store_uri)
    assert [record["kind"] for record in store.alerts.read()] == [RAISED, RECOVERED]
    runs = store.read()
    assert runs["round_id"].n_unique() == 4 and runs.height == 24
    assert set(runs["location"]) == {"fra-office"}
    failed = runs.filter(pl.col("outcome") == "fail")
    assert set(failed["edge_pop"]) == {broken} and failed.height == 3
    assert runs.filter(pl.col("outcome") == "error").height == 0

    # The evidence stays with the store: each round's requests, and the failed runs' HARs.
    exchanges = store.scan_exchanges().collect()
    assert exchanges["round_id"].n_unique() == 4
    assert set(exchanges["source"]) == {"probe"} and set(exchanges["run_id"]) <= set(runs["run_id"])
    for address in failed["har_path"]:
        har = json.loads(store.read_artifact(address))
        assert har["log"]["entries"][0]["response"]["status"] in (502, 504), "the broken edge's answer"
    assert not list(Path(tmp_path).glob("cases")), "rounds ran in scratch cases"


def test_two_locations_in_one_store_correlate_by_location(
    tmp_path: Path, spec_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLAKEHUNT_HOME", str(tmp_path / "home"))
    store_uri = str(tmp_path / "store")
    with SimWorld(preset="no-fault", edges=2, logs_dir=tmp_path / "sim", seed=5) as world:
        edges = world.describe()["edge_ips"]
        common = ["--url", world.site_url, "--edge-ips", edges, "--concurrency", "3", "--format", "json"]

        def probe_from(location: str):
            args = ["probe", str(spec_path), "--store", store_uri, "--location", location, *common]
            return runner.invoke(app, args)

        fra = probe_from("fra-office")
        # The site breaks for the second runner only (say, its network path to every edge).
        world.set_faults(failing_edges={spec.pop: 1.0 for spec in world.specs})
        iad = probe_from("iad-office")
        world.set_faults(failing_edges={})

    assert fra.exit_code == ExitCode.OK, fra.stderr
    assert iad.exit_code == ExitCode.SITE_FAILING, iad.stderr
    stored = json.loads(iad.stdout)["store"]
    assert stored["location"] == "iad-office" and Path(stored["file"]).is_file()
    assert json.loads(iad.stdout)["alerts"] == [], "one round is no baseline"

    result = runner.invoke(app, ["correlate", "--store", store_uri, "--since", "1h", "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.stderr
    correlation = json.loads(result.stdout)
    assert (correlation["observations"], correlation["failures"]) == (12, 6)
    probes = [e for e in correlation["explanations"] if e["set"] == "probes"]
    assert {"location": "iad-office"} in [e["dimensions"] for e in probes], probes
    assert not any("edge_pop" in e["dimensions"] for e in probes), "both edges failed for iad alike"

    report = runner.invoke(app, ["report", "--store", store_uri, "--format", "json", "--output", "-"])
    assert report.exit_code == ExitCode.OK, report.stderr
    configurations = json.loads(report.stdout)["reproduction"]["configurations"]
    by_location = {}
    for row in configurations:
        location = row["dimensions"]["location"]
        by_location[location] = by_location.get(location, 0) + row["failures"]
    assert by_location == {"fra-office": 0, "iad-office": 6}
    assert "flakehunt correlate --store " + store_uri in report.stdout

    # The lead's `investigate --history`: a case takes the store's rounds as one more part.
    case = open_case("T-7")
    assert attach_history(case, store_uri, since=None) == 12
    assert attach_history(case, store_uri, since=None) == 0, "attaching again adds nothing"
    runs = scan_dataset(case, "probe_runs").collect()
    assert runs.height == 12 and set(runs["location"]) == {"fra-office", "iad-office"}
    assert read_journal(case)[-1]["action"] == "history"
    findings = correlate_case(case, remember=False).sets["probes"].explanations
    assert any(dict(f.dimensions) == {"location": "iad-office"} for f in findings)

    # The same through `flakehunt investigate --history`: failures seen from one place are a finding.
    args = ["investigate", "https://shop.example.com/checkout", "--case", "T-7H", "--history", store_uri,
            "--since", "1h", "--no-probe", "--format", "json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.SITE_FAILING, result.output
    top = json.loads(result.stdout)["correlation"]["hypotheses"][0]
    assert (top["cause"], top["implicates"]) == ("geo_specific", {"location": "iad-office"})


def test_the_watch_command_runs_rounds_until_its_time_is_up(tmp_path: Path) -> None:
    store_uri = str(tmp_path / "store")
    with SimWorld(preset="no-fault", edges=1, logs_dir=tmp_path / "sim") as world:
        spec = {**TINY_SPEC, "url": world.site_url, "edges": [world.specs[0].ip], "repeat": 1}
        path = tmp_path / "watched.yaml"
        path.write_text(yaml.safe_dump(spec))
        args = ["watch", str(path), "--every", "1s", "--for", "2s", "--store", store_uri, "--location", "ci"]
        result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "round 1: 0/1 failed" in result.stderr
    runs = open_store(store_uri).read()
    assert runs.height >= 1 and set(runs["outcome"]) == {"pass"} and set(runs["location"]) == {"ci"}


@pytest.mark.parametrize("signals", [1, 2], ids=["one-finishes-the-round", "two-abandon-it"])
def test_sigterm_while_browsers_probe_stops_the_watch_as_documented(tmp_path: Path, signals: int) -> None:
    """
    One SIGTERM during a round lets it finish and be stored; a second abandons it. The second
    used to be raised inside the probe's event loop, where asyncio's cleanup can wait forever.
    """
    store_uri = str(tmp_path / "store")
    with SimWorld(preset="no-fault", edges=1, logs_dir=tmp_path / "sim") as world:
        spec = {**TINY_SPEC, "url": world.site_url, "edges": [world.specs[0].ip], "repeat": 12}
        path = tmp_path / "watched.yaml"
        path.write_text(yaml.safe_dump(spec))
        args = ["watch", str(path), "--every", "1s", "--store", store_uri, "--location", "ci"]
        env = {**os.environ, "FLAKEHUNT_HOME": str(tmp_path / "home")}
        process = subprocess.Popen(
            [sys.executable, "-m", "flakehunt", *args], env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            assert process.stderr.readline().startswith("round 1:")  # round 2 starts now
            time.sleep(2)  # into round 2's twelve browser runs
            for _ in range(signals):
                process.send_signal(signal.SIGTERM)
                time.sleep(0.2)
            _, stderr = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == ExitCode.OK, stderr
    assert "Traceback" not in stderr
    assert "stopped by SIGTERM" in stderr
    rounds = open_store(store_uri).read()["round_id"].n_unique()
    assert rounds == (2 if signals == 1 else 1), stderr
