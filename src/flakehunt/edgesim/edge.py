"""
A simulated CloudFront edge: caches what origin returns, adds the headers CloudFront adds,
forwards its request id to origin, writes CloudFront standard access logs, and misbehaves on
request through the fault knobs.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs

from flakehunt.edgesim.accesslog import CLOUDFRONT_HEADER, LogFile, cloudfront_line
from flakehunt.edgesim.faults import Faults
from flakehunt.edgesim.httpbase import Handler, LoopbackServer
from flakehunt.edgesim.origin import control_json
from flakehunt.edgesim.site import Response

PURGE_PATH = "/__purge"
DISTRIBUTION_DOMAIN = "d1flakehuntsim.cloudfront.net"
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}
_CONDITIONAL = {"if-none-match", "if-modified-since"}
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class EdgeSpec:
    """One edge of the simulated CDN: its POP code, loopback address and region."""

    pop: str
    ip: str
    region: str
    country: str


@dataclass
class _CacheEntry:
    response: Response
    stored_at: float
    max_age: int

    def fresh(self, now: float) -> bool:
        return now - self.stored_at < self.max_age


def new_request_id() -> str:
    """A CloudFront-style request id: 40 random bytes, URL-safe base64 (56 characters)."""
    return base64.urlsafe_b64encode(os.urandom(40)).decode()


def cache_lifetime(headers: dict[str, str]) -> int:
    """
    Seconds a response may be cached for, from its Cache-Control; 0 means not cacheable.

    >>> cache_lifetime({"Cache-Control": "public, max-age=300"})
    300
    >>> cache_lifetime({"Cache-Control": "no-store"})
    0
    """
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), "").lower()
    if any(word in value for word in ("no-store", "no-cache", "private")):
        return 0
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else 0


class EdgeServer(LoopbackServer):
    def __init__(
        self,
        spec: EdgeSpec,
        *,
        port: int,
        origin: tuple[str, int],
        log_dir: Path,
        faults: Callable[[], Faults],
        rng: random.Random,
    ) -> None:
        super().__init__((spec.ip, port), _EdgeHandler)
        self.spec = spec
        self.origin = origin
        self.faults = faults
        self.rng = rng
        self.via = f"1.1 {hashlib.sha1(spec.pop.encode()).hexdigest()[:32]}.cloudfront.net (CloudFront)"
        hour = time.strftime("%Y-%m-%d-%H", time.gmtime())
        self.log = LogFile(log_dir / f"E2FLAKEHUNTSIM.{hour}.{spec.pop}.log", header=CLOUDFRONT_HEADER)
        self._cache: dict[str, _CacheEntry] = {}
        self._cache_lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._recent_lock = threading.Lock()

    def stop(self) -> None:
        super().stop()
        self.log.close()

    # -- cache --------------------------------------------------------------------------------

    def purge(self, paths: Iterable[str] | None = None) -> int:
        """Empty the cache (or only `paths`, matched without query); returns entries removed."""
        with self._cache_lock:
            if paths is None:
                removed = len(self._cache)
                self._cache.clear()
                return removed
            wanted = set(paths)
            doomed = [key for key in self._cache if key.split("?", 1)[0] in wanted]
            for key in doomed:
                del self._cache[key]
            return len(doomed)

    def cached(self, key: str) -> _CacheEntry | None:
        with self._cache_lock:
            entry = self._cache.get(key)
        return entry if entry and entry.fresh(time.time()) else None

    def store(self, key: str, response: Response) -> None:
        lifetime = cache_lifetime(response.headers)
        if response.status == 200 and lifetime > 0:
            with self._cache_lock:
                self._cache[key] = _CacheEntry(response, time.time(), lifetime)

    def cached_paths(self) -> list[str]:
        with self._cache_lock:
            return sorted(self._cache)

    # -- faults -------------------------------------------------------------------------------

    def over_rate_limit(self, client_ip: str, faults: Faults) -> bool:
        if not faults.rate_limit:
            return False
        now = time.monotonic()
        with self._recent_lock:
            recent = self._recent.setdefault(client_ip, deque())
            while recent and now - recent[0] > faults.rate_limit_window_s:
                recent.popleft()
            if len(recent) >= faults.rate_limit:
                return True
            recent.append(now)
            return False

    def added_latency(self, path: str, faults: Faults) -> float:
        seconds = faults.slow_edges.get(self.spec.pop, 0) / 1000
        if faults.race_latency_ms:
            if path == "/static/vendor.js":
                seconds += self.rng.uniform(0, faults.race_latency_ms) / 1000
            elif path == "/static/app.js":
                seconds += faults.race_latency_ms / 2000
        return seconds


class _EdgeHandler(Handler):
    server: EdgeServer
    server_version = "CloudFront"

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        if self.path_only == PURGE_PATH:
            self.read_body()
            paths = parse_qs(self.query).get("path")
            removed = self.server.purge(paths)
            self.send(control_json({"pop": self.server.spec.pop, "purged": removed}))
            return
        self._serve()

    def _serve(self) -> None:
        started, clock = time.time(), time.perf_counter()
        request_id = new_request_id()
        body = self.read_body()
        faults = self.server.faults()
        response, result, detailed = self._respond(body, request_id, faults)
        response = self._with_edge_headers(response, request_id, result)
        ttfb = time.perf_counter() - clock
        self.send(
            response,
            before_write=lambda sent: self._log(
                started, time.perf_counter() - clock, ttfb, request_id, response, sent, result, detailed
            ),
        )

    def _respond(self, body: bytes, request_id: str, faults: Faults) -> tuple[Response, str, str]:
        server, pop = self.server, self.server.spec.pop
        if server.over_rate_limit(self.client_address[0], faults):
            return _plain(429, "rate limit exceeded\n", {"Retry-After": "60"}), "Error", "Error"
        failure_rate = faults.failing_edges.get(pop, 0.0)
        if failure_rate and server.rng.random() < failure_rate:
            if server.rng.random() < 0.5:
                return _plain(502, "Bad Gateway\n"), "Error", "OriginConnectError"
            return _plain(504, "Gateway Timeout\n"), "Error", "OriginCommError"
        if delay := server.added_latency(self.path_only, faults):
            time.sleep(delay)
        cacheable_method = self.command in {"GET", "HEAD"}
        entry = server.cached(self.path) if cacheable_method else None
        if entry is not None:
            age = str(int(time.time() - entry.stored_at))
            response = replace(entry.response, headers={**entry.response.headers, "Age": age})
            result = "Hit"
        else:
            response = self._forward(body, request_id)
            if response.status >= 500:
                return response, "Error", "OriginError" if response.status != 502 else "OriginConnectError"
            if cacheable_method:
                server.store(self.path, response)
            result = "Miss"
        etag = response.headers.get("ETag")
        if response.status == 200 and etag and self.headers.get("If-None-Match") == etag:
            response = replace(response, status=304)
        return response, result, result

    def _forward(self, body: bytes, request_id: str) -> Response:
        spec = self.server.spec
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in _HOP_BY_HOP | _CONDITIONAL
        }
        forwarded_for = self.headers.get("X-Forwarded-For")
        client = self.client_address[0]
        headers["X-Forwarded-For"] = f"{forwarded_for}, {client}" if forwarded_for else client
        headers["X-Amz-Cf-Id"] = request_id
        headers["CloudFront-Viewer-Country"] = spec.country
        headers["Via"] = self.server.via
        connection = http.client.HTTPConnection(*self.server.origin, timeout=10, source_address=(spec.ip, 0))
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            upstream = connection.getresponse()
            data = upstream.read()
            kept = {
                k: v for k, v in upstream.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}
            }
            return Response(upstream.status, kept, data)
        except OSError:
            return _plain(502, "Bad Gateway\n")
        finally:
            connection.close()

    def _with_edge_headers(self, response: Response, request_id: str, result: str) -> Response:
        edge_headers = {
            "X-Cache": f"{result} from cloudfront",
            "Via": self.server.via,
            "X-Amz-Cf-Pop": self.server.spec.pop,
            "X-Amz-Cf-Id": request_id,
        }
        drop = {"server", "date"}
        kept = {k: v for k, v in response.headers.items() if k.lower() not in drop}
        return replace(response, headers={**kept, **edge_headers})

    def _log(
        self,
        started: float,
        taken: float,
        ttfb: float,
        request_id: str,
        response: Response,
        sent: int,
        result: str,
        detailed: str,
    ) -> None:
        finished = started + taken
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        self.server.log.write(
            cloudfront_line(
                {
                    "date": time.strftime("%Y-%m-%d", time.gmtime(finished)),
                    "time": time.strftime("%H:%M:%S", time.gmtime(finished)),
                    "x-edge-location": self.server.spec.pop,
                    "sc-bytes": sent,
                    "c-ip": self.client_address[0],
                    "cs-method": self.command,
                    "cs(Host)": DISTRIBUTION_DOMAIN,
                    "cs-uri-stem": self.path_only,
                    "sc-status": response.status,
                    "cs(Referer)": self.headers.get("Referer"),
                    "cs(User-Agent)": self.headers.get("User-Agent"),
                    "cs-uri-query": self.query,
                    "x-edge-result-type": result,
                    "x-edge-request-id": request_id,
                    "x-host-header": host,
                    "cs-protocol": "http",
                    "cs-bytes": self.request_bytes(),
                    "time-taken": f"{taken:.3f}",
                    "x-forwarded-for": self.headers.get("X-Forwarded-For"),
                    "x-edge-response-result-type": result,
                    "cs-protocol-version": self.request_version,
                    "c-port": self.client_address[1],
                    "time-to-first-byte": f"{ttfb:.3f}",
                    "x-edge-detailed-result-type": detailed,
                    "sc-content-type": response.headers.get("Content-Type"),
                    "sc-content-len": len(response.body),
                }
            )
        )


def _plain(status: int, text: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"Content-Type": "text/plain", "Cache-Control": "no-store", **(extra or {})}
    return Response(status, headers, text.encode())
