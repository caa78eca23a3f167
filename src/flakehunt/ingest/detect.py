"""
Which format is this file? Sniff its first lines and let every format try them.

The order formats are tried in comes from their own samples, as in lnav: a format that parses
another format's samples is more generic, so it comes later and only wins on a better score.
Working it out parses every format's samples with every format (a tenth of a second, most of a
small file's ingest), so the order is kept in the user's cache folder, keyed by the formats
and by the code that parses them.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path

import polars as pl
import xxhash

from flakehunt.atomic import write_atomic
from flakehunt.errors import UnknownFormatError
from flakehunt.formats.loader import Format
from flakehunt.ingest.parse import LINE, TEXT, FileState, parse_chunk
from flakehunt.ingest.read import lines_from_text

SNIFF_LINES = 64
_ORDER_CACHE: dict[str, list[str]] = {}  # this process's, by `_order_key`


def parse_lines(
    fmt: Format, lines: pl.DataFrame, state: FileState | None = None, *, file_label: str = "<sample>"
):
    """Parse and normalize `lines`: (exchanges, rejects, skipped)."""
    from flakehunt.ingest.normalize import normalize

    parsed = parse_chunk(fmt, lines, state or FileState())
    exchanges, bad_time = normalize(fmt, parsed.rows, file_label=file_label)
    return exchanges, pl.concat([parsed.rejects, bad_time], how="vertical_relaxed"), parsed.skipped


def kept_lines(fmt: Format, lines: pl.DataFrame) -> tuple[pl.Series, int]:
    """
    The numbers of the lines `parse_lines` turns into exchanges, and how many it rejects.

    Parsing and the time are all that decide it, so this skips the rest of normalizing: the
    detection order parses every format's samples with every format, in each run.
    """
    from flakehunt.ingest.normalize import timestamp

    parsed = parse_chunk(fmt, lines, FileState())
    present = set(parsed.rows.columns) - {LINE}
    timed = parsed.rows.select(LINE, timestamp(fmt, present).is_not_null().alias("__ok"))
    kept = timed.filter("__ok")[LINE]
    return kept, parsed.rejects.height + timed.height - kept.len()


def parse_sample_text(fmt: Format, header: str, line: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    text = f"{header}\n{line}" if header else line
    exchanges, rejects, _ = parse_lines(fmt, lines_from_text(text))
    return exchanges, rejects


def detection_order(formats: Mapping[str, Format]) -> list[str]:
    """Format names, specific first: fewer other formats' samples parsed means more specific."""
    key = _order_key(formats)
    if key in _ORDER_CACHE:
        return _ORDER_CACHE[key]
    saved = _order_file(key)
    order = _read_order(saved, formats) if saved else None
    if order is None:
        order = _work_out_order(formats)
        if saved:
            _save_order(saved, order)
    _ORDER_CACHE[key] = order
    return order


# What decides the order besides the formats: the code that parses the samples.
_ORDER_CODE = ("detect.py", "parse.py", "normalize.py", "read.py")


def _order_key(formats: Mapping[str, Format]) -> str:
    digest = xxhash.xxh3_128(repr(sorted(formats.items())).encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()


@functools.cache  # the code does not change while the process runs; each file would read it again
def _code_digest() -> str:
    digest = xxhash.xxh3_128(pl.__version__.encode())
    for name in _ORDER_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def _order_file(key: str) -> Path | None:
    """Where the order is kept: the XDG cache folder; None without a home folder."""
    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    except RuntimeError:
        return None
    return base / "flakehunt" / "detection-order" / f"{key}.json"


def _read_order(path: Path, formats: Mapping[str, Format]) -> list[str] | None:
    try:
        order = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    valid = isinstance(order, list) and all(isinstance(name, str) for name in order)
    return order if valid and sorted(order) == sorted(formats) else None


def _save_order(path: Path, order: list[str]) -> None:
    """Best effort: a read-only or full home folder only means working the order out again."""
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(order))


def _work_out_order(formats: Mapping[str, Format]) -> list[str]:
    by_header: dict[str, list[tuple[str, str]]] = {}
    for name, fmt in formats.items():
        for sample in fmt.samples:
            by_header.setdefault(sample.header, []).append((name, sample.line))
    covers: dict[str, int] = {}
    for name, fmt in formats.items():
        failed: set[str] = set()
        for header, owned in by_header.items():
            parsed = _parsed_lines(fmt, header, [line for _, line in owned])
            failed.update(owner for index, (owner, _) in enumerate(owned) if index not in parsed)
        covers[name] = sum(1 for other in formats if other != name and other not in failed)
    return sorted(formats, key=lambda n: (covers[n], n))


def _parsed_lines(fmt: Format, header: str, lines: list[str]) -> set[int]:
    """Indexes of `lines` that `fmt` turns into exchanges, each line read on its own."""
    offset = header.count("\n") + 1 if header else 0
    text = "\n".join([header, *lines] if header else lines)
    kept, _ = kept_lines(fmt, lines_from_text(text))
    return {line - 1 - offset for line in kept.to_list()}


def score(fmt: Format, lines: pl.DataFrame) -> float:
    """Share of the non-blank, non-comment lines `fmt` turns into exchanges (0 when a column the
    format's `detect_needs` names stays empty on every line)."""
    if fmt.detect_needs:
        exchanges, rejects, _ = parse_lines(fmt, lines)
        if any(exchanges[column].null_count() == exchanges.height for column in fmt.detect_needs):
            return 0.0
        kept, rejected = exchanges.height, rejects.height
    else:
        kept_numbers, rejected = kept_lines(fmt, lines)
        kept = kept_numbers.len()
    tried = kept + rejected
    return kept / tried if tried else 0.0


def detect_format(lines: pl.DataFrame, formats: Mapping[str, Format], *, label: str) -> Format:
    """
    The format that parses most of `lines`; ties go to the more specific format.

    Raises
    ------
    UnknownFormatError
        No format parses any line: names the closest formats by likeness to their samples.
    """
    best, best_score = None, 0.0
    for name in detection_order(formats):
        value = score(formats[name], lines)
        if value > best_score:
            best, best_score = formats[name], value
        if best_score == 1.0:
            break
    if best is not None:
        return best
    first = next((t for t in lines[TEXT] if t.strip()), "")
    closest = closest_formats(first, formats)
    raise UnknownFormatError(
        f"no known format matches {label!r} (first line: {first[:80]!r}); "
        f"closest: {', '.join(closest)}; pass --format, see 'flakehunt formats'"
    )


def closest_formats(line: str, formats: Mapping[str, Format], n: int = 3) -> list[str]:
    def likeness(fmt: Format) -> float:
        return max(difflib.SequenceMatcher(None, line[:300], s.line[:300]).quick_ratio() for s in fmt.samples)

    return sorted(formats, key=lambda name: (-likeness(formats[name]), name))[:n]
