"""
User agent -> browser family, major version, OS family and device class, via `ua-parser`.

`ua-parser` (uap-core's rules) names browsers, OSes and devices and marks crawlers as the
"Spider" device. Device class adds what a support engineer needs on top:

- ``bot``: crawlers, and automation that is not a person's browser: HTTP libraries and command
  line clients (curl, Wget, python-requests, Go-http-client, okhttp, ...), headless browsers
  (HeadlessChrome, PhantomJS), synthetic monitors (Datadog, Pingdom, Lighthouse), package
  installers (pip, uv, npm) and CDNs fetching from the origin ("Amazon CloudFront"). flakehunt's
  own probes run headless but record their device class themselves, so enrichment never
  relabels them (it only fills empty cells);
- ``tablet``: iPad, Android tablets, Kindle/Silk;
- ``mobile``: phones (iOS, Android, other mobile OSes, "Mobi" in the string);
- ``desktop``: Windows, macOS, Linux, ChromeOS and the BSDs;
- ``other``: anything else (smart TVs, consoles, unknown clients).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import polars as pl

UA_COLUMNS: dict[str, pl.DataType] = {
    "ua_family": pl.String,
    "ua_major": pl.String,
    "os_family": pl.String,
    "device_class": pl.String,
}
UNKNOWN = "Other"  # uap-core's word for "parsed, not recognised"
_MISSING = {"", "-", "(null)", "null", "none"}

_AUTOMATION = re.compile(
    r"(?i)(?:\bbot\b|bot/|crawler|spider|\bcurl/|wget/|python-requests|python-urllib|"
    r"python-httpx|aiohttp|go-http-client|headlesschrome|phantomjs|okhttp|axios/|node-fetch|undici|"
    r"java/\d|apache-httpclient|libwww-perl|scrapy|synthetics|pingdom|uptimerobot|statuscake|"
    r"lighthouse|amazon cloudfront|^pip/|^uv/|^npm/|^yarn/|facebookexternalhit|slurp|bingpreview)"
)
_TABLET = re.compile(r"(?i)ipad|tablet|kindle|silk/|playbook|\bkf[a-z]{2,4}\b")
_MOBILE_OS = re.compile(r"(?i)^(?:ios|android|windows phone|blackberry|kaios|symbian|firefox os|tizen|webos)")
_DESKTOP_OS = re.compile(
    r"(?i)^(?:windows|mac ?os|linux|ubuntu|debian|fedora|red hat|suse|mint|arch|gentoo|chrome ?os|"
    r"freebsd|openbsd|netbsd|solaris)"
)


def classify_device(user_agent: str, ua_family: str | None, os_family: str | None, device: str | None) -> str:
    """
    One of desktop, mobile, tablet, bot, other.

    `device` is ua-parser's device family and brand ("iPad Apple", "Spider Spider").

    >>> classify_device("curl/8.5.0", "curl", None, None)
    'bot'
    >>> classify_device("Mozilla/5.0 (iPad; CPU OS 16_3 like Mac OS X)", "Mobile Safari", "iOS", "iPad")
    'tablet'
    """
    if (device and device.startswith("Spider")) or _AUTOMATION.search(user_agent):
        return "bot"
    if _TABLET.search(user_agent) or (device and _TABLET.search(device)):
        return "tablet"
    if os_family == "Android" and "Mobile" not in user_agent and user_agent.startswith("Mozilla/"):
        return "tablet"  # Google's advice to Android browsers: "Mobile" only on phones (apps' Dalvik never)
    if (os_family and _MOBILE_OS.match(os_family)) or "Mobi" in user_agent:
        return "mobile"
    if os_family and _DESKTOP_OS.match(os_family):
        return "desktop"
    return "other"


@lru_cache(maxsize=1 << 16)  # a log has few user agents; each block would parse them again
def parse_user_agent(user_agent: str) -> tuple[str | None, str | None, str | None, str | None]:
    """
    (ua_family, ua_major, os_family, device_class) of one user agent string.

    >>> parse_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0")
    ('Firefox', '121', 'Windows', 'desktop')
    >>> parse_user_agent("-")
    (None, None, None, None)
    """
    import ua_parser

    text = user_agent.strip()
    if text.lower() in _MISSING:
        return None, None, None, None
    result = ua_parser.parse(text)
    family = result.user_agent.family if result.user_agent else UNKNOWN
    major = result.user_agent.major if result.user_agent else None
    os_family = result.os.family if result.os else UNKNOWN
    device = " ".join(filter(None, (result.device.family, result.device.brand))) if result.device else None
    device_class = classify_device(text, family, None if os_family == UNKNOWN else os_family, device)
    return family, major, os_family, device_class


def parse_user_agents(user_agents: Sequence[str]) -> dict[str, list]:
    """`UA_COLUMNS`, one value each per user agent (the `fill_from_distinct` lookup)."""
    parsed = [parse_user_agent(ua) for ua in user_agents]
    return {name: [row[i] for row in parsed] for i, name in enumerate(UA_COLUMNS)}
