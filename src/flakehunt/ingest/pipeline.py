"""
The ingest pipeline: files -> detect -> parse -> normalize -> filter -> enrich -> Parquet parts.

Each input file becomes one part of the case's `exchanges` dataset (and one of `rejects`), named
by the hash of its bytes (ingest/digest.py), written to a temporary file chunk by chunk and renamed at the end:
memory stays bounded by the chunk size, a crash leaves the dataset as it was, and ingesting the
same file again finds the part and adds nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl
import pyarrow as pa

from flakehunt import store
from flakehunt.case import Case, record
from flakehunt.enrich import enrich_exchanges
from flakehunt.errors import BrokenDocumentError, FlakehuntError, UnknownFormatError
from flakehunt.formats.loader import Format, load_formats
from flakehunt.ingest import custom
from flakehunt.ingest.blocks import Piece, plan_block
from flakehunt.ingest.detect import detect_format
from flakehunt.ingest.digest import ContentHash, in_legacy_part, remember_digest, start_digest
from flakehunt.ingest.har import more_after_har, parse_har
from flakehunt.ingest.inputs import Input, expanded
from flakehunt.ingest.normalize import normalize_apart
from flakehunt.ingest.parse import LINE, TEXT, FileState, parse_chunk
from flakehunt.ingest.parts import REJECTS, PartKey, PartWriter, arrow_table
from flakehunt.ingest.read import (
    DAMAGED,
    HEAD_BYTES,
    JSON_DOCUMENT_LIMIT,
    MAX_LINE_BYTES,
    TooLargeError,
    TruncatedInputError,
    compression,
    iter_blocks,
    lines_from_text,
    not_text,
    read_head,
    read_whole,
    unreadable,
)
from flakehunt.ingest.summary import BROKEN, SKIPPED, FileResult, IngestSummary, already_ingested
from flakehunt.schema import EXCHANGE_SCHEMA, REJECT_SCHEMA, conform
from flakehunt.timeparse import check_window

ProgressFn = Callable[[str, int, int], None]
_WORKERS = 2  # blocks parsed at once


def ingest_paths(
    paths: Sequence[Path | str],
    *,
    case: Case,
    format_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    host: str | None = None,
    on_progress: ProgressFn | None = None,
    nginx_format: str | None = None,
    fields: str | None = None,
    mapping: str | None = None,
    geoip_dir: Path | None = None,
) -> IngestSummary:
    """
    Parse, normalize and enrich log or HAR files into `case`'s exchanges dataset.

    Parameters
    ----------
    paths
        Files, folders (read recursively), globs, `.gz`/`.zst` files, or `-` for stdin.
    case
        The case to add to.
    format_name
        Skip detection and read every file as this format (see `flakehunt formats`).
    since, until
        Keep only exchanges with `since <= ts < until` (naive datetimes are UTC).
    host
        Keep only exchanges for this Host (case-insensitive).
    on_progress
        Called as `(label, bytes_done, bytes_total)` while a file is read.
    nginx_format
        An nginx `log_format` string; files are read with a parser built from it.
    fields
        The field list of W3C/TSV files without a `#Fields` header (CloudFront real-time logs).
    mapping
        `column=key,...` for JSON lines with other key names.
    geoip_dir
        Folder with MaxMind databases for enrichment.

    Returns
    -------
    IngestSummary
        Per file: lines read, rows kept, rejected, detected format, and whether it was new.

    Raises
    ------
    FlakehuntError
        A path does not exist, a format name is unknown, or no format matches a file.
    """
    store.remove_stale_temporaries(case)  # a killed ingest's half-written part
    formats = load_formats()
    forced = _forced_format(formats, format_name, nginx_format, fields, mapping)
    since, until = _utc(since), _utc(until)
    check_window(since, until)
    variant = _variant_key(forced, since, until, host)
    summary = IngestSummary(case.id)
    notes: set[str] = set()
    unknown: list[UnknownFormatError] = []
    broken: list[BrokenDocumentError] = []
    params = {
        "paths": [str(p) for p in paths],
        "format": format_name,
        "since": since,
        "until": until,
        "host": host,
    }
    with expanded(paths) as inputs:
        notes.update(inputs.notes)
        for source in inputs.files:
            label, named = source.label, source.named
            try:
                result = _ingest_file(
                    source,
                    case=case,
                    formats=formats,
                    forced=forced,
                    variant=variant,
                    window=(since, until, host),
                    on_progress=on_progress,
                    geoip_dir=geoip_dir,
                    notes=notes,
                )
            except BrokenDocumentError as exc:
                if named:
                    raise _after(exc, case, summary, params) from None
                notes.add(str(exc))  # a customer's cut HAR in a folder: said, not passed over
                broken.append(exc)
                result = FileResult(label, None, status=BROKEN)
            except UnknownFormatError as exc:
                if named:
                    raise _after(exc, case, summary, params) from None
                unknown.append(exc)  # a README or manifest beside the logs in a folder
                result = FileResult(label, None, status=SKIPPED)
            except FlakehuntError as exc:
                raise _after(exc, case, summary, params) from None
            if result.known:
                notes.add(
                    f"{label!r}: {result.known:,} line(s) were in the case already, from an ingest of "
                    "the same content with other options; they were not added again"
                )
            summary.files.append(result)
    if summary.files and len(unknown) + len(broken) == len(summary.files):  # nothing could be read
        first, *others = [*broken, *unknown]  # a broken HAR first: it is what the customer sent
        more = f" (and {len(others)} more file(s) that could not be read either)" if others else ""
        raise type(first)(f"{first}{more}")
    if unknown:
        notes.add(
            f"{len(unknown)} file(s) skipped, as no known format matches them; to read one, name it "
            "with --format NAME (see 'flakehunt formats')"
        )
    summary.notes = sorted(notes)
    outcome = f"{len(summary.files)} file(s), {summary.rows_added} rows added, {summary.rejected} rejected"
    record(case, "ingest", params=params, outcome=outcome)
    return summary


def _after(error: FlakehuntError, case: Case, summary: IngestSummary, params: dict) -> FlakehuntError:
    """
    `error`, saying what the files before it added (each file's rows are in the case already),
    which the journal records too.
    """
    added = [f for f in summary.files if f.status == "ingested"]
    if not added:
        return error
    rows = sum(f.kept for f in added)
    outcome = f"stopped by an error after {len(added)} file(s), {rows} rows added: {error}"
    record(case, "ingest", params=params, outcome=outcome)
    return type(error)(
        f"{error} ({len(added)} file(s) before it added {rows:,} rows to case {summary.case_id}; "
        "run again without it to go on: what is in is not added twice)"
    )


def _forced_format(formats, format_name, nginx_format, fields, mapping) -> Format | None:
    if nginx_format:
        return custom.nginx_log_format(nginx_format)
    if format_name is None and (fields or mapping):
        format_name = "cloudfront_realtime" if fields else "json_lines"
    if format_name is None:
        return None
    if format_name not in formats:
        near = [name for name in sorted(formats) if name.startswith(format_name.lower())]
        near = near or difflib.get_close_matches(format_name.lower(), formats, n=3)
        closest = f" (closest: {', '.join(near)})" if near else ""
        raise FlakehuntError(
            f"unknown format {format_name!r}{closest}; known: {', '.join(sorted(formats))} "
            "(see 'flakehunt formats')"
        )
    fmt = formats[format_name]
    if fields:
        fmt = custom.with_columns(fmt, fields)
    if mapping:
        fmt = custom.with_mapping(fmt, mapping)
    return fmt


def _variant_key(forced: Format | None, since, until, host) -> str:
    """Part ids are the file's content hash; options that change what is kept add a short suffix."""
    if forced is None and since is None and until is None and host is None:
        return ""
    described = json.dumps(
        [
            forced
            and (
                forced.name,
                forced.origin,
                forced.patterns,
                forced.columns,
                [m.vendor for m in forced.fields],
            ),
            since,
            until,
            host and host.lower(),
        ],
        default=str,
    )
    return "-" + hashlib.sha256(described.encode()).hexdigest()[:12]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ingest_file(
    source: Input, *, case, formats, forced, variant, window, on_progress, geoip_dir, notes
) -> FileResult:
    path, label = source.path, source.label
    digest = start_digest(case, path)
    if digest.known and any(
        store.has_part(case, store.EXCHANGES, i) for i in PartKey(digest.known, variant).ids
    ):
        return already_ingested(label)
    if digest.known is None and in_legacy_part(case, path, variant):
        return already_ingested(label)

    content = ContentHash() if compression(path) else None

    def part_key() -> PartKey:  # asked for when the part is complete, so the hash runs beside the parse
        digests = digest.result()
        if content and content.value and content.value not in digests:
            digests = [content.value, *digests]  # a part is written under the first
        if digests != digest.known and not source.spooled:
            remember_digest(case, path, digests)
        return PartKey(digests, variant)

    head, broken = read_head(path)
    if what := not_text(head):
        raise UnknownFormatError(f"{label!r} {what}")
    if content and not broken and len(head) < HEAD_BYTES:
        content.of(head)  # a head shorter than asked for is the whole file
    document, not_json = _json_document(path, head, content)
    if document is not None and _is_har(document):
        return _ingest_har(
            path,
            document,
            label,
            case=case,
            part_key=part_key,
            window=window,
            geoip_dir=geoip_dir,
            notes=notes,
        )
    if not head.strip():  # an empty file, or a compressed one broken before its first line
        result = FileResult(label, forced.name if forced else None, rejected=1 if broken else 0)
        with PartWriter(case, part_key) as writer:
            writer.exchanges(conform(pl.DataFrame(schema=EXCHANGE_SCHEMA)))
            if broken:
                writer.rejects(_cut_stream(1, broken), label, result.format)
        return writer.outcome(result)
    if document is not None:
        return _ingest_records(
            document,
            path,
            label,
            case=case,
            formats=formats,
            forced=forced,
            part_key=part_key,
            window=window,
            geoip_dir=geoip_dir,
            notes=notes,
        )
    sniff = _sniff_lines(head)
    if forced is None and len(head) < HEAD_BYTES and _only_comments(sniff):
        # e.g. a CloudFront log of an hour without requests: a header and nothing else
        with PartWriter(case, part_key) as writer:
            writer.exchanges(conform(pl.DataFrame(schema=EXCHANGE_SCHEMA)))
        return writer.outcome(FileResult(label, None, lines=sniff.height, skipped=sniff.height))
    fmt = forced or _detect(sniff, formats, label, not_json)
    result = FileResult(label, fmt.name)
    state = FileState()
    total = path.stat().st_size
    prepare = partial(_prepare, fmt, label=label, window=window, geoip_dir=geoip_dir)
    finish = partial(_finish, fmt, label, result, notes)
    with PartWriter(case, part_key) as writer, _InOrder(workers=_WORKERS, ahead=_WORKERS) as jobs:
        try:
            for block in iter_blocks(path, on_decompressed=content.reading() if content else None):
                for job in plan_block(fmt, block, state):
                    jobs.submit(partial(prepare, job), partial(finish, writer))
                if on_progress:
                    on_progress(label, block.bytes_read, total)
            if content:
                content.read_all()
        except TruncatedInputError as exc:
            jobs.drain()
            writer.rejects(_cut_stream(result.lines + 1, str(exc)), label, fmt.name)
            result.rejected += 1
    return writer.outcome(result)


def _cut_stream(line: int, why: str) -> pl.DataFrame:
    """The reject that stands for a compressed file's lost end, at the line after the last read."""
    return pl.DataFrame(
        {LINE: [line], "reason": [f"compressed stream ends early ({why})"], TEXT: [None]},
        schema={LINE: pl.Int64, "reason": pl.String, TEXT: pl.String},
    )


def _detect(sniff: pl.DataFrame, formats, label: str, not_json: str) -> Format:
    """`detect_format`, saying so when the file looked like one JSON document (a HAR) but is not."""
    try:
        return detect_format(sniff, formats, label=label)
    except UnknownFormatError:
        if not not_json:
            raise
        raise BrokenDocumentError(f"{label!r} {not_json}") from None


@dataclass
class _Prepared:
    """One piece, parsed, normalized, filtered and enriched: what `_finish` counts and writes."""

    piece: Piece
    exchanges: pa.Table  # as written to Parquet: built here, so the one writer thread only writes
    rejects: pl.DataFrame
    filtered: int
    notes: list[str]


def _prepare(fmt: Format, job: Callable[[], Piece], label: str, window, geoip_dir) -> _Prepared:
    """Parse, normalize, filter and enrich one piece (on a worker thread)."""
    piece = job()
    parsed = piece.parsed
    normalized = normalize_apart(fmt, parsed.rows, file_label=label)
    exchanges, vendor, bad_time = normalized.exchanges, normalized.vendor, normalized.bad_time
    if bad_time.height:
        bad_time = bad_time.drop(TEXT).join(piece.lines(), on=LINE, how="left")
    rejects = pl.concat(
        [piece.too_long, parsed.rejects, bad_time.select(LINE, "reason", TEXT)], how="vertical_relaxed"
    )
    before = exchanges.height
    kept = _in_window(exchanges, window)
    if kept is not None:
        exchanges = exchanges.filter(kept)
        vendor = vendor.filter(kept) if vendor.width else vendor
    notes: set[str] = set()
    exchanges = _enrich(exchanges, geoip_dir, notes, agents=not normalized.agents_parsed)
    table = arrow_table(exchanges, vendor)
    return _Prepared(piece, table, rejects, before - exchanges.height, sorted(notes))


def _finish(fmt, label, result, notes, writer, prepared: _Prepared) -> None:
    """Count and write one prepared piece (on the caller's thread, in file order)."""
    result.lines += prepared.piece.line_count
    result.skipped += prepared.piece.parsed.skipped
    result.rejected += prepared.rejects.height
    result.filtered += prepared.filtered
    result.kept += prepared.exchanges.num_rows
    notes.update(prepared.notes)
    writer.exchanges(prepared.exchanges)
    writer.rejects(prepared.rejects, label, fmt.name)


class _InOrder:
    """
    Run jobs on worker threads and hand each result to its callback on this thread, in the
    order the jobs were submitted, with at most `ahead` results waiting.

    Parsing (polars, numpy) releases the GIL for its heavy work, so two blocks in flight keep
    both cores of a small machine busy where one block at a time leaves gaps.
    """

    def __init__(self, *, workers: int, ahead: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flakehunt-parse")
        self._queue: deque[tuple[Future, Callable]] = deque()
        self._ahead = ahead

    def __enter__(self) -> _InOrder:
        return self

    def submit(self, job: Callable, then: Callable) -> None:
        self._queue.append((self._pool.submit(job), then))
        while len(self._queue) > self._ahead:
            self._next()

    def drain(self) -> None:
        while self._queue:
            self._next()

    def _next(self) -> None:
        future, then = self._queue.popleft()
        then(future.result())

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.drain()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _filter(frame: pl.DataFrame, window) -> pl.DataFrame:
    kept = _in_window(frame, window)
    return frame if kept is None else frame.filter(kept)


def _in_window(frame: pl.DataFrame, window) -> pl.Series | None:
    """Which rows are inside --since/--until/--host; None when no filter is set."""
    since, until, host = window
    conditions = []
    if since is not None:
        conditions.append(pl.col("ts") >= since)
    if until is not None:
        conditions.append(pl.col("ts") < until)
    if host:
        conditions.append(pl.col("host").str.to_lowercase() == host.lower())
    if not conditions:
        return None
    return frame.select(pl.all_horizontal(conditions).fill_null(False)).to_series()


def _enrich(
    frame: pl.DataFrame, geoip_dir: Path | None, notes: set[str], *, agents: bool = True
) -> pl.DataFrame:
    if frame.height == 0:
        return frame
    enriched, messages = enrich_exchanges(frame, geoip_dir=geoip_dir, agents=agents)
    notes.update(messages)
    return conform(enriched)


def _only_comments(lines: pl.DataFrame) -> bool:
    text = lines[TEXT].str.strip_chars()
    return bool(((text.str.len_bytes() == 0) | text.str.starts_with("#")).all())


def _sniff_lines(head: bytes) -> pl.DataFrame:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.split("\n")
    if len(head) >= HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    picked, content = [], 0
    for line in lines:
        picked.append(line[:MAX_LINE_BYTES])
        if line.strip() and not line.startswith("#"):
            content += 1
        if content >= 64:
            break
    return lines_from_text("\n".join(picked))


# -- JSON documents: HAR, or a pretty-printed object/array of records ------------------------------


_LIKE_JSON = "starts like a JSON document (a HAR?) but"


def _json_document(path: Path, head: bytes, content: ContentHash | None) -> tuple[dict | list | None, str]:
    """
    The parsed document when the file is one JSON value (not JSON lines), else None; and, for
    a file that starts like one but is not, what to tell the user ("" for JSON lines). A
    compressed file read whole gives `content` its key.
    """
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start not in (b"{", b"["):
        return None, ""
    too_large = (
        f"{_LIKE_JSON} is over the {JSON_DOCUMENT_LIMIT >> 20} MB a HAR may be, decompressed "
        "(a HAR is read whole); record a shorter session"
    )
    if path.stat().st_size > JSON_DOCUMENT_LIMIT:
        return None, too_large  # said only if no line format reads it (a large JSON lines log)
    try:
        data = read_whole(path, limit=JSON_DOCUMENT_LIMIT)
    except TooLargeError:
        return None, too_large
    except DAMAGED as exc:
        return None, f"{_LIKE_JSON} its compressed stream ends early ({exc}); was it cut short?"
    except OSError as exc:  # as for any other input: one line, and the ingest stops
        raise unreadable(path, exc) from None
    if content:
        content.of(data)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return None, f"{_LIKE_JSON} is not UTF-8 ({exc.reason} at byte {exc.start})"
    except RecursionError:
        return None, f"{_LIKE_JSON} is nested more deeply than Python's JSON reader can follow"
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # a value per line (JSON lines), or a HAR and more
            return None, more_after_har(exc)
        where = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        return None, f"{_LIKE_JSON} does not parse: {where}; was it cut short?"
    return (document, "") if isinstance(document, dict | list) else (None, "")


def _is_har(document) -> bool:
    return (
        isinstance(document, dict) and isinstance(document.get("log"), dict) and "entries" in document["log"]
    )


def _ingest_har(path, document, label, *, case, part_key, window, geoip_dir, notes) -> FileResult:
    exchanges, rejects = parse_har(path, file_label=label, document=document)
    result = FileResult(label, "har", lines=exchanges.height + rejects.height, rejected=rejects.height)
    exchanges = conform(exchanges)
    before = exchanges.height
    exchanges = _filter(exchanges, window)
    result.filtered = before - exchanges.height
    exchanges = _enrich(exchanges, geoip_dir, notes)
    result.kept = exchanges.height
    with PartWriter(case, part_key) as writer:
        writer.exchanges(exchanges)
        writer.rejects_conformed(conform(rejects, REJECT_SCHEMA))
    return writer.outcome(result)


def _ingest_records(document, path, label, *, case, formats, forced, part_key, window, geoip_dir, notes):
    records = document if isinstance(document, list) else [document]
    text = "\n".join(json.dumps(r, separators=(",", ":")) if isinstance(r, dict) else "[]" for r in records)
    lines = lines_from_text(text)
    fmt = forced or detect_format(lines.head(64), formats, label=label)
    result = FileResult(label, fmt.name)
    too_long = lines.head(0).select(LINE, pl.lit("").alias("reason"), TEXT)
    piece = Piece(parse_chunk(fmt, lines, FileState()), too_long, lines.height, lambda: lines)
    with PartWriter(case, part_key) as writer:
        prepared = _prepare(fmt, lambda: piece, label, window, geoip_dir)
        _finish(fmt, label, result, notes, writer, prepared)
    return writer.outcome(result)


def scan_rejects(case: Case) -> pl.LazyFrame:
    """Lazily scan the lines ingest could not read: file, line, format, reason, text."""
    return store.scan_dataset(case, REJECTS, REJECT_SCHEMA)


def read_rejects(case: Case) -> pl.DataFrame:
    return scan_rejects(case).collect()
