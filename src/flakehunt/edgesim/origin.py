"""The simulated origin: serves the demo shop, writes nginx access logs, exposes sim controls."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from flakehunt.edgesim.accesslog import LogFile, nginx_line
from flakehunt.edgesim.faults import Faults
from flakehunt.edgesim.httpbase import Handler, LoopbackServer
from flakehunt.edgesim.site import Release, Response, render

CONTROL_PREFIX = "/__sim/"

# Origin needs the world's current state on every request, and the world handles control
# requests (faults, deploys); both are plugged in by `SimWorld`.
StateFn = Callable[[], tuple[Release, Faults]]
ControlFn = Callable[[str, str, bytes], Response]


class OriginServer(LoopbackServer):
    def __init__(
        self,
        *,
        host: str,
        port: int,
        log_path: Path,
        state: StateFn,
        control: ControlFn,
        rng: random.Random,
    ) -> None:
        super().__init__((host, port), _OriginHandler)
        self.log = LogFile(log_path)
        self.state = state
        self.control = control
        self.rng = rng

    def stop(self) -> None:
        super().stop()
        self.log.close()


class _OriginHandler(Handler):
    server: OriginServer
    server_version = "nginx/1.22.1"

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self.read_body()
        if self.path_only.startswith(CONTROL_PREFIX):
            self.send(self.server.control(self.command, self.path, body))
            return
        release, faults = self.server.state()
        if faults.origin_miss_failure_rate and self.server.rng.random() < faults.origin_miss_failure_rate:
            response = Response(503, {"Content-Type": "text/plain", "Cache-Control": "no-store"}, b"busy\n")
        else:
            country = self.headers.get("CloudFront-Viewer-Country", "")
            response = render(self.path_only, release=release, country=country, faults=faults)
        if self.command == "POST" and response.status == 200 and self.path_only != "/pixel.gif":
            response = Response(405, {"Content-Type": "text/plain", "Cache-Control": "no-store"}, b"")
        self.send(response, before_write=lambda _sent: self._log(response))

    def _log(self, response: Response) -> None:
        self.server.log.write(
            nginx_line(
                remote_addr=self.client_address[0],
                when=time.time(),
                request_line=self.requestline,
                status=response.status,
                body_bytes=0 if self.command == "HEAD" or response.status == 304 else len(response.body),
                referer=self.headers.get("Referer"),
                user_agent=self.headers.get("User-Agent"),
                request_id=self.headers.get("X-Amz-Cf-Id"),
            )
        )


def control_json(data: dict, status: int = 200) -> Response:
    return Response(
        status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, json.dumps(data).encode()
    )
