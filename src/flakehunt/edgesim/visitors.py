"""
Simulated shop visitors: what the demo shop's page does, without a browser.

Each visit fetches /checkout, the scripts, then the cart endpoint the served app.js names, and
fires the pixel when the cart answered — the same chain a real browser runs, so the CDN and
origin logs look like real customer traffic. The demo and log-only tests use it to give the
logs a history before probing; probes use real browsers.
"""

from __future__ import annotations

import http.client
import random

from flakehunt.edgesim.world import SITE_HOST, SimWorld

USER_AGENTS = {
    "chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
}


def _get(world: SimWorld, pop: str, path: str, user_agent: str) -> tuple[int, str]:
    edge = world.edge(pop)
    connection = http.client.HTTPConnection(edge.spec.ip, edge.port, timeout=10)
    try:
        connection.request(
            "GET", path, headers={"Host": f"{SITE_HOST}:{world.port}", "User-Agent": user_agent}
        )
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def visit(world: SimWorld, pop: str, user_agent: str, *, leave_rate: float, rng: random.Random) -> bool:
    """One checkout visit through edge `pop`; True when the pixel fired."""
    status, _ = _get(world, pop, "/checkout", user_agent)
    if status != 200:
        return False
    _get(world, pop, "/static/vendor.js", user_agent)
    status, script = _get(world, pop, "/static/app.js", user_agent)
    if status != 200:
        return False
    cart = "/api/v1/cart" if "/api/v1/cart" in script else "/api/v2/cart"
    if _get(world, pop, cart, user_agent)[0] != 200 or rng.random() < leave_rate:
        return False
    return _get(world, pop, "/pixel.gif?event=purchase", user_agent)[0] == 200


def shop_traffic(world: SimWorld, visits: int, *, seed: int = 1, leave_rate: float = 0.03) -> int:
    """`visits` visitors spread over the edges, each with its own user agent; returns pixels fired."""
    rng = random.Random(seed)
    fired = 0
    for number in range(visits):
        family = rng.choice(sorted(USER_AGENTS))
        agent = USER_AGENTS[family].format(v=110 + number % 20) + f" visitor/{number}"
        fired += visit(world, rng.choice([s.pop for s in world.specs]), agent, leave_rate=leave_rate, rng=rng)
    return fired
