"""
Bytes in: plain, gzip or zstd files (recognized by their magic bytes), in bounded chunks of lines.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

import numpy as np
import polars as pl
import xxhash

from flakehunt.errors import FlakehuntError
from flakehunt.ingest.parse import LINE, TEXT

CHUNK_BYTES = 16 * 1024 * 1024  # two in flight keep 2 cores busy; bigger blocks cost page faults, not speed
MAX_LINE_BYTES = 1024 * 1024
HEAD_BYTES = 256 * 1024  # read first, to sniff the format; a shorter file is all in its head
JSON_DOCUMENT_LIMIT = 512 * 1024 * 1024  # a HAR is read whole: at most this much, decompressed
OVER_LONG = f"line over the {MAX_LINE_BYTES} byte limit"
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_SKIPPABLE = b"\x2a\x4d\x18"  # after 0x50..0x5F: a zstd skippable frame
# What reading a damaged or cut compressed file raises (a cut one: EOFError, for both).
DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile, zstd.ZstdError)


@dataclass
class Chunk:
    lines: pl.DataFrame  # __line, __text
    too_long: pl.DataFrame  # __line, reason, __text (truncated)
    bytes_read: int  # compressed bytes consumed so far, for progress


class TruncatedInputError(Exception):
    """The compressed stream ended before its end marker."""


def unreadable(path: Path, exc: OSError) -> FlakehuntError:
    """The one-line error for an input the system cannot read (EIO, a vanished mount, no permission)."""
    return FlakehuntError(f"cannot read {str(path)!r}: {exc.strerror or exc}")


def file_digest(path: Path) -> str:
    """
    XXH3-128 of the file's bytes as stored (compressed files are hashed compressed), in hex:
    a plain file's content key (see digest.py).

    The key only has to tell log files apart, not resist an attacker, and it is computed beside
    the parse on a 2-core machine: XXH3 hashes 422 MB in 0.03 CPU seconds, sha256 in 0.25.
    """
    digest = xxhash.xxh3_128()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1024 * 1024):
                digest.update(block)
    except OSError as exc:
        raise unreadable(path, exc) from None
    return digest.hexdigest()


def legacy_file_digest(path: Path) -> str:
    """sha256 of the file's bytes: what flakehunt 0.1 named parts by (see digest.py)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# What a file may be that no log reader should try: (offset, magic bytes, what it is, what to do).
_NOT_TEXT = (
    (0, b"PK\x03\x04", "a zip archive", "unzip it and ingest the folder"),
    (257, b"ustar", "a tar archive", "extract it (tar xf) and ingest the folder"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it and ingest the folder"),
    (0, b"\xfd7zXZ\x00", "xz-compressed", "decompress it (unxz), or compress it with gzip or zstd"),
    (0, b"BZh", "bzip2-compressed", "decompress it (bunzip2), or compress it with gzip or zstd"),
    (0, _GZIP, "compressed twice", "decompress it once (gunzip) and ingest that"),
    (0, _ZSTD, "compressed twice", "decompress it once (zstd -d) and ingest that"),
    (0, b"\xff\xfe", "UTF-16 text", "convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"),
    (0, b"\xfe\xff", "UTF-16 text", "convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)"),
)


def not_text(head: bytes) -> str:
    """
    What a file's (decompressed) head says it is, when that is no log text, and what to do;
    "" for anything else. An archive read as lines would give a reject per member header.

    >>> not_text(b"PK\x03\x04rest")
    'is a zip archive; unzip it and ingest the folder'
    """
    for offset, magic, what, todo in _NOT_TEXT:
        if head[offset : offset + len(magic)] == magic:
            return f"is {what}; {todo}"
    if head.count(b"\r") > 1 and b"\n" not in head:
        return "ends its lines with a carriage return alone (old Mac style); convert it: tr '\\r' '\\n'"
    return ""


def compression(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise unreadable(path, exc) from None
    if magic.startswith(_GZIP):
        return "gzip"
    if magic.startswith(_ZSTD) or (len(magic) == 4 and magic[0] & 0xF0 == 0x50 and magic[1:] == _SKIPPABLE):
        return "zstd"  # pzstd and seekable zstd files start with a skippable frame
    return None


def open_decompressed(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """The decompressed stream and the raw file under it (for progress)."""
    kind = compression(path)
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise unreadable(path, exc) from None
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    if kind == "zstd":
        return zstd.ZstdFile(raw), raw  # type: ignore[return-value]
    return raw, raw


def read_head(path: Path, limit: int = HEAD_BYTES) -> tuple[bytes, str]:
    """
    Up to `limit` decompressed bytes from the start, for sniffing, and why the stream broke
    before them ("" when it did not): a truncated stream gives what it has. Raises FlakehuntError
    when the file itself cannot be read.
    """
    stream, raw = open_decompressed(path)
    out = bytearray()
    broken = ""
    try:
        while len(out) < limit:
            block = getattr(stream, "read1", stream.read)(min(64 * 1024, limit - len(out)))
            if not block:
                break
            out += block
    except DAMAGED as exc:
        broken = str(exc) or type(exc).__name__
    except OSError as exc:
        raise unreadable(path, exc) from None
    finally:
        stream.close()
        raw.close()
    return bytes(out), broken


class TooLargeError(Exception):
    """A file read whole is larger, decompressed, than its reader allows."""


def read_whole(path: Path, *, limit: int | None = None) -> bytes:
    """
    The whole file, decompressed; TooLargeError past `limit` bytes (a small `.gz` may hold any
    amount). Raises one of `DAMAGED`, or OSError.
    """
    stream, raw = open_decompressed(path)
    try:
        data = stream.read() if limit is None else stream.read(limit + 1)
    finally:
        stream.close()
        raw.close()
    if limit is not None and len(data) > limit:
        raise TooLargeError(f"over {limit:,} bytes")
    return data


@dataclass
class Block:
    """Raw bytes of whole lines (the last one may lack its newline) and the number of the first."""

    data: bytes
    first_line: int
    bytes_read: int  # compressed bytes consumed so far, for progress

    @cached_property
    def line_count(self) -> int:
        return count_lines(self.data)

    @cached_property
    def has_over_long_line(self) -> bool:
        return has_line_over(self.data, MAX_LINE_BYTES)


def count_lines(data: bytes) -> int:
    """
    Lines in `data` as `to_chunk` numbers them: a last line without its newline still counts.

    >>> count_lines(b"ab\\nc\\r\\n\\nlast"), count_lines(b"ab\\n"), count_lines(b"")
    (4, 1, 0)
    """
    if not data:
        return 0
    # numpy, not bytes.count: twice as fast, and it releases the GIL for the parse threads
    newlines = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")))
    return newlines + (0 if data.endswith(b"\n") else 1)


def has_line_over(data: bytes, limit: int) -> bool:
    """
    Whether a line of `data` is longer than `limit` bytes without its newline (a carriage return
    before it counts: an upper bound for `to_chunk`'s limit check).

    Jumps from the start of a line to the last newline at most `limit` bytes on: a few short
    searches per block, where finding every newline would cost a pass over the bytes.

    >>> has_line_over(b"abc\\nde\\n", 3), has_line_over(b"abc\\nde\\n", 2), has_line_over(b"abcd", 3)
    (False, True, True)
    """
    start = 0
    while len(data) - start > limit:
        newline = data.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False


def iter_blocks(
    path: Path, *, chunk_bytes: int = CHUNK_BYTES, on_decompressed: Callable[[bytes], None] | None = None
) -> Iterator[Block]:
    """
    Yield the file's bytes in blocks of whole lines, about `chunk_bytes` each, decompressed.

    A byte-order mark at the start is dropped. Raises TruncatedInputError after the last complete
    lines when the compressed stream ends early. A compressed file's decompressed bytes, the
    mark included, are handed to `on_decompressed` in order as they are read.
    """
    if compression(path) is None:
        yield from _plain_blocks(path, chunk_bytes)
        return
    stream, raw = open_decompressed(path)
    line_no = 1
    pending = b""
    first = True
    try:
        while True:
            pieces, broken = _read_pieces(stream, chunk_bytes, path)
            if on_decompressed is not None:
                for piece in pieces:
                    on_decompressed(piece)
            if first and pieces:
                pieces = [b"".join(pieces).removeprefix(b"\xef\xbb\xbf")]
                first = False
            if not pieces or broken:
                data = b"".join([pending, *pieces])
                if data:
                    yield Block(data, line_no, raw.tell())
                if broken:
                    raise TruncatedInputError(broken)
                return
            last = next((i for i in range(len(pieces) - 1, -1, -1) if b"\n" in pieces[i]), None)
            if last is None:
                pending = b"".join([pending, *pieces])
                continue
            cut = pieces[last].rfind(b"\n") + 1
            # one copy of the block's bytes: the line cut at its end moves on to the next block
            out = Block(b"".join([pending, *pieces[:last], pieces[last][:cut]]), line_no, raw.tell())
            pending = b"".join([pieces[last][cut:], *pieces[last + 1 :]])
            line_no += out.line_count
            yield out
    finally:
        stream.close()
        raw.close()


def _plain_blocks(path: Path, chunk_bytes: int) -> Iterator[Block]:
    """Blocks of an uncompressed file, each read with one copy: the cut is found before reading."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise unreadable(path, exc) from None
    with handle:
        fd = handle.fileno()
        before = os.fstat(fd)
        size = before.st_size
        position = 3 if _pread(path, fd, 3, 0) == b"\xef\xbb\xbf" else 0
        line_no = 1
        while position < size:
            try:
                end = _line_end(fd, position, min(position + chunk_bytes, size), size)
            except OSError as exc:
                raise unreadable(path, exc) from None
            data = _pread(path, fd, end - position, position)
            if len(data) < end - position:
                raise _changed(path)
            block = Block(data, line_no, end)
            position = end
            yield block
            line_no += block.line_count
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise _changed(path)  # its key would not match what was read


def _changed(path: Path) -> FlakehuntError:
    return FlakehuntError(
        f"{str(path)!r} changed while it was read (still being written, or rotated?); "
        "ingest it again once it is complete: nothing of it was added"
    )


def _pread(path: Path, fd: int, size: int, offset: int) -> bytes:
    try:
        return os.pread(fd, size, offset)
    except OSError as exc:
        raise unreadable(path, exc) from None


def _line_end(fd: int, start: int, end: int, size: int, window: int = 64 * 1024) -> int:
    """Where the block from `start` should end: after its last newline before `end`, or after the
    first newline past it when a line runs on, or at the end of the file."""
    if end >= size:
        return size
    look = end
    while look > start:
        begin = max(start, look - window)
        found = os.pread(fd, look - begin, begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        look = begin
    look = end
    while look < size:
        piece = os.pread(fd, window, look)
        if not piece:
            return look  # the file is shorter than it was: the caller's read finds out
        found = piece.find(b"\n")
        if found >= 0:
            return look + found + 1
        look += len(piece)
    return size


def _read_pieces(stream: BinaryIO, size: int, path: Path) -> tuple[list[bytes], str]:
    """About `size` bytes in pieces, read so that a broken stream still gives what came before."""
    pieces: list[bytes] = []
    got = 0
    read = getattr(stream, "read1", stream.read)  # read1: what a broken stream decoded so far is not lost
    while got < size:
        try:
            piece = read(min(4 * 1024 * 1024, size - got))
        except DAMAGED as exc:
            return pieces, str(exc) or "compressed stream ends early"
        except OSError as exc:
            raise unreadable(path, exc) from None
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return pieces, ""


def to_chunk(block: Block) -> Chunk:
    """The block's lines as a `__line`/`__text` frame, over-long lines set apart as rejects."""
    text = block.data.decode("utf-8", errors="replace")
    if text.endswith("\n"):
        text = text[:-1]
    lines = (
        pl.Series(TEXT, [text])
        .str.split("\n")
        .explode()
        .str.strip_suffix("\r")
        .to_frame()
        .with_row_index(LINE, offset=block.first_line)
        .with_columns(pl.col(LINE).cast(pl.Int64))
    )
    long = pl.col(TEXT).str.len_bytes() > MAX_LINE_BYTES
    # One reason for all of them, so the summary counts them together; each line's size is in its text.
    too_long = lines.filter(long).select(
        LINE,
        pl.lit(OVER_LONG).alias("reason"),
        pl.format("{}… ({} bytes)", pl.col(TEXT).str.slice(0, 200), pl.col(TEXT).str.len_bytes()).alias(TEXT),
    )
    return Chunk(lines.filter(~long), too_long, block.bytes_read)


def lines_from_text(text: str, first_line: int = 1) -> pl.DataFrame:
    """A `__line`/`__text` frame from text, as `to_chunk` would give it."""
    return to_chunk(Block(text.encode(), first_line, 0)).lines
