"""The SOCKS5 pinning proxy over real loopback sockets: what a browser context sees through it."""

from __future__ import annotations

import asyncio
import struct

from flakehunt.probe.pinproxy import PinningProxy


async def _server(address: str, greeting: bytes) -> asyncio.Server:
    """A TCP server that says who it is, then echoes what it gets until the client's end."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        writer.write(await reader.read())  # to end of stream: the proxy must pass the half-close on
        writer.close()

    return await asyncio.start_server(serve, address, 0)


async def _socks_connect(proxy: PinningProxy, host: str, port: int, *, kind: int = 3):
    """Speak SOCKS5 as a browser does: no auth, CONNECT by name (or by IPv4 literal)."""
    proxy_host, proxy_port = proxy.url.removeprefix("socks5://").split(":")
    reader, writer = await asyncio.open_connection(proxy_host, int(proxy_port))
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    if kind == 3:
        address = bytes([3, len(host)]) + host.encode()
    else:
        address = b"\x01" + bytes(int(part) for part in host.split("."))
    writer.write(b"\x05\x01\x00" + address + struct.pack("!H", port))
    reply = await reader.readexactly(10)
    return reply[1], reader, writer


def _run(coroutine):
    return asyncio.run(coroutine)


def test_a_pinned_name_reaches_its_edge_and_bytes_flow_both_ways():
    async def scenario():
        edge = await _server("127.0.0.3", b"edge-3 ")
        elsewhere = await _server("127.0.0.1", b"wrong ")  # where the name does not go
        port = edge.sockets[0].getsockname()[1]
        proxy = await PinningProxy({"Shop.Example.TEST": "127.0.0.3"}).start()
        try:
            code, reader, writer = await _socks_connect(proxy, "shop.example.test", port)
            writer.write(b"GET / HTTP/1.1\r\n\r\n")
            writer.write_eof()
            answer = await reader.read()
            writer.close()
        finally:
            await proxy.close()
            edge.close()
            elsewhere.close()
        return code, answer, proxy.connections

    code, answer, connections = _run(scenario())
    assert code == 0
    assert answer == b"edge-3 GET / HTTP/1.1\r\n\r\n"
    assert connections == 1


def test_names_that_are_not_pinned_resolve_as_usual_and_unknown_ones_are_unreachable():
    async def scenario():
        server = await _server("127.0.0.1", b"local ")
        port = server.sockets[0].getsockname()[1]
        proxy = await PinningProxy({"shop.example.test": "127.0.0.3"}).start()
        try:
            code, reader, writer = await _socks_connect(proxy, "localhost", port)
            writer.write_eof()
            local = await reader.read()
            writer.close()
            literal, reader, writer = await _socks_connect(proxy, "127.0.0.1", port, kind=1)
            writer.close()
            unknown, _, writer = await _socks_connect(proxy, "no-such-host.invalid", port)
            writer.close()
        finally:
            await proxy.close()
            server.close()
        return code, local, literal, unknown

    code, local, literal, unknown = _run(scenario())
    assert (code, local) == (0, b"local ")
    assert literal == 0
    assert unknown == 4  # SOCKS5 "host unreachable": the browser reports a failed lookup


def test_a_closed_port_is_refused_and_a_client_that_is_not_socks5_is_dropped():
    async def scenario():
        proxy = await PinningProxy({"shop.example.test": "127.0.0.3"}).start()
        try:
            refused, _, writer = await _socks_connect(proxy, "shop.example.test", 9)  # nothing listens
            writer.close()
            host, port = proxy.url.removeprefix("socks5://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET / HTTP/1.1\r\n\r\n")  # plain HTTP to a SOCKS proxy
            dropped = await reader.read()
            writer.close()
        finally:
            await proxy.close()
        return refused, dropped

    refused, dropped = _run(scenario())
    assert refused == 5
    assert dropped == b""
