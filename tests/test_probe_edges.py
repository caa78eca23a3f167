"""Edge discovery through several DNS resolvers, against tiny DNS servers on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from flakehunt.errors import FlakehuntError
from flakehunt.probe.edges import discover_edges, resolve_edges

HOST = "shop.flakehunt.test"


class DnsServer:
    """A UDP DNS responder on 127.0.0.1 answering A queries from a fixed table (or never, when mute)."""

    def __init__(self, records: dict[str, list[str]], *, mute: bool = False) -> None:
        self.records = records
        self.mute = mute
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True)
            self.queries.append(name)
            if self.mute:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if name not in self.records:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A and self.records[name]:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", *self.records[name]))
            self.sock.sendto(response.to_wire(), client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def dns_servers() -> Iterator[list[DnsServer]]:
    """Two resolvers that send the same name to different edges, as a CDN's geo-DNS does."""
    servers = [
        DnsServer({HOST: ["127.0.0.2"]}),
        DnsServer({HOST: ["127.0.0.4", "127.0.0.2", "127.0.0.3"]}),
    ]
    yield servers
    for server in servers:
        server.close()


def test_each_resolver_is_asked_and_the_edges_are_the_union(dns_servers):
    answers = resolve_edges(HOST, [s.address for s in dns_servers])
    assert answers.by_resolver == {
        dns_servers[0].address: ["127.0.0.2"],
        dns_servers[1].address: ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
    }
    assert answers.addresses == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert answers.errors == {}
    assert [s.queries for s in dns_servers] == [[HOST], [HOST]]


def test_discover_edges_uses_the_resolvers_with_the_urls_hostname(dns_servers):
    url = f"http://{HOST}:8080/checkout"
    edges = discover_edges(url, resolvers=[s.address for s in dns_servers])
    assert edges == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    # Edges given outright win over resolvers.
    assert discover_edges(url, edge_ips=["127.0.0.9"], resolvers=[dns_servers[0].address]) == ["127.0.0.9"]


def test_a_resolver_that_does_not_answer_is_recorded_not_fatal(dns_servers):
    mute = DnsServer({}, mute=True)
    try:
        answers = resolve_edges(HOST, [mute.address, dns_servers[0].address], timeout=0.5)
    finally:
        mute.close()
    assert answers.addresses == ["127.0.0.2"]
    assert list(answers.errors) == [mute.address]
    assert mute.queries  # it was asked


def test_no_resolver_answering_is_one_clear_error(dns_servers):
    with pytest.raises(
        FlakehuntError, match=r"no resolver gave an address for 'nope\.flakehunt\.test'"
    ) as info:
        resolve_edges("nope.flakehunt.test", [dns_servers[0].address])
    assert "NXDOMAIN" in str(info.value) and "--edge-ips" in str(info.value)


@pytest.mark.parametrize("bad", ["dns.google", "1.2.3.4:0", "300.1.1.1", ""])
def test_a_resolver_that_is_not_an_address_is_rejected(bad):
    with pytest.raises(FlakehuntError, match=r"--resolver must be an IP address"):
        resolve_edges(HOST, [bad])


@pytest.mark.browser
def test_a_probe_runs_on_every_edge_the_resolvers_name(tmp_path):
    from flakehunt.case import open_case, read_journal
    from flakehunt.edgesim import SimWorld
    from flakehunt.probe import parse_spec, run_probe

    spec = parse_spec(
        {
            "url": "http://shop.test/",
            "steps": [{"goto": "/checkout"}],
            "checks": [{"request": "/pixel.gif", "within_ms": 5000}],
            "matrix": {"edge": "all"},
            "settle_ms": 0,
        }
    )
    case = open_case("T-3", root=tmp_path / "cases")
    with SimWorld(preset="stale-edge", edges=3) as world:
        host = world.describe()["host"]
        ips = {s.pop: s.ip for s in world.specs}
        servers = [DnsServer({host: [ips["FRA56-C1"]]}), DnsServer({host: [ips["IAD89-P2"]]})]
        try:
            result = run_probe(spec, case=case, url=world.site_url, resolvers=[s.address for s in servers])
        finally:
            for server in servers:
                server.close()
    pops = {run.config["edge"]: run.edge_pop for run in result.runs}
    assert pops == {ips["FRA56-C1"]: "FRA56-C1", ips["IAD89-P2"]: "IAD89-P2"}  # NRT57-C3 was not named
    assert [run.outcome for run in result.runs if run.edge_pop == "FRA56-C1"] == ["fail"]
    journaled = read_journal(case)[-1]["params"]["resolvers"]
    assert journaled["answers"] == {
        servers[0].address: [ips["FRA56-C1"]],
        servers[1].address: [ips["IAD89-P2"]],
    }
