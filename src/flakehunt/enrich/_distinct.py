"""Dedup-then-enrich: look each distinct value up once, then join the answers back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import polars as pl

Lookup = Callable[[Sequence[str]], Mapping[str, Sequence[object]]]


class Answers:
    """
    What a lookup answered, kept for the next blocks of the same log: a busy log's block has
    thousands of user agents, nearly all seen in the blocks before.

    Only for lookups whose answer depends on the key alone. Shared by the ingest's threads;
    beyond `limit` keys (random user agents, say) it starts afresh, so memory stays bounded.
    """

    def __init__(self, key: str, targets: Mapping[str, pl.DataType], *, limit: int = 1 << 16) -> None:
        self._key = key
        self._schema = {key: pl.String, **{f"__{name}": dtype for name, dtype in targets.items()}}
        self._limit = limit
        self._lock = threading.Lock()
        self.frame = pl.DataFrame(schema=self._schema)  # replaced, never changed in place

    def add(self, found: pl.DataFrame) -> None:
        with self._lock:
            known = self.frame if self.frame.height + found.height <= self._limit else self.frame.clear()
            # Two threads may have looked up the same key: keep one row per key, or joins double rows.
            self.frame = pl.concat([known, found.cast(self._schema)]).unique(self._key, keep="first")


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
    needed = pl.col(key).is_not_null() & pl.any_horizontal(pl.col(name).is_null() for name in targets)
    keys = frame.lazy().filter(needed).select(pl.col(key).unique()).collect().to_series()
    if keys.is_empty():
        return frame, 0
    known = answers.frame if answers is not None else None
    if known is not None and known.height:
        keys = keys.filter(~keys.is_in(known[key].implode()))
    found = None
    if not keys.is_empty():
        looked_up = lookup(keys.to_list())
        found = pl.DataFrame(
            {key: keys, **{f"__{name}": looked_up[name] for name in targets}},
            schema={key: frame.schema[key], **{f"__{name}": dtype for name, dtype in targets.items()}},
        )
        if answers is not None:
            answers.add(found)
    if known is not None and known.height:
        found = known if found is None else pl.concat([known, found.cast(known.schema)])
    if found is None:
        return frame, 0
    # Join the key column alone, not the whole frame: a join gathers every column it carries,
    # and a frame of exchanges has forty, the vendor map among them.
    answered = frame.select(key).join(found, on=key, how="left", maintain_order="left").drop(key)
    filled = frame.with_columns(answered).with_columns(
        pl.coalesce(name, f"__{name}").alias(name) for name in targets
    )
    return filled.drop(f"__{name}" for name in targets), keys.len()
