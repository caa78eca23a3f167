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
from dataclasses import dataclass, field
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


def discover_edges(url: str, *, edge_ips: Sequence[str] = (), resolvers: Sequence[str] = ()) -> list[str]:
    """
    The edge addresses to pin runs to.

    The given `edge_ips` (hostnames among them resolved here) win; else the site's hostname as
    each of `resolvers` answers it (a CDN's DNS sends different resolvers, i.e. different
    places, to different edges); else the hostname as this machine resolves it.

    Raises
    ------
    FlakehuntError
        A name does not resolve, or no resolver answered (this machine's DNS, not the site).
    """
    if resolvers and not edge_ips:
        return resolve_edges(urlsplit(url).hostname or "", resolvers).addresses
    targets = list(edge_ips) or [urlsplit(url).hostname or ""]
    found: list[str] = []
    for target in targets:
        for address in _resolve(target.strip()):
            if address not in found:
                found.append(address)
    return found


@dataclass
class ResolverAnswers:
    """What each resolver said a hostname resolves to (IPv4 A records), and which did not answer."""

    hostname: str
    by_resolver: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def addresses(self) -> list[str]:
        """Every address any resolver gave, in the order first seen."""
        return list(dict.fromkeys(a for answer in self.by_resolver.values() for a in answer))


def resolve_edges(hostname: str, resolvers: Sequence[str], *, timeout: float = 5.0) -> ResolverAnswers:
    """
    Ask each DNS resolver for `hostname`'s A records, to find the edges it can be served from.

    Parameters
    ----------
    hostname
        The site's name, e.g. `shop.example.com`.
    resolvers
        Resolver addresses, each `IP` or `IP:PORT` (`[IPv6]:PORT`), e.g. `8.8.8.8`, `1.1.1.1`,
        `9.9.9.9:53`.
    timeout
        Seconds to wait for one resolver.

    Returns
    -------
    ResolverAnswers
        Per resolver its addresses; resolvers that failed are in `errors`, so one unreachable
        resolver among several does not stop a probe.

    Raises
    ------
    FlakehuntError
        A resolver is not an address, or no resolver answered.
    """
    import dns.exception
    import dns.resolver

    answers = ResolverAnswers(hostname)
    for given in resolvers:
        address, port = parse_resolver(given)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address]
        resolver.port = port
        resolver.lifetime = timeout
        try:
            answer = resolver.resolve(hostname, "A", search=False)
        except dns.resolver.NXDOMAIN:
            answers.errors[given] = f"{hostname} does not exist (NXDOMAIN)"
        except dns.resolver.NoAnswer:
            answers.by_resolver[given] = []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            answers.errors[given] = str(exc).rstrip(".") or type(exc).__name__
        else:
            # An RRset has no order; sort so that runs and journals are reproducible.
            answers.by_resolver[given] = sorted((r.address for r in answer), key=ipaddress.ip_address)
    if not answers.addresses:
        first, problem = next(iter(answers.errors.items()), (resolvers[0], "no A records"))
        raise FlakehuntError(
            f"no resolver gave an address for {hostname!r} (resolver {first!r}: {problem}); "
            "check --resolver, or pass the edge addresses with --edge-ips"
        )
    return answers


def parse_resolver(value: str) -> tuple[str, int]:
    """
    A resolver given as `IP`, `IP:PORT` or `[IPv6]:PORT`, as (address, port).

    >>> parse_resolver("127.0.0.1:5353")
    ('127.0.0.1', 5353)
    >>> parse_resolver("2001:4860:4860::8888")
    ('2001:4860:4860::8888', 53)
    """
    text = value.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([0-9.]+)(?::(\d+))?|([0-9A-Fa-f:.]+)", text)
    address = match and (match[1] or match[3] or match[5])
    port = int(match[2] or match[4] or 53) if match else 53
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        address = None
    if not address or not 0 < port < 65536:
        raise FlakehuntError(
            f"--resolver must be an IP address with an optional :PORT (e.g. '1.1.1.1' or "
            f"'127.0.0.1:5353'), got {value!r}"
        )
    return address, port


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
