"""
Log formats as data (STYLE.md section 4, after lnav): one TOML file per format, with its own samples.

A format file declares what a support engineer needs to read a vendor's log without Python: the
vendor's reference (`url`), how lines are cut into vendor fields (`file_type`: `w3c`, `tsv`,
`regex` or `ndjson`), how the time is written, which vendor field feeds which normalized column
(DESIGN.md, "The normalized model"), the vendor's cache vocabulary, and `[[sample]]` lines with the
values they must give. A format without samples is rejected, so every format brings its own test.

Built-in formats live next to this module; files in `~/.config/flakehunt/formats/` (or
`$FLAKEHUNT_FORMATS_DIR`) overlay built-ins of the same `name`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from flakehunt.errors import FlakehuntError
from flakehunt.schema import EXCHANGE_SCHEMA

FILE_TYPES = ("w3c", "tsv", "regex", "ndjson")
SOURCES = ("cdn", "origin")

# Normalized targets a vendor field may feed: the model's columns plus three that normalize splits.
COMPOSITE_TARGETS = {
    "target": "path and query, as in a request line (`/a?b=c`)",
    "url": "an absolute URL: scheme, host, path and query",
    "request": "a request line: method, target and protocol",
}
_DERIVED = {"ts", "source", "format", "file", "line", "vendor", "run_id"}
TARGETS = frozenset((set(EXCHANGE_SCHEMA) - _DERIVED) | set(COMPOSITE_TARGETS))
DECODERS = ("percent", "percent2")


class FormatDefinitionError(FlakehuntError):
    """A format file is not a valid format definition."""


@dataclass(frozen=True)
class FieldMap:
    """How one vendor field feeds one normalized column."""

    vendor: str
    to: str
    scale: float | None = None  # multiply numbers, e.g. seconds -> ms
    decode: str | None = None  # "percent" once, "percent2" up to twice (CloudFront's %2520)
    extract: str | None = None  # regex whose first group is the value, e.g. the POP in a node name
    vocab: str | None = None  # name of a [vocab] table; unlisted values become "other"
    keep: bool = False  # also keep the original value in `vendor`


@dataclass(frozen=True)
class Timestamp:
    """Where the time is and how it is written: `rfc3339`, `epoch` (s/ms/us/ns by size) or strftime."""

    fields: tuple[str, ...]
    parse: str = "rfc3339"
    join: str = " "  # how several fields (CloudFront's date and time) are joined before parsing
    alternatives: tuple[str, ...] = ()  # further fields tried when the first is missing


@dataclass(frozen=True)
class Sample:
    line: str
    expect: dict[str, Any]
    header: str = ""  # W3C header lines that precede the sample line


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    url: str
    file_type: str
    source: str
    timestamp: Timestamp
    fields: tuple[FieldMap, ...]
    vocab: dict[str, dict[str, str]]
    samples: tuple[Sample, ...]
    columns: tuple[str, ...] = ()  # w3c/tsv: field order when a file has no #Fields header
    delimiter: str = "\t"
    patterns: tuple[tuple[str, str], ...] = ()  # regex: (variant name, pattern) tried in order
    prefix: str | None = None  # ndjson: regex of a transport prefix before the JSON (syslog)
    null_values: tuple[str, ...] = ("-",)
    min_columns: int = 0  # w3c/tsv: shorter lines are rejected (truncated records still parse)
    origin: str = "built-in"  # where the definition came from
    # detection picks this format only if one sniffed line fills each of these columns (a log
    # whose request-id field is "-" on every line is as well read by the format without one)
    detect_needs: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def provides(self) -> list[str]:
        """The normalized columns this format fills (composite targets expanded)."""
        out = {"ts"}
        for mapping in self.fields:
            out.update(_EXPANDS.get(mapping.to, (mapping.to,)))
        return [name for name in EXCHANGE_SCHEMA if name in out]

    def mappings_to(self, target: str) -> list[FieldMap]:
        return [m for m in self.fields if m.to == target]

    def with_columns(self, columns: list[str]) -> Format:
        return replace(self, columns=tuple(columns), min_columns=min(self.min_columns, len(columns)))


_EXPANDS = {
    "target": ("path", "query"),
    "url": ("scheme", "host", "path", "query"),
    "request": ("method", "path", "query"),
}


def builtin_dir() -> Path:
    return Path(str(resources.files("flakehunt.formats")))


def user_dir() -> Path:
    if override := os.environ.get("FLAKEHUNT_FORMATS_DIR"):
        return Path(override)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "flakehunt" / "formats"


def load_formats(*, extra_dir: Path | None = None) -> dict[str, Format]:
    """
    Load the built-in formats, then overlay the user's folder (same `name` replaces).

    Parameters
    ----------
    extra_dir
        Folder of user format files; default `$FLAKEHUNT_FORMATS_DIR` or
        `~/.config/flakehunt/formats/`.

    Raises
    ------
    FormatDefinitionError
        A file is not valid TOML, lacks a required key, names an unknown column, or has no samples.

    Examples
    --------
    >>> formats = load_formats()
    >>> formats["cloudfront"].file_type
    'w3c'
    """
    formats: dict[str, Format] = {}
    for folder, origin in ((builtin_dir(), "built-in"), (extra_dir or user_dir(), "user")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            fmt = load_format_file(path, origin=origin if origin == "built-in" else str(path))
            formats[fmt.name] = fmt
    return formats


def load_format_file(path: Path, *, origin: str = "user") -> Format:
    """Read and validate one format file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FormatDefinitionError(f"format file {str(path)!r} cannot be read: {exc}") from None
    return format_from_dict(data, where=str(path), origin=origin)


def format_from_dict(data: dict[str, Any], *, where: str, origin: str = "user") -> Format:
    """Build a Format from parsed TOML, checking what a typo would otherwise hide."""

    def fail(message: str) -> FormatDefinitionError:
        return FormatDefinitionError(f"format {where!r}: {message}")

    head = data.get("format")
    if not isinstance(head, dict):
        raise fail("missing the [format] table")
    for key in ("name", "title", "url", "file_type", "timestamp"):
        if key not in head:
            raise fail(f"[format] lacks {key!r}")
    name = head["name"]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise fail(f"name {name!r} must be lowercase letters, digits and _")
    if head["file_type"] not in FILE_TYPES:
        raise fail(f"file_type {head['file_type']!r} is not one of {', '.join(FILE_TYPES)}")
    source = head.get("source", "cdn")
    if source not in SOURCES:
        raise fail(f"source {source!r} is not one of {', '.join(SOURCES)}")
    vocab = {key: {str(k): str(v) for k, v in table.items()} for key, table in data.get("vocab", {}).items()}
    fields = tuple(_field_map(vendor, spec, vocab, fail) for vendor, spec in data.get("fields", {}).items())
    samples = tuple(
        Sample(line=s["line"], expect=dict(s.get("expect", {})), header=s.get("header", ""))
        for s in data.get("sample", [])
    )
    if not samples:
        raise fail(
            "has no [[sample]]; every format proves itself with sample lines and their expected values"
        )
    for sample in samples:
        unknown = set(sample.expect) - set(EXCHANGE_SCHEMA)
        if unknown:
            raise fail(f"sample expects unknown column(s) {sorted(unknown)!r}")
    detect_needs = tuple(head.get("detect_needs", ()))
    if unknown := set(detect_needs) - set(EXCHANGE_SCHEMA):
        raise fail(f"detect_needs names unknown column(s) {sorted(unknown)!r}")
    patterns = tuple((v["name"], v["pattern"]) for v in data.get("regex", []))
    if head["file_type"] == "regex" and not patterns:
        raise fail("file_type 'regex' needs at least one [[regex]] with name and pattern")
    for variant, pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fail(f"regex {variant!r} does not compile: {exc}") from None
    return Format(
        name=name,
        title=head["title"],
        url=head["url"],
        file_type=head["file_type"],
        source=source,
        timestamp=_timestamp(head["timestamp"], fail),
        fields=fields,
        vocab=vocab,
        samples=samples,
        columns=tuple(head.get("columns", ())),
        delimiter=head.get("delimiter", "\t"),
        patterns=patterns,
        prefix=head.get("prefix"),
        null_values=tuple(head.get("null_values", ["-"])),
        min_columns=int(head.get("min_columns", 0)),
        origin=origin,
        detect_needs=detect_needs,
    )


def _timestamp(spec: Any, fail) -> Timestamp:
    if not isinstance(spec, dict) or "field" not in spec:
        raise fail("timestamp must be a table with 'field' (a name or a list joined before parsing)")
    fields = spec["field"]
    fields = (fields,) if isinstance(fields, str) else tuple(fields)
    return Timestamp(
        fields=fields,
        parse=spec.get("parse", "rfc3339"),
        join=spec.get("join", " "),
        alternatives=tuple(spec.get("alternatives", ())),
    )


def _field_map(vendor: str, spec: Any, vocab: dict[str, dict[str, str]], fail) -> FieldMap:
    if isinstance(spec, str):
        spec = {"to": spec}
    if not isinstance(spec, dict) or "to" not in spec:
        raise fail(f"field {vendor!r} must map to a column name or a table with 'to'")
    if spec["to"] not in TARGETS:
        raise fail(f"field {vendor!r} maps to unknown column {spec['to']!r}")
    if spec.get("decode") not in (None, *DECODERS):
        raise fail(f"field {vendor!r}: decode must be one of {', '.join(DECODERS)}")
    if spec.get("vocab") and spec["vocab"] not in vocab:
        raise fail(f"field {vendor!r} names vocab {spec['vocab']!r}, which has no [vocab] table")
    return FieldMap(
        vendor=vendor,
        to=spec["to"],
        scale=spec.get("scale"),
        decode=spec.get("decode"),
        extract=spec.get("extract"),
        vocab=spec.get("vocab"),
        keep=bool(spec.get("keep", bool(spec.get("vocab")))),
    )


@dataclass
class FormatListing:
    """What `flakehunt formats` shows: each format, where it came from, the columns it fills."""

    formats: list[Format]

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {
                "name": f.name,
                "title": f.title,
                "file_type": f.file_type,
                "source": f.source,
                "url": f.url,
                "origin": f.origin,
                "provides": f.provides(),
            }
            for f in self.formats
        ]

    def __rich__(self):
        from rich.table import Table

        table = Table(box=None, pad_edge=False, header_style="fh.key")
        table.add_column("format")
        table.add_column("source")
        table.add_column("title")
        table.add_column("provides")
        for f in self.formats:
            origin = "" if f.origin == "built-in" else f" [fh.dim]({f.origin})[/]"
            table.add_row(f.name + origin, f.source, f.title, ", ".join(f.provides()))
        return table


def describe_formats(*, extra_dir: Path | None = None) -> FormatListing:
    """The formats `load_formats` finds, sorted by name."""
    formats = load_formats(extra_dir=extra_dir)
    return FormatListing([formats[name] for name in sorted(formats)])
