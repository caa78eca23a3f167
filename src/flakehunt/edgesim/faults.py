"""
The simulated CDN's fault knobs: one per cause flakehunt must be able to find.

Every knob is plain data, so a preset is a small YAML mapping and a test can switch a fault on
mid-run with `SimWorld.set_faults(...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from flakehunt.errors import FlakehuntError


@dataclass
class Faults:
    # Edges that missed the deploy's cache invalidation: they keep serving the release-1
    # `stale_paths` until purged (the seed story).
    stale_edges: list[str] = field(default_factory=list)
    stale_paths: list[str] = field(default_factory=lambda: ["/static/app.js"])
    # Edge POP -> share of requests answered 502/504 by that edge itself.
    failing_edges: dict[str, float] = field(default_factory=dict)
    # Edge POP -> milliseconds added to every response of that edge.
    slow_edges: dict[str, int] = field(default_factory=dict)
    # Share of requests reaching origin (cache misses) that origin answers with 503.
    origin_miss_failure_rate: float = 0.0
    # Viewer countries (from the edge's region) for which checkout waits on a consent banner
    # that never appears, so the pixel never fires.
    geo_countries: list[str] = field(default_factory=list)
    # "firefox": app.js calls Element.scrollIntoViewIfNeeded, which Firefox does not have.
    browser_error: str | None = None
    # > 0: pages load their scripts `async`; edges delay vendor.js by a random 0..N ms and
    # app.js by N/2 ms, so app.js often runs before vendor.js and skips the pixel.
    race_latency_ms: int = 0
    # > 0: every edge answers 429 to a client IP after this many requests per window.
    rate_limit: int = 0
    rate_limit_window_s: float = 60.0

    @classmethod
    def from_dict(cls, data: dict) -> Faults:
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(data) - known):
            raise FlakehuntError(f"unknown fault {unknown[0]!r}; known faults: {', '.join(sorted(known))}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    def by_edge(self, countries: Mapping[str, str]) -> dict[str, dict]:
        """
        The active faults, each naming the POP of every edge it applies to.

        `countries` maps each edge's POP code to the country of its region.

        >>> Faults(failing_edges={"IAD89-P2": 0.3}).by_edge({"FRA56-C1": "DE", "IAD89-P2": "US"})
        {'failing_edge': {'edges': ['IAD89-P2'], 'rate': {'IAD89-P2': 0.3}}}
        """
        pops = list(countries)
        active: dict[str, dict] = {}
        if self.stale_edges:
            active["stale_edge"] = {"edges": list(self.stale_edges), "paths": list(self.stale_paths)}
        if self.failing_edges:
            active["failing_edge"] = {"edges": sorted(self.failing_edges), "rate": dict(self.failing_edges)}
        if self.slow_edges:
            active["slow_edge"] = {"edges": sorted(self.slow_edges), "added_ms": dict(self.slow_edges)}
        if self.origin_miss_failure_rate:
            active["origin_fault"] = {"edges": list(pops), "rate": self.origin_miss_failure_rate}
        if self.geo_countries:
            geo_edges = [pop for pop, country in countries.items() if country in self.geo_countries]
            active["geo_specific"] = {"edges": geo_edges, "countries": list(self.geo_countries)}
        if self.browser_error:
            active["browser_specific"] = {"edges": list(pops), "browser": self.browser_error}
        if self.race_latency_ms:
            active["timing_race"] = {"edges": list(pops), "latency_ms": self.race_latency_ms}
        if self.rate_limit:
            active["rate_limited"] = {
                "edges": list(pops),
                "limit": self.rate_limit,
                "window_s": self.rate_limit_window_s,
            }
        return active
