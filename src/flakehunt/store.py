"""
Parquet datasets inside a case: one immutable part file per write, replaced atomically.

A dataset is a folder, `data/<name>/`, of `<part-id>.parquet` files. Writing a part writes a
temporary file and renames it, so a crash or Ctrl-C leaves the dataset as it was; a part id
that already exists is not written again, which is what makes ingest idempotent (the part id
is the input's content hash) and re-running a probe round safe.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from flakehunt.atomic import remove_stale, temporary_beside
from flakehunt.case import Case
from flakehunt.schema import EXCHANGE_SCHEMA, conform

EXCHANGES = "exchanges"


def dataset_dir(case: Case, name: str) -> Path:
    return case.data_dir / name


def remove_stale_temporaries(case: Case) -> int:
    """Remove what killed writers left in the case's datasets (see `atomic.remove_stale`)."""
    if not case.data_dir.is_dir():
        return 0
    return sum(
        remove_stale(folder) for folder in [case.data_dir, *case.data_dir.iterdir()] if folder.is_dir()
    )


def part_path(case: Case, name: str, part_id: str) -> Path:
    return dataset_dir(case, name) / f"{part_id}.parquet"


def has_part(case: Case, name: str, part_id: str) -> bool:
    return part_path(case, name, part_id).exists()


def write_part(case: Case, name: str, part_id: str, frame: pl.DataFrame) -> Path:
    """
    Write `frame` as part `part_id` of dataset `name`, atomically; an existing part is kept.

    A `vendor` column of {key, value} structs is stored as a Parquet map<string, string>.
    """
    target = part_path(case, name, part_id)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(target)
    try:
        pq.write_table(_to_arrow(frame), tmp, compression="zstd")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _to_arrow(frame: pl.DataFrame) -> pa.Table:
    if "vendor" not in frame.columns:
        return frame.to_arrow()
    table = frame.drop("vendor").to_arrow()
    vendor = listed_map(frame["vendor"], pa.map_(pa.string(), pa.string()))
    return table.add_column(frame.columns.index("vendor"), "vendor", vendor)


def listed_map(listed: pl.Series, map_type: pa.MapType) -> pa.MapArray:
    """A `vendor` column (a polars list of {key, value} structs) as the Arrow map Parquet stores."""
    items = listed.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(items, pa.ChunkedArray):
        items = items.combine_chunks()
    offsets = np.asarray(items.offsets)
    offsets = pa.array((offsets - offsets[0]).astype(np.int32))  # a sliced list starts past 0
    key, value = items.flatten().flatten()
    key = key.cast(pa.string()).cast(map_type.key_type)  # Arrow casts no string view to a dictionary
    value = value.cast(map_type.item_type)
    return pa.MapArray.from_arrays(offsets, key, value, type=map_type, mask=items.is_null())


def scan_dataset(case: Case, name: str, schema: dict[str, pl.DataType] | None = None) -> pl.LazyFrame:
    """Lazily scan every part of dataset `name`; empty (with `schema`) when nothing is written yet."""
    parts = sorted(dataset_dir(case, name).glob("*.parquet"))
    if not parts:
        return pl.LazyFrame(schema=schema or {})
    frame = (
        pl.scan_parquet(parts, missing_columns="insert", extra_columns="ignore")
        if schema
        else pl.scan_parquet(parts, schema=_union_schema(parts), missing_columns="insert")
    )
    if schema and "vendor" in schema:
        frame = frame.with_columns(pl.col("vendor").cast(schema["vendor"]))
    return conform(frame, schema) if schema else frame


def _union_schema(parts: list[Path]) -> dict[str, pl.DataType]:
    """Every column of every part, in first-seen order: parts written by different steps differ
    (e.g. probe runs attached from a run store add `location`)."""
    union: dict[str, pl.DataType] = {}
    for part in parts:
        for name, dtype in pl.read_parquet_schema(part).items():
            union.setdefault(name, dtype)
    return union


def scan_exchanges(
    case: Case, *, since: datetime | None = None, until: datetime | None = None
) -> pl.LazyFrame:
    """
    Lazily scan a case's exchanges, pushing the time window down to Parquet.

    Parameters
    ----------
    since, until
        UTC bounds, `since` inclusive and `until` exclusive; None means unbounded.
    """
    frame = scan_dataset(case, EXCHANGES, EXCHANGE_SCHEMA)
    if since is not None:
        frame = frame.filter(pl.col("ts") >= since)
    if until is not None:
        frame = frame.filter(pl.col("ts") < until)
    return frame


def read_exchanges(
    case: Case, *, since: datetime | None = None, until: datetime | None = None
) -> pl.DataFrame:
    return scan_exchanges(case, since=since, until=until).collect()
