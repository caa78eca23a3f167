"""
The async runner: one Chromium process per pinned edge and one Firefox for all edges (each of its
contexts pinned through its edge's proxy, see `RunPlan.browser_key`), many isolated contexts in
each, a bounded number of runs at a time, each run classified pass / fail / error.

`error` means the tool failed (the browser crashed or disconnected, the harness timed out, this
machine could not resolve a name); such runs are retried and never counted as site failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from flakehunt.browsers import launch_browser
from flakehunt.errors import FlakehuntError
from flakehunt.probe.blocker import get_blocker
from flakehunt.probe.checks import (
    Observation,
    SeenRequest,
    evaluate_check,
    pending_requests,
    request_check_deadline,
    url_matches,
)
from flakehunt.probe.edges import cache_status, edge_pop, request_id
from flakehunt.probe.pinproxy import PinningProxy
from flakehunt.probe.profiles import NETWORK_PROFILES, place_coordinates
from flakehunt.probe.results import FailedCheck, RunRecord
from flakehunt.probe.scrub import Scrubber
from flakehunt.probe.spec import ProbeSpec, Step

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

ProgressFn = Callable[[str, int, int], None]
RecordFn = Callable[[RunRecord, list[dict[str, Any]]], None]

# Messages Playwright gives when the browser itself went away or this machine's DNS failed:
# the tool's failures, not the site's.
_TOOL_FAILURES = (
    "has been closed",
    "browser has disconnected",
    "crash",
    "connection closed",
    "target closed",
    "err_name_not_resolved",
    "ns_error_unknown_host",
    "browser closed",
    "websocket error",
)
_HASHED_TYPES = {"script", "stylesheet"}


@dataclass
class RunPlan:
    run_id: str
    config: dict[str, Any]
    repeat: int

    @property
    def browser_key(self) -> tuple[str, str | None]:
        """
        The browser process this run uses: one per (Chromium, edge), one Firefox for all edges.

        Chromium pins a name for its whole process (`--host-resolver-rules`) and starts in a
        fraction of a CPU-second; Firefox takes ~3.5 CPU-seconds to start, so each Firefox
        context is pinned through its own edge's proxy instead (pinproxy.py).
        """
        engine = self.config["browser"]
        return (engine, None if engine == "firefox" else self.config["edge"])


@dataclass
class RunnerSettings:
    spec: ProbeSpec
    url: str
    host: str
    concurrency: int
    budget_seconds: float | None
    artifacts_dir: Path
    max_artifacts: int = 20
    loading: int = 0  # pages loading at once (0: one per core, at most `concurrency`)
    origin_values: dict[str, str | None] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


class _ToolFailure(Exception):
    """The harness, not the site, failed during a run."""


class BrowserPool:
    """Launch each (engine, edge) browser once, relaunch it after a crash, close it when its runs end."""

    def __init__(self, playwright: Playwright, host: str, remaining: dict[tuple, int]) -> None:
        self.playwright = playwright
        self.host = host
        self.remaining = remaining
        self._browsers: dict[tuple, Browser] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}
        self.started_engines: set[str] = set()  # engines that did start in this probe
        self._gone: dict[int, asyncio.Event] = {}  # per browser: set when it disconnects

    async def get(self, key: tuple[str, str | None]) -> Browser:
        async with self._locks.setdefault(key, asyncio.Lock()):
            browser = self._browsers.get(key)
            if browser is None or not browser.is_connected():
                engine, edge = key
                pins = {self.host: edge} if edge else None
                browser = await launch_browser(self.playwright, engine, pin_hosts=pins)
                self._browsers[key] = browser
                self.started_engines.add(engine)
                gone = self._gone[id(browser)] = asyncio.Event()
                browser.on("disconnected", lambda _browser: gone.set())
            return browser

    def gone(self, browser: Browser) -> asyncio.Event:
        """An event set when `browser` disconnects (crashed, killed or closed)."""
        return self._gone.setdefault(id(browser), asyncio.Event())

    async def done(self, key: tuple) -> None:
        self.remaining[key] -= 1
        if self.remaining[key] <= 0 and (browser := self._browsers.pop(key, None)):
            with contextlib.suppress(Exception):
                await browser.close()

    async def close_all(self) -> None:
        for browser in self._browsers.values():
            with contextlib.suppress(Exception):
                await browser.close()
        self._browsers.clear()


class Runner:
    def __init__(
        self,
        settings: RunnerSettings,
        playwright: Playwright,
        plans: list[RunPlan],
        *,
        on_record: RecordFn | None = None,
    ) -> None:
        self.s = settings
        self.playwright = playwright
        self.plans = plans
        self.on_record = on_record
        self.scrub = Scrubber(settings.secrets)
        remaining: dict[tuple, int] = {}
        for plan in plans:
            remaining[plan.browser_key] = remaining.get(plan.browser_key, 0) + 1
        self.pool = BrowserPool(playwright, settings.host, remaining)
        self._loading = asyncio.Semaphore(settings.loading or min(settings.concurrency, usable_cores()))
        self.records: list[RunRecord] = []
        self.exchanges: list[dict[str, Any]] = []
        self.budget_exhausted = False
        self._artifacts = 0
        self._verified: dict[tuple, list[str]] = {}
        self._rng = random.Random()
        self._proxies: dict[str, PinningProxy] = {}  # per edge, for Firefox's contexts

    async def run(self, on_progress: ProgressFn | None) -> None:
        semaphore = asyncio.Semaphore(self.s.concurrency)
        started = time.monotonic()
        total = len(self.plans)

        async def one(plan: RunPlan) -> None:
            async with semaphore:
                budget = self.s.budget_seconds
                if budget is not None and time.monotonic() - started > budget:
                    self.budget_exhausted = True
                    await self.pool.done(plan.browser_key)
                    return
                record, exchanges = await self._run_with_retries(plan)
                record, exchanges = self.scrub.value(record), self.scrub.value(exchanges)
                self.records.append(record)
                self.exchanges.extend(exchanges)
                if self.on_record:
                    self.on_record(record, exchanges)
                await self.pool.done(plan.browser_key)
                if on_progress:
                    failures = sum(r.outcome == "fail" for r in self.records)
                    errors = sum(r.outcome == "error" for r in self.records)
                    on_progress(f"{failures} failed, {errors} errors", len(self.records), total)

        for edge in {
            plan.config["edge"] for plan in self.plans if plan.browser_key[1] != plan.config["edge"]
        }:
            self._proxies[edge] = await PinningProxy({self.s.host: edge}).start()
        try:
            await asyncio.gather(*(one(plan) for plan in self.plans))
        finally:
            await self.pool.close_all()
            for proxy in self._proxies.values():
                await proxy.close()
        order = {plan.run_id: index for index, plan in enumerate(self.plans)}
        self.records.sort(key=lambda r: order[r.run_id])

    async def _run_with_retries(self, plan: RunPlan) -> tuple[RunRecord, list[dict[str, Any]]]:
        retries = self.s.spec.retries
        for attempt in range(1, retries + 2):
            started = datetime.now(UTC)
            harness_limit = (self.s.spec.timeout_ms * 2 + 15_000) / 1000
            try:
                record, exchanges = await asyncio.wait_for(self._run_once(plan), harness_limit)
            except Exception as exc:  # any failure of the harness is this run's `error`
                if (
                    isinstance(exc, FlakehuntError)
                    and exc.exit_code != 2
                    and plan.config["browser"] not in self.pool.started_engines
                ):
                    raise  # a browser that never starts: the environment; one that did start once is flaky
                message = "harness timeout" if isinstance(exc, TimeoutError) else _first_line(exc)
                record = RunRecord(plan.run_id, plan.config, plan.repeat, started, datetime.now(UTC), "error")
                record.error, exchanges = message, []
            record.attempt, record.retries = attempt, attempt - 1
            if record.outcome != "error" or attempt > retries:
                return record, exchanges
        raise AssertionError("unreachable")

    async def _run_once(self, plan: RunPlan) -> tuple[RunRecord, list[dict[str, Any]]]:
        """One run, abandoned as the tool's failure as soon as its browser goes away."""
        async with _Holding(self._loading) as loading:
            browser = await self.pool.get(plan.browser_key)
            # A call in flight when the browser dies can hang until the harness timeout.
            run = asyncio.ensure_future(self._run_loading(plan, browser, loading))
            gone = asyncio.ensure_future(self.pool.gone(browser).wait())
            try:
                await asyncio.wait({run, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                gone.cancel()
                if not run.done():
                    run.cancel()
                    run.add_done_callback(lambda task: task.cancelled() or task.exception())
            if run.done() and not run.cancelled():
                return run.result()
            raise _ToolFailure("browser has disconnected")

    async def _run_loading(
        self, plan: RunPlan, browser: Browser, loading: _Holding
    ) -> tuple[RunRecord, list[dict[str, Any]]]:
        """One run; `loading` is held while the browser starts and the steps load pages."""
        config = plan.config
        unsupported: list[str] = []
        har_path = self.s.artifacts_dir / "har" / f"{plan.run_id}.har"
        har_path.parent.mkdir(parents=True, exist_ok=True)
        options = self._context_options(config, unsupported)
        if plan.browser_key[1] != config["edge"]:  # this browser serves every edge: pin the context
            options["proxy"] = {"server": self._proxies[config["edge"]].url}
        context = await browser.new_context(**options, record_har_path=str(har_path))
        started = datetime.now(UTC)
        seen = Observation()
        keep = False
        screenshot: Path | None = None
        try:
            page = await context.new_page()
            self._watch(page, seen)
            await self._route(context, config, seen)
            await self._throttle(context, page, config, unsupported)
            if config["cache"] == "warm":
                await self._steps(page, seen)  # prime the browser cache; only the second visit counts
                seen.restart()
            seen.start_clock()  # `within_ms` counts from the first step, not from setting up the page
            failed = await self._steps_as_checks(page, seen)
            loading.release()  # from here the run mostly waits: let another page load meanwhile
            await self._settle(seen)
            await self._timings(page, seen)
            if not failed:
                failed = [
                    result
                    for check in self.s.spec.checks
                    if (result := await evaluate_check(check, seen, page, origin_values=self.s.origin_values))
                ]
            unsupported += await self._verify(page, config, browser, options)
            exchanges = await self._exchanges(plan, seen, browser)
            outcome = "fail" if failed else "pass"
            if failed and self._artifacts < self.s.max_artifacts:
                self._artifacts += 1
                keep = True
                screenshot = self.s.artifacts_dir / "screenshots" / f"{plan.run_id}.png"
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                # Fields filled from secrets are painted over: a text field would show the value.
                mask = [
                    page.locator(step.args["selector"]) for step in self.s.spec.steps if "secret" in step.args
                ]
                await page.screenshot(path=str(screenshot), timeout=5000, mask=mask)
        except Exception as exc:
            if not browser.is_connected() or _is_tool_failure(exc):
                raise _ToolFailure(_first_line(exc)) from exc
            raise
        finally:
            with contextlib.suppress(Exception):
                await context.close()  # writes the HAR
            if keep:
                self.scrub.file(har_path)
            else:
                har_path.unlink(missing_ok=True)
        pops = [p for s in seen.requests if (p := edge_pop(s.headers))]
        record = RunRecord(
            run_id=plan.run_id,
            config=config,
            repeat=plan.repeat,
            started=started,
            ended=datetime.now(UTC),
            outcome=outcome,
            failed_checks=failed,
            console_errors=seen.console_errors,
            page_errors=seen.page_errors,
            failed_requests=seen.failed_requests(),
            navigation_ms=seen.navigation_ms,
            load_ms=seen.load_ms,
            checked_request_ms=self._checked_request_ms(seen),
            unsupported=sorted(set(unsupported)),
            edge_pop=max(set(pops), key=pops.count) if pops else None,
            browser_version=browser.version,
            har_path=str(har_path) if keep else None,
            screenshot_path=str(screenshot) if screenshot else None,
        )
        return record, exchanges

    # -- context setup -------------------------------------------------------------------------

    def _context_options(self, config: dict[str, Any], unsupported: list[str]) -> dict[str, Any]:
        options: dict[str, Any] = {"service_workers": "block"}
        if device := config["device"]:
            descriptor = dict(self.playwright.devices[device])
            descriptor.pop("default_browser_type", None)
            options.update(descriptor)
        if config["locale"]:
            options["locale"] = config["locale"]
        if config["timezone"]:
            options["timezone_id"] = config["timezone"]
        if config["geolocation"]:
            lat, lon = place_coordinates(config["geolocation"])
            options["geolocation"] = {"latitude": lat, "longitude": lon}
            options["permissions"] = ["geolocation"]
        return options

    async def _route(self, context: BrowserContext, config: dict[str, Any], seen: Observation) -> None:
        blocker = get_blocker(config["blocker"])
        drop_rate = NETWORK_PROFILES[config["network"]].drop_rate
        if blocker is None and not drop_rate:
            return
        page_url = self.s.url

        async def handle(route: Any) -> None:
            request = route.request
            if blocker and blocker.blocks(request.url, page_url, request.resource_type):
                await route.abort("blockedbyclient")
                return
            if drop_rate and request.resource_type != "document" and self._rng.random() < drop_rate:
                await route.abort("internetdisconnected")
                return
            await route.continue_()

        await context.route("**/*", handle)

    async def _throttle(
        self, context: BrowserContext, page: Page, config: dict[str, Any], unsupported: list[str]
    ) -> None:
        profile = NETWORK_PROFILES[config["network"]]
        if not profile.throttled:
            return
        if config["browser"] != "chromium":
            unsupported.append("network")  # CDP network emulation exists only in Chromium
            return
        session = await context.new_cdp_session(page)
        await session.send("Network.enable")
        await session.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": profile.latency_ms,
                "downloadThroughput": profile.download_bps,
                "uploadThroughput": profile.upload_bps,
            },
        )

    def _watch(self, page: Page, seen: Observation) -> None:
        by_request: dict[int, SeenRequest] = {}

        def on_request(request: Any) -> None:
            entry = SeenRequest(request, request.url, seen.elapsed_ms())
            by_request[id(request)] = entry
            seen.requests.append(entry)

        def on_response(response: Any) -> None:
            if entry := by_request.get(id(response.request)):
                entry.status = response.status
                entry.headers = response.headers

        def on_failed(request: Any) -> None:
            if entry := by_request.get(id(request)):
                entry.failure = request.failure or "failed"
                entry.blocked = "blocked" in entry.failure.lower() or entry.failure == "NS_ERROR_ABORT"

        def on_console(message: Any) -> None:
            if message.type == "error":
                seen.console_errors.append(message.text[:500])

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("console", on_console)
        page.on("pageerror", lambda error: seen.page_errors.append(str(error)[:500]))
        page.on("crash", lambda _page: seen.mark_gone("crashed"))
        page.on("close", lambda _page: seen.mark_gone("closed"))

    # -- steps and checks ----------------------------------------------------------------------

    async def _steps(self, page: Page, seen: Observation) -> None:
        steps = self.s.spec.steps or (Step("goto", {}),)
        for step in steps:
            await self._step(page, step, seen)

    async def _steps_as_checks(self, page: Page, seen: Observation) -> list[FailedCheck]:
        """Run the steps; a step the site makes impossible (timeout, refused) is a failed check."""
        from playwright.async_api import Error as PlaywrightError

        steps = self.s.spec.steps or (Step("goto", {}),)
        for index, step in enumerate(steps):
            try:
                await self._step(page, step, seen)
            except PlaywrightError as exc:
                if _is_tool_failure(exc):
                    raise
                what = step.args.get("target") or step.args.get("selector") or ""
                name = f"step {index + 1}: {step.action} {what}"
                return [FailedCheck(name.strip(), "completes", _first_line(exc)[:300])]
        return []

    async def _step(self, page: Page, step: Step, seen: Observation) -> None:
        timeout = self.s.spec.timeout_ms
        args = step.args
        if step.action == "goto":
            await page.goto(urljoin(self.s.url, args.get("target") or ""), timeout=timeout)
        elif step.action == "click":
            await page.click(args["target"], timeout=timeout)
        elif step.action == "fill":
            value = self.s.secrets[args["secret"]] if "secret" in args else str(args["value"])
            await page.fill(args["selector"], value, timeout=timeout)
        elif step.action == "press":
            await page.keyboard.press(args["target"])
        elif step.action == "scroll":
            target = args.get("target")
            if target:
                await page.locator(target).first.scroll_into_view_if_needed(timeout=timeout)
            else:
                await page.mouse.wheel(0, 10_000)
        elif step.action == "evaluate":
            await page.evaluate(args["target"])
        elif step.action == "wait":
            await page.wait_for_timeout(args["ms"])
        elif step.action == "wait_for":
            if "selector" in args:
                await page.wait_for_selector(args["selector"], timeout=timeout)
            # A request made already (say, while the click before navigated) counts: the page
            # may well have made it before this step began to listen.
            if "request" in args and not any(url_matches(args["request"], s.url) for s in seen.requests):
                await page.wait_for_event(
                    "request", lambda r: url_matches(args["request"], r.url), timeout=timeout
                )
            if args.get("network_idle"):
                await page.wait_for_load_state("networkidle", timeout=timeout)

    async def _settle(self, seen: Observation) -> None:
        """
        Wait until every request check is met or its `within_ms` has passed.

        The wait ends early only when the page can no longer make a request at all: it crashed
        or was closed. A page that merely looks idle can still make it (a timer, a promise
        settled by a browser API, a message, an animation ending), and nothing a harness can
        observe from outside proves otherwise, so an idle page is waited for, to the bound.
        """
        checks = list(self.s.spec.checks)
        deadline = request_check_deadline(checks)
        while pending_requests(checks, seen) and seen.elapsed_ms() < deadline and not seen.gone:
            await asyncio.sleep(0.05)
        if not seen.gone:
            await asyncio.sleep(self.s.spec.settle_ms / 1000)

    async def _timings(self, page: Page, seen: Observation) -> None:
        entry = await page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n ? [n.responseEnd, n.loadEventEnd] : null; }"
        )
        if entry:
            seen.navigation_ms = entry[0] or None
            seen.load_ms = entry[1] or None

    def _checked_request_ms(self, seen: Observation) -> float | None:
        for check in self.s.spec.checks:
            if check.kind == "request" and (match := seen.first_match(check)):
                return match.at_ms
        return None

    async def _verify(
        self, page: Page, config: dict[str, Any], browser: Browser, options: dict[str, Any]
    ) -> list[str]:
        """Which requested dimensions did not take effect in this browser (checked once per config)."""
        key = (
            config["browser"],
            config["device"],
            config["locale"],
            config["timezone"],
            config["geolocation"],
        )
        if key in self._verified:
            return self._verified[key]
        probe = await page.evaluate(
            """async (wantGeo) => {
                const result = {ua: navigator.userAgent, screen: screen.width, dpr: window.devicePixelRatio,
                  touch: navigator.maxTouchPoints, width: window.innerWidth,
                  metaViewport: !!document.querySelector('meta[name=viewport]'),
                  lang: navigator.language, tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
                  secure: window.isSecureContext, geo: null};
                if (wantGeo && result.secure) {
                  result.geo = await new Promise(done => navigator.geolocation.getCurrentPosition(
                    p => done([p.coords.latitude, p.coords.longitude]), () => done(null), {timeout: 5000}));
                }
                return result;
            }""",
            bool(config["geolocation"]),
        )
        return self._verified.setdefault(key, _not_applied(probe, config, options))

    # -- exchanges -----------------------------------------------------------------------------

    async def _exchanges(self, plan: RunPlan, seen: Observation, browser: Browser) -> list[dict[str, Any]]:
        rows = []
        for entry in seen.requests:
            request = entry.request
            parts = urlsplit(entry.url)
            headers = entry.headers
            timing = request.timing
            start = timing.get("startTime") or 0
            content_hash = None
            length = _int(headers.get("content-length"))
            if entry.status is not None and request.resource_type in _HASHED_TYPES and entry.status < 300:
                with contextlib.suppress(Exception):
                    response = await request.response()
                    body = await response.body() if response else None
                    if body is not None:
                        content_hash = hashlib.sha256(body).hexdigest()
                        length = len(body)
            response_end = timing.get("responseEnd", -1)
            response_start = timing.get("responseStart", -1)
            vendor = {"resource_type": request.resource_type}
            if entry.failure:
                vendor["failure"] = entry.failure
            if entry.blocked:
                vendor["blocked"] = "true"
            rows.append(
                {
                    "ts": datetime.fromtimestamp(start / 1000, UTC) if start > 0 else datetime.now(UTC),
                    "source": "probe",
                    "format": "probe",
                    "request_id": request_id(headers),
                    "method": request.method,
                    "scheme": parts.scheme,
                    "host": parts.hostname,
                    "path": parts.path,
                    "query": parts.query or None,
                    "status": entry.status,
                    "content_type": headers.get("content-type"),
                    "content_length": length,
                    "content_hash": content_hash,
                    "etag": headers.get("etag"),
                    "last_modified": headers.get("last-modified"),
                    "age": _int(headers.get("age")),
                    "cache_status": cache_status(headers),
                    "edge_pop": edge_pop(headers),
                    "edge_ip": plan.config["edge"],
                    "time_taken_ms": response_end if response_end >= 0 else None,
                    "ttfb_ms": response_start if response_start >= 0 else None,
                    "user_agent": request.headers.get("user-agent"),
                    "ua_family": plan.config["browser"],
                    "ua_major": browser.version.split(".")[0],
                    "device_class": "mobile"
                    if _is_mobile(self.playwright, plan.config["device"])
                    else "desktop",
                    "run_id": plan.run_id,
                    "vendor": [{"key": k, "value": v} for k, v in vendor.items()],
                }
            )
        return rows


def _not_applied(probe: dict[str, Any], config: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """
    The requested dimensions (or parts of a device) the page did not see, from its own view.

    A device is its user agent, screen width and pixel ratio, plus touch (`device.touch`) and
    the mobile layout viewport (`device.mobile`); Firefox applies the first three but not the
    last two (Playwright: "isMobile ... is not supported in Firefox").
    """
    missing = []
    if config["device"]:
        viewport = options.get("viewport") or {}
        if (
            probe["ua"] != options.get("user_agent")
            or probe["screen"] != viewport.get("width")
            or abs(probe["dpr"] - options.get("device_scale_factor", 1)) > 0.01
        ):
            missing.append("device")
        if options.get("has_touch") and not probe["touch"]:
            missing.append("device.touch")
        if options.get("is_mobile"):
            # Without a <meta name=viewport>, a mobile browser lays the page out wider than its
            # screen (980 px); with one, the page cannot tell, so trust Playwright's documentation.
            measurable = not probe["metaViewport"]
            if (measurable and probe["width"] <= probe["screen"]) or (
                not measurable and config["browser"] == "firefox"
            ):
                missing.append("device.mobile")
    if config["locale"] and probe["lang"] != config["locale"]:
        missing.append("locale")
    if config["timezone"] and probe["tz"] != config["timezone"]:
        missing.append("timezone")
    # Geolocation is for secure contexts only (https or loopback): on a plain-http page no browser
    # gives the page a position, which is what the customer's browser does too, not a limitation.
    if config["geolocation"] and probe["secure"]:
        want, got = options["geolocation"], probe["geo"]
        if not got or abs(got[0] - want["latitude"]) > 0.01 or abs(got[1] - want["longitude"]) > 0.01:
            missing.append("geolocation")
    return missing


class _Holding:
    """Hold a semaphore for a block, with the option to give it back before the block ends."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self.semaphore = semaphore
        self.held = False

    async def __aenter__(self) -> _Holding:
        await self.semaphore.acquire()
        self.held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


def _is_mobile(playwright: Playwright, device: str | None) -> bool:
    return bool(device and playwright.devices[device].get("is_mobile"))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _is_tool_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _TOOL_FAILURES)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


MAX_DEFAULT_CONCURRENCY = 16


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_concurrency() -> int:
    """
    Runs in flight when none is asked for: four per usable CPU core, at most 16.

    A probe run spends most of its time waiting, not computing: on the network, on the page's
    own timers, and on a request check's `within_ms` when the request never comes (every run
    at a stale edge waits that long). Waiting costs no CPU, so one run per core leaves the
    cores idle while runs wait. Pages *loading* stay at one per core (the runner's loading
    limit, held while a browser starts and the steps run), so the extra runs in flight only
    overlap waiting: page loads are not slowed down, which would turn timing checks
    (`within_ms`, `load_ms`) into false failures. The cap bounds memory (a waiting run holds a
    browser context) and the load put on the site. bench/probe.py measures the effect.

    >>> 2 <= default_concurrency() <= MAX_DEFAULT_CONCURRENCY
    True
    """
    return max(2, min(4 * usable_cores(), MAX_DEFAULT_CONCURRENCY))
