"""
Client IP -> country, region, city, ASN and AS organisation, from MaxMind-format databases.

Any City, Country, ASN or ISP database in MaxMind's format works (GeoLite2, GeoIP2, DB-IP lite,
ones built with `mmdb-writer`); which is which comes from the file's own metadata
(``database_type``), not its name. Lookups go through `maxminddb` directly (what `geoip2` wraps),
reading plain records, so each distinct address costs one tree walk.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from flakehunt.doctor import find_geoip_databases

GEO_COLUMNS: dict[str, pl.DataType] = {
    "geo_country": pl.String,
    "geo_region": pl.String,
    "geo_city": pl.String,
}
ASN_COLUMNS: dict[str, pl.DataType] = {"asn": pl.Int64, "as_org": pl.String}

NO_DATABASE_NOTE = "no GeoIP database found; geo columns are empty (see 'flakehunt doctor')"
NO_ASN_NOTE = "no ASN database found; asn and as_org are empty (see 'flakehunt doctor')"
NO_LOCATION_NOTE = (
    "no City or Country GeoIP database found; geo_country, geo_region and geo_city are empty "
    "(see 'flakehunt doctor')"
)


@dataclass
class GeoIPDatabases:
    """The databases found: one for locations (City preferred over Country), one for ASNs."""

    location: Path | None = None
    asn: Path | None = None
    ignored: list[tuple[Path, str]] = field(default_factory=list)


def database_kind(database_type: str) -> str | None:
    """
    ``"city"``, ``"country"`` or ``"asn"`` from a database's metadata type.

    >>> database_kind("GeoLite2-City"), database_kind("GeoIP2-ISP"), database_kind("DBIP-Country-Lite")
    ('city', 'asn', 'country')
    """
    lowered = database_type.lower()
    if "asn" in lowered or "isp" in lowered:
        return "asn"
    if "city" in lowered or "enterprise" in lowered:
        return "city"
    if "country" in lowered:
        return "country"
    return None


def find_databases(geoip_dir: Path | None = None) -> GeoIPDatabases:
    """The first City (else Country) and the first ASN database along the GeoIP search path."""
    import maxminddb

    found = GeoIPDatabases()
    location_kind = None
    for path in find_geoip_databases(geoip_dir):
        try:
            with maxminddb.open_database(str(path)) as reader:
                database_type = reader.metadata().database_type
        except (OSError, ValueError) as exc:  # InvalidDatabaseError is a ValueError
            found.ignored.append((path, f"unreadable: {exc}"))
            continue
        kind = database_kind(database_type)
        if kind == "asn" and found.asn is None:
            found.asn = path
        elif kind == "city" and location_kind != "city":
            found.location, location_kind = path, "city"
        elif kind == "country" and location_kind is None:
            found.location, location_kind = path, "country"
        elif kind is None:
            found.ignored.append((path, f"unknown database type {database_type!r}"))
    return found


def clean_ip(value: str) -> str | None:
    """
    The address in a logged client IP, or None if there is none.

    Ports, IPv6 brackets, zone ids and X-Forwarded-For chains (the first hop is the client)
    are removed.

    >>> clean_ip("[2001:db8::1]:443"), clean_ip("192.0.2.7:9989"), clean_ip("198.51.100.2, 10.0.0.1")
    ('2001:db8::1', '192.0.2.7', '198.51.100.2')
    >>> clean_ip("not-an-ip") is None
    True
    """
    text = value.split(",")[0].strip().strip("\"'")
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.partition("%")[0]
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def lookup_locations(path: Path, ips: Sequence[str]) -> dict[str, list]:
    """`GEO_COLUMNS` for each logged client IP, from a City or Country database."""
    records = _records(path, ips)
    out: dict[str, list] = {name: [] for name in GEO_COLUMNS}
    for record in records:
        country = record.get("country") or record.get("registered_country") or {}
        subdivisions = record.get("subdivisions") or [{}]
        out["geo_country"].append(country.get("iso_code"))
        out["geo_region"].append(_english(subdivisions[0]))
        out["geo_city"].append(_english(record.get("city") or {}))
    return out


def lookup_asns(path: Path, ips: Sequence[str]) -> dict[str, list]:
    """`ASN_COLUMNS` for each logged client IP, from an ASN or ISP database."""
    records = _records(path, ips)
    return {
        "asn": [record.get("autonomous_system_number") for record in records],
        "as_org": [record.get("autonomous_system_organization") for record in records],
    }


def _records(path: Path, ips: Sequence[str]) -> list[dict[str, Any]]:
    import maxminddb

    records: list[dict[str, Any]] = []
    with maxminddb.open_database(str(path)) as reader:
        for ip in ips:
            address = clean_ip(ip)
            record = None
            if address is not None:
                try:
                    record = reader.get(address)
                except ValueError:  # an IPv6 address in an IPv4-only database
                    record = None
            records.append(record if isinstance(record, dict) else {})
    return records


def _english(named: dict[str, Any]) -> str | None:
    names = named.get("names") or {}
    return names.get("en") or named.get("iso_code")
