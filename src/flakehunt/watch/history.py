"""
A run store read as a case: `correlate --store`, `report --store`, and `investigate --history`.

Correlate and report work on a case; a store's rounds become one of two ways:

- `store_case` gives the store its own case, `store-<name>-<hash of the URI>` in the usual cases
  folder, whose `probe_runs` and `exchanges` are the store's rounds in the window, rebuilt on
  each call (the store is the truth; the case is a view of it that also keeps a journal of what
  was done with it and its rendered reports);
- `attach_history` copies a store's rounds into an existing case, as one more part, next to
  the case's own probes and logs.

Either way every run keeps its `location` (and `round_id`, `round_ts`), so correlate can find
failures seen from one location only.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import tomli_w

from flakehunt.atomic import write_atomic
from flakehunt.case import Case, open_case, record
from flakehunt.schema import EXCHANGE_SCHEMA, conform
from flakehunt.store import EXCHANGES, dataset_dir, scan_dataset, write_part
from flakehunt.watch.runstore import RunStore, open_store

PROBE_RUNS = "probe_runs"


def store_case(
    uri: str,
    *,
    endpoint: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    root: Path | None = None,
) -> Case:
    """
    A case whose probe runs and exchanges are the store's rounds from `since` to `until`.

    Parameters
    ----------
    uri, endpoint
        The run store (see `open_store`).
    since, until
        UTC bounds on the rounds' time; None is unbounded.
    root
        The cases folder; default `flakehunt.case.cases_root()`.

    Returns
    -------
    Case
        `store-<name>-<hash>`: its data is replaced on every call, its journal and reports kept.

    Raises
    ------
    FlakehuntError
        The store URI is bad, or it holds no rounds in the window.
    """
    from flakehunt.errors import FlakehuntError

    store = open_store(uri, endpoint=endpoint)
    runs = store.read(since, until)
    if runs.is_empty():
        window = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
        raise FlakehuntError(
            f"store {uri!r} has no probe rounds{window}; run 'flakehunt probe SPEC --store {uri}' first"
        )
    case = open_case(_view_id(store), root=root)
    for name in (PROBE_RUNS, EXCHANGES):
        shutil.rmtree(dataset_dir(case, name), ignore_errors=True)
    _write(case, store, runs, since, until, part="store")
    _set_window(case, store=uri, since=since, until=until, url=_most_common(runs, "url"))
    record(case, "store", params={"store": uri, "since": since, "until": until}, outcome=_describe(runs))
    return case


def attach_history(case: Case, store_uri: str, *, since: datetime | None, endpoint: str | None = None) -> int:
    """
    Copy a store's probe rounds since `since` into `case`, next to its own data.

    Runs already in the case (by `run_id`) are skipped, so attaching again is safe. Each run
    keeps its `location`, `round_id` and `round_ts`; the rounds' exchanges come along too.

    Parameters
    ----------
    case
        The case to extend.
    store_uri, endpoint
        The run store (see `open_store`).
    since
        UTC lower bound on the rounds' time; None attaches the whole history.

    Returns
    -------
    int
        How many runs were attached.
    """
    store = open_store(store_uri, endpoint=endpoint)
    runs = store.read(since)
    known = scan_dataset(case, PROBE_RUNS)
    if "run_id" in known.collect_schema().names() and "run_id" in runs.columns:
        runs = runs.join(known.select("run_id").collect(), on="run_id", how="anti")
    if runs.is_empty():
        return 0
    ids = sorted(runs["run_id"].cast(pl.String).fill_null("").to_list()) if "run_id" in runs.columns else []
    part = "history-" + hashlib.sha256("\n".join([store_uri, *ids]).encode()).hexdigest()[:16]
    _write(case, store, runs, since, None, part=part)
    record(
        case,
        "history",
        params={"store": store_uri, "since": since},
        outcome=f"attached {_describe(runs)}",
    )
    return runs.height


def _write(
    case: Case,
    store: RunStore,
    runs: pl.DataFrame,
    since: datetime | None,
    until: datetime | None,
    *,
    part: str,
) -> None:
    exchanges = store.scan_exchanges(since, until)
    if "run_id" in runs.columns and "run_id" in exchanges.collect_schema().names():
        exchanges = exchanges.join(runs.lazy().select("run_id"), on="run_id", how="semi")
        write_part(case, EXCHANGES, part, conform(exchanges, EXCHANGE_SCHEMA).collect())
    write_part(case, PROBE_RUNS, part, runs)


def _set_window(case: Case, **values: object) -> None:
    """Replace (not merge) the view's window: a key left out now must not keep an old value."""
    settings = {key: value for key, value in case.settings().items() if key not in values}
    settings.update({key: value for key, value in values.items() if value is not None})
    write_atomic(case.settings_path, tomli_w.dumps(settings))


def _view_id(store: RunStore) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", store.root.rstrip("/").rsplit("/", 1)[-1]).strip("-._")
    digest = hashlib.sha256(store.uri.encode()).hexdigest()[:8]
    return f"store-{name[:40] or 'root'}-{digest}"


def _most_common(runs: pl.DataFrame, column: str) -> str | None:
    if column not in runs.columns or runs[column].drop_nulls().is_empty():
        return None
    return str(runs[column].drop_nulls().mode().sort().first())


def _describe(runs: pl.DataFrame) -> str:
    failures = int((runs["outcome"] == "fail").sum()) if "outcome" in runs.columns else 0
    locations = sorted(runs["location"].drop_nulls().unique().to_list())
    rounds = runs["round_id"].n_unique()
    return f"{runs.height} runs in {rounds} rounds from {', '.join(locations)}: {failures} failed"
