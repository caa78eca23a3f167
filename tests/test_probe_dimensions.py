"""
Each matrix dimension and step really reaches the browser: the page itself reports what it sees.

The site is addressed by its edge's loopback address (http://127.0.0.2:PORT/), which browsers
treat as a secure context, so geolocation is available to the page as it is on https.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from flakehunt.case import open_case
from flakehunt.edgesim import SimWorld
from flakehunt.probe import parse_spec, run_probe

pytestmark = pytest.mark.browser

TOKYO = (35.6762, 139.6503)
SECRET_NAME = "FLAKEHUNT_TEST_SHOP_PASSWORD"
SECRET = "Tr0ub4dor &3 horse/staple"


@pytest.fixture
def case(tmp_path):
    return open_case("T-2", root=tmp_path / "cases")


@pytest.fixture(scope="module")
def site():
    """The simulated shop at one edge, by the edge's loopback address."""
    with SimWorld(preset="no-fault", edges=1) as world:
        yield f"http://{world.specs[0].ip}:{urlsplit(world.site_url).port}/"


def _failed(run) -> set[str]:
    return {check.check for check in run.failed_checks}


DEVICE_CHECKS = {
    "user agent": "navigator.userAgent.includes('Pixel 7')",
    "screen": "screen.width === 412 && devicePixelRatio === 2.625",
    "touch": "navigator.maxTouchPoints > 0",
    "locale": "navigator.language === 'de-DE'",
    "timezone": "Intl.DateTimeFormat().resolvedOptions().timeZone === 'Asia/Tokyo'",
    "geolocation": (
        "new Promise(done => navigator.geolocation.getCurrentPosition("
        f"p => done(Math.abs(p.coords.latitude - {TOKYO[0]}) < 0.01"
        f" && Math.abs(p.coords.longitude - {TOKYO[1]}) < 0.01), () => done(false), {{timeout: 5000}}))"
    ),
}


def test_device_locale_timezone_and_geolocation_reach_the_page(case, site):
    spec = parse_spec(
        {
            "url": site,
            "steps": [{"goto": "/checkout"}],
            "checks": [{"name": name, "js": expression} for name, expression in DEVICE_CHECKS.items()],
            "matrix": {
                "browser": ["chromium", "firefox"],
                "device": ["Pixel 7"],
                "locale": ["de-DE"],
                "timezone": ["Asia/Tokyo"],
                "geolocation": ["tokyo"],
                # The control: every check must fail where nothing of this is asked for.
                "include": [
                    {
                        "browser": "chromium",
                        "device": "Desktop Chrome",
                        "locale": "en-US",
                        "timezone": "Europe/Berlin",
                        "geolocation": "frankfurt",
                    }
                ],
            },
            "settle_ms": 0,
        }
    )
    result = run_probe(spec, case=case, repeat=1)
    runs = {(r.config["browser"], r.config["device"]): r for r in result.runs}
    assert all(run.outcome != "error" for run in runs.values()), [r.error for r in runs.values()]
    chromium = runs["chromium", "Pixel 7"]
    assert chromium.outcome == "pass", chromium.failed_checks
    assert chromium.unsupported == []
    # Firefox applies user agent, screen, locale, time zone and position, but has no touch
    # or mobile viewport emulation: that is recorded, not silently ignored.
    firefox = runs["firefox", "Pixel 7"]
    assert _failed(firefox) == {"touch"}, firefox.failed_checks
    assert firefox.unsupported == ["device.mobile", "device.touch"]
    control = runs["chromium", "Desktop Chrome"]
    assert _failed(control) == set(DEVICE_CHECKS), control.failed_checks
    assert control.unsupported == []
    summary = {
        s.dimensions["browser"]: s for s in result.configurations if s.dimensions["device"] == "Pixel 7"
    }
    assert summary["firefox"].unsupported == ["device.mobile", "device.touch"]
    mobile = result.exchanges.filter(result.exchanges["run_id"] == chromium.run_id)
    assert set(mobile["device_class"]) == {"mobile"}
    assert all("Pixel 7" in agent for agent in mobile["user_agent"])


def test_a_warm_cache_serves_the_second_visit_from_the_browser_cache(case, site):
    cached = "performance.getEntriesByType('resource').some(e => e.name.endsWith('/static/vendor.js') && e.transferSize === 0)"
    spec = parse_spec(
        {
            "url": site,
            "steps": [{"goto": "/checkout"}],
            "checks": [{"name": "vendor.js from the browser cache", "js": cached}],
            "matrix": {"browser": ["chromium", "firefox"], "cache": ["cold", "warm"]},
            "settle_ms": 0,
        }
    )
    result = run_probe(spec, case=case, repeat=1)
    outcomes = {(r.config["browser"], r.config["cache"]): r.outcome for r in result.runs}
    assert outcomes == {
        ("chromium", "cold"): "fail",
        ("chromium", "warm"): "pass",
        ("firefox", "cold"): "fail",
        ("firefox", "warm"): "pass",
    }
    # Only the counted (second) visit's requests are recorded.
    for run in result.runs:
        pages = result.exchanges.filter(
            (result.exchanges["run_id"] == run.run_id) & (result.exchanges["path"] == "/checkout")
        )
        assert pages.height == 1, (run.config, pages.height)


def test_steps_and_checks_act_on_the_page_and_secrets_never_reach_the_case(case, site, monkeypatch):
    monkeypatch.setenv(SECRET_NAME, SECRET)
    form = (
        "document.body.insertAdjacentHTML('beforeend', '<div style=\"height:4000px\"></div>"
        '<input id="pw"><input id="note"><p id="end">end</p>\'); window.__evaluated = true'
    )
    # The page sends the password on: in a query string, a request body and a console message.
    leak = (
        "const pw = document.querySelector('#pw').value;"
        " fetch('/api/login?pw=' + encodeURIComponent(pw), {method: 'POST', body: pw});"
        " console.error('logging in with ' + pw)"
    )
    spec = parse_spec(
        {
            "url": site,
            "steps": [
                {"goto": "/"},
                {"click": "#checkout-link"},
                {"wait_for": {"request": "/pixel.gif"}},
                {"wait_for": {"selector": "#order"}},
                "wait_for_network_idle",
                {"evaluate": form},
                {"fill": {"selector": "#pw", "secret": SECRET_NAME}},
                {"fill": {"selector": "#note", "value": "hello"}},
                {"press": "Backspace"},
                {"scroll": "#end"},
                {"evaluate": leak},
                {"wait": 300},
            ],
            "checks": [
                {"name": "order total shown", "selector": "#order", "contains": "Total:"},
                {"name": "clicked through", "js": "location.pathname === '/checkout'"},
                {"name": "evaluated", "js": "window.__evaluated === true"},
                {
                    "name": "secret filled",
                    "js": f"document.querySelector('#pw').value.length === {len(SECRET)}",
                },
                {"name": "typed and pressed", "js": "document.querySelector('#note').value === 'hell'"},
                {"name": "scrolled", "js": "window.scrollY > 1000"},
                {"name": "pixel", "request": "/pixel.gif", "status": [200]},
                {"name": "login sent", "request": "/api/login"},
                # Fails on purpose, so the run keeps its HAR and screenshot as evidence.
                {"name": "keep the evidence", "selector": "#never-there"},
            ],
            "matrix": {"browser": ["chromium", "firefox"]},
            "settle_ms": 0,
            "retries": 0,
        }
    )
    result = run_probe(spec, case=case, repeat=1)
    for run in result.runs:
        assert _failed(run) == {"keep the evidence"}, (run.config["browser"], run.error, run.failed_checks)
        har = Path(run.har_path).read_text()
        assert f"[secret ${SECRET_NAME}]" in har  # the page did send it; the HAR holds the mark
        assert Path(run.screenshot_path).is_file()
        assert any(f"[secret ${SECRET_NAME}]" in message for message in run.console_errors)
    files = [path for path in case.root.rglob("*") if path.is_file()]
    assert any(path.suffix == ".parquet" for path in files) and any(path.suffix == ".har" for path in files)
    for path in files:
        data = path.read_bytes()
        assert b"Tr0ub4dor" not in data, path  # any encoding of the secret holds this piece
