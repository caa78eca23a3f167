"""
Shop visitors' sessions and the requests they make, with one cause's effect injected.

A visitor session is: GET /checkout (dynamic, always a cache miss), then /static/vendor.js and
/static/app.js fetched in parallel (cacheable), then GET /api/v2/cart (dynamic) once both scripts
ran, then, some seconds later, the conversion pixel GET /pixel.gif?event=purchase&... (a miss: the
pixel is how origin records a sale). A request that fails stops what depends on it: a failed
checkout loads nothing else, a failed script or cart call means no pixel. The pixel fires with
probability `1 - noise` (visitors who leave without buying); each cause then removes more pixels
or fails requests in its own way (see `EFFECTS`).

Everything is drawn per session and per *planned* request from a generator seeded by the
scenario's seed alone, so two scenarios with the same seed and size share their visitors and
differ only by the injected effect; the effect's own choices (which edge, which browser...) come
from a second generator seeded by (seed, cause).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from flakehunt.synth import world
from flakehunt.synth.world import APP_JS, CART, CHECKOUT, HOME, PIXEL, ROBOTS, VENDOR_JS

WINDOW_START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SESSION_TAIL_S = 45.0  # sessions start early enough to finish inside the window

# Magnitudes of the injected effects: the knobs the accuracy benchmark is judged against.
EFFECTS = {
    "stale_cache": {"pixel_loss_with_old_app_js": 0.85},
    "edge_fault": {"error_rate": 0.30, "share_502": 0.6},
    "origin_fault": {"error_rate_of_origin_requests": 0.20},
    "browser_specific": {"pixel_loss": 0.70},
    "geo_specific": {"pixel_loss": 0.70},
    "deploy_regression": {"pixel_loss_with_new_app_js": 0.35},
    "network_timing": {"pixel_loss_of_slow_sessions": 0.80},
    "rate_limited": {"limited_ips": 3, "admitted_share": 0.5, "window_s": 300},
    "client_blocking": {"blocker_share": "per browser, world.BROWSERS (desktop 0.15-0.5, mobile 0.02-0.25)"},
    "none": {},
}
CAUSES = tuple(EFFECTS)

# Background, the same in every scenario.
BACKGROUND_ERROR_RATE = 0.001  # 502 OriginConnectError on dynamic requests, any edge
SLOW_SESSION_SHARE = 0.12  # visitors on a slow network: 0.06-0.25 Mbit/s, 250-700 ms RTT
NEAREST_POP, SECOND_POP = 0.80, 0.12  # the rest go to a random edge (resolver far from the visitor)
CACHE_TTL_S = 3600.0  # s-maxage of the scripts
EVICTION_RATE = 0.015  # an asset request that misses although the copy is fresh
HEADER_BYTES = (280, 520)

# Choices open to each cause's target, with enough visitors to be seen in 500 sessions.
BROWSER_TARGETS = ("Firefox", "Safari", "Edge", "Mobile Safari")
GEO_TARGETS = ("US", "DE", "GB", "FR", "BR", "JP")
MIN_EDGE_SHARE = 0.06

HIT, REFRESH_HIT, MISS, ERROR = range(4)
REQUEST_COLUMNS = ("session", "kind", "start", "order_id", "cents", "cache_buster")
RESULT_NAMES = ("Hit", "RefreshHit", "Miss", "Error")
# x-edge-detailed-result-type: the result type itself, or why an Error happened.
DETAILED_RESULTS = (*RESULT_NAMES, "OriginConnectError", "OriginCommError")


@dataclass
class Traffic:
    """Every CDN request of a scenario as columns (numpy arrays of equal length), plus the truth."""

    columns: dict[str, np.ndarray]
    edges: tuple[world.Pop, ...]
    truth: dict
    events: list[tuple[str, str]] = field(default_factory=list)


def simulate(
    cause: str, *, sessions: int, noise: float, seed: int, edges: int, window_hours: float
) -> Traffic:
    """Draw the sessions, plan their requests, inject `cause`, and return the issued requests."""
    window_s = window_hours * 3600.0
    pops = world.POPS[:edges]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, sessions]))
    visitors = _draw_sessions(rng, sessions, noise=noise, window_s=window_s, pops=pops)
    plan = _plan_requests(rng, visitors)
    cause_rng = np.random.default_rng(np.random.SeedSequence([seed, 1, CAUSES.index(cause)]))
    target = _choose_target(cause, cause_rng, visitors, pops)
    deploy_at = {"stale_cache": 0.0, "deploy_regression": window_s / 2}.get(cause)
    outcome = _play(plan, visitors, cause=cause, target=target, deploy_at=deploy_at, window_s=window_s)
    truth = _truth(cause, target, visitors, plan, outcome, pops, deploy_at)
    events = []
    if cause == "deploy_regression":
        events.append((_iso(deploy_at), "deploy v42"))
    issued = outcome.pop("issued")
    per_request = {name: values for name, values in plan.items() if name in REQUEST_COLUMNS}
    columns = {name: values[issued] for name, values in {**per_request, **outcome}.items()}
    for name in ("client_ip", "agent", "edge", "port", "http", "tls", "slow"):
        columns[name] = visitors[name][columns["session"]]
    return Traffic(columns=columns, edges=pops, truth=truth, events=events)


def _iso(offset_s: float) -> str:
    return (WINDOW_START + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Visitors


def _draw_sessions(
    rng: np.random.Generator, n: int, *, noise: float, window_s: float, pops: tuple[world.Pop, ...]
) -> dict[str, np.ndarray]:
    browsers = world.BROWSERS
    shares = np.array([b.share for b in browsers])
    bot_shares = np.array([b.share for b in world.BOTS])
    weights = np.array([c.weight for c in world.COUNTRIES])
    is_bot = rng.random(n) < world.BOT_SHARE
    agent = np.where(
        is_bot,
        len(browsers) + rng.choice(len(world.BOTS), n, p=bot_shares / bot_shares.sum()),
        rng.choice(len(browsers), n, p=shares / shares.sum()),
    )
    country = rng.choice(len(world.COUNTRIES), n, p=weights / weights.sum())
    start = np.sort(rng.uniform(0.0, window_s - SESSION_TAIL_S, n))
    device = np.array([b.device_class for b in (*browsers, *world.BOTS)])[agent]
    carrier = (
        ~is_bot
        & (country == _country_index(world.CARRIER_COUNTRY))
        & np.isin(device, ("mobile", "tablet"))
        & (rng.random(n) < world.CARRIER_SHARE)
    )
    client_ip, geo_city = _assign_addresses(rng, country, start, carrier=carrier, is_bot=is_bot)
    # Carrier visitors are spread over the country, whatever the carrier's GeoIP city says.
    route_city = np.where(carrier, _city_index(world.CARRIER_COUNTRY, 0) + rng.integers(0, 2, n), geo_city)
    route_city = np.where(is_bot, _city_index(world.CRAWLER_COUNTRY, 0), route_city)
    slow = ~is_bot & (rng.random(n) < SLOW_SESSION_SHARE)
    bandwidth = np.where(
        slow,
        np.exp(rng.uniform(math.log(0.06e6), math.log(0.25e6), n)),
        np.clip(rng.lognormal(math.log(25e6), 0.8, n), 2e6, 300e6),
    )
    http = np.where(is_bot, 0, rng.choice(3, n, p=[0.05, 0.75, 0.20]))  # 1.1, 2.0, 3.0
    return {
        "is_bot": is_bot,
        "agent": agent,
        "device": device,
        "country": np.where(is_bot, _country_index(world.CRAWLER_COUNTRY), country),
        "carrier": carrier,
        "client_ip": client_ip,
        "edge": _route(rng, route_city, pops),
        "start": start,
        "slow": slow,
        "bandwidth": bandwidth,
        "rtt": np.where(slow, rng.uniform(0.25, 0.7, n), rng.uniform(0.01, 0.08, n)),
        "fires": rng.random(n) >= noise,
        "loss_draw": rng.random(n),
        "blocker_draw": rng.random(n),
        "port": rng.integers(1024, 65536, n),
        "http": http,
        "tls": np.where(http == 2, 0, rng.choice(4, n, p=[0.70, 0.15, 0.07, 0.08])),
        "pixel_delay": np.clip(rng.lognormal(math.log(3.0), 0.6, n), 0.4, 9.0),
    }


def _country_index(iso: str) -> int:
    return next(i for i, country in enumerate(world.COUNTRIES) if country.iso == iso)


def _city_offsets() -> np.ndarray:
    return np.cumsum([0] + [len(country.cities) for country in world.COUNTRIES])


def _city_index(iso: str, city: int) -> int:
    return int(_city_offsets()[_country_index(iso)]) + city


def _assign_addresses(
    rng: np.random.Generator,
    country: np.ndarray,
    start: np.ndarray,
    *,
    carrier: np.ndarray,
    is_bot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """
    A client IPv4 address (as uint32) and its GeoIP city index per session.

    Within a country, sessions in time order take successive addresses of a scrambled walk over
    the country's pool, so two concurrent sessions never share an address (unless the pool is
    smaller than the sessions of the whole window, which takes about 50k sessions per /24).
    """
    n = len(country)
    plan = world.client_subnets()
    order = np.lexsort((start, country))
    sorted_country = country[order]
    first = np.searchsorted(sorted_country, np.arange(len(world.COUNTRIES)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first[sorted_country]
    pool = np.array([len(subnets) * 254 for subnets in plan])
    offset = rng.integers(0, pool)[country]
    position = (rank * 7919 + offset) % pool[country]  # 7919 is prime: a permutation of the pool
    base = np.array([int(subnets[0].network.network_address) for subnets in plan], dtype=np.int64)
    subnet_offset = position // 254
    address = base[country] + subnet_offset * 256 + position % 254 + 1
    city_of = {(country.iso, city.name): i for i, (country, city) in enumerate(_CITIES)}
    subnet_city = [np.array([city_of[(s.country.iso, s.city.name)] for s in subnets]) for subnets in plan]
    geo_city = np.empty(n, dtype=np.int64)
    for index, cities in enumerate(subnet_city):
        mask = country == index
        geo_city[mask] = cities[subnet_offset[mask]]
    carrier_base = int(world.CARRIER_NETWORK.network_address)
    carrier_hosts = np.array([int(ip.rsplit(".", 1)[1]) for ip in world.CARRIER_IPS])
    address = np.where(carrier, carrier_base + carrier_hosts[rng.integers(0, len(carrier_hosts), n)], address)
    geo_city = np.where(carrier, _city_index(world.CARRIER_COUNTRY, 0), geo_city)
    crawler_base = int(world.CRAWLER_NETWORK.network_address)
    address = np.where(is_bot, crawler_base + rng.integers(20, 84, n), address)
    geo_city = np.where(is_bot, _city_index(world.CRAWLER_COUNTRY, 0), geo_city)
    return address.astype(np.uint32), geo_city


# One entry per (country, city), in the flat order `_city_index` uses.
_CITIES = [(country, city) for country in world.COUNTRIES for city in country.cities]


def _route(rng: np.random.Generator, city: np.ndarray, pops: tuple[world.Pop, ...]) -> np.ndarray:
    """The edge each session uses: mostly its city's nearest available POP, sometimes another."""
    prefixes = [pop.code[:3] for pop in pops]
    nearest, second = [], []
    for _, city_info in _CITIES:
        available = [prefixes.index(p) for p in city_info.pops if p in prefixes]
        available += [i for i in range(len(pops)) if i not in available]
        nearest.append(available[0])
        second.append(available[1] if len(available) > 1 else available[0])
    n = len(city)
    draw = rng.random(n)
    anywhere = rng.integers(0, len(pops), n)
    return np.where(
        draw < NEAREST_POP,
        np.array(nearest)[city],
        np.where(draw < NEAREST_POP + SECOND_POP, np.array(second)[city], anywhere),
    )


# ---------------------------------------------------------------------------------------------
# Planned requests


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int, low: float, high: float):
    return np.clip(rng.lognormal(math.log(median), sigma, n), low, high)


def _plan_requests(rng: np.random.Generator, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """
    Every request each session would make if nothing failed, in planned time order per session.

    Scheduling assumes each script comes from origin (the slower case); a cache hit only makes a
    script finish earlier, so what depends on it still starts after it.
    """
    n = len(v["start"])
    human = np.flatnonzero(~v["is_bot"])
    bots = np.flatnonzero(v["is_bot"])
    agent_family = np.array([b.family for b in (*world.BROWSERS, *world.BOTS)])
    rendering = bots[np.isin(agent_family[v["agent"][bots]], world.RENDERING_BOTS)]

    body = {
        CHECKOUT: rng.integers(17_000, 23_001, n),
        CART: rng.integers(300, 1_201, n),
        HOME: rng.integers(12_000, 15_001, n),
    }
    origin_ttfb = {
        CHECKOUT: _lognormal(rng, 0.18, 0.5, n, 0.04, 2.0),
        VENDOR_JS: _lognormal(rng, 0.05, 0.4, n, 0.015, 0.4),
        APP_JS: _lognormal(rng, 0.05, 0.4, n, 0.015, 0.4),
        CART: _lognormal(rng, 0.08, 0.5, n, 0.02, 0.8),
        PIXEL: _lognormal(rng, 0.02, 0.4, n, 0.005, 0.2),
        HOME: _lognormal(rng, 0.15, 0.5, n, 0.04, 2.0),
        ROBOTS: _lognormal(rng, 0.01, 0.3, n, 0.003, 0.1),
    }

    def transfer(nbytes: np.ndarray | int) -> np.ndarray:
        return np.asarray(nbytes) * 8 / v["bandwidth"] + v["rtt"] * 1.5

    start = {CHECKOUT: v["start"].copy()}
    done_checkout = start[CHECKOUT] + origin_ttfb[CHECKOUT] + transfer(body[CHECKOUT])
    start[VENDOR_JS] = done_checkout + rng.uniform(0.03, 0.25, n)
    start[APP_JS] = start[VENDOR_JS] + rng.uniform(0.001, 0.02, n)
    scripts_done = np.maximum(
        start[VENDOR_JS] + origin_ttfb[VENDOR_JS] + transfer(world.RESOURCES[VENDOR_JS].size[1]),
        start[APP_JS] + origin_ttfb[APP_JS] + transfer(world.RESOURCES[APP_JS].size[1]),
    )
    start[CART] = scripts_done + rng.uniform(0.05, 0.4, n)
    start[PIXEL] = start[CART] + origin_ttfb[CART] + transfer(body[CART]) + v["pixel_delay"]
    # Crawlers: robots.txt, the home page a little later, then (rendering ones) the scripts.
    bot_start = {ROBOTS: v["start"], HOME: v["start"] + rng.uniform(1.0, 5.0, n)}
    bot_start[VENDOR_JS] = bot_start[HOME] + rng.uniform(1.0, 3.0, n)
    bot_start[APP_JS] = bot_start[VENDOR_JS] + rng.uniform(0.001, 0.02, n)

    blocks = [
        *[(kind, human, start[kind]) for kind in (CHECKOUT, VENDOR_JS, APP_JS, CART, PIXEL)],
        (ROBOTS, bots, bot_start[ROBOTS]),
        (HOME, bots, bot_start[HOME]),
        (VENDOR_JS, rendering, bot_start[VENDOR_JS]),
        (APP_JS, rendering, bot_start[APP_JS]),
    ]
    session = np.concatenate([who for _, who, _ in blocks])
    kind = np.concatenate([np.full(len(who), k, dtype=np.int8) for k, who, _ in blocks])
    m = len(session)
    fixed = np.array([r.size[1] for r in world.RESOURCES])
    nbytes = fixed[kind].astype(np.int64)
    for k, sizes in body.items():
        nbytes[kind == k] = sizes[session[kind == k]]
    ttfb = np.empty(m)
    for k, values in origin_ttfb.items():
        ttfb[kind == k] = values[session[kind == k]]
    return {
        "session": session,
        "kind": kind,
        "start": np.concatenate([when[who] for _, who, when in blocks]),
        "body": nbytes,
        "origin_ttfb": ttfb,
        "hit_ttfb": rng.uniform(0.001, 0.008, m),
        "header_bytes": rng.integers(*HEADER_BYTES, m),
        "u_background": rng.random(m),
        "u_fault": rng.random(m),
        "u_fault_kind": rng.random(m),
        "u_evict": rng.random(m),
        "u_origin": rng.random(m),
        "error_ttfb": rng.uniform(0.01, 2.0, m),
        "timeout_s": 30.0 + rng.uniform(0.0, 0.3, m),
        "initial_copy_age": rng.uniform(0.0, CACHE_TTL_S, (len(world.POPS), 2)),
        "order_id": rng.integers(10_000_000, 100_000_000, m),
        "cents": np.round(np.exp(rng.normal(math.log(6_000), 0.7, m))).astype(np.int64),
        "cache_buster": rng.integers(0, 1_000, m),
    }


# ---------------------------------------------------------------------------------------------
# Causes


def _edge_shares(v: dict[str, np.ndarray], pops: tuple[world.Pop, ...]) -> np.ndarray:
    human = ~v["is_bot"]
    return np.bincount(v["edge"][human], minlength=len(pops)) / max(1, human.sum())


def _choose_target(cause: str, rng: np.random.Generator, v: dict[str, np.ndarray], pops) -> dict:
    if cause in ("stale_cache", "edge_fault"):
        shares = _edge_shares(v, pops)
        candidates = np.flatnonzero(shares >= MIN_EDGE_SHARE)
        if len(candidates) == 0:
            candidates = np.array([int(np.argmax(shares))])
        return {"edge": int(rng.choice(candidates))}
    if cause == "browser_specific":
        return {"family": str(rng.choice(BROWSER_TARGETS))}
    if cause == "geo_specific":
        return {"country": _country_index(str(rng.choice(GEO_TARGETS)))}
    if cause == "rate_limited":
        count = EFFECTS[cause]["limited_ips"]
        chosen = rng.choice(len(world.CARRIER_IPS), count, replace=False)
        return {"ips": np.array([_ip_int(world.CARRIER_IPS[i]) for i in sorted(chosen)], dtype=np.uint32)}
    return {}


def _ip_int(address: str) -> int:
    a, b, c, d = (int(part) for part in address.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def ip_text(addresses: np.ndarray) -> list[str]:
    """
    Dotted quads from uint32 addresses.

    >>> ip_text(np.array([3323068426], dtype=np.uint32))
    ['198.18.0.10']
    """
    a = np.asarray(addresses, dtype=np.uint64)
    parts = [(a >> shift) & 255 for shift in (24, 16, 8, 0)]
    return [f"{w}.{x}.{y}.{z}" for w, x, y, z in zip(*(p.tolist() for p in parts), strict=True)]


# ---------------------------------------------------------------------------------------------
# Playing the plan


def _play(
    plan: dict[str, np.ndarray],
    v: dict[str, np.ndarray],
    *,
    cause: str,
    target: dict,
    deploy_at: float | None,
    window_s: float,
) -> dict[str, np.ndarray]:
    """Decide, stage by stage, which planned requests were made and what each got."""
    session, kind = plan["session"], plan["kind"]
    m = len(session)
    edge = v["edge"][session]
    human = ~v["is_bot"][session]
    status = np.full(m, 200, dtype=np.int16)
    result = np.full(m, MISS, dtype=np.int8)
    version = np.full(m, -1, dtype=np.int8)  # app.js: 0 = v41, 1 = v42

    # Failures decided before any cache: background errors, a faulty edge, the rate limiter.
    dynamic = np.isin(kind, (CHECKOUT, CART, PIXEL, HOME))
    refused = np.zeros(m, dtype=np.int16)
    refused[dynamic & (plan["u_background"] < BACKGROUND_ERROR_RATE)] = 502
    if cause == "edge_fault":
        knobs = EFFECTS[cause]
        faulty = (edge == target["edge"]) & (plan["u_fault"] < knobs["error_rate"])
        refused[faulty] = np.where(plan["u_fault_kind"][faulty] < knobs["share_502"], 502, 504)
    if cause == "rate_limited":
        target["limit"] = _rate_limit(plan, v, refused, target["ips"], window_s=window_s)

    origin_fails = cause == "origin_fault"
    origin_rate = EFFECTS["origin_fault"]["error_rate_of_origin_requests"]

    def settle(rows: np.ndarray, reaches_origin: np.ndarray) -> None:
        edge_refused = refused[rows] != 0
        status[rows] = np.where(edge_refused, refused[rows], status[rows])
        if origin_fails:
            failed = ~edge_refused & reaches_origin & (plan["u_origin"][rows] < origin_rate)
            status[rows] = np.where(failed, 503, status[rows])
        errors = status[rows] >= 400
        result[rows] = np.where(errors, ERROR, result[rows])

    n = len(v["start"])
    issued = np.zeros(m, dtype=bool)
    ok = {k: np.zeros(n, dtype=bool) for k in range(len(world.RESOURCES))}

    def record(rows: np.ndarray) -> None:
        for k in np.unique(kind[rows]):
            these = rows[kind[rows] == k]
            ok[int(k)][session[these]] = status[these] < 400

    # Crawlers: everything they plan is made; the scripts go through the cache with the visitors'.
    first = np.flatnonzero((human & (kind == CHECKOUT)) | (~human & np.isin(kind, (ROBOTS, HOME))))
    issued[first] = True
    settle(first, np.ones(len(first), dtype=bool))
    record(first)

    scripts = np.flatnonzero(np.isin(kind, (VENDOR_JS, APP_JS)) & (~human | ok[CHECKOUT][session]))
    issued[scripts] = True
    cached = scripts[refused[scripts] == 0]
    result[cached], version[cached] = _simulate_cache(
        plan, cached, edge, cause=cause, target=target, deploy_at=deploy_at
    )
    settle(scripts, np.isin(result[scripts], (MISS, REFRESH_HIT)))
    record(scripts)

    cart = np.flatnonzero(
        (kind == CART) & ok[CHECKOUT][session] & ok[VENDOR_JS][session] & ok[APP_JS][session]
    )
    issued[cart] = True
    settle(cart, np.ones(len(cart), dtype=bool))
    record(cart)

    app_version = np.full(n, -1, dtype=np.int8)
    app_rows = scripts[kind[scripts] == APP_JS]
    app_version[session[app_rows]] = version[app_rows]
    wants = v["fires"] & ~_pixel_loss(cause, target, v, app_version, plan)
    pixel = np.flatnonzero((kind == PIXEL) & ok[CART][session] & wants[session])
    issued[pixel] = True
    settle(pixel, np.ones(len(pixel), dtype=bool))

    # Timing and bytes as served.
    body = plan["body"].copy()
    body[app_rows] = np.where(
        version[app_rows] == 0, world.APP_JS_VERSIONS["v41"], world.APP_JS_VERSIONS["v42"]
    )
    error_body = np.select(
        [status == 502, status == 504, status == 503, status == 429], [951, 1033, 197, 162], 0
    )
    body = np.where(status >= 400, error_body, body)
    ttfb = np.where(result == HIT, plan["hit_ttfb"], plan["origin_ttfb"])
    ttfb = np.select(
        [status == 502, status == 504, status == 429],
        [plan["error_ttfb"], plan["timeout_s"], plan["hit_ttfb"]],
        ttfb,
    )
    sent = body + plan["header_bytes"]
    taken = ttfb + sent * 8 / v["bandwidth"][session] + v["rtt"][session] * 1.5
    detail = np.select([status == 502, status == 504], [4, 5], result).astype(np.int8)
    origin_status = np.select(
        [refused != 0, status == 503, result == REFRESH_HIT, result == MISS], [0, 503, 304, 200], 0
    ).astype(np.int16)
    return {
        "issued": issued,
        "status": status,
        "result": result,
        "detail": detail,
        "version": version,
        "body_sent": body,
        "bytes_sent": sent,
        "ttfb": ttfb,
        "time_taken": taken,
        "origin_status": origin_status,
    }


def _simulate_cache(
    plan: dict[str, np.ndarray],
    rows: np.ndarray,
    edge: np.ndarray,
    *,
    cause: str,
    target: dict,
    deploy_at: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """
    Hit / RefreshHit / Miss and the app.js version served, per (edge, script), in time order.

    A copy lives `CACHE_TTL_S`; the first request after it expires is revalidated (RefreshHit
    when origin still has that version, else Miss). A deploy comes with an invalidation: the next
    request at each edge is a Miss and gets the new version. Some requests miss anyway
    (eviction). In `stale_cache`, the stale edge's old app.js never leaves its cache (the
    invalidation failed there) until someone purges it.
    """
    result = np.empty(len(rows), dtype=np.int8)
    version = np.full(len(rows), -1, dtype=np.int8)
    kind = plan["kind"]
    for column, path in enumerate((VENDOR_JS, APP_JS)):
        for pop in np.unique(edge[rows]):
            mine = np.flatnonzero((edge[rows] == pop) & (kind[rows] == path))
            mine = mine[np.argsort(plan["start"][rows[mine]], kind="stable")]
            times = plan["start"][rows[mine]]
            loaded = -plan["initial_copy_age"][pop, column]
            versioned = path == APP_JS and deploy_at is not None

            def version_at(t: float, versioned: bool = versioned) -> int:
                return 0 if versioned and t < deploy_at else 1

            stuck = cause == "stale_cache" and path == APP_JS and pop == target["edge"]
            res, ver = _replay_cache(
                times,
                plan["u_evict"][rows[mine]] < EVICTION_RATE,
                loaded_at=loaded,
                invalidate_at=deploy_at if versioned and not stuck else None,
                version_at=version_at,
                stuck=stuck,
            )
            result[mine] = res
            if path == APP_JS:
                version[mine] = ver
    return result, version


def _replay_cache(times, evicted, *, loaded_at, invalidate_at, version_at, stuck):
    n = len(times)
    result = np.full(n, HIT, dtype=np.int8)
    version = np.empty(n, dtype=np.int8)
    cached = version_at(loaded_at)
    if stuck:
        version[:] = cached
        return result, version
    expires = loaded_at + CACHE_TTL_S
    pending = math.inf if invalidate_at is None else invalidate_at
    evictions = np.flatnonzero(evicted)
    i = 0
    while i < n:
        at_expiry = max(i, int(np.searchsorted(times, expires, "left")))
        at_invalidation = max(i, int(np.searchsorted(times, pending, "left"))) if pending < math.inf else n
        later = evictions[evictions >= i]
        at_eviction = int(later[0]) if len(later) else n
        k = min(at_expiry, at_invalidation, at_eviction)
        version[i:k] = cached
        if k >= n:
            break
        current = version_at(float(times[k]))
        if k in (at_invalidation, at_eviction):
            result[k] = MISS
            if k == at_invalidation:
                pending = math.inf
        else:
            result[k] = REFRESH_HIT if current == cached else MISS
        cached, expires = current, float(times[k]) + CACHE_TTL_S
        version[k] = cached
        i = k + 1
    return result, version


def _rate_limit(
    plan: dict[str, np.ndarray],
    v: dict[str, np.ndarray],
    refused: np.ndarray,
    ips: np.ndarray,
    *,
    window_s: float,
) -> int:
    """
    A per-IP limit of `limit` requests per window (a WAF rate-based rule answering 429): walk the
    limited addresses' planned requests in time order, counting only those actually made.

    The limit scales with the scenario's size (`admitted_share` of the mean load per address and
    window), so the share of refused requests, the effect's magnitude, is the same at every size.
    """
    knobs = EFFECTS["rate_limited"]
    session, kind, start = plan["session"], plan["kind"], plan["start"]
    rows = np.flatnonzero(np.isin(v["client_ip"][session], ips) & ~v["is_bot"][session])
    rows = rows[np.argsort(start[rows], kind="stable")]
    planned = rows[(kind[rows] != PIXEL) | v["fires"][session[rows]]]
    windows = math.ceil(window_s / knobs["window_s"])
    limit = max(1, round(knobs["admitted_share"] * len(planned) / (len(ips) * windows)))
    counts: dict[tuple[int, int], int] = {}
    good: dict[tuple[int, int], bool] = {}
    for row in rows.tolist():
        s, k = int(session[row]), int(kind[row])
        if k != CHECKOUT:
            needed = {VENDOR_JS: (CHECKOUT,), APP_JS: (CHECKOUT,), CART: (CHECKOUT, VENDOR_JS, APP_JS)}
            deps = needed.get(k, (CART,))
            if not all(good.get((s, d), False) for d in deps):
                continue
            if k == PIXEL and not v["fires"][s]:
                continue
        key = (int(v["client_ip"][s]), int(start[row] // knobs["window_s"]))
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > limit and refused[row] == 0:
            refused[row] = 429
        good[(s, k)] = refused[row] == 0
    return limit


def _pixel_loss(
    cause: str, target: dict, v: dict[str, np.ndarray], app_version: np.ndarray, plan
) -> np.ndarray:
    """Sessions whose pixel the cause removes (the checkout and scripts went fine)."""
    draw = v["loss_draw"]
    knobs = EFFECTS[cause]
    families = np.array([b.family for b in (*world.BROWSERS, *world.BOTS)])[v["agent"]]
    if cause == "stale_cache":
        return (app_version == 0) & (draw < knobs["pixel_loss_with_old_app_js"])
    if cause == "deploy_regression":
        return (app_version == 1) & (draw < knobs["pixel_loss_with_new_app_js"])
    if cause == "browser_specific":
        return (families == target["family"]) & (draw < knobs["pixel_loss"])
    if cause == "geo_specific":
        return (v["country"] == target["country"]) & ~v["is_bot"] & (draw < knobs["pixel_loss"])
    if cause == "network_timing":
        return v["slow"] & (draw < knobs["pixel_loss_of_slow_sessions"])
    if cause == "client_blocking":
        shares = np.array([b.blocker_share for b in (*world.BROWSERS, *world.BOTS)])
        return v["blocker_draw"] < shares[v["agent"]]
    return np.zeros(len(draw), dtype=bool)


# ---------------------------------------------------------------------------------------------
# Ground truth


def _truth(cause, target, v, plan, outcome, pops, deploy_at) -> dict:
    """The cause, what a right answer names (DESIGN's column names), and the effect's size."""
    implicates: dict = {}
    details: dict = {"effect": EFFECTS[cause]}
    if cause == "stale_cache":
        implicates = {"edge_pop": pops[target["edge"]].code, "path": "/static/app.js"}
        details |= {
            "stale_content_length": world.APP_JS_VERSIONS["v41"],
            "current_content_length": world.APP_JS_VERSIONS["v42"],
            "deploy_at": _iso(deploy_at),
        }
    elif cause == "edge_fault":
        implicates = {"edge_pop": pops[target["edge"]].code}
        details |= {"statuses": [502, 504]}
    elif cause == "origin_fault":
        implicates = {"status": 503, "source": "origin"}
        details |= {"note": "503 from origin on requests that reach it (misses), at every edge"}
    elif cause == "browser_specific":
        implicates = {"ua_family": target["family"]}
    elif cause == "geo_specific":
        implicates = {"geo_country": world.COUNTRIES[target["country"]].iso}
    elif cause == "deploy_regression":
        implicates = {"path": "/static/app.js"}
        details |= {
            "event": "deploy v42",
            "onset": _iso(deploy_at),
            "old_content_length": world.APP_JS_VERSIONS["v41"],
            "new_content_length": world.APP_JS_VERSIONS["v42"],
        }
    elif cause == "network_timing":
        implicates = {"path": "/static/app.js", "time_taken_ms": "high"}
        issued = outcome["issued"]
        app = issued & (plan["kind"] == APP_JS)
        slow = v["slow"][plan["session"]]
        details |= {
            "slow_session_share": SLOW_SESSION_SHARE,
            "app_js_time_taken_ms_median_slow": _median_ms(outcome["time_taken"][app & slow]),
            "app_js_time_taken_ms_median_fast": _median_ms(outcome["time_taken"][app & ~slow]),
        }
    elif cause == "rate_limited":
        implicates = {"asn": world.carrier_asn()}
        details |= {
            "client_ips": ip_text(target["ips"]),
            "status": 429,
            "limit_per_window": target["limit"],
            "as_org": world.CARRIER_NAME,
        }
    elif cause == "client_blocking":
        implicates = {"device_class": "desktop"}
        details |= {
            "identifiability": "weak from logs alone: a blocked pixel never reaches the CDN, so it "
            "looks like a visitor who did not buy; only its concentration on desktop browsers "
            "(most on Firefox) tells it apart. Probes with and without a blocker confirm it."
        }
    details |= _label_counts(v, plan, outcome)
    return {"cause": cause, "implicates": implicates, "details": details}


def _median_ms(seconds: np.ndarray) -> float | None:
    return round(float(np.median(seconds)) * 1000, 1) if len(seconds) else None


def _label_counts(v, plan, outcome) -> dict:
    """What the expected-sequence rule should find: checkouts and the pixels that followed."""
    issued = outcome["issued"]
    session, kind = plan["session"], plan["kind"]
    checkouts = np.unique(session[issued & (kind == CHECKOUT)])
    pixels = np.unique(session[issued & (kind == PIXEL)])
    return {"checkouts": len(checkouts), "checkouts_without_pixel": len(checkouts) - len(pixels)}
