"""Reports: every audience and format from a real case, redaction that holds, a real browser view."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.case import open_case, read_journal
from flakehunt.cli import app
from flakehunt.correlate import correlate_case
from flakehunt.edgesim.visitors import shop_traffic
from flakehunt.errors import ExitCode, FlakehuntError
from flakehunt.ingest import ingest_paths
from flakehunt.report import AUDIENCES, FORMATS, render_report
from flakehunt.report.data import gather

from .conftest import FIXTURES

runner = CliRunner()
PIXEL = "path = '/checkout' -> path LIKE '/pixel.gif%' within 30s"
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")

# What must never reach a shared report, each planted below in the places it really turns up.
SECRETS = {
    "client_ip": "203.0.113.77",
    "email": "ann.customer@example.com",
    "query_token": "sk_live_51HqLyjWDarjtT1zdp7dc",
    "session_cookie": "sessionid=8f14e45fceea167a5a36dedd4bea2543",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


def _secret_log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    lines = [
        f'{SECRETS["client_ip"]} - - [24/Nov/2026:10:00:0{i} +0000] "GET /checkout?token={SECRETS["query_token"]}'
        f'&email={SECRETS["email"]} HTTP/1.1" 502 12 "https://shop.example.com/?{SECRETS["session_cookie"]}" '
        f'"Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"'
        for i in range(5)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def report_case(sim, case_dir, tmp_path):
    world = sim("stale-edge")
    shop_traffic(world, 150)
    case = open_case("T-REPORT")
    case.update_settings(
        reported={
            "url": "https://shop.example.com/checkout",
            "symptom": "the conversion pixel fires sometimes but not others",
            "contact": SECRETS["email"],
            "note": f"customer pasted: Authorization: Bearer {SECRETS['bearer']}",
            "pasted_log": f"{SECRETS['client_ip']} GET /checkout?token={SECRETS['query_token']} "
            f"Cookie: {SECRETS['session_cookie']}",
        }
    )
    logs = world.describe()["logs"]
    ingest_paths([Path(p) for p in logs["cdn"]] + [Path(logs["origin"]), _secret_log(tmp_path)], case=case)
    har = tmp_path / "customer.har"
    shutil.copy(FIXTURES / "har" / "mitmproxy-chrome.har", har)
    ingest_paths([har], case=case)
    correlate_case(case, expect=PIXEL)
    return case


def test_every_audience_and_format_renders_and_holds_no_secret(report_case):
    # Only the CDN's own edge addresses (infrastructure, named so you can purge them) may remain.
    edges = set(gather(report_case)["edge_addresses"])
    assert SECRETS["client_ip"] not in edges
    for audience in AUDIENCES:
        for format_name in FORMATS:
            rendered = render_report(report_case, audience=audience, format_name=format_name)
            text = rendered.path.read_text()
            assert text == rendered.text and rendered.path.parent == report_case.reports_dir
            for kind, secret in SECRETS.items():
                assert secret not in text, (audience, format_name, kind)
            assert {ip for ip in IPV4.findall(text)} <= edges, (audience, format_name)
            assert "email address" in rendered.redaction  # the manifest names what went


def test_engineer_report_names_cause_evidence_and_commands(report_case):
    text = render_report(report_case, audience="engineer", format_name="md").text
    for heading in (
        "## Hypotheses",
        "## What separates failures",
        "## Asset freshness by edge",
        "## Timeline",
        "## Re-run",
        "## Case journal",
        "## Not available yet",
    ):
        assert heading in text, heading
    assert "| stale_cache | edge_pop=FRA56-C1, path=/static/app.js |" in text
    assert "purge /static/app.js on edge FRA56-C1" in text
    assert "no probe runs yet" in text
    assert f'flakehunt correlate --case T-REPORT --expect "{PIXEL}"' in text
    assert "Redacted for sharing:" in text


def test_customer_report_is_plain_language(report_case):
    text = render_report(report_case, audience="customer", format_name="md").text
    assert "Frankfurt" in text  # a place, not a POP code
    for jargon in ("FRA56-C1", "edge", "POP", "p-value", "risk ratio", "stale_cache", "purge"):
        assert jargon not in text, jargon
    for heading in (
        "What you reported",
        "What we tried",
        "What we found",
        "What we are doing",
        "What you can do meanwhile",
    ):
        assert f"## {heading}" in text


def test_exec_report_is_three_lines(report_case):
    data = json.loads(render_report(report_case, audience="exec", format_name="json").text)
    assert [line.split(":")[0] for line in data["lines"]] == ["Impact", "Cause", "Status"]
    assert "FRA56-C1" in data["lines"][1]


def test_report_on_an_empty_case_says_what_is_missing(case_dir):
    case = open_case("T-EMPTY")
    text = render_report(case, audience="engineer", format_name="md").text
    assert "no probe runs yet" in text and "no CDN or origin logs ingested" in text
    assert "None yet: case 'T-EMPTY' has no exchanges or probe runs yet" in text


def test_no_redact_keeps_data_for_internal_use_only(report_case):
    text = render_report(report_case, audience="engineer", format_name="md", redact=False).text
    assert "Not redacted: internal use only." in text
    for secret in SECRETS.values():  # so the redaction test above is not passing vacuously
        assert secret in text
    with pytest.raises(FlakehuntError, match="always redacted"):
        render_report(report_case, audience="customer", redact=False)


@pytest.mark.browser
def test_html_report_renders_in_chromium_without_errors(report_case, tmp_path):
    from playwright.async_api import async_playwright

    from flakehunt.browsers import launch_browser

    path = render_report(report_case, audience="engineer", format_name="html").path

    async def view() -> tuple[list[str], int, int, bytes]:
        async with async_playwright() as playwright:
            browser = await launch_browser(playwright, "chromium")
            page = await browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("requestfailed", lambda r: problems.append(r.url))
            await page.goto(path.as_uri())
            charts = await page.locator("figure svg").count()
            rows = await page.locator("table tr").count()
            shot = await page.screenshot(full_page=True)
            await browser.close()
            return problems, charts, rows, shot

    problems, charts, rows, shot = asyncio.run(view())
    assert problems == []
    assert charts >= 2 and rows > 10
    assert len(shot) > 10_000


def test_cli_report_paths_stdout_and_errors(report_case):
    result = runner.invoke(app, ["report", "--case", "T-REPORT", "--audience", "exec", "--output", "-"])
    assert result.exit_code == ExitCode.OK and result.stdout.startswith("# Case T-REPORT")
    result = runner.invoke(app, ["report", "--case", "T-REPORT", "--format", "html"])
    assert result.exit_code == ExitCode.OK and "T-REPORT-engineer.html" in result.stdout
    result = runner.invoke(app, ["report", "--case", "T-REPORT", "--audience", "ceo"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == "flakehunt: error: --audience 'ceo' is not one of: customer, engineer, exec\n"
    assert read_journal(report_case)[-1]["action"] == "report"


def test_case_commands_tell_the_story(case_dir):
    assert (
        runner.invoke(app, ["case", "note", "T-NOTE", "hello"]).exit_code == ExitCode.BAD_INPUT
    )  # no such case
    open_case("T-NOTE")
    result = runner.invoke(
        app, ["case", "note", "T-NOTE", "customer confirmed it happens on the VPN", "--author", "sam"]
    )
    assert result.exit_code == ExitCode.OK
    story = runner.invoke(app, ["case", "show", "T-NOTE"]).stdout
    assert "sam" in story and "customer confirmed it happens on the VPN" in story
    listing = runner.invoke(app, ["case", "list"]).stdout
    assert "T-NOTE" in listing and "note: customer confirmed" in listing
    assert runner.invoke(app, ["case", "note", "T-NOTE", "  "]).exit_code == ExitCode.BAD_INPUT


def _structure(text: str, format_name: str) -> list[str]:
    if format_name == "json":
        return sorted(json.loads(text))
    if format_name == "html":
        return [*re.findall(r"<h[12]>([^<]*)</h[12]>", text), f"{text.count('<figure>')} figures"]
    return [line for line in text.splitlines() if line.startswith("#")]


def test_each_report_format_keeps_its_structure(report_case, golden):
    sections = []
    for audience in AUDIENCES:
        for format_name in FORMATS:
            text = render_report(report_case, audience=audience, format_name=format_name).text
            structure = [re.sub(r"T-REPORT", "<case>", item) for item in _structure(text, format_name)]
            sections.append(f"[{audience} {format_name}]\n" + "\n".join(structure))
    golden.check("report-structure.txt", "\n\n".join(sections) + "\n")
