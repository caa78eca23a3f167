"""The one place that finds and launches browsers: flags, pinning, and a real page per engine."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from flakehunt.browsers import (
    Engine,
    chromium_args,
    find_browser,
    firefox_prefs,
    launch_browser,
    require_browser,
)
from flakehunt.errors import ExitCode, FlakehuntError, MissingEnvironmentError


def test_no_sandbox_only_as_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "--no-sandbox" in chromium_args()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--no-sandbox" not in chromium_args()


def test_background_networking_is_off():
    assert "--disable-background-networking" in chromium_args()
    assert firefox_prefs()["network.captive-portal-service.enabled"] is False


def test_chromium_pins_each_host_with_resolver_rules():
    args = chromium_args(pin_hosts={"a.test": "127.0.0.2", "b.test": "127.0.0.3"})
    assert args[-1] == "--host-resolver-rules=MAP a.test 127.0.0.2, MAP b.test 127.0.0.3"


def test_firefox_can_pin_to_one_address_only():
    assert (
        firefox_prefs(pin_hosts={"a.test": "127.0.0.2", "b.test": "127.0.0.2"})["network.dns.forceResolve"]
        == "127.0.0.2"
    )
    with pytest.raises(FlakehuntError, match="one address only"):
        firefox_prefs(pin_hosts={"a.test": "127.0.0.2", "b.test": "127.0.0.3"})


def test_environment_variable_wins_and_a_wrong_one_is_a_user_error(monkeypatch, tmp_path):
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("FLAKEHUNT_CHROMIUM", str(fake))
    assert find_browser("chromium").path == fake
    assert find_browser("chromium").found_by == "FLAKEHUNT_CHROMIUM"
    monkeypatch.setenv("FLAKEHUNT_CHROMIUM", str(tmp_path / "nope"))
    with pytest.raises(FlakehuntError, match=r"FLAKEHUNT_CHROMIUM=.*is not a file"):
        find_browser("chromium")


def test_missing_browser_is_an_environment_error_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.delenv("FLAKEHUNT_FIREFOX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert find_browser(Engine.FIREFOX) is None
    with pytest.raises(MissingEnvironmentError, match="apt-get install -y chromium firefox-esr") as info:
        require_browser(Engine.FIREFOX)
    assert info.value.exit_code == ExitCode.ENVIRONMENT


def test_a_browser_that_will_not_start_is_an_environment_error(monkeypatch, tmp_path):
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("FLAKEHUNT_CHROMIUM", str(broken))

    async def launch() -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            await launch_browser(playwright, "chromium")

    with pytest.raises(MissingEnvironmentError, match="did not start"):
        asyncio.run(launch())


def _logged_lines(log: Path, fragment: str) -> list[str]:
    """
    The edge's log lines holding `fragment`. An edge logs a request once it has sent the response,
    as CloudFront does, so the browser may be done before the line is written: wait a little.
    """
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in log.read_text().splitlines() if fragment in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


@pytest.mark.browser
@pytest.mark.parametrize("engine", list(Engine))
def test_real_browser_pinned_to_an_edge_loads_checkout_and_fires_the_pixel(engine, sim):
    """Same hostname, resolved to one edge: the page, its script and the pixel all go through it."""
    world = sim(edges=3)
    target = world.specs[2]  # not the first edge, so pinning is what routes the request

    async def visit() -> tuple[set[str], list[str], str]:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await launch_browser(playwright, engine, pin_hosts=world.pin(target.pop))
            page = await browser.new_page()
            pops: set[str] = set()
            page.on("response", lambda r: pops.add(r.headers.get("x-amz-cf-pop", "?")))
            async with page.expect_request(lambda r: "/pixel.gif" in r.url, timeout=10_000) as pixel:
                await page.goto(world.site_url + "checkout")
            request = await pixel.value
            await browser.close()
            return pops, [request.url], browser.version

    pops, pixel_urls, version = asyncio.run(visit())
    assert pops == {target.pop}
    assert "event=purchase" in pixel_urls[0] and "release=2" in pixel_urls[0]
    assert version.split(".")[0].isdigit()
    expected_agent = "HeadlessChrome" if engine is Engine.CHROMIUM else "Firefox/"
    pixel_lines = _logged_lines(Path(world.edge(target.pop).log.path), "/pixel.gif")
    assert len(pixel_lines) == 1 and expected_agent in pixel_lines[0]
