"""
GeoIP City and ASN databases (MaxMind DB format) for the synthetic world's address plan.

Laid out like MaxMind's own files (IPv6 trees with IPv4 at ::/96, GeoIP2 record shapes), so
`geoip2.database.Reader(...).city(ip)` and `.asn(ip)` read them as they read the real ones.
Written with `mmdb_writer`, a development extra imported only here.
"""

from __future__ import annotations

from pathlib import Path

from flakehunt.errors import MissingEnvironmentError
from flakehunt.synth import world

CITY_DATABASE_TYPE = "FlakehuntSynth-GeoIP2-City"  # geoip2 checks for "City" / "ASN" in the type
ASN_DATABASE_TYPE = "FlakehuntSynth-GeoLite2-ASN"


def _city_record(country: world.Country, city: world.City) -> dict:
    named = {"names": {"en": country.name}, "iso_code": country.iso}
    return {
        "continent": {"code": country.continent, "names": {"en": world.CONTINENT_NAMES[country.continent]}},
        "country": named,
        "registered_country": named,
        "city": {"names": {"en": city.name}},
        "subdivisions": [{"iso_code": city.subdivision, "names": {"en": city.subdivision_name}}],
        "location": {
            "latitude": city.lat,
            "longitude": city.lon,
            "time_zone": city.time_zone,
            "accuracy_radius": 50,
        },
    }


def _asn_record(asn: int, org: str) -> dict:
    return {"autonomous_system_number": asn, "autonomous_system_organization": org}


def write_geoip(out_dir: Path) -> tuple[Path, Path]:
    """
    Write `GeoIP2-City.mmdb` and `GeoLite2-ASN.mmdb` covering every address the generator uses.

    Returns
    -------
    The city and ASN database paths.

    Raises
    ------
    MissingEnvironmentError
        `mmdb_writer` is not installed (it is in the `dev` extra).
    """
    try:
        from mmdb_writer import MmdbU32, MMDBWriter
        from netaddr import IPSet
    except ImportError:
        raise MissingEnvironmentError(
            "writing synthetic GeoIP databases needs 'mmdb-writer'; run: pip install -e '.[dev]'"
        ) from None
    description = "synthetic data for flakehunt's tests and benchmarks; reserved address ranges only"
    city_db = MMDBWriter(6, CITY_DATABASE_TYPE, ["en"], description, ipv4_compatible=True)
    asn_db = MMDBWriter(6, ASN_DATABASE_TYPE, ["en"], description, ipv4_compatible=True)

    by_city: dict[tuple[str, str], list[str]] = {}
    by_asn: dict[tuple[int, str], list[str]] = {}
    places = {}
    for subnets in world.client_subnets():
        for subnet in subnets:
            key = (subnet.country.iso, subnet.city.name)
            places[key] = (subnet.country, subnet.city)
            by_city.setdefault(key, []).append(str(subnet.network))
            by_asn.setdefault((subnet.asn, subnet.as_org), []).append(str(subnet.network))
    carrier = next(c for c in world.COUNTRIES if c.iso == world.CARRIER_COUNTRY)
    crawler = next(c for c in world.COUNTRIES if c.iso == world.CRAWLER_COUNTRY)
    extra_city = [
        (str(world.CARRIER_NETWORK), carrier, carrier.cities[0]),
        (str(world.CRAWLER_NETWORK), crawler, crawler.cities[0]),
    ]
    for key, networks in sorted(by_city.items()):
        city_db.insert_network(IPSet(networks), _city_record(*places[key]))
    for network, country, city in extra_city:
        city_db.insert_network(IPSet([network]), _city_record(country, city))

    extra_asn = [
        (str(world.CARRIER_NETWORK), world.carrier_asn(), world.CARRIER_NAME),
        (str(world.CRAWLER_NETWORK), world.crawler_asn(), world.CRAWLER_NAME),
        (str(world.EDGE_NETWORK), world.cdn_asn(), world.CDN_NAME),
    ]
    for (asn, org), networks in sorted(by_asn.items()):
        asn_db.insert_network(
            IPSet(networks), {**_asn_record(asn, org), "autonomous_system_number": MmdbU32(asn)}
        )
    for network, asn, org in extra_asn:
        asn_db.insert_network(
            IPSet([network]), {**_asn_record(asn, org), "autonomous_system_number": MmdbU32(asn)}
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    city_path, asn_path = out_dir / "GeoIP2-City.mmdb", out_dir / "GeoLite2-ASN.mmdb"
    # mmdb_writer stamps `build_epoch` with the wall clock; a generated scenario must be byte-for-byte
    # reproducible, so the databases are "built" at a fixed time instead.
    import mmdb_writer

    clock, mmdb_writer.time = mmdb_writer.time, _FixedClock(BUILD_EPOCH)
    try:
        city_db.to_db_file(str(city_path))
        asn_db.to_db_file(str(asn_path))
    finally:
        mmdb_writer.time = clock
    return city_path, asn_path


BUILD_EPOCH = 1_763_632_800  # 2025-11-20T10:00:00Z


class _FixedClock:
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def time(self) -> float:
        return float(self.epoch)
