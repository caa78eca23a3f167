"""
Which CDN edges can serve a hostname, and which edge served a response.

A probe is pinned to an edge by resolving the site's hostname to that edge's address inside the
browser only (same hostname, Host header and TLS name); the POP code then comes back in the
response headers each CDN adds.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from flakehunt.errors import FlakehuntError

_CACHE_WORDS = {
    "hit": "hit",
    "miss": "miss",
    "refreshhit": "refresh_hit",
    "refresh_hit": "refresh_hit",
    "expired": "miss",
    "stale": "stale",
    "updating": "stale",
    "revalidated": "revalidated",
    "pass": "pass",
    "dynamic": "pass",
    "bypass": "pass",
    "error": "error",
}


def discover_edges(url: str, *, edge_ips: Sequence[str] = ()) -> list[str]:
    """
    The edge addresses to pin runs to: the given ones (hostnames resolved), or the site's own
    hostname resolved through this machine's resolver.

    Raises
    ------
    FlakehuntError
        A name does not resolve (this machine's DNS, not the site: say which name).
    """
    targets = list(edge_ips) or [urlsplit(url).hostname or ""]
    found: list[str] = []
    for target in targets:
        for address in _resolve(target.strip()):
            if address not in found:
                found.append(address)
    return found


def _resolve(name: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(name))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FlakehuntError(
            f"cannot resolve edge or host {name!r} from this machine ({exc.strerror or exc}); "
            "pass the edge addresses with --edge-ips"
        ) from None
    return sorted({info[4][0] for info in infos}, key=lambda a: (":" in a, a))


def edge_pop(headers: Mapping[str, str]) -> str | None:
    """
    The serving POP, from the headers CloudFront, Cloudflare or Fastly add (lower-case keys).

    >>> edge_pop({"x-amz-cf-pop": "FRA56-C1"})
    'FRA56-C1'
    >>> edge_pop({"cf-ray": "8f1a2b3c4d5e6f70-FRA"})
    'FRA'
    >>> edge_pop({"x-served-by": "cache-iad-kiad7000036-IAD, cache-fra-etou8220049-FRA"})
    'FRA'
    """
    if pop := headers.get("x-amz-cf-pop"):
        return pop.strip()
    if ray := headers.get("cf-ray"):
        return ray.rsplit("-", 1)[-1].strip() if "-" in ray else None
    if served := headers.get("x-served-by"):
        last = served.split(",")[-1].strip()  # the edge nearest the client is listed last
        return last.rsplit("-", 1)[-1] if "-" in last else last
    return None


def request_id(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-amz-cf-id") or headers.get("cf-ray") or headers.get("x-request-id")


def cache_status(headers: Mapping[str, str]) -> str | None:
    """
    Normalized cache status from X-Cache / CF-Cache-Status.

    >>> cache_status({"x-cache": "RefreshHit from cloudfront"})
    'refresh_hit'
    >>> cache_status({"cf-cache-status": "DYNAMIC"})
    'pass'
    """
    raw = headers.get("x-cache") or headers.get("cf-cache-status")
    if not raw:
        return None
    word = re.split(r"[\s,]", raw.strip())[0].lower()
    return _CACHE_WORDS.get(word, "other")
