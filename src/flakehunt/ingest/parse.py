"""
Cut a chunk of log lines into vendor fields, columnar: one polars expression over the whole chunk.

Input is a frame of `__line` (1-based line number) and `__text`; output is a `Parsed` with one
String column per vendor field (named as the vendor names it, nested JSON keys dotted), the lines
that could not be cut (with a reason) and how many lines were blank or comments.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, field

import polars as pl
from polars.exceptions import ComputeError, InvalidOperationError, PolarsError

from flakehunt.formats.loader import Format

LINE = "__line"
TEXT = "__text"
REJECT_COLUMNS = {LINE: pl.Int64, "reason": pl.String, TEXT: pl.String}


@dataclass
class FileState:
    """What a parser learns from a file's earlier lines (W3C `#Fields`)."""

    columns: list[str] | None = None


@dataclass
class Parsed:
    rows: pl.DataFrame
    rejects: pl.DataFrame
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_COLUMNS)


def parse_chunk(fmt: Format, lines: pl.DataFrame, state: FileState) -> Parsed:
    """Cut `lines` (`__line`, `__text`) into vendor fields as `fmt` says."""
    parser = {
        "w3c": _parse_delimited,
        "tsv": _parse_delimited,
        "regex": _parse_regex,
        "ndjson": _parse_ndjson,
    }
    return parser[fmt.file_type](fmt, lines, state)


def _split_blank(lines: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    blank = pl.col(TEXT).str.strip_chars().str.len_bytes() == 0
    kept = lines.filter(~blank)
    return kept, lines.height - kept.height


def null_if(values: tuple[str, ...], name: str) -> pl.Expr:
    column = pl.col(name)
    if not values:
        return column
    listed = functools.reduce(operator.or_, (column == value for value in values))  # cheaper than is_in
    return pl.when(listed).then(None).otherwise(column).alias(name)


# -- W3C / TSV ------------------------------------------------------------------------------------


def _parse_delimited(fmt: Format, lines: pl.DataFrame, state: FileState) -> Parsed:
    lines, skipped = _split_blank(lines)
    if fmt.file_type == "w3c":
        comments = lines.filter(pl.col(TEXT).str.starts_with("#"))
        for text in comments.filter(pl.col(TEXT).str.starts_with("#Fields:"))[TEXT]:
            state.columns = text[len("#Fields:") :].split()  # TAB or space separated, as seen in the wild
        skipped += comments.height
        lines = lines.filter(~pl.col(TEXT).str.starts_with("#"))
    columns = state.columns or list(fmt.columns)
    width = len(columns)
    least = min(fmt.min_columns or width, width)
    delim = fmt.delimiter
    text = pl.col(TEXT).str.strip_chars_end(delim)  # a trailing delimiter adds no field
    counted = lines.with_columns(text.alias(TEXT)).with_columns(
        (pl.col(TEXT).str.count_matches(delim, literal=True) + 1).alias("__n")
    )
    good = pl.col("__n").is_between(least, width)
    rejects = counted.filter(~good).select(
        LINE,
        pl.format(
            "expected {} {}-separated fields, got {}",
            pl.lit(_range(least, width)),
            pl.lit(_name(delim)),
            "__n",
        ).alias("reason"),
        TEXT,
    )
    ok = counted.filter(good)
    fields = [f"field_{i}" for i in range(width)]
    rows = ok.select(
        LINE,
        pl.col(TEXT).str.split_exact(delim, width - 1).struct.rename_fields(fields).alias("__s"),
    ).unnest("__s")
    rows = rows.rename(dict(zip(fields, columns, strict=True)))
    rows = rows.with_columns(null_if(fmt.null_values, name) for name in columns)
    return Parsed(rows, rejects, skipped)


def _range(least: int, most: int) -> str:
    return str(most) if least == most else f"{least} to {most}"


def _name(delim: str) -> str:
    return {"\t": "tab", ",": "comma", "|": "pipe", " ": "space"}.get(delim, repr(delim))


# -- regex ------------------------------------------------------------------------------------------


def _parse_regex(fmt: Format, lines: pl.DataFrame, state: FileState) -> Parsed:
    lines, skipped = _split_blank(lines)
    comments = pl.col(TEXT).str.starts_with("#")
    skipped += lines.filter(comments).height
    remaining = lines.filter(~comments)
    pieces = []
    for _variant, pattern in fmt.patterns:
        if remaining.height == 0:
            break
        hit = remaining[TEXT].str.contains(pattern)
        matched = remaining.filter(hit)
        remaining = remaining.filter(~hit)
        if matched.height:
            pieces.append(
                matched.select(LINE, pl.col(TEXT).str.extract_groups(pattern).alias("__g")).unnest("__g")
            )
    names = ", ".join(name for name, _ in fmt.patterns)
    rejects = remaining.select(LINE, pl.lit(f"does not match {fmt.name} ({names})").alias("reason"), TEXT)
    rows = pl.concat(pieces, how="diagonal") if pieces else pl.DataFrame(schema={LINE: pl.Int64})
    rows = rows.with_columns(null_if(fmt.null_values, name) for name in rows.columns if name != LINE)
    return Parsed(rows, rejects, skipped)


# -- NDJSON -----------------------------------------------------------------------------------------


def _parse_ndjson(fmt: Format, lines: pl.DataFrame, state: FileState) -> Parsed:
    lines, skipped = _split_blank(lines)
    frame = lines
    if fmt.prefix:
        frame = frame.with_columns(
            pl.col(TEXT).str.extract(f"({fmt.prefix})", 1).str.strip_chars().alias("__prefix"),
            pl.col(TEXT).str.replace(fmt.prefix, "").alias("__json"),
        )
    else:
        frame = frame.with_columns(pl.col(TEXT).alias("__json"))
    frame = frame.with_columns(pl.col("__json").str.strip_chars())
    is_object = pl.col("__json").str.starts_with("{") & pl.col("__json").str.ends_with("}")
    not_objects = frame.filter(~is_object).select(LINE, pl.lit("not a JSON object").alias("reason"), TEXT)
    frame = frame.filter(is_object)
    rows, bad = _decode(frame)
    rejects = pl.concat([not_objects, bad.select(LINE, pl.lit("invalid JSON").alias("reason"), TEXT)])
    if fmt.prefix and "__prefix" in rows.columns:
        rows = rows.rename({"__prefix": "_prefix"})
    rows = rows.drop([c for c in (TEXT, "__json") if c in rows.columns])
    rows = rows.with_columns(null_if(fmt.null_values, name) for name in rows.columns if name != LINE)
    return Parsed(rows, rejects, skipped)


def _decode(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decode `__json` of every row; bisect to find the invalid lines when a chunk fails."""
    if frame.height == 0:
        return frame.select(LINE), frame
    try:
        decoded = frame["__json"].str.json_decode(infer_schema_length=None)
    except (ComputeError, InvalidOperationError, PolarsError):
        if frame.height == 1:
            return frame.head(0).select(LINE), frame
        half = frame.height // 2
        top_rows, top_bad = _decode(frame.head(half))
        low_rows, low_bad = _decode(frame.tail(frame.height - half))
        return pl.concat([top_rows, low_rows], how="diagonal"), pl.concat([top_bad, low_bad])
    if not isinstance(decoded.dtype, pl.Struct):
        return frame.head(0).select(LINE), frame
    keep = [c for c in frame.columns if c in (LINE, "__prefix")]
    leaves = _flatten(decoded.alias("__d").to_frame())
    return pl.concat([frame.select(keep), leaves], how="horizontal"), frame.head(0)


def _flatten(frame: pl.DataFrame, prefix: str = "") -> pl.DataFrame:
    """Nested structs to dotted String columns; lists as their JSON text."""
    out: list[pl.Series] = []
    for column in frame.get_columns():
        for child in _leaves(column, prefix):
            out.append(child)
    return pl.DataFrame(out) if out else pl.DataFrame()


def _leaves(series: pl.Series, prefix: str) -> list[pl.Series]:
    name = series.name
    if name == "__d":
        name = ""
    dotted = f"{prefix}.{name}" if prefix and name else (prefix or name)
    dtype = series.dtype
    if isinstance(dtype, pl.Struct):
        if not dtype.fields:
            return []
        return [leaf for child in series.struct.unnest().get_columns() for leaf in _leaves(child, dotted)]
    if isinstance(dtype, pl.List | pl.Array):
        encoded = pl.struct("v").struct.json_encode().str.slice(5, None).str.strip_suffix("}")
        wrapped = pl.DataFrame({"v": series}).select(  # {"v":[...]} -> [...]
            pl.when(pl.col("v").is_not_null()).then(encoded).alias(dotted)
        )
        return [wrapped[dotted]]
    if dtype == pl.Null:
        return [pl.Series(dotted, [None] * len(series), dtype=pl.String)]
    return [series.cast(pl.String).alias(dotted)]
