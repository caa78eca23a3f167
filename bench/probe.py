"""
Probe throughput: flakehunt's runner vs the naive approach, in the same run, against edgesim.

flakehunt: a 240-run matrix (2 engines x 8 edges x 3 devices x 5 repeats), one Chromium per
edge and one Firefox for all edges (contexts pinned by a loopback proxy), many contexts, bounded
concurrency (default: four runs per core in flight, one page loading per core). Naive: for a
sample of the same runs, launch a browser per run and run them one after another. Prints
runs/minute for both, the ratio, where the failures were (only the stale edge FRA56-C1 should
fail: failures elsewhere are timing checks missed because the machine was overloaded), the load
average, and peak memory of this process (browsers are separate processes).

    .venv/bin/python bench/probe.py [--repeat 5] [--naive-sample 24] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

from flakehunt.browsers import launch_browser
from flakehunt.case import open_case
from flakehunt.edgesim import SimWorld
from flakehunt.probe import default_concurrency, parse_spec, run_probe

DEVICES = ["Desktop Chrome", "Pixel 7", "iPhone 15"]
SPEC = {
    "name": "bench",
    "url": "http://shop.test/",
    "steps": [{"goto": "/checkout"}],
    "checks": [{"name": "pixel fired", "request": "/pixel.gif?event=purchase", "within_ms": 3000}],
    "matrix": {"browser": ["chromium", "firefox"], "device": DEVICES, "edge": "all"},
    "settle_ms": 100,
}


async def naive(world: SimWorld, plans: list[tuple[str, str, str]]) -> list[bool]:
    """A browser per run, one run at a time: what a hand-written script usually does."""
    from playwright.async_api import async_playwright

    results = []
    async with async_playwright() as playwright:
        for engine, device, pop in plans:
            browser = await launch_browser(playwright, engine, pin_hosts=world.pin(pop))
            options = dict(playwright.devices[device])
            options.pop("default_browser_type", None)
            context = await browser.new_context(**options)
            page = await context.new_page()
            fired = asyncio.Event()
            page.on("request", lambda r, fired=fired: fired.set() if "/pixel.gif" in r.url else None)
            await page.goto(world.site_url + "checkout")
            try:
                await asyncio.wait_for(fired.wait(), 3)
                results.append(True)
            except TimeoutError:
                results.append(False)
            await browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-sample", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=None)
    args = parser.parse_args()
    spec = parse_spec(SPEC)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, SimWorld(preset="stale-edge", edges=8) as world:
        case = open_case("bench", root=Path(tmp))
        edges = world.describe()["edge_ips"].split(",")
        started = time.perf_counter()
        result = run_probe(
            spec,
            case=case,
            url=world.site_url,
            edge_ips=edges,
            repeat=args.repeat,
            concurrency=args.concurrency,
        )
        flakehunt_s = time.perf_counter() - started
        runs = len(result.runs)
        failed = sum(r.outcome == "fail" for r in result.runs)
        at_stale = sum(r.outcome == "fail" and r.edge_pop == "FRA56-C1" for r in result.runs)
        stale_runs = sum(r.edge_pop == "FRA56-C1" for r in result.runs)
        errors = sum(r.outcome == "error" for r in result.runs)
        # The naive sample walks the same matrix evenly, so it holds the same share of stale-edge runs.
        pops = [s.pop for s in world.specs]
        full = [(e, d, p) for e in ("chromium", "firefox") for p in pops for d in DEVICES]
        step = max(1, len(full) // args.naive_sample)
        sample = full[::step][: args.naive_sample]
        started = time.perf_counter()
        naive_results = asyncio.run(naive(world, sample))
        naive_s = time.perf_counter() - started
    flakehunt_rate = runs / flakehunt_s * 60
    naive_rate = len(naive_results) / naive_s * 60
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    concurrency = args.concurrency or default_concurrency()
    print(f"flakehunt: {runs} runs ({failed} failed, {errors} errors) in {flakehunt_s:.1f} s", end="")
    print(f" = {flakehunt_rate:.1f} runs/min at concurrency {concurrency}")
    print(f"           failures: {at_stale}/{stale_runs} at the stale edge, {failed - at_stale} elsewhere")
    naive_failed = naive_results.count(False)
    print(f"naive:     {len(naive_results)} runs ({naive_failed} failed) in {naive_s:.1f} s", end="")
    print(f" = {naive_rate:.1f} runs/min")
    print(f"ratio:     {flakehunt_rate / naive_rate:.1f}x   peak RSS of this process: {peak_mb:.0f} MB")
    print(
        f"load average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
