"""`flakehunt investigate` end to end through the CLI, with real browsers against edgesim."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.case import open_case
from flakehunt.cli import app
from flakehunt.correlate import correlate_case
from flakehunt.edgesim.visitors import shop_traffic
from flakehunt.errors import ExitCode
from flakehunt.investigate import Customer, builtin_spec, probe_spec_for
from flakehunt.probe import load_spec, run_probe

PIXEL = "path = '/checkout' -> path LIKE '/pixel.gif%' within 30s"
runner = CliRunner()


def investigate_cli(world, case_id: str, *extra: str, visitors: int = 0):
    args = ["investigate", world.site_url + "checkout", "--case", case_id, "--spec",
            str(builtin_spec("conversion-pixel")), "--edge-ips", world.describe()["edge_ips"],
            "--repeat", "2", "--format", "json", *extra]  # fmt: skip
    if visitors:
        shop_traffic(world, visitors)
        logs = world.describe()["logs"]
        for path in [*logs["cdn"], logs["origin"]]:
            args += ["--logs", path]
        args += ["--expect", PIXEL]
    result = runner.invoke(app, args)
    return result, (json.loads(result.stdout) if result.stdout.startswith("{") else None)


@pytest.mark.browser
@pytest.mark.slow
def test_seed_story_from_probes_alone(sim, case_dir):
    world = sim("stale-edge", edges=3)
    case = open_case("T-PROBES")
    spec = load_spec(builtin_spec("conversion-pixel"))
    run_probe(
        spec, case=case, url=world.site_url + "checkout", edge_ips=[s.ip for s in world.specs], repeat=2
    )
    result = correlate_case(case)
    top = result.hypotheses[0]
    assert (top.cause, top.implicates) == ("stale_cache", {"edge_pop": "FRA56-C1", "path": "/static/app.js"})
    assert top.evidence["version_skew"]["source"] == "probe"
    assert "logs" not in result.sets


@pytest.mark.browser
@pytest.mark.slow
def test_browser_specific_preset_is_named_from_probes(sim, case_dir):
    world = sim("browser-specific", edges=3)
    result, data = investigate_cli(world, "T-FIREFOX")
    assert result.exit_code == ExitCode.SITE_FAILING, result.output
    top = data["correlation"]["hypotheses"][0]
    assert (top["cause"], top["implicates"]) == ("browser_specific", {"browser": "firefox"})


@pytest.mark.browser
@pytest.mark.slow
def test_failing_edge_preset_is_named_from_logs_and_probes(sim, case_dir):
    world = sim("failing-edge", edges=3)
    result, data = investigate_cli(world, "T-502", visitors=150)
    assert result.exit_code == ExitCode.SITE_FAILING, result.output
    top = data["correlation"]["hypotheses"][0]
    assert (top["cause"], top["implicates"]) == ("edge_fault", {"edge_pop": "IAD89-P2"})


@pytest.mark.browser
@pytest.mark.slow
def test_no_fault_preset_finds_nothing_and_exits_0(sim, case_dir):
    world = sim("no-fault", edges=2)
    result, data = investigate_cli(world, "T-FINE", visitors=60)
    assert result.exit_code == ExitCode.OK, result.output
    assert data["correlation"]["hypotheses"][0]["cause"] == "none"
    assert data["probe"]["configurations"] and all(
        c["failures"] == 0 for c in data["probe"]["configurations"]
    )
    report = Path(data["reports"][1]).read_text()
    assert "0/2: failure rate below 77.6%" in report  # "not reproduced" always comes with its bound


def test_customer_setup_becomes_its_configuration_and_neighbours():
    config, notes = Customer(
        browser="Firefox 153", region="Frankfurt", adblock=True, vpn=True
    ).probe_configuration()
    assert config == {"browser": "firefox", "geolocation": "frankfurt", "blocker": "basic"}
    assert notes == ["the customer's VPN cannot be reproduced; every edge is probed instead"]
    spec = probe_spec_for("https://shop.example.com/checkout", None, config)
    assert spec.url == "https://shop.example.com/checkout" and spec.name == "page-health"
    assert {"browser": "chromium", "geolocation": "frankfurt", "blocker": "basic"} in spec.include
    assert {"browser": "firefox", "geolocation": "frankfurt", "blocker": "off"} in spec.include
    _, notes = Customer(browser="Safari 18").probe_configuration()
    assert "cannot be run here" in notes[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["https://shop.example.com/", "--case", "T-1", "--logs", "missing.log", "--no-probe"],
            "missing.log",
        ),
        (["not a url", "--case", "T-1"], "URL 'not a url' is not an http(s) address"),
        (["https://no-such-host.invalid/", "--case", "T-1"], "cannot resolve 'no-such-host.invalid'"),
        (
            ["https://shop.example.com/", "--case", "T-1", "--browser", "netscape"],
            "--browser 'netscape' is not",
        ),
        (["https://shop.example.com/", "--case", "bad id!"], "case id 'bad id!'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, case_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["investigate", *args])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_unreadable_har_is_one_line_and_exit_2(case_dir, tmp_path):
    har = tmp_path / "customer.har"
    har.write_text('{"log": {"entries": [')
    result = runner.invoke(app, ["investigate", "https://shop.example.com/", "--case", "T-HAR",
                                 "--har", str(har), "--no-probe"])  # fmt: skip
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    # The progress line before it is for people; the error is one line, last.
    assert (
        " starts like a JSON document (a HAR?) but does not parse: Expecting value at line 1, column 22; "
        in result.stderr.splitlines()[-1]
    )
    assert result.stderr.count("flakehunt: error") == 1


def test_investigate_without_probes_on_a_customer_har(case_dir, tmp_path):
    har = tmp_path / "customer.har"
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "har" / "mitmproxy-chrome.har", har)
    result = runner.invoke(app, ["investigate", "https://shop.example.com/", "--case", "T-ONLYHAR",
                                 "--har", str(har), "--no-probe", "--format", "json"])  # fmt: skip
    assert result.exit_code in (ExitCode.OK, ExitCode.SITE_FAILING), result.output
    data = json.loads(result.stdout)
    assert data["ingest"][0]["files"][0]["format"] == "har"
    engineer = Path(data["reports"][1]).read_text()
    assert "no probe runs yet" in engineer


@pytest.mark.browser
@pytest.mark.slow
def test_failed_runs_are_followed_across_layers(sim, case_dir):
    """Stale edge: the page never asks for the pixel; blocker on: the browser refuses to send it."""
    from flakehunt.ingest import ingest_paths

    world = sim("stale-edge", edges=3)
    case = open_case("T-LAYERS")
    spec = load_spec(builtin_spec("conversion-pixel"))
    run_probe(spec, case=case, url=world.site_url + "checkout", edge_ips=[s.ip for s in world.specs],
              repeat=1, customer={"browser": "chromium", "blocker": "basic"})  # fmt: skip
    logs = world.describe()["logs"]
    ingest_paths([Path(p) for p in logs["cdn"]] + [Path(logs["origin"])], case=case)
    beacons = correlate_case(case).beacons
    assert beacons["cdn_logs"] is True
    assert beacons["layers"]["never requested by the page"] >= 2  # both browsers on the stale edge
    assert beacons["layers"]["blocked in the browser"] >= 2  # the blocker on the healthy edges
    assert sum(beacons["layers"].values()) == beacons["failed_runs"]
    assert beacons["statement"].startswith("lost at layer ")


@pytest.mark.browser
@pytest.mark.slow
def test_customer_har_is_compared_with_what_probes_see(sim, case_dir, tmp_path):
    """A HAR recorded in a real browser through the stale edge, as a customer would export it."""
    import asyncio

    from playwright.async_api import async_playwright

    from flakehunt.browsers import launch_browser
    from flakehunt.ingest import ingest_paths
    from flakehunt.report.data import gather

    world = sim("stale-edge", edges=3)
    har = tmp_path / "customer.har"

    async def record() -> None:
        async with async_playwright() as playwright:
            browser = await launch_browser(playwright, "chromium", pin_hosts=world.pin("FRA56-C1"))
            context = await browser.new_context(record_har_path=str(har), record_har_content="embed")
            page = await context.new_page()
            await page.goto(world.site_url + "checkout")
            await page.wait_for_timeout(500)
            await context.close()
            await browser.close()

    asyncio.run(record())
    case = open_case("T-HARVS")
    ingest_paths([har], case=case)
    run_probe(load_spec(builtin_spec("conversion-pixel")), case=case, url=world.site_url + "checkout",
              edge_ips=[s.ip for s in world.specs], repeat=1)  # fmt: skip
    (app_js,) = [row for row in gather(case)["customer_har"] if row["path"] == "/static/app.js"]
    assert app_js["customer_edge"] == "FRA56-C1"
    assert app_js["customer_version"] == app_js["probes_at_that_edge"]  # the edge still serves it
    assert app_js["customer_got_current"] is False  # but most edges serve the new release
