"""
Look each distinct value up once, then spread the answers back over the rows.

Used for what depends on a cell's value alone: enrichment (a user agent's browser, a POP's city,
an address's country) and %-decoding. A log repeats such values: a block of a million lines may
hold ten thousand user agents.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

Lookup = Callable[[Sequence[str]], Mapping[str, Sequence[object]]]


class Answers:
    """
    What a lookup answered, kept for the next blocks of the same log: a busy log's block has
    thousands of user agents, nearly all seen in the blocks before.

    Only for lookups whose answer depends on the key alone. Shared by the ingest's threads, which
    look up one at a time (`looking_up`): the first blocks of a log, parsed at once, have the same
    user agents, and parsing them twice would double the slowest lookup there is. Beyond `limit`
    keys (random user agents, say) it starts afresh, so memory stays bounded.
    """

    def __init__(self, key: str, targets: Mapping[str, pl.DataType], *, limit: int = 1 << 16) -> None:
        self._key = key
        self._schema = {key: pl.String, **{f"__{name}": dtype for name, dtype in targets.items()}}
        self._limit = limit
        self._lock = threading.Lock()
        self.looking_up = threading.Lock()
        self.frame = pl.DataFrame(schema=self._schema)  # replaced, never changed in place

    def add(self, found: pl.DataFrame) -> None:
        with self._lock:
            known = self.frame if self.frame.height + found.height <= self._limit else self.frame.clear()
            # Two threads may have looked up the same key: keep one row per key, or joins double rows.
            self.frame = pl.concat([known, found.cast(self._schema)]).unique(self._key, keep="first")


def distinct_codes(column: pl.Series) -> tuple[pl.Series, pl.Series]:
    """
    The distinct non-null values of `column`, and for each row the index of its value (null for null).

    One hash per row (Arrow's dictionary encoding); what is then done per value reaches the rows
    by gathering, which copies no string: a join or `replace` hashes every row's string again.

    >>> values, codes = distinct_codes(pl.Series(["b", None, "a", "b"]))
    >>> values.to_list(), codes.to_list()
    (['b', 'a'], [0, None, 1, 0])
    """
    array = column.rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoded = pc.dictionary_encode(array)
    values = pl.Series(column.name, encoded.dictionary).cast(column.dtype)
    return values, pl.Series("code", encoded.indices)


def fill_from_distinct(
    frame: pl.DataFrame,
    key: str,
    targets: Mapping[str, pl.DataType],
    lookup: Lookup,
    answers: Answers | None = None,
) -> tuple[pl.DataFrame, int]:
    """
    Fill the null cells of `targets` from `lookup` over the distinct values of `key`.

    `lookup` gets the distinct keys of the rows that miss at least one target, less those
    `answers` already holds, and returns one list per target column, aligned with those keys.
    Values already present are never replaced.

    Returns
    -------
    tuple[pl.DataFrame, int]
        The frame, and how many distinct keys were looked up.
    """
    column = frame[key]
    if column.null_count() == column.len():
        return frame, 0
    missing = [name for name in targets if frame[name].null_count()]
    if not missing:
        return frame, 0
    values, codes = distinct_codes(column)
    wanted = None  # the values to look up, where not all of them: None for all
    if any(frame[name].null_count() < frame.height for name in missing):  # some rows know already
        needed = frame.select(pl.any_horizontal(pl.col(name).is_null() for name in targets)).to_series()
        wanted = values.gather(codes.filter(needed).drop_nulls().unique())
    with answers.looking_up if answers is not None else nullcontext():
        per_value, looked_up = _per_value(values, wanted, frame.schema[key], targets, lookup, answers)
    filled = frame.with_columns(
        pl.coalesce(pl.col(name), per_value[f"__{name}"].gather(codes)).alias(name) for name in targets
    )
    return filled, looked_up


_KNOWN = "__known"


def _per_value(
    values: pl.Series,
    wanted: pl.Series | None,
    dtype: pl.DataType,
    targets: Mapping[str, pl.DataType],
    lookup: Lookup,
    answers: Answers | None,
) -> tuple[pl.DataFrame, int]:
    """
    The answers for `values`, row for row (the key, then `__target` columns), and how many keys
    had to be looked up: those of `wanted` (all values when None) that `answers` did not hold.

    A block whose keys are all known costs one join: the join itself tells which keys are new.
    """
    key = values.name
    schema = {key: dtype, **{f"__{name}": kind for name, kind in targets.items()}}
    known = answers.frame if answers is not None and answers.frame.height else None
    if known is None:
        per_value = values.to_frame().with_columns(
            pl.lit(None, kind).alias(f"__{name}") for name, kind in targets.items()
        )
        new = values if wanted is None else wanted
    else:
        marked = known.with_columns(pl.lit(True).alias(_KNOWN))
        per_value = values.to_frame().join(marked, on=key, how="left", maintain_order="left")
        new = per_value.filter(pl.col(_KNOWN).is_null())[key]
        if wanted is not None:
            new = new.filter(new.is_in(wanted.implode()))
        per_value = per_value.drop(_KNOWN)
    if new.is_empty():
        return per_value, 0
    looked_up = lookup(new.to_list())
    found = pl.DataFrame({key: new, **{f"__{name}": looked_up[name] for name in targets}}, schema=schema)
    if answers is not None:
        answers.add(found)
    fresh = values.to_frame().join(found, on=key, how="left", maintain_order="left")
    columns = [f"__{name}" for name in targets]
    per_value = per_value.with_columns(pl.coalesce(per_value[c], fresh[c]).alias(c) for c in columns)
    return per_value, new.len()
