"""
`flakehunt demo`: the seed story against the simulated CDN, with no setup.

Starts edgesim's stale-edge preset, loads /checkout once in real Chromium and real Firefox
through each edge (each browser pinned to one edge), and shows which app.js each edge served
and whether the conversion pixel fired.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

from flakehunt.aio import run_interruptible
from flakehunt.browsers import Engine, launch_browser, require_browser
from flakehunt.edgesim import SimWorld

PIXEL_WAIT_MS = 5_000


@dataclass
class PageVisit:
    """One page load through one edge in one browser."""

    pop: str
    engine: str
    browser_version: str
    page_status: int | None
    app_js_etag: str | None
    app_js_cache: str | None
    pixel_fired: bool
    console_errors: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    site_url: str
    stale_edges: list[str]
    visits: list[PageVisit]

    @property
    def failing_edges(self) -> list[str]:
        return sorted({visit.pop for visit in self.visits if not visit.pixel_fired})

    def majority_etag(self) -> str | None:
        counts = Counter(visit.app_js_etag for visit in self.visits if visit.app_js_etag)
        return counts.most_common(1)[0][0] if counts else None

    def to_dict(self) -> dict:
        return {
            "site_url": self.site_url,
            "stale_edges": self.stale_edges,
            "failing_edges": self.failing_edges,
            "visits": [visit.__dict__ for visit in self.visits],
        }

    def __rich__(self) -> Group:
        table = Table(title=f"/checkout through each edge of {self.site_url}", header_style="fh.key")
        for column in ("edge", "browser", "app.js ETag", "X-Cache", "pixel fired"):
            table.add_column(column, no_wrap=True)
        table.add_column("first console error", overflow="ellipsis", no_wrap=True, max_width=48)
        majority = self.majority_etag()
        for visit in self.visits:
            etag_style = "" if visit.app_js_etag == majority else "fh.fail"
            table.add_row(
                visit.pop,
                f"{visit.engine} {visit.browser_version.split('.')[0]}",
                Text(visit.app_js_etag or "-", style=etag_style),
                (visit.app_js_cache or "-").removesuffix(" from cloudfront"),
                Text("yes", style="fh.pass") if visit.pixel_fired else Text("no", style="fh.fail"),
                Text(visit.console_errors[0] if visit.console_errors else "", style="fh.dim"),
            )
        return Group(table, Text(self.summary()))

    def summary(self) -> str:
        if not self.failing_edges:
            return "The pixel fired through every edge."
        majority = self.majority_etag()
        parts = []
        for pop in self.failing_edges:
            etags = {v.app_js_etag for v in self.visits if v.pop == pop}
            if majority not in etags:
                served = ", ".join(sorted(map(str, etags)))
                parts.append(
                    f"edge {pop} serves a different /static/app.js (ETag {served}, "
                    f"the other edges serve {majority}) and the pixel never fires there: "
                    f"purge /static/app.js on edge {pop}."
                )
            else:
                parts.append(f"the pixel did not fire through edge {pop}.")
        return " ".join(parts)


def run_demo(
    *, edges: int = 6, preset: str = "stale-edge", on_progress: Callable[[str], None] | None = None
) -> DemoResult:
    """Run the demo and return what every browser saw through every edge."""
    engines = [Engine.CHROMIUM, Engine.FIREFOX]
    executables = {engine: require_browser(engine) for engine in engines}  # exit 3 before starting
    with SimWorld(preset=preset, edges=edges) as world:
        if on_progress:
            on_progress(f"simulated CDN up: {len(world.specs)} edges at {world.site_url}")
        visits = run_interruptible(_visit_all(world, executables, on_progress))
        return DemoResult(world.site_url, list(world.faults.stale_edges), visits)


async def _visit_all(world: SimWorld, executables: dict, on_progress) -> list[PageVisit]:
    from playwright.async_api import async_playwright

    limit = asyncio.Semaphore(2)  # two browsers at a time: this runs on small machines

    async def one(engine: Engine, pop: str) -> PageVisit:
        async with limit:
            visit = await visit_checkout(playwright, engine, world, pop, executable=executables[engine])
            if on_progress:
                fired = "pixel fired" if visit.pixel_fired else "pixel did NOT fire"
                on_progress(f"{engine.value:8} via {pop:9} app.js {visit.app_js_etag}  {fired}")
            return visit

    async with async_playwright() as playwright:
        tasks = [one(engine, spec.pop) for spec in world.specs for engine in executables]
        return list(await asyncio.gather(*tasks))


async def visit_checkout(
    playwright, engine: Engine, world: SimWorld, pop: str, *, executable=None
) -> PageVisit:
    """Load the shop's /checkout in `engine` pinned to edge `pop`; watch app.js and the pixel."""
    browser = await launch_browser(playwright, engine, pin_hosts=world.pin(pop), executable=executable)
    try:
        page = await browser.new_page()
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        app_js: dict[str, str | None] = {}

        async def on_response(response) -> None:
            if response.url.split("?")[0].endswith("/static/app.js"):
                headers = await response.all_headers()
                app_js.update(etag=headers.get("etag"), cache=headers.get("x-cache"))

        page.on("response", on_response)
        pixel = asyncio.Event()
        page.on("request", lambda request: pixel.set() if "/pixel.gif" in request.url else None)
        response = await page.goto(world.site_url + "checkout")
        try:
            await asyncio.wait_for(pixel.wait(), PIXEL_WAIT_MS / 1000)
            pixel_fired = True
        except TimeoutError:
            pixel_fired = False
        return PageVisit(
            pop=pop,
            engine=engine.value,
            browser_version=browser.version,
            page_status=response.status if response else None,
            app_js_etag=app_js.get("etag"),
            app_js_cache=app_js.get("cache"),
            pixel_fired=pixel_fired,
            console_errors=console_errors,
        )
    finally:
        await browser.close()
