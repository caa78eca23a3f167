"""
The normalized model of DESIGN.md: one row per HTTP exchange, whatever its source.

The column names and types are a contract: saved queries, reports and other tools read them.
In memory (polars) `vendor` is a list of {key, value} structs; on disk it is a Parquet
map<string, string> (see store.py).
"""

from __future__ import annotations

import polars as pl

VENDOR_TYPE = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))

EXCHANGE_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "source": pl.String,  # cdn, origin, har, probe
    "format": pl.String,
    "request_id": pl.String,
    "client_ip": pl.String,
    "method": pl.String,
    "scheme": pl.String,
    "host": pl.String,
    "path": pl.String,
    "query": pl.String,
    "status": pl.Int16,
    "bytes_sent": pl.Int64,
    "content_type": pl.String,
    "content_length": pl.Int64,
    "content_hash": pl.String,
    "etag": pl.String,
    "last_modified": pl.String,
    "age": pl.Int32,
    "cache_status": pl.String,
    "edge_pop": pl.String,
    "edge_ip": pl.String,
    "time_taken_ms": pl.Float64,
    "ttfb_ms": pl.Float64,
    "user_agent": pl.String,
    "ua_family": pl.String,
    "ua_major": pl.String,
    "os_family": pl.String,
    "device_class": pl.String,
    "geo_country": pl.String,
    "geo_region": pl.String,
    "geo_city": pl.String,
    "asn": pl.Int64,
    "as_org": pl.String,
    "pop_city": pl.String,
    "pop_country": pl.String,
    "pop_continent": pl.String,
    "pop_lat": pl.Float64,
    "pop_lon": pl.Float64,
    "run_id": pl.String,
    "file": pl.String,
    "line": pl.Int64,
    "vendor": VENDOR_TYPE,
}

SOURCES = ("cdn", "origin", "har", "probe")
CACHE_STATUSES = ("hit", "miss", "refresh_hit", "stale", "revalidated", "pass", "error", "other")
DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "other")

# Unparseable input, kept so nothing is lost (DESIGN.md, "Nothing lost").
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String,
    "line": pl.Int64,
    "format": pl.String,
    "reason": pl.String,
    "text": pl.String,
}


def conform(frame: pl.DataFrame | pl.LazyFrame, schema: dict[str, pl.DataType] = EXCHANGE_SCHEMA):
    """
    Give `frame` exactly `schema`'s columns, in order: missing ones as nulls, others cast.

    >>> conform(pl.DataFrame({"status": [200], "extra": [1]})).select("status", "path").row(0)
    (200, None)
    """
    present = set(frame.collect_schema().names())
    return frame.select(
        [
            pl.col(name).cast(dtype) if name in present else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


# One row per probe run (DESIGN.md, "Probe runs are a second table").
# The probe_runs columns that name a configuration, edge first (the seed story); shared by the
# correlation, the reports and the scheduled-probing alerts.
PROBE_CONFIGURATION = (
    "edge_pop", "browser", "device", "locale", "timezone", "geolocation", "network", "blocker", "cache",
)  # fmt: skip

PROBE_RUN_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "probe_id": pl.String,  # one `flakehunt probe` invocation
    "spec": pl.String,
    "url": pl.String,
    "started": pl.Datetime("us", "UTC"),
    "ended": pl.Datetime("us", "UTC"),
    "browser": pl.String,
    "browser_version": pl.String,
    "device": pl.String,
    "locale": pl.String,
    "timezone": pl.String,
    "geolocation": pl.String,
    "network": pl.String,
    "blocker": pl.String,
    "cache": pl.String,
    "edge_ip": pl.String,
    "edge_pop": pl.String,
    "repeat": pl.Int32,
    "outcome": pl.String,  # pass, fail, error
    "failed_checks": pl.List(pl.Struct({"check": pl.String, "expected": pl.String, "observed": pl.String})),
    "console_errors": pl.List(pl.String),
    "page_errors": pl.List(pl.String),
    "failed_requests": pl.List(pl.String),
    "navigation_ms": pl.Float64,
    "load_ms": pl.Float64,
    "checked_request_ms": pl.Float64,
    "unsupported": pl.List(pl.String),
    "har_path": pl.String,
    "screenshot_path": pl.String,
    "attempt": pl.Int32,
    "retries": pl.Int32,
    "error": pl.String,
}
