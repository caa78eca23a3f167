"""Real browsers against the simulated CDN on loopback: what the probe runner must find."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from flakehunt.browsers import launch_browser
from flakehunt.case import open_case, read_journal
from flakehunt.correlate.stats import wilson_interval
from flakehunt.edgesim import SimWorld
from flakehunt.probe import check_freshness, load_spec, parse_spec, run_probe, runner
from flakehunt.store import scan_dataset, scan_exchanges

PROBES = Path(__file__).resolve().parents[1] / "probes"
pytestmark = pytest.mark.browser


@pytest.fixture
def case(tmp_path):
    return open_case("T-1", root=tmp_path / "cases")


def _edges(world: SimWorld) -> list[str]:
    return world.describe()["edge_ips"].split(",")


def test_only_the_stale_edge_fails_the_pixel_check(case):
    spec = load_spec(PROBES / "conversion-pixel.yaml")  # unchanged, pointed at the simulated site
    with SimWorld(preset="stale-edge") as world:
        result = run_probe(spec, case=case, url=world.site_url, edge_ips=_edges(world), repeat=2)
    by_pop = {(c.dimensions["browser"], c.dimensions["edge_pop"]): c for c in result.configurations}
    assert {pop for _, pop in by_pop} == {s.pop for s in world.specs}  # POPs read from headers
    for (_browser, pop), summary in by_pop.items():
        assert summary.errors == 0
        details = [(r.failed_checks, r.console_errors) for r in result.runs if r.edge_pop == pop]
        assert summary.failures == (summary.runs if pop == "FRA56-C1" else 0), (pop, details)
    assert result.failed
    stale_run = next(r for r in result.runs if r.edge_pop == "FRA56-C1")
    assert stale_run.failed_checks[0].check == "pixel fired"
    assert Path(stale_run.har_path).is_file() and Path(stale_run.screenshot_path).is_file()
    runs = scan_dataset(case, "probe_runs").collect()
    assert runs.height == len(result.runs) == 24
    assert set(runs["outcome"]) == {"pass", "fail"}
    exchanges = scan_exchanges(case).filter(pl.col("path") == "/static/app.js").collect()
    assert set(exchanges["source"]) == {"probe"}
    hashes = exchanges.group_by("edge_pop").agg(
        pl.col("content_hash").n_unique().alias("n"), pl.col("content_hash").first()
    )
    stale_hash = hashes.filter(pl.col("edge_pop") == "FRA56-C1")["content_hash"].item()
    assert stale_hash not in hashes.filter(pl.col("edge_pop") != "FRA56-C1")["content_hash"].to_list()
    assert exchanges["request_id"].null_count() == 0 and exchanges["run_id"].null_count() == 0
    assert read_journal(case)[-1]["action"] == "probe"


def test_one_firefox_serves_every_edge_each_context_through_its_own_pin(case, monkeypatch):
    launches = []

    async def counting_launch(playwright, engine, **options):
        launches.append((engine, options.get("pin_hosts")))
        return await launch_browser(playwright, engine, **options)

    monkeypatch.setattr(runner, "launch_browser", counting_launch)  # counts; the browser is real
    spec = parse_spec(
        {
            "url": "http://shop.test/",
            "steps": [{"goto": "/checkout"}],
            "checks": [{"name": "pixel fired", "request": "/pixel.gif?event=purchase", "within_ms": 3000}],
            "matrix": {"browser": ["firefox"], "edge": "all"},
        }
    )
    with SimWorld(preset="stale-edge", edges=4) as world:
        result = run_probe(spec, case=case, url=world.site_url, edge_ips=_edges(world), repeat=2)
    assert launches == [("firefox", None)]
    served = {(run.config["edge"], run.edge_pop) for run in result.runs}
    assert served == {(s.ip, s.pop) for s in world.specs}  # each run reached the edge it was pinned to
    failed = {run.edge_pop for run in result.runs if run.outcome == "fail"}
    assert failed == {"FRA56-C1"} and not any(run.outcome == "error" for run in result.runs)
    exchanges = scan_exchanges(case).filter(pl.col("path") == "/checkout").collect()
    assert set(zip(exchanges["edge_ip"], exchanges["edge_pop"], strict=True)) == served


def test_failing_edge_rate_matches_the_configured_rate(case):
    spec = parse_spec(
        {
            "url": "http://shop.test/",
            "steps": [{"goto": "/checkout"}],
            "checks": [{"name": "page served", "request": "/checkout", "status": [200]}],
            "settle_ms": 0,
        }
    )
    with SimWorld(preset="failing-edge", seed=7) as world:
        ip = world.edge("IAD89-P2").spec.ip
        result = run_probe(spec, case=case, url=world.site_url, edge_ips=[ip], repeat=80)
    (summary,) = result.configurations
    assert summary.runs == 80 and summary.errors == 0
    low, high = wilson_interval(summary.failures, summary.counted, confidence=0.999)  # 99.9 %: tolerant
    assert low <= 0.3 <= high, summary.to_dict()


def _browser_pids(executable_name: str) -> list[int]:
    """Main browser processes started by this test process (descendants, via /proc)."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdlines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [
        pid
        for pid, cmd in cmdlines.items()
        if executable_name in cmd.split(" ")[0] and "--type=" not in cmd and descends(pid)
    ]


def test_a_browser_killed_mid_run_is_an_error_not_a_failure(case):
    spec = parse_spec(
        {
            "url": "http://shop.test/",
            "steps": [{"goto": "/checkout"}, {"wait": 2500}],
            "checks": [{"request": "/pixel.gif", "within_ms": 5000}],
            "retries": 0,
        }
    )
    killed: list[int] = []

    def kill_soon(cdn_logs: Path) -> None:
        """Kill the browser once a page is loading: mid-run, not while the browser starts."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            time.sleep(0.1)
            if "/checkout" not in "".join(log.read_text() for log in cdn_logs.glob("*.log")):
                continue
            for pid in _browser_pids("chrom"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with SimWorld(preset="no-fault", logs_dir=case.root / "sim-logs") as world:
        killer = threading.Thread(target=kill_soon, args=(case.root / "sim-logs" / "cdn",))
        killer.start()
        result = run_probe(
            spec, case=case, url=world.site_url, edge_ips=_edges(world)[:1], repeat=4, concurrency=2
        )
        killer.join()
    assert killed, "the test never found the browser process to kill"
    outcomes = [run.outcome for run in result.runs]
    assert "fail" not in outcomes and "error" in outcomes, outcomes
    assert all(run.error for run in result.runs if run.outcome == "error")
    assert not result.failed
    (summary,) = result.configurations
    assert summary.failures == 0 and summary.errors == outcomes.count("error")


def test_the_blocker_blocks_the_pixel(case):
    spec = parse_spec(
        {
            "url": "http://shop.test/",
            "steps": [{"goto": "/checkout"}],
            "checks": [{"name": "pixel fired", "request": "/pixel.gif?event=purchase", "within_ms": 2000}],
            "matrix": {"blocker": ["off", "basic"]},
        }
    )
    with SimWorld(preset="no-fault") as world:
        result = run_probe(spec, case=case, url=world.site_url, edge_ips=_edges(world)[:1], repeat=2)
    by_blocker = {c.dimensions["blocker"]: c for c in result.configurations}
    details = [(r.failed_checks, r.failed_requests) for r in result.runs]
    assert by_blocker["off"].failures == 0, details
    assert by_blocker["basic"].failures == by_blocker["basic"].runs == 2
    blocked = next(r for r in result.runs if r.config["blocker"] == "basic")
    assert any("pixel.gif" in failed for failed in blocked.failed_requests)
    assert "made" in blocked.failed_checks[0].observed or "failed" in blocked.failed_checks[0].observed


def test_slow_network_is_applied_in_chromium_and_unsupported_in_firefox(case):
    spec = parse_spec(
        {
            "url": "http://shop.test/",
            "steps": [{"goto": "/checkout"}],
            "checks": [{"load_ms": 120_000}],
            "matrix": {"browser": ["chromium", "firefox"], "network": ["fast", "slow-3g"]},
            "settle_ms": 0,
        }
    )
    with SimWorld(preset="no-fault") as world:
        result = run_probe(spec, case=case, url=world.site_url, edge_ips=_edges(world)[:1], repeat=1)
    runs = {(r.config["browser"], r.config["network"]): r for r in result.runs}
    fast, slow = runs["chromium", "fast"], runs["chromium", "slow-3g"]
    # slow-3g adds 2 s of latency per request: the page's load event must show it.
    assert slow.load_ms > fast.load_ms + 1500, (fast.load_ms, slow.load_ms)
    assert slow.unsupported == []
    assert runs["firefox", "slow-3g"].unsupported == ["network"]
    assert runs["firefox", "fast"].unsupported == []


def test_freshness_singles_out_the_stale_edge():
    with SimWorld(preset="stale-edge") as world:
        report = check_freshness(
            [world.site_url + "static/app.js", world.site_url + "static/vendor.js"],
            edge_ips=_edges(world),
            origin=world.origin_url,
        )
    assert report.stale_edges == ["FRA56-C1"]
    stale = report.stale[0]
    assert stale.differs_from == ["origin", "majority"] and stale.url.endswith("/static/app.js")
    assert json.dumps(report.to_dict())


def test_a_specs_freshness_section_runs_with_the_probe_and_is_stored(case):
    spec = load_spec(PROBES / "asset-freshness.yaml")  # lists /static/app.js and /static/vendor.js
    with SimWorld(preset="stale-edge") as world:
        result = run_probe(
            spec, case=case, url=world.site_url, edge_ips=_edges(world), origin=world.origin_url
        )
    assert result.freshness is not None and result.freshness.stale_edges == ["FRA56-C1"]
    assert result.failed and result.to_dict()["freshness"]["stale_edges"] == ["FRA56-C1"]
    # The browser runs agree: only the stale edge serves an app.js whose ETag is not origin's.
    failing = {run.edge_pop for run in result.runs if run.outcome == "fail"}
    assert failing == {"FRA56-C1"}, [(r.edge_pop, r.failed_checks) for r in result.runs]
    stored = scan_dataset(case, "freshness").collect()
    assert stored.height == 2 * (len(world.specs) + 1)  # two assets, through every edge and from origin
    assert set(stored["probe_id"]) == {result.probe_id}
    odd = stored.filter(pl.col("differs_from").list.len() > 0)
    assert odd.select("edge_pop", "differs_from").rows() == [("FRA56-C1", ["origin", "majority"])]
    assert odd["url"].item().endswith("/static/app.js")
    assert "stale at: FRA56-C1" in read_journal(case)[-1]["outcome"]


def test_an_interrupted_probe_keeps_the_runs_that_finished(tmp_path, stop_signal):
    sent, exit_code, last_line = stop_signal
    spec = tmp_path / "pixel.yaml"
    spec.write_text(
        "url: http://shop.test/\nsteps: [{goto: /checkout}]\n"
        "checks: [{request: /pixel.gif, within_ms: 5000}]\nsettle_ms: 0\n"
    )
    with SimWorld(preset="no-fault", edges=1, logs_dir=tmp_path / "logs") as world:
        args = ["probe", str(spec), "--case", "T-4", "--url", world.site_url, "--edge-ips", _edges(world)[0]]
        args += ["--repeat", "200", "--concurrency", "1"]
        env = {**os.environ, "FLAKEHUNT_HOME": str(tmp_path / "home")}
        process = subprocess.Popen(
            [sys.executable, "-m", "flakehunt", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # One run at a time: when the edge has seen the 4th pixel, at least 3 runs are finished.
        cdn_log = next((tmp_path / "logs" / "cdn").glob("*.log"))
        deadline = time.monotonic() + 120
        while cdn_log.read_text().count("/pixel.gif") < 4 and process.poll() is None:
            assert time.monotonic() < deadline, "the probe never got going"
            time.sleep(0.1)
        process.send_signal(sent)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == exit_code, stderr
    assert stderr.strip().endswith(f"flakehunt: {last_line}"), stderr
    assert stdout == ""
    case = open_case("T-4", root=tmp_path / "home" / "cases")
    runs = scan_dataset(case, "probe_runs").collect()
    assert 3 <= runs.height < 200
    assert set(runs["outcome"]) == {"pass"} and runs["run_id"].is_unique().all()
    exchanges = scan_exchanges(case).collect()
    assert set(exchanges["run_id"]) == set(runs["run_id"])  # every stored run with its requests
    journal = read_journal(case)[-1]
    assert journal["action"] == "probe"
    assert journal["outcome"].startswith(f"{last_line} after {runs.height} of 200 runs")
