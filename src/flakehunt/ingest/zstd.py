"""
A zstd file as a stream that says when it is cut short.

python-zstandard's `stream_reader` ends quietly when a file stops inside a frame (an interrupted
download or copy): the lines after the cut would be lost without a word. This reader feeds the
file through one decompression object per frame and raises `EOFError`, as `gzip` does, when the
file ends before its last frame does, or when its data is damaged.
"""

from __future__ import annotations

from typing import BinaryIO

import zstandard

_RAW_READ = 256 * 1024  # compressed bytes per step: a log compresses ~10x, so a few MB out


class DamagedZstdError(EOFError):
    """The file ends inside a zstd frame, or its data does not decode."""


class ZstdReader:
    """Decompressed bytes of `raw` (all its frames, one after another), read like a file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._in_frame = False  # bytes of the current frame have been fed, and it has not ended
        self._buffer = bytearray()
        self._at_end = False

    def read1(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left for -1), at least one unless the stream has ended."""
        while not self._buffer and not self._at_end:
            self._step()
        return self._take(size)

    def read(self, size: int = -1) -> bytes:
        while not self._at_end and (size < 0 or len(self._buffer) < size):
            self._step()
        return self._take(size)

    def close(self) -> None:
        self._buffer.clear()

    def _take(self, size: int) -> bytes:
        size = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def _step(self) -> None:
        data = self._raw.read(_RAW_READ)
        if not data:
            self._at_end = True
            if self._in_frame:
                raise DamagedZstdError("the zstd file ends inside a frame")
            return
        while data:
            try:
                self._buffer += self._frame.decompress(data)
            except zstandard.ZstdError as exc:
                self._at_end = True
                raise DamagedZstdError(f"damaged zstd data: {exc}") from None
            self._in_frame = not self._frame.eof
            if not self._frame.eof:
                return
            data = self._frame.unused_data  # the next frame of a file made of several
            self._frame = self._decompressor.decompressobj()
            self._in_frame = bool(data)
