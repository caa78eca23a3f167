"""
The run store: probe rounds from several runners, in a folder or an S3 bucket, with no lost updates.

    <root>/rounds/<UTC time>_<location>_<random>.parquet     one immutable file per round (its runs)
          /exchanges/<same name>.parquet                     the requests that round's browsers made
          /artifacts/<same name>/<file>                      HARs and screenshots of failed runs
          /compacted/<UTC time>_compacted_<random>.parquet   merges; footer lists what each replaces
          /alerts/<UTC time>_<location>_<random>.jsonl       the alerts one round raised
          /_tmp/                                             files being written, never read

No file is ever modified, so runners need no lock and no coordination: each round is written
under a temporary name and then renamed (a POSIX rename, or an S3 copy, which makes the object
appear whole), so a reader never sees half a file and a crashed writer leaves only a `_tmp/` file.

Compaction writes a merged file whose Parquet footer names every file it replaces; readers
hide replaced files as soon as the merge is visible, so a query sees each row exactly once
whether the old files are still there or not.

A round's exchanges and artifacts are written before its runs file, which is the round's commit
point: readers only see exchanges whose `round_id` has a visible runs row, so a writer that dies
between the two leaves an invisible orphan, never half a round. Exchanges are not compacted
(they are the bulk of a round and already one file per round). Replaced files are deleted only after a grace
period, long enough for a query that listed them to finish reading. Run one compaction at a
time per store (like `git gc`); runners may keep writing meanwhile.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flakehunt.errors import FlakehuntError

ENDPOINT_ENV = "FLAKEHUNT_S3_ENDPOINT"
ROUNDS, COMPACTED, ALERTS, TMP = "rounds", "compacted", "alerts", "_tmp"
EXCHANGES, ARTIFACTS = "exchanges", "artifacts"
# Columns of a round holding paths of artifacts; `append_round` rewrites them to the store's copy.
ARTIFACT_COLUMNS = ("har_path", "screenshot_path")
REPLACES_KEY = b"flakehunt.replaces"
STORE_COLUMNS: dict[str, pl.DataType] = {
    "location": pl.String,
    "round_id": pl.String,
    "round_ts": pl.Datetime("us", "UTC"),
}
_LOCATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
_STAMP = "%Y%m%dT%H%M%S%fZ"

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_round_id(location: str, started: datetime) -> str:
    """A round's id: the runner, the start time and a random tail (two rounds in a second differ)."""
    return f"{location}-{started.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def check_location(location: str) -> str:
    """
    A location names a runner in file names: letters, digits, dots and dashes.

    >>> check_location("fra-office")
    'fra-office'
    >>> check_location("my laptop")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flakehunt.errors.FlakehuntError: --location has bad name 'my laptop'; use letters, digits, ...
    """
    if not _LOCATION.match(location):
        raise FlakehuntError(
            f"--location has bad name {location!r}; use letters, digits, dots and dashes (e.g. fra-office)"
        )
    return location


def default_location() -> str:
    """This machine's short host name, made fit for `check_location`."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname().split(".")[0]).strip("-.")
    return name[:63] or "runner"


@dataclass(frozen=True)
class CompactSummary:
    """What one `compact` did: files merged into one, rows in it, old files deleted."""

    merged: int
    rows: int
    written: str | None
    removed: int

    def to_dict(self) -> dict[str, Any]:
        return {"merged": self.merged, "rows": self.rows, "written": self.written, "removed": self.removed}

    def __str__(self) -> str:
        if not self.merged:
            return f"nothing to merge; removed {self.removed} replaced files"
        return f"merged {self.merged} files ({self.rows} rows) into {self.written}; removed {self.removed}"


class AlertLog:
    """The store's record of alerts: one immutable JSON-lines object per batch, read back in order."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def append(self, records: Iterable[dict[str, Any]], *, location: str) -> str | None:
        """Write the records as one JSON-lines object; returns its path (None when there are none)."""
        lines = [json.dumps(record, default=str, sort_keys=True) for record in records]
        if not lines:
            return None
        name = self._store._new_name(check_location(location), ".jsonl")
        return self._store._commit(f"{ALERTS}/{name}", ("\n".join(lines) + "\n").encode())

    def read(self) -> list[dict[str, Any]]:
        """Every alert recorded, oldest first (objects are named by time)."""
        records: list[dict[str, Any]] = []
        for info in self._store._list(ALERTS, ".jsonl"):
            with self._store.fs.open_input_stream(info.path) as stream:
                text = stream.read().decode()
            records.extend(json.loads(line) for line in text.splitlines() if line.strip())
        return records


class RunStore:
    """
    Probe rounds from many runners; see the module docstring for the layout and guarantees.

    Build with `open_store`. `uri` is what the user gave; `root` the path inside `fs`.
    """

    def __init__(self, uri: str, fs: pafs.FileSystem, root: str, *, clock: Clock = _utcnow) -> None:
        self.uri = uri
        self.fs = fs
        self.root = root.rstrip("/")
        self.clock = clock
        self.alerts = AlertLog(self)
        self._footers: dict[str, tuple[pa.Schema, list[str]]] = {}

    def __repr__(self) -> str:
        return f"RunStore({self.uri!r})"

    # -- writing ------------------------------------------------------------------------------

    def append_round(
        self,
        frame: pl.DataFrame,
        *,
        location: str,
        round_id: str,
        exchanges: pl.DataFrame | None = None,
        artifacts: Mapping[str, bytes] | None = None,
    ) -> str:
        """
        Write one round as its own immutable Parquet file, whole or not at all.

        Parameters
        ----------
        frame
            The round's rows (e.g. probe runs); may be empty, so a round that ran is still on record.
        location
            The runner's name (`check_location`); added as the `location` column.
        round_id
            Added as the `round_id` column, with the round's time as `round_ts`.
        exchanges
            The requests the round's browsers made (normalized exchanges); stored beside the
            round with the same three columns, read back with `scan_exchanges`.
        artifacts
            Files to keep with the round, keyed by the path that `frame`'s `har_path` or
            `screenshot_path` holds now; those cells are rewritten to the store's copy
            (`address`), and cells naming a file not given here become null.

        Returns
        -------
        str
            The committed runs file's path inside the store's filesystem.
        """
        check_location(location)
        now = self.clock()
        for extra in (frame, exchanges):
            reserved = sorted(set(STORE_COLUMNS) & set(extra.columns)) if extra is not None else []
            if reserved:
                raise FlakehuntError(
                    f"a round cannot bring its own {reserved[0]!r} column; the store adds it"
                )
        name = self._new_name(location, "", now)
        stored = {
            local: self.address(self._commit(f"{ARTIFACTS}/{name}/{local.rsplit('/', 1)[-1]}", payload))
            for local, payload in (artifacts or {}).items()
        }
        frame = frame.with_columns(
            pl.col(column).replace_strict(stored, default=None, return_dtype=pl.String)
            for column in ARTIFACT_COLUMNS
            if column in frame.columns and artifacts is not None
        )
        tag = [
            pl.lit(location, pl.String).alias("location"),
            pl.lit(round_id, pl.String).alias("round_id"),
            pl.lit(now, STORE_COLUMNS["round_ts"]).alias("round_ts"),
        ]
        if exchanges is not None and not exchanges.is_empty():
            self._commit(f"{EXCHANGES}/{name}.parquet", _parquet_bytes(exchanges.with_columns(tag)))
        return self._commit(f"{ROUNDS}/{name}.parquet", _parquet_bytes(frame.with_columns(tag)))

    def address(self, path: str) -> str:
        """How a user names a file of the store: a local path, or `s3://bucket/key`."""
        return path if isinstance(self.fs, pafs.LocalFileSystem) else f"s3://{path}"

    def _new_name(self, tag: str, suffix: str, when: datetime | None = None) -> str:
        stamp = (when or self.clock()).astimezone(UTC).strftime(_STAMP)
        return f"{stamp}_{tag}_{secrets.token_hex(4)}{suffix}"

    def _commit(self, relative: str, payload: bytes) -> str:
        """Write `payload` under `_tmp/`, then move it into place: readers see all of it or nothing."""
        target = f"{self.root}/{relative}"
        tmp = f"{self.root}/{TMP}/{os.getpid()}-{secrets.token_hex(6)}-{relative.rsplit('/', 1)[-1]}"
        if isinstance(self.fs, pafs.LocalFileSystem):  # object stores have no folders to make
            self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
            self.fs.create_dir(tmp.rsplit("/", 1)[0], recursive=True)
        try:
            with self.fs.open_output_stream(tmp) as stream:
                stream.write(payload)
            self.fs.move(tmp, target)
        except BaseException:
            _delete_quietly(self.fs, tmp)
            raise
        return target

    # -- reading ------------------------------------------------------------------------------

    def files(self) -> list[str]:
        """The Parquet files a query reads now: rounds and merges, minus what merges replaced."""
        listed = [info.path for info in self._list(ROUNDS, ".parquet")]
        merged = [info.path for info in self._list(COMPACTED, ".parquet")]
        hidden = {path for merge in merged for path in self._footer(merge)[1]}
        return [path for path in [*merged, *listed] if path not in hidden]

    def scan(self, since: datetime | None = None, until: datetime | None = None) -> pl.LazyFrame:
        """
        Lazily scan every round in the store, with `location`, `round_id` and `round_ts` columns.

        Parameters
        ----------
        since, until
            UTC bounds on `round_ts`, `since` inclusive and `until` exclusive; None is unbounded.

        Returns
        -------
        pl.LazyFrame
            Rounds with different columns are aligned (missing columns are null).
        """
        paths = self.files()
        if paths:
            schema = pa.unify_schemas([self._footer(p)[0] for p in paths], promote_options="permissive")
            frame = pl.scan_pyarrow_dataset(ds.dataset(paths, schema=schema, filesystem=self.fs))
        else:
            frame = pl.LazyFrame(schema=STORE_COLUMNS)
        if since is not None:
            frame = frame.filter(pl.col("round_ts") >= since)
        if until is not None:
            frame = frame.filter(pl.col("round_ts") < until)
        return frame

    def read(self, since: datetime | None = None, until: datetime | None = None) -> pl.DataFrame:
        return self.scan(since, until).collect()

    def scan_exchanges(self, since: datetime | None = None, until: datetime | None = None) -> pl.LazyFrame:
        """
        Lazily scan the exchanges of every visible round, with the store's three columns.

        Parameters
        ----------
        since, until
            UTC bounds on `round_ts` (the round's time, as in `scan`), not on each request's `ts`.

        Returns
        -------
        pl.LazyFrame
            Only exchanges of rounds `scan` shows: an orphan from a writer that died is skipped.
        """
        paths = [info.path for info in self._list(EXCHANGES, ".parquet")]
        if not paths:
            return pl.LazyFrame(schema=STORE_COLUMNS)
        schema = pa.unify_schemas([self._footer(p)[0] for p in paths], promote_options="permissive")
        frame = pl.scan_pyarrow_dataset(ds.dataset(paths, schema=schema, filesystem=self.fs))
        if since is not None:
            frame = frame.filter(pl.col("round_ts") >= since)
        if until is not None:
            frame = frame.filter(pl.col("round_ts") < until)
        rounds = self.scan(since, until).select("round_id").unique()
        return frame.join(rounds, on="round_id", how="semi")

    def read_artifact(self, address: str) -> bytes:
        """The bytes of a file `append_round` kept (by the address it wrote into the round)."""
        with self.fs.open_input_stream(address.removeprefix("s3://")) as stream:
            return stream.read()

    def _list(self, folder: str, suffix: str) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(f"{self.root}/{folder}", allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return sorted(
            (i for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(suffix)),
            key=lambda i: i.base_name,
        )

    def _footer(self, path: str) -> tuple[pa.Schema, list[str]]:
        """A file's schema and, for merges, the files it replaces (cached: files never change)."""
        if path not in self._footers:
            with self.fs.open_input_file(path) as handle:
                metadata = pq.read_metadata(handle)
            replaces = json.loads((metadata.metadata or {}).get(REPLACES_KEY, b"[]"))
            self._footers[path] = (metadata.schema.to_arrow_schema().remove_metadata(), replaces)
        return self._footers[path]

    # -- compaction ---------------------------------------------------------------------------

    def compact(
        self, *, small_bytes: int = 32 * 2**20, grace: timedelta = timedelta(hours=1)
    ) -> CompactSummary:
        """
        Merge the small files into one, then delete files replaced longer than `grace` ago.

        Query results do not change: the merged file holds exactly the rows of the files it
        replaces, and readers hide those files as soon as it is committed.

        Parameters
        ----------
        small_bytes
            Files smaller than this are merged (rounds, and earlier merges that stayed small).
        grace
            How long replaced files stay for queries that listed them before the merge; also how
            old a leftover `_tmp/` file (from a writer that died) must be to be deleted.
        """
        sizes = {info.path: info.size for info in [*self._list(ROUNDS, ""), *self._list(COMPACTED, "")]}
        small = [path for path in self.files() if sizes.get(path, 0) < small_bytes]
        written, rows = None, 0
        if len(small) >= 2:
            written, rows = self._merge(small)
        removed = self._vacuum(grace)
        return CompactSummary(len(small) if written else 0, rows, written, removed)

    def _merge(self, paths: list[str]) -> tuple[str, int]:
        schema = pa.unify_schemas([self._footer(p)[0] for p in paths], promote_options="permissive")
        table = ds.dataset(paths, schema=schema, filesystem=self.fs).to_table()
        table = table.sort_by([("round_ts", "ascending"), ("location", "ascending")])
        # The transitive closure: a merge of merges also hides what those merges hid, so deleting
        # an inner merge never brings its own sources back into view.
        replaces = sorted({*paths, *(inner for p in paths for inner in self._footer(p)[1])})
        table = table.replace_schema_metadata({REPLACES_KEY: json.dumps(replaces).encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        target = self._commit(f"{COMPACTED}/{self._new_name('compacted', '.parquet')}", sink.getvalue())
        return target, table.num_rows

    def _vacuum(self, grace: timedelta) -> int:
        cutoff = self.clock() - grace
        doomed: set[str] = set()
        for info in self._list(COMPACTED, ".parquet"):
            if _stamped(info.base_name) <= cutoff:
                doomed.update(self._footer(info.path)[1])
        present = {info.path for info in [*self._list(ROUNDS, ""), *self._list(COMPACTED, "")]}
        stale_tmp = [info.path for info in self._list(TMP, "") if _modified(info) <= cutoff]
        removed = 0
        for path in sorted(doomed & present) + stale_tmp:
            removed += _delete_quietly(self.fs, path)
            self._footers.pop(path, None)
        return removed


def open_store(uri: str, *, endpoint: str | None = None, clock: Clock = _utcnow) -> RunStore:
    """
    Open (or start) a run store in a folder or at `s3://bucket/prefix`.

    Parameters
    ----------
    uri
        A folder path, `file://...`, or `s3://bucket/prefix`. S3 credentials come from the usual
        AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, profiles).
    endpoint
        An S3-compatible server (`http://127.0.0.1:9000`, MinIO, R2, ...); default
        `$FLAKEHUNT_S3_ENDPOINT`, else AWS itself.
    clock
        UTC time for file names and `round_ts`; tests pass a fixed one.

    Examples
    --------
    >>> import tempfile
    >>> store = open_store(tempfile.mkdtemp())
    >>> store.scan().collect().columns
    ['location', 'round_id', 'round_ts']
    """
    if uri.startswith("s3://"):
        bucket_and_prefix = uri.removeprefix("s3://").strip("/")
        if not bucket_and_prefix:
            raise FlakehuntError(f"--store {uri!r} names no bucket; write it as s3://bucket/prefix")
        return RunStore(uri, _s3(endpoint or os.environ.get(ENDPOINT_ENV)), bucket_and_prefix, clock=clock)
    if "://" in uri and not uri.startswith("file://"):
        raise FlakehuntError(f"--store {uri!r} has an unknown scheme; give a folder or s3://bucket/prefix")
    path = os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))
    if os.path.exists(path) and not os.path.isdir(path):
        raise FlakehuntError(f"--store {uri!r} is a file; give a folder (it is created if missing)")
    return RunStore(uri, pafs.LocalFileSystem(), path, clock=clock)


def _s3(endpoint: str | None) -> pafs.S3FileSystem:
    options: dict[str, Any] = {"region": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION"))}
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        if scheme not in ("", "http", "https") or not host:
            raise FlakehuntError(
                f"--s3-endpoint has bad URL {endpoint!r}; write it like http://127.0.0.1:9000"
            )
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme or "https")
    return pafs.S3FileSystem(**{k: v for k, v in options.items() if v is not None})


def _parquet_bytes(frame: pl.DataFrame) -> pa.Buffer:
    # Serialized in memory first, so the temporary file is written with one call.
    sink = pa.BufferOutputStream()
    pq.write_table(frame.to_arrow(), sink, compression="zstd")
    return sink.getvalue()


def _stamped(name: str) -> datetime:
    return datetime.strptime(name.split("_", 1)[0], _STAMP).replace(tzinfo=UTC)


def _modified(info: pafs.FileInfo) -> datetime:
    mtime = info.mtime
    if mtime is None:
        return datetime.min.replace(tzinfo=UTC)
    return mtime if mtime.tzinfo else mtime.replace(tzinfo=UTC)


def _delete_quietly(fs: pafs.FileSystem, path: str) -> int:
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        return 0
    return 1
