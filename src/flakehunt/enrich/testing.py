"""
Small real GeoIP databases for tests, benchmarks and demos (like `polars.testing`).

They cover only the documentation address ranges (RFC 5737, RFC 3849) and documentation AS
numbers (RFC 5398), written in MaxMind's format with `mmdb-writer` (a development extra), so
no GeoLite2 data is ever shipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from flakehunt.errors import MissingEnvironmentError


class NetworkFacts(NamedTuple):
    country: str
    region: str
    city: str
    asn: int
    as_org: str


DOCUMENTATION_NETWORKS: dict[str, NetworkFacts] = {
    "192.0.2.0/24": NetworkFacts("DE", "Hesse", "Frankfurt am Main", 64496, "Example Transit DE"),
    "198.51.100.0/24": NetworkFacts("US", "California", "San Francisco", 64497, "Example Cable US"),
    "203.0.113.0/24": NetworkFacts("JP", "Tokyo", "Tokyo", 64498, "Example Mobile JP"),
    "2001:db8::/32": NetworkFacts("FR", "Île-de-France", "Paris", 64499, "Example Fibre FR"),
}


def write_test_geoip(
    folder: Path, networks: Mapping[str, NetworkFacts] = DOCUMENTATION_NETWORKS
) -> tuple[Path, Path]:
    """
    Write a City and an ASN database covering `networks` into `folder`.

    Returns
    -------
    tuple[Path, Path]
        The City database and the ASN database.

    Raises
    ------
    MissingEnvironmentError
        When `mmdb-writer` is not installed.
    """
    try:
        from mmdb_writer import MmdbU32, MMDBWriter
        from netaddr import IPSet
    except ImportError:
        raise MissingEnvironmentError(
            "building a test GeoIP database needs mmdb-writer; install it with: pip install 'flakehunt[dev]'"
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    city = MMDBWriter(6, "GeoLite2-City", ["en"], "flakehunt test City", ipv4_compatible=True)
    asn = MMDBWriter(6, "GeoLite2-ASN", ["en"], "flakehunt test ASN", ipv4_compatible=True)
    for cidr, net in networks.items():
        city.insert_network(IPSet([cidr]), _city_record(net))
        asn.insert_network(
            IPSet([cidr]),
            {"autonomous_system_number": MmdbU32(net.asn), "autonomous_system_organization": net.as_org},
        )
    paths = folder / "Test-City.mmdb", folder / "Test-ASN.mmdb"
    city.to_db_file(str(paths[0]))
    asn.to_db_file(str(paths[1]))
    return paths


def _city_record(net: NetworkFacts) -> dict[str, Any]:
    return {
        "country": {"iso_code": net.country, "names": {"en": net.country}},
        "subdivisions": [{"names": {"en": net.region}}],
        "city": {"names": {"en": net.city}},
    }
