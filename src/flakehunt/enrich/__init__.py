"""
Enrichment: fill the derived columns of the normalized model from the raw ones.

- ``client_ip`` -> ``geo_country, geo_region, geo_city, asn, as_org`` (MaxMind-format databases);
- ``edge_pop`` -> ``pop_city, pop_country, pop_continent, pop_lat, pop_lon`` (IATA airports);
- ``user_agent`` -> ``ua_family, ua_major, os_family, device_class`` (ua-parser); for a log
  whose agents are %-encoded (CloudFront), normalization parses them as it decodes them.

Each distinct value is looked up once and the answers are joined back (DESIGN.md, "Fast"); the
answers are kept for the next blocks of the log, as they depend on the value alone (and, for
GeoIP, on the database file). Only empty cells are filled, so what a source already knows (a
probe knows its own browser) stays.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import polars as pl

from flakehunt.distinct import Answers, fill_from_distinct
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

_POPS = Answers("edge_pop", POP_COLUMNS)
_AGENTS = Answers("user_agent", UA_COLUMNS)
_BY_DATABASE: dict[tuple, Answers] = {}
_BY_DATABASE_LOCK = threading.Lock()


def enrich_exchanges(
    frame: pl.DataFrame, *, geoip_dir: Path | None = None, agents: bool = True
) -> tuple[pl.DataFrame, list[str]]:
    """
    Fill geo, POP and user-agent columns of normalized exchanges, each distinct value once.

    Parameters
    ----------
    frame
        Exchanges with the columns of `flakehunt.schema.EXCHANGE_SCHEMA`.
    geoip_dir
        A folder of MaxMind-format ``.mmdb`` files searched before ``$FLAKEHUNT_GEOIP_DIR``,
        ``/usr/share/GeoIP`` and ``/var/lib/GeoIP``.
    agents
        Parse the user agents. False when normalization did so already, with their %-decoding
        (ingest/normalize.py): a bot's empty ``ua_major`` would have them all looked up again.

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
    frame, _ = fill_from_distinct(frame, "edge_pop", POP_COLUMNS, locate_pops, _POPS)
    if agents:
        frame, _ = fill_from_distinct(frame, "user_agent", UA_COLUMNS, parse_user_agents, _AGENTS)
    if not _needs_lookup(frame, {**GEO_COLUMNS, **ASN_COLUMNS}):
        return frame, notes
    databases = find_databases(geoip_dir)
    if databases.location is None and databases.asn is None:
        return frame, [NO_DATABASE_NOTE]
    if databases.location is not None:
        lookup = partial(lookup_locations, databases.location)
        answers = _database_answers(databases.location, GEO_COLUMNS)
        frame, _ = fill_from_distinct(frame, "client_ip", GEO_COLUMNS, lookup, answers)
    elif _needs_lookup(frame, GEO_COLUMNS):
        notes.append(NO_LOCATION_NOTE)
    if databases.asn is not None:
        lookup = partial(lookup_asns, databases.asn)
        answers = _database_answers(databases.asn, ASN_COLUMNS)
        frame, _ = fill_from_distinct(frame, "client_ip", ASN_COLUMNS, lookup, answers)
    elif _needs_lookup(frame, ASN_COLUMNS):
        notes.append(NO_ASN_NOTE)
    notes.extend(f"ignored GeoIP file {str(path)!r}: {why}" for path, why in databases.ignored)
    return frame, notes


def _needs_lookup(frame: pl.DataFrame, targets: dict[str, pl.DataType]) -> bool:
    needed = pl.col("client_ip").is_not_null() & pl.any_horizontal(pl.col(name).is_null() for name in targets)
    return bool(frame.select(needed.any()).item())


def _database_answers(path: Path, targets: dict[str, pl.DataType]) -> Answers:
    """The answers of one GeoIP database file as it is now: a replaced file starts afresh."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, tuple(targets))
    with _BY_DATABASE_LOCK:
        return _BY_DATABASE.setdefault(key, Answers("client_ip", targets))
