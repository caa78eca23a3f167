"""What a run saw, and the checks that turn it into pass or fail."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flakehunt.probe.results import FailedCheck
from flakehunt.probe.spec import Check

if TYPE_CHECKING:
    from playwright.async_api import Page, Request


def url_matches(pattern: str, url: str) -> bool:
    """
    A URL pattern is a substring, or 're:' followed by a regex searched in the URL.

    >>> url_matches("/pixel.gif?event=purchase", "http://s.test/pixel.gif?event=purchase&t=1")
    True
    >>> url_matches(r"re:/api/v\\d+/cart$", "http://s.test/api/v1/cart")
    True
    """
    if pattern.startswith("re:"):
        return re.search(pattern[3:], url) is not None
    return pattern in url


@dataclass
class SeenRequest:
    request: Request
    url: str
    at_ms: float  # since the first step started
    status: int | None = None
    failure: str | None = None
    blocked: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Observation:
    """Everything a page did during one run, collected from Playwright's events."""

    started: float = field(default_factory=time.monotonic)
    requests: list[SeenRequest] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    load_ms: float | None = None
    navigation_ms: float | None = None
    gone: str | None = None  # "crashed" or "closed": the page can make no more requests

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def start_clock(self) -> None:
        """Count `at_ms` from now; requests seen before (none, normally) move back with it."""
        now = time.monotonic()
        shift = (now - self.started) * 1000
        for seen in self.requests:
            seen.at_ms -= shift
        self.started = now

    def mark_gone(self, why: str) -> None:
        self.gone = self.gone or why

    def restart(self) -> None:
        self.__init__()  # type: ignore[misc]

    def failed_requests(self) -> list[str]:
        return [f"{seen.url} ({seen.failure})" for seen in self.requests if seen.failure]

    def first_match(self, check: Check) -> SeenRequest | None:
        statuses = check.params.get("status")
        within = check.params.get("within_ms")
        for seen in self.requests:
            if not url_matches(check.params["pattern"], seen.url):
                continue
            if seen.failure or (within is not None and seen.at_ms > within):
                continue  # a blocked or failed request never reached the server
            if statuses and seen.status not in statuses:
                continue
            return seen
        return None


async def evaluate_check(
    check: Check, seen: Observation, page: Page, *, origin_values: dict[str, str | None]
) -> FailedCheck | None:
    """Evaluate one check against what the run saw; None when it holds."""
    params = check.params
    if check.kind == "request":
        if seen.first_match(check):
            return None
        candidates = [s for s in seen.requests if url_matches(params["pattern"], s.url)]
        expected = f"a request matching {params['pattern']!r}"
        if "within_ms" in params:
            expected += f" within {params['within_ms']} ms"
        if "status" in params:
            expected += f" with status in {params['status']}"
        observed = (
            "; ".join(_describe(s) for s in candidates[:3]) if candidates else "no matching request was made"
        )
        return FailedCheck(check.name, expected, observed)
    if check.kind == "no_console_error":
        hits = [m for m in [*seen.console_errors, *seen.page_errors] if url_matches(params["pattern"], m)]
        return FailedCheck(check.name, "no console error", hits[0][:300]) if hits else None
    if check.kind == "no_failed_request":
        failed = [s for s in seen.requests if _request_failed(s) and url_matches(params["pattern"], s.url)]
        return FailedCheck(check.name, "no failed request", _describe(failed[0])) if failed else None
    if check.kind == "load_ms":
        if seen.load_ms is not None and seen.load_ms <= params["limit"]:
            return None
        observed = "the load event never fired" if seen.load_ms is None else f"{seen.load_ms:.0f} ms"
        return FailedCheck(check.name, f"load under {params['limit']} ms", observed)
    if check.kind == "selector":
        return await _selector(check, page)
    if check.kind == "js":
        # Awaited, so an expression giving a promise (geolocation, fetch) is judged by its value.
        value = await page.evaluate(
            f"async () => {{ try {{ return !!(await ({params['target']})); }} catch (e) {{ return String(e); }} }}"
        )
        return None if value is True else FailedCheck(check.name, "true", repr(value))
    if check.kind == "header":
        return _header(check, seen, origin_values)
    raise AssertionError(check.kind)


async def _selector(check: Check, page: Page) -> FailedCheck | None:
    locator = page.locator(check.params["target"]).first
    if check.params.get("visible", True) and not await locator.is_visible():
        return FailedCheck(check.name, f"{check.params['target']} visible", "not visible or absent")
    if (text := check.params.get("contains")) is not None:
        actual = await locator.text_content(timeout=1000) if await locator.count() else None
        if actual is None or str(text) not in actual:
            return FailedCheck(check.name, f"text containing {text!r}", repr((actual or "")[:200]))
    return None


def _header(check: Check, seen: Observation, origin_values: dict[str, str | None]) -> FailedCheck | None:
    params = check.params
    responses = [s for s in seen.requests if url_matches(params["url"], s.url) and s.status is not None]
    if not responses:
        return FailedCheck(check.name, f"a response for {params['url']!r}", "no response")
    value = responses[0].headers.get(params["name"])
    if "equals" in params:
        expected = str(params["equals"])
    elif "matches" in params:
        ok = value is not None and re.search(str(params["matches"]), value) is not None
        return None if ok else FailedCheck(check.name, f"matches {params['matches']!r}", repr(value))
    else:
        expected = str(origin_values.get(check.name))
    return None if value == expected else FailedCheck(check.name, expected, repr(value))


def _request_failed(seen: SeenRequest) -> bool:
    return seen.failure is not None or (seen.status is not None and seen.status >= 400)


def _describe(seen: SeenRequest) -> str:
    if seen.failure:
        return f"{seen.url} failed ({seen.failure})"
    status = "no response" if seen.status is None else f"status {seen.status}"
    return f"{seen.url} at {seen.at_ms:.0f} ms, {status}"


def request_check_deadline(checks: list[Check]) -> float:
    """How long after the first step to wait for request checks with a `within_ms` to be met."""
    return max(
        [c.params["within_ms"] for c in checks if c.kind == "request" and "within_ms" in c.params], default=0
    )


def pending_requests(checks: list[Check], seen: Observation) -> list[Check]:
    return [c for c in checks if c.kind == "request" and seen.first_match(c) is None]
