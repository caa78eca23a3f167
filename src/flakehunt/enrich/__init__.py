"""
Enrichment: fill the derived columns of the normalized model from the raw ones.

- ``client_ip`` -> ``geo_country, geo_region, geo_city, asn, as_org`` (MaxMind-format databases);
- ``edge_pop`` -> ``pop_city, pop_country, pop_continent, pop_lat, pop_lon`` (IATA airports);
- ``user_agent`` -> ``ua_family, ua_major, os_family, device_class`` (ua-parser).

Each distinct value is looked up once and the answers are joined back (DESIGN.md, "Fast"); only
empty cells are filled, so what a source already knows (a probe knows its own browser) stays.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import polars as pl

from flakehunt.enrich._distinct import fill_from_distinct
from flakehunt.enrich.geoip import (
    ASN_COLUMNS,
    GEO_COLUMNS,
    NO_ASN_NOTE,
    NO_DATABASE_NOTE,
    NO_LOCATION_NOTE,
    find_databases,
    lookup_asns,
    lookup_locations,
)
from flakehunt.enrich.pop import POP_COLUMNS, locate_pop, locate_pops
from flakehunt.enrich.useragent import UA_COLUMNS, parse_user_agent, parse_user_agents

__all__ = ["enrich_exchanges", "locate_pop", "parse_user_agent"]


def enrich_exchanges(frame: pl.DataFrame, *, geoip_dir: Path | None = None) -> tuple[pl.DataFrame, list[str]]:
    """
    Fill geo, POP and user-agent columns of normalized exchanges, each distinct value once.

    Parameters
    ----------
    frame
        Exchanges with the columns of `flakehunt.schema.EXCHANGE_SCHEMA`.
    geoip_dir
        A folder of MaxMind-format ``.mmdb`` files searched before ``$FLAKEHUNT_GEOIP_DIR``,
        ``/usr/share/GeoIP`` and ``/var/lib/GeoIP``.

    Returns
    -------
    tuple[pl.DataFrame, list[str]]
        The frame, same rows in the same order, and notes for the user (each at most once),
        such as that no GeoIP database was found.

    Raises
    ------
    FlakehuntError
        When `geoip_dir` is not a folder.

    Examples
    --------
    >>> from flakehunt.schema import conform
    >>> frame = conform(pl.DataFrame({"edge_pop": ["FRA56-C1"], "user_agent": ["curl/8.5.0"]}))
    >>> enriched, notes = enrich_exchanges(frame)
    >>> enriched.select("pop_city", "pop_continent", "ua_family", "device_class").row(0)
    ('Frankfurt am Main', 'EU', 'curl', 'bot')
    """
    notes: list[str] = []
    frame, _ = fill_from_distinct(frame, "edge_pop", POP_COLUMNS, locate_pops)
    frame, _ = fill_from_distinct(frame, "user_agent", UA_COLUMNS, parse_user_agents)
    if not _needs_lookup(frame, {**GEO_COLUMNS, **ASN_COLUMNS}):
        return frame, notes
    databases = find_databases(geoip_dir)
    if databases.location is None and databases.asn is None:
        return frame, [NO_DATABASE_NOTE]
    if databases.location is not None:
        frame, _ = fill_from_distinct(
            frame, "client_ip", GEO_COLUMNS, partial(lookup_locations, databases.location)
        )
    elif _needs_lookup(frame, GEO_COLUMNS):
        notes.append(NO_LOCATION_NOTE)
    if databases.asn is not None:
        frame, _ = fill_from_distinct(frame, "client_ip", ASN_COLUMNS, partial(lookup_asns, databases.asn))
    elif _needs_lookup(frame, ASN_COLUMNS):
        notes.append(NO_ASN_NOTE)
    notes.extend(f"ignored GeoIP file {str(path)!r}: {why}" for path, why in databases.ignored)
    return frame, notes


def _needs_lookup(frame: pl.DataFrame, targets: dict[str, pl.DataType]) -> bool:
    needed = pl.col("client_ip").is_not_null() & pl.any_horizontal(pl.col(name).is_null() for name in targets)
    return bool(frame.select(needed.any()).item())
