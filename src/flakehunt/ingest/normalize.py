"""
Vendor fields to the normalized model (DESIGN.md): UTC microseconds, one cache vocabulary,
path and query apart, provenance on every row, and every unmapped vendor field in `vendor`.
A %-encoded user agent is parsed (ua-parser) in the pass that decodes it: see `_decode_percent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote

import polars as pl

from flakehunt.distinct import Answers, Lookup, fill_from_distinct
from flakehunt.enrich.useragent import UA_COLUMNS, parse_user_agents
from flakehunt.formats.loader import FieldMap, Format
from flakehunt.ingest.parse import LINE, TEXT
from flakehunt.ingest.vendor import vendor_items
from flakehunt.schema import EXCHANGE_SCHEMA, conform

_INTS = {
    "status": pl.Int16,
    "bytes_sent": pl.Int64,
    "content_length": pl.Int64,
    "age": pl.Int32,
    "asn": pl.Int64,
}
_FLOATS = {"time_taken_ms", "ttfb_ms", "pop_lat", "pop_lon"}
_REQUEST = r"^(?P<method>[A-Za-z]+) (?P<target>\S+)(?: (?P<protocol>\S+))?$"
_TARGET = r"^(?P<path>[^?]*)(?:\?(?P<query>.*))?$"
_URL = (
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[^\]]*\]|[^/?#:]*)(?::\d+)?)?"
    r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?"
)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def normalize(fmt: Format, rows: pl.DataFrame, *, file_label: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """
    Turn vendor-field rows (`__line` + vendor columns) into EXCHANGE_SCHEMA rows.

    Returns the exchanges and the rows whose time could not be read (`__line`, reason, `__text`
    is left null: the caller knows the text).
    """
    normalized = normalize_apart(fmt, rows, file_label=file_label)
    exchanges = normalized.exchanges
    exchanges = exchanges.with_columns(vendor_items(normalized.vendor, exchanges.height))
    return exchanges, normalized.bad_time


@dataclass
class Normalized:
    """`normalize_apart`'s result: exchanges, their vendor fields beside them, bad times."""

    exchanges: pl.DataFrame  # EXCHANGE_SCHEMA, `vendor` left empty
    vendor: pl.DataFrame  # one String column per vendor field, row for row with `exchanges`
    # (no columns, and so no rows, when the format has no vendor fields)
    bad_time: pl.DataFrame  # __line, reason, __text (null)
    agents_parsed: bool = False  # the user-agent columns were filled with the %-decoding


def normalize_apart(fmt: Format, rows: pl.DataFrame, *, file_label: str) -> Normalized:
    """
    `normalize`, with the vendor fields left as columns beside the exchanges: the ingest
    pipeline filters them with the rows and builds the Parquet map from them (vendor.py).
    """
    present = set(rows.columns) - {LINE}
    rows, parsed_agents = _decode_percent(fmt, rows, present)
    agents = {name: _AGENT + name for name in UA_COLUMNS} if parsed_agents else {}
    rows = rows.with_columns(timestamp(fmt, present).alias("__ts"))
    bad_time = rows.filter(pl.col("__ts").is_null())
    rejects = bad_time.select(
        LINE, _time_reason(fmt, present).alias("reason"), pl.lit(None, pl.String).alias(TEXT)
    )
    if bad_time.height:
        rows = rows.filter(pl.col("__ts").is_not_null())

    targets: dict[str, list[FieldMap]] = {}
    for mapping in fmt.fields:
        if mapping.vendor in present:
            targets.setdefault(mapping.to, []).append(mapping)
    columns = {name: _coalesced(fmt, mappings) for name, mappings in targets.items()}
    frame = rows.lazy().with_columns(expr.alias(f"__t_{name}") for name, expr in columns.items())
    frame = _composites(frame, set(columns))
    filled = set(columns) | _composite_outputs(set(columns))
    numbers = list(  # numeric fields not kept in `vendor` anyway, each once
        {
            m.vendor: m
            for ms in targets.values()
            for m in ms
            if (m.to in _INTS or m.to in _FLOATS) and not m.keep
        }.values()
    )
    out = frame.select(
        pl.col("__ts").alias("ts"),
        pl.lit(fmt.source).alias("source"),
        pl.lit(fmt.name).alias("format"),
        *[_column(name, name in filled) for name in _NORMAL if name not in agents],
        *[
            pl.coalesce(_column(name, name in filled), pl.col(column)).alias(name)
            for name, column in agents.items()
        ],
        pl.lit(file_label).alias("file"),
        pl.col(LINE).alias("line"),
        *[pl.col(m.vendor).cast(pl.String).alias(_RAW_NUMBER + m.vendor) for m in numbers],
    ).collect()
    unread = _unread_numbers(out, numbers)
    out = conform(out)
    if "client_ip" in filled:
        out = _first_addresses(out)
    vendor = rows.select(pl.col(key).cast(pl.String) for key in _vendor_keys(fmt, present))
    if unread.width:  # what no number column could hold stays, as text, with the vendor fields
        vendor = pl.concat([vendor, unread], how="horizontal") if vendor.width else unread
    return Normalized(out, vendor, rejects, agents_parsed=bool(agents))


_RAW_NUMBER = "__number_text_"


def _unread_numbers(out: pl.DataFrame, numbers: list[FieldMap]) -> pl.DataFrame:
    """
    The text of each numeric vendor field on the rows whose number column stayed empty though
    the field was not (a status of 99999, a byte count past int64), under the field's name;
    only the fields where that happened. So nothing is lost, yet the common case costs a check.
    """
    columns = []
    for mapping in numbers:
        raw = out[_RAW_NUMBER + mapping.vendor]
        lost = raw.is_not_null() & out[mapping.to].is_null()  # null masks only: no string is read
        if lost.any():
            lost &= raw.str.strip_chars().str.len_bytes() > 0  # an empty field is no number
        if lost.any():
            columns.append(pl.select(pl.when(lost).then(raw)).to_series().alias(mapping.vendor))
    return pl.DataFrame(columns)


_NORMAL = [n for n in EXCHANGE_SCHEMA if n not in {"ts", "source", "format", "file", "line", "vendor"}]


def _composite_outputs(mapped: set[str]) -> set[str]:
    out: set[str] = set()
    if "request" in mapped:
        out |= {"method", "path", "query"}
    if "target" in mapped:
        out |= {"path", "query"}
    if "url" in mapped:
        out |= {"scheme", "host", "path", "query"}
    return out


def _composites(frame: pl.LazyFrame, mapped: set[str]) -> pl.LazyFrame:
    """Split request lines, targets and URLs, filling only what a direct mapping left empty."""
    parts: dict[str, list[pl.Expr]] = {}
    if "request" in mapped:
        req = pl.col("__t_request").str.extract_groups(_REQUEST)
        parts.setdefault("method", []).append(req.struct.field("method"))
        target = req.struct.field("target").str.extract_groups(_TARGET)
        parts.setdefault("path", []).append(target.struct.field("path"))
        parts.setdefault("query", []).append(target.struct.field("query"))
    if "target" in mapped:
        target = pl.col("__t_target").str.extract_groups(_TARGET)
        parts.setdefault("path", []).append(target.struct.field("path"))
        parts.setdefault("query", []).append(target.struct.field("query"))
    if "url" in mapped:
        url = pl.col("__t_url").str.extract_groups(_URL)
        for name in ("scheme", "host", "path", "query"):
            parts.setdefault(name, []).append(url.struct.field(name))
    updates = []
    for name, exprs in parts.items():
        direct = [pl.col(f"__t_{name}")] if name in mapped else []
        updates.append(pl.coalesce([*direct, *exprs]).alias(f"__t_{name}"))
    return frame.with_columns(updates) if updates else frame


def _column(name: str, filled: bool) -> pl.Expr:
    dtype = EXCHANGE_SCHEMA[name]
    if not filled:
        return pl.lit(None, dtype).alias(name)
    value = pl.col(f"__t_{name}")
    if name in _INTS:
        as_int = value.cast(pl.Int64, strict=False)
        as_float = value.cast(pl.Float64, strict=False).round(0).cast(pl.Int64, strict=False)
        value = pl.coalesce(as_int, as_float)
        low, high = {pl.Int16: (-(2**15), 2**15 - 1), pl.Int32: (-(2**31), 2**31 - 1)}.get(
            _INTS[name], (None, None)
        )
        if low is not None:
            value = pl.when(value.is_between(low, high)).then(value)
        return value.cast(_INTS[name]).alias(name)
    if name in _FLOATS:
        return value.cast(pl.Float64, strict=False).alias(name)
    value = value.cast(pl.String)
    value = pl.when(value.str.len_bytes() > 0).then(value)
    if name == "edge_pop":
        value = value.str.to_uppercase()
    elif name == "scheme":
        value = value.str.to_lowercase()
    elif name == "path":
        value = (
            pl.when(value.str.starts_with("/") | value.str.starts_with("*") | value.str.contains("://"))
            .then(value)
            .otherwise(pl.lit("/") + value)
        )
    elif name == "host":
        value = value.str.replace(r":\d+$", "").str.to_lowercase()
    return value.alias(name)


def _first_addresses(frame: pl.DataFrame) -> pl.DataFrame:
    """
    `client_ip` through `_client_ip`, each distinct value once, and only those that need it.

    A value without quotes, commas, whitespace or brackets, and not both `:` and `.`, is
    already one bare address; the regexes would cost a third of normalizing for nothing.
    """
    ip = pl.col("client_ip")
    odd = ip.str.contains(r'[",\s\[]|:.*\.|\..*:')  # one pass; three `contains` cost twice as much
    distinct = frame.filter(odd)["client_ip"].unique()
    if distinct.len() == 0:
        return frame
    fixed = pl.select(_client_ip(pl.lit(distinct))).to_series()
    return frame.with_columns(ip.replace(distinct, fixed))


def _client_ip(value: pl.Expr) -> pl.Expr:
    """First address of an X-Forwarded-For chain, without quotes, brackets or an IPv4 port."""
    first = value.str.strip_chars('" ').str.extract(r"^([^,\s]+)", 1)
    bracketed = first.str.extract(r"^\[([^\]]+)\](?::\d+)?$", 1)
    v4_port = first.str.extract(r"^(\d+\.\d+\.\d+\.\d+):\d+$", 1)
    return pl.coalesce(bracketed, v4_port, first)


def _coalesced(fmt: Format, mappings: list[FieldMap]) -> pl.Expr:
    """The first non-null of the vendor fields mapped to one column; scaled floats skip text."""
    values = [_value(fmt, mapping) for mapping in mappings]
    if mappings[0].to not in _FLOATS or any(mapping.scale is None for mapping in mappings):
        values = [value.cast(pl.String) for value in values]
    return pl.coalesce(values)


def _value(fmt: Format, mapping: FieldMap) -> pl.Expr:
    value = pl.col(_decoded_name(mapping) if mapping.decode else mapping.vendor)
    if mapping.extract:
        value = value.str.extract(mapping.extract, 1)
    if mapping.vocab:
        table = fmt.vocab[mapping.vocab]
        value = pl.when(value.is_not_null()).then(
            value.replace_strict(list(table), list(table.values()), default="other", return_dtype=pl.String)
        )
    if mapping.scale is not None:
        return value.cast(pl.Float64, strict=False) * mapping.scale
    return value.cast(pl.String)


def _decoded_name(mapping: FieldMap) -> str:
    return f"__dec_{mapping.vendor}"


def _decode_percent(fmt: Format, rows: pl.DataFrame, present: set[str]) -> tuple[pl.DataFrame, bool]:
    """
    %-decode each distinct value once (user agents repeat), not once per line.

    The format's one user-agent field is parsed in the same pass (`__agent_` columns): the
    distinct agents are at hand here, and the enrichment would hash them all again. Returns the
    rows and whether it did.
    """
    added = []
    agent = _agent_field(fmt, present)
    for mapping in fmt.fields:
        if not mapping.decode or mapping.vendor not in present:
            continue
        times = 2 if mapping.decode == "percent2" else 1
        parses = mapping.vendor == agent
        targets = {_DECODED: pl.String, **(UA_COLUMNS if parses else {})}
        raw = rows.select(
            pl.col(mapping.vendor).cast(pl.String).alias(_RAW),
            *[pl.lit(None, kind).alias(name) for name, kind in targets.items()],
        )
        lookup, answers = (
            (_agent_decoder(times), _DECODED_AGENTS[times])
            if parses
            else (_decoder(times), _DECODINGS[times])
        )
        decoded, _ = fill_from_distinct(raw, _RAW, targets, lookup, answers)
        added.append(decoded[_DECODED].alias(_decoded_name(mapping)))
        if parses:
            added += [decoded[name].alias(_AGENT + name) for name in UA_COLUMNS]
    return (rows.with_columns(added) if added else rows), agent is not None


def _agent_field(fmt: Format, present: set[str]) -> str | None:
    """
    The vendor field whose decoded value is the `user_agent` column as it stands: the only one
    mapped to it, %-decoded, with no pattern or vocabulary applied after; else None.
    """
    mappings = [m for m in fmt.fields if m.to == "user_agent" and m.vendor in present]
    if len(mappings) != 1 or not mappings[0].decode or mappings[0].extract or mappings[0].vocab:
        return None
    return mappings[0].vendor


_RAW, _DECODED, _AGENT = "__raw", "__decoded", "__agent_"
_DECODINGS = {times: Answers(_RAW, {_DECODED: pl.String}) for times in (1, 2)}  # shared by the threads
_DECODED_AGENTS = {times: Answers(_RAW, {_DECODED: pl.String, **UA_COLUMNS}) for times in (1, 2)}


@cache
def _decoder(times: int) -> Lookup:
    return lambda values: {_DECODED: [_unquote(value, times) for value in values]}


@cache
def _agent_decoder(times: int) -> Lookup:
    """Decode, then parse as `enrich` would the `user_agent` column (an empty agent is null)."""

    def lookup(values):
        decoded = [_unquote(value, times) for value in values]
        parsed = parse_user_agents([agent or "-" for agent in decoded])
        return {_DECODED: decoded, **parsed}

    return lookup


def _unquote(value: str, times: int) -> str:
    for _ in range(times):
        if not _ESCAPE.search(value):
            break
        value = unquote(value, errors="replace")
    return value


# -- time ---------------------------------------------------------------------------------------------


def timestamp(fmt: Format, present: set[str]) -> pl.Expr:
    """The row's time as UTC microseconds, from the first of the format's time fields present."""
    spec = fmt.timestamp
    candidates = []
    groups = [spec.fields] + [(alt,) for alt in spec.alternatives]
    for group in groups:
        if not all(name in present for name in group):
            continue
        text = (
            pl.col(group[0])
            if len(group) == 1
            else pl.concat_str([pl.col(n) for n in group], separator=spec.join)
        )
        candidates.append(parse_time(text, spec.parse))
    if not candidates:
        return pl.lit(None, pl.Datetime("us", "UTC"))
    return pl.coalesce(candidates)


def parse_time(text: pl.Expr, how: str) -> pl.Expr:
    """
    Parse times to UTC microseconds: `rfc3339`, `epoch` (s, ms, us or ns by magnitude),
    `epoch_or_rfc3339`, or a strftime pattern (UTC unless it has %z).

    >>> pl.select(parse_time(pl.lit("2021-12-15T03:10:11.6479719Z"), "rfc3339")).item()
    datetime.datetime(2021, 12, 15, 3, 10, 11, 647971, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    """
    text = text.cast(pl.String).str.strip_chars()
    if how == "rfc3339":
        return _rfc3339(text)
    if how == "epoch":
        return _epoch(text)
    if how == "epoch_or_rfc3339":
        return pl.coalesce(_epoch(text), _rfc3339(text))
    parsed = text.str.to_datetime(how, strict=False, time_unit="us", exact=True)
    if "%z" in how or "%:z" in how:
        return parsed.dt.convert_time_zone("UTC")
    return parsed.dt.replace_time_zone("UTC")


def _rfc3339(text: pl.Expr) -> pl.Expr:
    iso = text.str.replace(r"[Zz]$", "+00:00").str.replace(r"^(\d{4}-\d{2}-\d{2})[ t]", "${1}T")
    aware = iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us").dt.convert_time_zone(
        "UTC"
    )
    naive = iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us").dt.replace_time_zone(
        "UTC"
    )
    return pl.coalesce(aware, naive)


def _epoch(text: pl.Expr) -> pl.Expr:
    whole = pl.when(text.str.contains(r"^\d{1,19}$")).then(text).cast(pl.Int64, strict=False)
    micros_from_int = (
        pl.when(whole >= 10**17)
        .then(whole // 1000)
        .when(whole >= 10**14)
        .then(whole)
        .when(whole >= 10**11)
        .then(whole * 1000)
        .otherwise(whole * 1_000_000)
    )
    fraction = pl.when(text.str.contains(r"^\d{1,12}\.\d+$")).then(text).cast(pl.Float64, strict=False)
    micros_from_float = (fraction * 1_000_000).round(0).cast(pl.Int64)
    micros = pl.coalesce(micros_from_int, micros_from_float)
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")


def _time_reason(fmt: Format, present: set[str]) -> pl.Expr:
    fields = [n for n in (*fmt.timestamp.fields, *fmt.timestamp.alternatives) if n in present]
    if not fields:
        wanted = " + ".join(fmt.timestamp.fields)
        return pl.lit(f"no time field ({wanted})")
    first = [n for n in fmt.timestamp.fields if n in present] or fields[:1]
    shown = pl.concat_str([pl.col(n).fill_null("null") for n in first], separator=fmt.timestamp.join)
    return pl.format("time {} is not {}", shown, pl.lit(fmt.timestamp.parse))


# -- vendor fields ---------------------------------------------------------------------------------


def _vendor_keys(fmt: Format, present: set[str]) -> list[str]:
    mapped = {m.vendor for m in fmt.fields if not m.keep} | set(fmt.timestamp.fields)  # the time is in `ts`
    return sorted(n for n in present if n not in mapped and not n.startswith("__"))
