"""
`flakehunt demo`: the whole job against the simulated CDN's stale-edge preset, with no setup.

It starts edgesim (one edge missed the deploy's invalidation and still serves release 1 of
/static/app.js), sends simulated customers through every edge so the CDN and origin logs have a
history, then runs `investigate` exactly as a support engineer would: real Chromium and Firefox
probes pinned to each edge, the logs ingested, correlation, and the reports.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flakehunt.browsers import Engine, require_browser
from flakehunt.case import open_case
from flakehunt.edgesim import SimWorld
from flakehunt.edgesim.visitors import shop_traffic
from flakehunt.investigate import InvestigationResult, builtin_spec, investigate

PIXEL = "path = '/checkout' -> path LIKE '/pixel.gif%' within 30s"
SYMPTOM = "the conversion pixel fires sometimes but not others"


def run_demo(
    *,
    edges: int = 6,
    preset: str = "stale-edge",
    visitors: int = 300,
    repeat: int = 2,
    case_id: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> InvestigationResult:
    """Investigate the simulated shop's checkout; returns what `investigate` found."""
    step = on_progress or (lambda _message: None)
    for engine in Engine:
        require_browser(engine)  # exit 3 with the install command before starting anything
    case = open_case(case_id or "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S"))
    with SimWorld(preset=preset, edges=edges) as world:
        step(f"simulated CDN up: {len(world.specs)} edges at {world.site_url} (preset {preset})")
        fired = shop_traffic(world, visitors)
        step(f"{visitors} simulated customers checked out; the pixel fired for {fired}")
        logs = world.describe()["logs"]
        return investigate(
            world.site_url + "checkout",
            case=case,
            symptom=SYMPTOM,
            spec=builtin_spec("conversion-pixel"),
            logs=[*logs["cdn"], logs["origin"]],
            edge_ips=[spec.ip for spec in world.specs],
            expect=PIXEL,
            repeat=repeat,
            on_step=step,
        )
