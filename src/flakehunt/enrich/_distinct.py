"""Dedup-then-enrich: look each distinct value up once, then join the answers back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl

Lookup = Callable[[Sequence[str]], Mapping[str, Sequence[object]]]


def fill_from_distinct(
    frame: pl.DataFrame, key: str, targets: Mapping[str, pl.DataType], lookup: Lookup
) -> tuple[pl.DataFrame, int]:
    """
    Fill the null cells of `targets` from `lookup` over the distinct values of `key`.

    `lookup` gets the distinct keys of the rows that miss at least one target and returns one list
    per target column, aligned with those keys. Values already present are never replaced.

    Returns
    -------
    tuple[pl.DataFrame, int]
        The frame, and how many distinct keys were looked up.
    """
    needed = pl.col(key).is_not_null() & pl.any_horizontal(pl.col(name).is_null() for name in targets)
    keys = frame.lazy().filter(needed).select(pl.col(key).unique()).collect().to_series()
    if keys.is_empty():
        return frame, 0
    answers = lookup(keys.to_list())
    found = pl.DataFrame(
        {key: keys, **{f"__{name}": answers[name] for name in targets}},
        schema={key: frame.schema[key], **{f"__{name}": dtype for name, dtype in targets.items()}},
    )
    # Join the key column alone, not the whole frame: a join gathers every column it carries,
    # and a frame of exchanges has forty, the vendor map among them.
    answered = frame.select(key).join(found, on=key, how="left", maintain_order="left").drop(key)
    filled = frame.with_columns(answered).with_columns(
        pl.coalesce(name, f"__{name}").alias(name) for name in targets
    )
    return filled.drop(f"__{name}" for name in targets), keys.len()
