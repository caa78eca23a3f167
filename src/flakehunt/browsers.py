"""
Find and launch the real browsers flakehunt drives, with the right flags, in one place.

Every probe, the doctor and the demo launch browsers through `launch_browser`, so the rules
live here: `--no-sandbox` only as root, background networking off (this machine's network is
closed, and a probe must not make requests the site never asked for), a fresh profile per
launch, and optionally every hostname pinned to one CDN edge address.
"""

from __future__ import annotations

import enum
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flakehunt.errors import FlakehuntError, MissingEnvironmentError

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright


class Engine(enum.StrEnum):
    CHROMIUM = "chromium"
    FIREFOX = "firefox"


# Searched in order after the FLAKEHUNT_<ENGINE> environment variable.
_PATH_NAMES = {
    Engine.CHROMIUM: ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
    Engine.FIREFOX: ("firefox-esr", "firefox"),
}
_ENV_VARS = {Engine.CHROMIUM: "FLAKEHUNT_CHROMIUM", Engine.FIREFOX: "FLAKEHUNT_FIREFOX"}
INSTALL_COMMAND = "apt-get update && apt-get install -y chromium firefox-esr"

# Chromium flags that keep a headless probe quiet on a closed network (component updates,
# sync, safe browsing and field trials all phone home) and deterministic.
_CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--disable-quic",
)

# The same for Firefox, as preferences.
_FIREFOX_PREFS: dict[str, str | int | bool] = {
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.trr.mode": 5,  # no DNS-over-HTTPS: resolution must follow the pin below
}


@dataclass(frozen=True)
class BrowserExecutable:
    """A browser binary on this machine, and how it was found."""

    engine: Engine
    path: Path
    found_by: str  # "FLAKEHUNT_CHROMIUM", "PATH", "playwright"


def find_browser(engine: Engine | str) -> BrowserExecutable | None:
    """
    Find a browser for `engine`: its environment variable, then PATH, then Playwright's own.

    Returns None when none is installed. A path given in the environment variable that does not
    exist is a user mistake and raises rather than silently falling back.
    """
    engine = Engine(engine)
    env_var = _ENV_VARS[engine]
    if configured := os.environ.get(env_var):
        path = Path(configured)
        if not path.is_file():
            raise FlakehuntError(f"{env_var}={configured!r} is not a file; unset it or point it at a browser")
        return BrowserExecutable(engine, path, env_var)
    for name in _PATH_NAMES[engine]:
        if found := shutil.which(name):
            return BrowserExecutable(engine, Path(found), "PATH")
    if managed := _playwright_managed(engine):
        return BrowserExecutable(engine, managed, "playwright")
    return None


def require_browser(engine: Engine | str) -> BrowserExecutable:
    """Like `find_browser`, but a missing browser is an environment error (exit 3)."""
    found = find_browser(engine)
    if found is None:
        prefix = "" if _is_root() else "sudo "
        raise MissingEnvironmentError(
            f"no {Engine(engine).value} browser found; install one with: {prefix}sh -c '{INSTALL_COMMAND}'"
        )
    return found


def _playwright_managed(engine: Engine) -> Path | None:
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache" / "ms-playwright"))
    pattern = {
        Engine.CHROMIUM: "chromium-*/chrome-linux*/chrome",
        Engine.FIREFOX: "firefox-*/firefox/firefox",
    }
    candidates = sorted(root.glob(pattern[engine])) if root.is_dir() else []
    return candidates[-1] if candidates else None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def chromium_args(*, pin_hosts: Mapping[str, str] | None = None) -> list[str]:
    """
    The command-line flags flakehunt gives Chromium.

    >>> chromium_args(pin_hosts={"shop.example": "127.0.0.2"})[-1]
    '--host-resolver-rules=MAP shop.example 127.0.0.2'
    """
    args = list(_CHROMIUM_ARGS)
    if _is_root():
        args.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    if pin_hosts:
        rules = ", ".join(f"MAP {host} {ip}" for host, ip in pin_hosts.items())
        args.append(f"--host-resolver-rules={rules}")
    return args


def firefox_prefs(*, pin_hosts: Mapping[str, str] | None = None) -> dict[str, str | int | bool]:
    """
    The preferences flakehunt gives Firefox.

    Firefox has no per-host resolver rule, only `network.dns.forceResolve`, which sends every
    lookup to one address; so all pinned hosts must share one address.

    >>> firefox_prefs(pin_hosts={"shop.example": "127.0.0.2"})["network.dns.forceResolve"]
    '127.0.0.2'
    """
    prefs = dict(_FIREFOX_PREFS)
    if pin_hosts:
        addresses = set(pin_hosts.values())
        if len(addresses) > 1:
            raise FlakehuntError(
                f"firefox can pin hostnames to one address only, got {sorted(addresses)!r}; "
                "launch one browser per edge"
            )
        prefs["network.dns.forceResolve"] = addresses.pop()
        prefs["network.proxy.allow_hijacking_localhost"] = False
    return prefs


async def launch_browser(
    playwright: Playwright,
    engine: Engine | str,
    *,
    pin_hosts: Mapping[str, str] | None = None,
    executable: BrowserExecutable | None = None,
    headless: bool = True,
) -> Browser:
    """
    Launch `engine` headless with a fresh profile, optionally pinning hostnames to an address.

    Parameters
    ----------
    playwright
        A started `async_playwright()` instance.
    pin_hosts
        `{"shop.example.com": "127.0.0.2"}`: those names resolve to that address inside this
        browser only, which is how a probe is pinned to one CDN edge while keeping the same
        hostname (and Host header).
    executable
        Which binary to run; found with `require_browser` when omitted.

    Raises
    ------
    MissingEnvironmentError
        No browser of that engine is installed, or it fails to start.
    """
    from playwright.async_api import Error as PlaywrightError

    engine = Engine(engine)
    executable = executable or require_browser(engine)
    try:
        if engine is Engine.CHROMIUM:
            return await playwright.chromium.launch(
                executable_path=str(executable.path),
                headless=headless,
                args=chromium_args(pin_hosts=pin_hosts),
            )
        return await playwright.firefox.launch(
            channel="moz-firefox",  # WebDriver BiDi: drives a stock Firefox, not Playwright's build
            executable_path=str(executable.path),
            headless=headless,
            firefox_user_prefs=firefox_prefs(pin_hosts=pin_hosts),
        )
    except PlaywrightError as exc:  # also TimeoutError and TargetClosedError, its subclasses
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MissingEnvironmentError(
            f"{engine.value} at {executable.path} did not start: {first_line}; run 'flakehunt doctor'"
        ) from exc
