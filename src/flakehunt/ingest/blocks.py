"""
A block of raw lines in, parsed pieces out; W3C/TSV data goes through polars' CSV reader.

The line-wise parser (parse.py) decodes a block, splits it into lines and cuts each line with
string expressions. For tab-separated logs, the bulk of all input, polars' CSV reader does the
same work straight from the bytes, in parallel and several times faster. It is used only where
it gives exactly what the line-wise parser would: a run of lines without comments, valid UTF-8,
no bare carriage return, no blank line, no empty field before the last non-empty one, no line
over the length limit, and a field count the format allows. Any run where one of these checks
fails goes to the line-wise parser, so malformed lines are still found, counted and rejected with
their line numbers, and the reader never decides what a line means.

A W3C `#Fields` header applies from the line after it (a file concatenated from several logs
may change its fields midway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import numpy as np
import polars as pl
from polars.exceptions import PolarsError

from flakehunt.formats.loader import Format
from flakehunt.ingest.parse import LINE, REJECT_COLUMNS, FileState, Parsed, null_if, parse_chunk
from flakehunt.ingest.read import Block, to_chunk

# Beyond this many comment runs in one block (many small concatenated files), the line-wise
# parser takes the whole block: per-run overhead would cost more than it saves.
MAX_COMMENT_RUNS = 64
_EXTRA = "__extra"


@dataclass
class Piece:
    """Consecutive lines of a block, parsed; `lines()` gives their text, built only when needed."""

    parsed: Parsed
    too_long: pl.DataFrame  # __line, reason, __text
    line_count: int
    lines: Callable[[], pl.DataFrame]


def parse_block(fmt: Format, block: Block, state: FileState) -> Iterator[Piece]:
    """Parse `block` as `fmt` says, in pieces of consecutive lines, in file order."""
    for job in plan_block(fmt, block, state):
        yield job()


def plan_block(fmt: Format, block: Block, state: FileState) -> list[Callable[[], Piece]]:
    """
    Jobs that parse `block` in pieces of consecutive lines, in file order.

    W3C/TSV runs without comments are read by polars' CSV reader when they pass the checks in
    this module's docstring; everything else is parsed line-wise by `parse_chunk`. Comment lines
    are parsed here and now, as they may change `state` (a W3C `#Fields` header); the jobs
    depend on nothing else, so they may run on other threads.
    """
    if fmt.file_type not in ("w3c", "tsv") or len(fmt.delimiter.encode()) != 1:
        return [partial(_line_wise, fmt, block, FileState(state.columns))]
    runs = _runs(block.data, comments=fmt.file_type == "w3c")
    if runs is None:
        return [_done(_line_wise(fmt, block, state))]
    jobs: list[Callable[[], Piece]] = []
    line = block.first_line
    for start, end, is_comment in runs:
        whole = (start, end) == (0, len(block.data))
        run = block if whole else Block(block.data[start:end], line, block.bytes_read)
        line += run.line_count
        if is_comment:
            jobs.append(_done(_line_wise(fmt, run, state)))
        else:
            jobs.append(partial(_data_run, fmt, run, FileState(state.columns)))
    return jobs


def _done(piece: Piece) -> Callable[[], Piece]:
    return lambda: piece


def _data_run(fmt: Format, run: Block, state: FileState) -> Piece:
    rows = read_delimited(fmt, run, state.columns or list(fmt.columns))
    if rows is None:
        return _line_wise(fmt, run, state)
    empty = pl.DataFrame(schema=REJECT_COLUMNS)
    return Piece(Parsed(rows, empty), empty, run.line_count, lambda: to_chunk(run).lines)


def _line_wise(fmt: Format, block: Block, state: FileState) -> Piece:
    chunk = to_chunk(block)
    parsed = parse_chunk(fmt, chunk.lines, state)
    return Piece(parsed, chunk.too_long, chunk.lines.height + chunk.too_long.height, lambda: chunk.lines)


def _runs(data: bytes, *, comments: bool) -> list[tuple[int, int, bool]] | None:
    """(start, end, is_comment) runs of whole lines; None when there are too many comment runs."""
    if not comments or b"#" not in data:
        return [(0, len(data), False)]
    runs: list[tuple[int, int, bool]] = []
    position = 0
    for start in _comment_starts(data):
        newline = data.find(b"\n", start)
        end = len(data) if newline < 0 else newline + 1
        if runs and runs[-1][2] and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end, True)
        else:
            if start > position:
                runs.append((position, start, False))
            runs.append((start, end, True))
            if sum(1 for run in runs if run[2]) > MAX_COMMENT_RUNS:
                return None
        position = end
    if position < len(data):
        runs.append((position, len(data), False))
    return runs


def _comment_starts(data: bytes) -> list[int]:
    """Offsets of the lines that start with `#`."""
    raw = np.frombuffer(data, dtype=np.uint8)
    hashes = np.flatnonzero(raw == ord("#"))
    at_line_start = np.zeros(len(hashes), dtype=bool)
    at_line_start[hashes == 0] = True
    inner = hashes > 0
    at_line_start[inner] = raw[hashes[inner] - 1] == ord("\n")
    return hashes[at_line_start].tolist()


def read_delimited(fmt: Format, block: Block, columns: list[str]) -> pl.DataFrame | None:
    """
    `block`'s lines cut into `columns` by polars' CSV reader, as `parse_chunk` would cut them.

    Returns `__line` plus one String column per vendor field (null values applied), or None when
    any line needs the line-wise parser (see the module docstring).
    """
    data = block.data
    if not data or block.has_over_long_line or not _plain_bytes(data):
        return None
    width = len(columns)
    least = min(fmt.min_columns or width, width)
    names = [f"__f{i}" for i in range(width)]
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            separator=fmt.delimiter,
            quote_char=None,
            schema=dict.fromkeys([*names, _EXTRA], pl.String),
            missing_columns="insert",
            raise_if_empty=False,
        )
    except PolarsError:
        return None  # more fields than the format has, on some line
    if frame.height != block.line_count or not _as_line_wise(frame, names, least):
        return None
    rows = frame.drop(_EXTRA).rename(dict(zip(names, columns, strict=True)))
    line = pl.int_range(block.first_line, block.first_line + frame.height, dtype=pl.Int64).alias(LINE)
    return rows.select(line, *[null_if(fmt.null_values, name) for name in columns])


def _plain_bytes(data: bytes) -> bool:
    """Valid UTF-8, and every carriage return part of a CRLF."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return b"\r" not in data or data.count(b"\r") == data.count(b"\r\n")


def _as_line_wise(frame: pl.DataFrame, names: list[str], least: int) -> bool:
    """
    Would the line-wise parser cut every line the same way?

    It strips trailing delimiters, counts the fields left, keeps empty fields as "" and treats
    whitespace-only lines as blank. The CSV reader makes empty and missing fields null. The two
    agree when every line has `least` to `len(names)` fields (the caller has checked the line
    lengths), no null comes before a line's last non-null field and no line is blank.

    Null counts are kept with each column, so the fields every line must have cost nothing to
    check; only the optional ones are looked at row by row, and only when some line lacks one.
    """
    required, optional = names[: max(least, 1)], names[max(least, 1) :]
    if frame[_EXTRA].null_count() < frame.height or any(frame[name].null_count() for name in required):
        return False
    if least <= 1 and (frame[names[0]].str.strip_chars().str.len_bytes() == 0).any():
        return False  # a whitespace-only line: blank to the line-wise parser
    gaps = [name for name in optional if frame[name].null_count()]
    if not gaps:
        return True
    present = [pl.col(name).is_not_null() for name in optional[optional.index(gaps[0]) :]]
    if len(present) < 2:
        return True  # only the last field is ever missing
    hole = pl.any_horizontal([~here & after for here, after in pairwise(present)])
    return not frame.select(hole.any()).item()
