"""
Named values of the matrix dimensions: network profiles, places, blockers, cache modes.

Network profiles follow Chrome DevTools' throttling presets (front_end/core/sdk/NetworkManager.ts):
the download/upload rates there are in bytes per second and already scaled, latency in ms.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkProfile:
    name: str
    latency_ms: float = 0.0
    download_bps: float = -1.0  # bytes per second; -1 means unthrottled (CDP's convention)
    upload_bps: float = -1.0
    drop_rate: float = 0.0  # share of sub-requests dropped as if the connection went away

    @property
    def throttled(self) -> bool:
        return self.latency_ms > 0 or self.download_bps >= 0 or self.upload_bps >= 0


NETWORK_PROFILES = {
    profile.name: profile
    for profile in (
        NetworkProfile("fast"),
        NetworkProfile("fast-3g", 562.5, 1.6 * 1024 * 1024 / 8 * 0.9, 750 * 1024 / 8 * 0.9),
        NetworkProfile("slow-3g", 2000.0, 500 * 1024 / 8 * 0.8, 500 * 1024 / 8 * 0.8),
        NetworkProfile("slow-4g", 150.0, 4 * 1024 * 1024 / 8 * 0.9, 3 * 1024 * 1024 / 8 * 0.9),
        # A train through tunnels: fast, but one sub-request in ten never gets an answer.
        NetworkProfile("offline-flaky", drop_rate=0.1),
    )
}

# Named places for the geolocation dimension: (latitude, longitude).
PLACES: dict[str, tuple[float, float]] = {
    "frankfurt": (50.1109, 8.6821),
    "london": (51.5072, -0.1276),
    "paris": (48.8566, 2.3522),
    "madrid": (40.4168, -3.7038),
    "amsterdam": (52.3676, 4.9041),
    "new-york": (40.7128, -74.0060),
    "washington": (38.9072, -77.0369),
    "chicago": (41.8781, -87.6298),
    "seattle": (47.6062, -122.3321),
    "dallas": (32.7767, -96.7970),
    "sao-paulo": (-23.5558, -46.6396),
    "tokyo": (35.6762, 139.6503),
    "seoul": (37.5665, 126.9780),
    "singapore": (1.3521, 103.8198),
    "mumbai": (19.0760, 72.8777),
    "sydney": (-33.8688, 151.2093),
    "johannesburg": (-26.2041, 28.0473),
}

BLOCKERS = ("off", "basic", "easyprivacy", "easylist")
CACHE_MODES = ("cold", "warm")
BROWSERS = ("chromium", "firefox")


def place_label(value: object) -> str:
    """
    The column value recorded for a geolocation: its name, or "lat,lon".

    >>> place_label({"lat": 50.1, "lon": 8.68})
    '50.1,8.68'
    """
    if isinstance(value, dict):
        return f"{value['lat']},{value['lon']}"
    return str(value)


def place_coordinates(label: str) -> tuple[float, float]:
    if label in PLACES:
        return PLACES[label]
    lat, lon = label.split(",", 1)
    return float(lat), float(lon)
