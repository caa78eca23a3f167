"""
Content keys of input files: an XXH3-128 hashed beside the parse, and remembered by file identity.

Hashing a large log first and parsing it after costs a core for the length of the read (a
twentieth of an ingest); hashing it on its own thread while the parse runs costs nothing you
wait for. The part is named by the hash once both are done. So that running the same ingest
again still stops at once, the keys of each file read are remembered beside the case's data by
(path, size, modification time, inode); a file that changed in any of these is hashed again.

A compressed file is known by its decompressed bytes, so a log and its `.gz` or `.zst` have one
key and the second adds nothing. Those bytes are hashed as the ingest reads them anyway
(`ContentHash`): decompressing a second time only for the key would cost a tenth more CPU on a
`.gz` log. The hash of its stored bytes is still computed beside, and it is the file's second
key: earlier versions named a compressed file's part by it, and a stream broken midway is
named by it alone.

Cases written by flakehunt 0.1 name their parts by sha256 (64 hex digits, not 32): where a
case has such parts, a file is also checked under its sha256, so it is not ingested twice.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import xxhash

from flakehunt import store
from flakehunt.atomic import write_atomic
from flakehunt.case import Case
from flakehunt.ingest.read import file_digest, legacy_file_digest

_INDEX = "ingest-digests.json"
_LEGACY_ID = re.compile(r"^[0-9a-f]{64}(-|$)")


class Digest:
    """
    The keys of one file: as an earlier ingest remembered them (a compressed file's content key
    first, then its stored bytes'), or the hash of its stored bytes, computing on a daemon thread
    (Ctrl-C need not wait).
    """

    def __init__(self, path: Path, *, known: list[str] | None = None) -> None:
        self.known = known
        self._value = known
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if known is None:
            self._thread = threading.Thread(
                target=self._hash, args=(path,), name="flakehunt-digest", daemon=True
            )
            self._thread.start()

    def _hash(self, path: Path) -> None:
        try:
            self._value = [file_digest(path)]
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> list[str]:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class ContentHash:
    """The XXH3-128 of a compressed file's decompressed bytes, from a read that saw all of them."""

    def __init__(self) -> None:
        self.value: str | None = None  # None until one read has seen the whole content
        self._hasher = xxhash.xxh3_128()

    def of(self, data: bytes) -> None:
        """The whole content, read at once."""
        self.value = xxhash.xxh3_128_hexdigest(data)

    def reading(self) -> Callable[[bytes], None]:
        """Start over for a read in pieces: feed each piece, in order, to what this returns."""
        self.value = None
        self._hasher = xxhash.xxh3_128()
        return self._hasher.update

    def read_all(self) -> None:
        """The read that `reading` started got to the end of the stream."""
        self.value = self._hasher.hexdigest()


def start_digest(case: Case, path: Path) -> Digest:
    """The file's digest: remembered from an earlier ingest, or started now."""
    known = _index(case).get(_identity(path))
    if isinstance(known, str):  # indexes written before compressed files were keyed by content
        known = [known]
    if not (isinstance(known, list) and known and all(isinstance(key, str) for key in known)):
        known = None  # not remembered, or not in a form this version wrote: hash the file again
    return Digest(path, known=known)


def in_legacy_part(case: Case, path: Path, variant: str) -> bool:
    """Whether the file is in the case already as a part named by its sha256 (flakehunt 0.1)."""
    folder = store.dataset_dir(case, store.EXCHANGES)
    legacy = [p for p in folder.glob("*.parquet") if _LEGACY_ID.match(p.stem)]
    return bool(legacy) and store.has_part(case, store.EXCHANGES, legacy_file_digest(path) + variant)


def remember_digest(case: Case, path: Path, digests: list[str]) -> None:
    """Remember the file's `digests` as it is now; an index that cannot be written is skipped."""
    index = _index(case)
    index[_identity(path)] = digests
    with contextlib.suppress(OSError):  # only a cache: the next ingest hashes again
        write_atomic(_index_path(case), json.dumps(index, indent=0, sort_keys=True))


def _identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_dev}:{stat.st_ino}"


def _index_path(case: Case) -> Path:
    return case.data_dir / _INDEX


def _index(case: Case) -> dict[str, str | list[str]]:
    try:
        loaded = json.loads(_index_path(case).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
