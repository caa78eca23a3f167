"""The threaded HTTP/1.1 server both origin and edges run on (stdlib, loopback only)."""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from flakehunt.edgesim.site import Response


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # two edges must never share an address and port by accident

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ValueError(f"edgesim binds loopback addresses only, not {address[0]!r}")
        super().__init__(address, handler)
        self._thread: threading.Thread | None = None

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A browser that closes the page mid-response is normal traffic, not a server error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=f"edgesim-{self.server_address}"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with helpers to read the request and send a `Response`."""

    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections close, so shutdown never waits on a browser
    server_version = "edgesim"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        pass  # the servers write their own access logs

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> str:
        return urlsplit(self.path).query

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def request_bytes(self) -> int:
        """Bytes of the request line and headers, as a server would count them."""
        return (
            len(self.requestline)
            + 2
            + len(bytes(self.headers))
            + int(self.headers.get("Content-Length") or 0)
        )

    def send(self, response: Response, *, before_write: Callable[[int], None] | None = None) -> int:
        """
        Send `response` (no body for HEAD); returns the bytes written, headers included.

        `before_write(total_bytes)` runs once the response is complete but before the client can
        read it, which is where a server writes its access log line: a client that has its answer
        can then always find it in the log.
        """
        body = b"" if self.command == "HEAD" or response.status == 304 else response.body
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body) if self.command == "HEAD" else len(body)))
        total = sum(len(line) for line in self._headers_buffer) + 2 + len(body)
        if before_write is not None:
            before_write(total)
        self.end_headers()
        if body:
            self.wfile.write(body)
        return total
