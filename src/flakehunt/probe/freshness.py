"""
Asset freshness: fetch the same asset through every edge (and from origin) and compare versions.

This is how a stale cached script at one edge shows itself: same URL, different ETag and body.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import polars as pl
from rich.console import Group
from rich.table import Table
from rich.text import Text

from flakehunt.errors import FlakehuntError
from flakehunt.probe.edges import cache_status, discover_edges, edge_pop


@dataclass
class Fetched:
    """One asset as one edge (or origin) served it."""

    url: str
    via: str  # edge address, or "origin"
    status: int | None
    etag: str | None = None
    last_modified: str | None = None
    age: int | None = None
    cache_status: str | None = None
    content_length: int | None = None
    content_hash: str | None = None
    edge_pop: str | None = None
    error: str | None = None
    differs_from: list[str] = field(default_factory=list)  # "origin", "majority"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


FRESHNESS = "freshness"  # the case dataset of these answers, one row per asset and edge (or origin)
FRESHNESS_SCHEMA: dict[str, pl.DataType] = {
    "probe_id": pl.String(),
    "checked_at": pl.Datetime("us", "UTC"),
    "url": pl.String(),
    "via": pl.String(),
    "edge_pop": pl.String(),
    "status": pl.Int16(),
    "etag": pl.String(),
    "last_modified": pl.String(),
    "age": pl.Int32(),
    "cache_status": pl.String(),
    "content_length": pl.Int64(),
    "content_hash": pl.String(),
    "error": pl.String(),
    "differs_from": pl.List(pl.String()),
}


@dataclass
class FreshnessReport:
    """Per asset and edge what was served, and which edges differ from origin or the majority."""

    fetched: list[Fetched]
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def stale(self) -> list[Fetched]:
        """Edge answers that differ from origin (when fetched) or from the majority of edges."""
        return [f for f in self.fetched if f.via != "origin" and f.differs_from]

    @property
    def stale_edges(self) -> list[str]:
        return sorted({f.edge_pop or f.via for f in self.stale})

    def to_dict(self) -> dict[str, Any]:
        return {"assets": [f.to_dict() for f in self.fetched], "stale_edges": self.stale_edges}

    def frame(self, *, probe_id: str) -> pl.DataFrame:
        """The answers as rows of the case's `freshness` dataset."""
        rows = [
            {
                "probe_id": probe_id,
                "checked_at": self.checked_at,
                **{name: getattr(f, name) for name in FRESHNESS_SCHEMA if hasattr(f, name)},
            }
            for f in self.fetched
        ]
        return pl.DataFrame(rows, schema=FRESHNESS_SCHEMA)

    def __rich__(self) -> Group:
        table = Table(title="asset freshness per edge", title_justify="left")
        for name in ("asset", "via", "pop", "status", "etag", "age", "cache", "length", "sha256", "differs"):
            table.add_column(name)
        for f in self.fetched:
            style = "fh.fail" if f.differs_from and f.via != "origin" else ""
            table.add_row(
                urlsplit(f.url).path,
                f.via,
                f.edge_pop or "-",
                str(f.status or f.error),
                f.etag or "-",
                "-" if f.age is None else str(f.age),
                f.cache_status or "-",
                "-" if f.content_length is None else str(f.content_length),
                (f.content_hash or "-")[:12],
                Text(", ".join(f.differs_from) or "-", style=style),
            )
        verdict = (
            Text(f"stale or different: {', '.join(self.stale_edges)}", "fh.fail")
            if self.stale
            else Text("every edge serves the same version", "fh.pass")
        )
        return Group(table, verdict)


def check_freshness(
    urls: Sequence[str],
    *,
    edge_ips: Sequence[str] = (),
    resolvers: Sequence[str] = (),
    host: str | None = None,
    origin: str | None = None,
) -> FreshnessReport:
    """
    Fetch each asset through every edge and from origin, and single out the odd ones.

    Parameters
    ----------
    urls
        Absolute asset URLs, e.g. `https://shop.example.com/static/app.js`.
    edge_ips
        Edge addresses; each request connects there with the URL's own Host header and TLS name.
    resolvers
        Without `edge_ips`: find the edges by resolving the first URL's hostname through each of
        these DNS resolvers (`IP` or `IP:PORT`), see `resolve_edges`.
    host
        Host header to send when it differs from the URL's (e.g. the URL names an address).
    origin
        Base URL of the origin server; its copy is the reference when given.

    Returns
    -------
    FreshnessReport
        Per edge: ETag, Last-Modified, Age, cache status, length, sha256, and `differs_from`.
    """
    if not edge_ips and resolvers and urls:
        edge_ips = discover_edges(urls[0], resolvers=resolvers)
    if not edge_ips:
        raise FlakehuntError("freshness needs the edges to compare; pass --edge-ips or --resolver")
    fetched: list[Fetched] = []
    for url in urls:
        if not urlsplit(url).scheme:
            raise FlakehuntError(f"freshness URL {url!r} must be absolute (http://host/path)")
        reference = None
        if origin:
            path = urlsplit(url)._replace(scheme="", netloc="").geturl()
            reference = fetch_asset(urljoin(origin, path), via="origin", host=host or urlsplit(url).netloc)
            fetched.append(reference)
        edges = [fetch_asset(url, via=ip, host=host) for ip in edge_ips]
        hashes = Counter(f.content_hash for f in edges if f.content_hash)
        majority = hashes.most_common(1)[0][0] if hashes else None
        for f in edges:
            if reference is not None and reference.content_hash and f.content_hash != reference.content_hash:
                f.differs_from.append("origin")
            if majority and f.content_hash != majority:
                f.differs_from.append("majority")
        fetched.extend(edges)
    return FreshnessReport(fetched)


def fetch_asset(url: str, *, via: str, host: str | None = None, timeout: float = 10.0) -> Fetched:
    """GET `url`, connecting to address `via` (or the URL's own host when via is "origin")."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = parts.hostname if via == "origin" else via
    host_header = host or parts.netloc
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(parts.hostname or "", port, address=address or "", timeout=timeout)
    else:
        connection = http.client.HTTPConnection(address or "", port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request("GET", target, headers={"Host": host_header, "Accept-Encoding": "identity"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Fetched(url, via, None, error=str(exc) or type(exc).__name__)
    finally:
        connection.close()
    headers = {k.lower(): v for k, v in response.getheaders()}
    age = headers.get("age")
    return Fetched(
        url=url,
        via=via,
        status=response.status,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        age=int(age) if age and age.isdigit() else None,
        cache_status=cache_status(headers),
        content_length=len(body),
        content_hash=hashlib.sha256(body).hexdigest(),
        edge_pop=edge_pop(headers),
    )


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a chosen address while verifying the certificate for the URL's hostname (SNI)."""

    def __init__(self, hostname: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(hostname, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
