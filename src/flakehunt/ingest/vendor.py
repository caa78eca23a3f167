"""
The `vendor` column: every vendor field the normalized columns do not hold, per row, as
{key, value} items of the row's non-null fields in key order (DESIGN.md, "nothing is lost").

Two ways to build it from the same String columns (one per vendor field):

- `vendor_items`, a polars list of {key, value} structs, for frames that stay in memory;
- `vendor_map`, an Arrow map for the Parquet writer, built from the columns' string views
  without copying a string: half the cost, and the keys arrive dictionary-encoded, so the
  writer does not hash them again.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from flakehunt.schema import VENDOR_TYPE

# A string view is 16 bytes: length, 4-byte prefix, then the string itself (up to 12 bytes)
# or the index of the data buffer holding it and the offset there (Arrow columnar format).
_VIEW = np.dtype((np.void, 16))
_INLINE_BYTES = 12
MAP_TYPE = pa.map_(pa.dictionary(pa.int32(), pa.string()), pa.string_view())


def vendor_items(columns: pl.DataFrame, height: int) -> pl.Series:
    """
    The non-null cells of each of `height` rows of `columns` (all String) as a `vendor` list
    of {key, value}. `height` is given because a frame without columns has no rows.

    >>> vendor_items(pl.DataFrame({"a": ["1", None], "b": ["2", "3"]}), 2).to_list()
    [[{'key': 'a', 'value': '1'}, {'key': 'b', 'value': '2'}], [{'key': 'b', 'value': '3'}]]
    """
    if height == 0:
        return pl.Series("vendor", [], dtype=VENDOR_TYPE)
    return pl.Series("vendor", vendor_map(columns, height), dtype=VENDOR_TYPE)


def vendor_map(columns: pl.DataFrame, height: int) -> pa.MapArray:
    """
    The non-null cells of each of `height` rows of `columns` (all String) as an Arrow map.

    The items are the cells' string views, gathered row after row into one view array over
    the columns' own data buffers; numpy moves the 16-byte views, not the strings.

    >>> vendor_map(pl.DataFrame({"a": ["1", None], "b": ["2", "a string past twelve bytes"]}), 2).to_pylist()
    [[('a', '1'), ('b', '2')], [('b', 'a string past twelve bytes')]]
    """
    if columns.width and columns.height != height:
        raise ValueError(f"vendor columns have {columns.height} rows, not {height}")
    # A field that is empty on every row (a CloudFront log's cookies, FLE and range fields, say)
    # adds no item: leaving it out before the gathers saves a third of their work on such a log.
    keys = [name for name in columns.columns if columns[name].null_count() < height]
    grid = np.empty((height, len(keys)), dtype=_VIEW)  # row-major: a row's items in key order
    present = np.empty((height, len(keys)), dtype=bool)
    buffers: list[pa.Buffer] = []
    for index, name in enumerate(keys):
        array = columns[name].cast(pl.String).rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        _, view_buffer, *data = array.buffers()
        views = np.frombuffer(view_buffer, dtype=np.int32).reshape(-1, 4)[
            array.offset : array.offset + height
        ]
        if buffers and data:  # the data buffers are renumbered after the columns before this one
            views = views.copy()
            views[views[:, 0] > _INLINE_BYTES, 2] += len(buffers)
        buffers += data
        grid[:, index] = views.view(_VIEW)[:, 0]
        present[:, index] = True if array.null_count == 0 else np.asarray(array.is_valid())
    offsets = np.zeros(height + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    items = grid[present]
    values = pa.Array.from_buffers(pa.string_view(), len(items), [None, pa.py_buffer(items), *buffers])
    key_index = np.broadcast_to(np.arange(len(keys), dtype=np.int32), present.shape)[present]
    names = pa.DictionaryArray.from_arrays(pa.array(key_index), pa.array(keys, pa.string()))
    return pa.MapArray.from_arrays(pa.array(offsets), names, values, type=MAP_TYPE)
