"""
Pin one browser context to one CDN edge: a SOCKS5 proxy on loopback that resolves only the pinned
hostnames, to the edge's address.

Why: Firefox can pin names only for the whole process (`network.dns.forceResolve`, which sends
*every* name to one address), so pinning by launch options costs one Firefox per edge, and a
Firefox launch costs about 3.5 CPU-seconds here (bench/probe.py). A context's own proxy is
per context, so one Firefox serves every edge, each context through the proxy of its edge.

The proxy is transparent to the page and the site: the browser sends the hostname (SOCKS5 with
remote resolution), the proxy opens a TCP connection to the edge on the requested port and
relays bytes, so TLS, SNI and the Host header are the browser's own, end to end. Names that are
not pinned are resolved as this machine resolves them, as Chromium's `--host-resolver-rules`
does, and a name this machine cannot resolve is answered with SOCKS5's "host unreachable".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import Mapping

_VERSION = 5
_NO_AUTH = 0
_CONNECT = 1
_IPV4, _NAME, _IPV6 = 1, 3, 4
_SUCCEEDED, _GENERAL_FAILURE, _HOST_UNREACHABLE, _REFUSED, _UNSUPPORTED_COMMAND = 0, 1, 4, 5, 7
_RELAY_CHUNK = 1 << 16


class PinningProxy:
    """
    A SOCKS5 proxy on 127.0.0.1 that connects `pins` hostnames to their address, others as usual.

        proxy = PinningProxy({"shop.example.com": "127.0.0.2"})
        await proxy.start()
        context = await browser.new_context(proxy={"server": proxy.url})
        ...
        await proxy.close()
    """

    def __init__(self, pins: Mapping[str, str]) -> None:
        self.pins = {host.lower().rstrip("."): address for host, address in pins.items()}
        self.connections = 0  # connections relayed, for tests and the curious
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"socks5://{host}:{port}"

    async def start(self) -> PinningProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        up_writer = None
        try:
            upstream = await self._handshake(reader, writer)
            if upstream is not None:
                self.connections += 1
                up_reader, up_writer = upstream
                await asyncio.gather(_relay(reader, up_writer), _relay(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass  # the browser went away mid-handshake, or spoke something other than SOCKS5
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            if up_writer is not None:
                up_writer.close()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        version, methods = await reader.readexactly(2)
        if version != _VERSION:
            return None  # not SOCKS5: reading on would wait for bytes that never come
        offered = await reader.readexactly(methods)
        if _NO_AUTH not in offered:
            writer.write(bytes([_VERSION, 0xFF]))  # no acceptable method
            return None
        writer.write(bytes([_VERSION, _NO_AUTH]))
        version, command, _reserved, kind = await reader.readexactly(4)
        host = await _read_address(reader, kind)
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != _CONNECT:
            await _reply(writer, _UNSUPPORTED_COMMAND)
            return None
        target = self.pins.get(host.lower().rstrip("."), host)
        try:
            upstream = await asyncio.open_connection(target, port)
        except socket.gaierror:
            await _reply(writer, _HOST_UNREACHABLE)
            return None
        except ConnectionRefusedError:
            await _reply(writer, _REFUSED)
            return None
        except OSError:
            await _reply(writer, _GENERAL_FAILURE)
            return None
        await _reply(writer, _SUCCEEDED)
        return upstream


async def _read_address(reader: asyncio.StreamReader, kind: int) -> str:
    if kind == _NAME:
        (length,) = await reader.readexactly(1)
        return (await reader.readexactly(length)).decode("ascii")  # browsers send IDNs as punycode
    if kind == _IPV4:
        return str(ipaddress.IPv4Address(await reader.readexactly(4)))
    if kind == _IPV6:
        return str(ipaddress.IPv6Address(await reader.readexactly(16)))
    raise ValueError(f"unknown SOCKS5 address type {kind}")


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    # The bound address is of no use to a browser; SOCKS5 still wants one.
    writer.write(bytes([_VERSION, code, 0, _IPV4, 0, 0, 0, 0, 0, 0]))
    await writer.drain()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes one way until end of stream, then pass the end on (a half-close)."""
    try:
        while data := await reader.read(_RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()
