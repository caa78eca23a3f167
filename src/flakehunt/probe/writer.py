"""
Completed runs go to the case as they finish, so an interrupted probe keeps what it did.

Runs are buffered and written as immutable parts (`<probe-id>-<nnnn>`) of `probe_runs`, with
the pages' requests as the matching parts of `exchanges`: every `every` runs, every `seconds`,
and whatever is left when the probe ends or is interrupted. Each part is written atomically
(see `flakehunt.store.write_part`), exchanges first, so a run row never lacks its exchanges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import polars as pl

from flakehunt.case import Case
from flakehunt.probe.results import RunRecord, runs_frame
from flakehunt.schema import EXCHANGE_SCHEMA, conform
from flakehunt.store import EXCHANGES, write_part

PROBE_RUNS = "probe_runs"
_EXCHANGE_OVERRIDES = {name: dtype for name, dtype in EXCHANGE_SCHEMA.items() if name not in ("vendor", "ts")}


def exchanges_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The rows the runner collected, as the normalized exchanges table."""
    return conform(pl.DataFrame(rows, schema_overrides=_EXCHANGE_OVERRIDES, strict=False))


class RunWriter:
    """Buffer completed runs and write them to the case in parts."""

    def __init__(
        self,
        case: Case,
        *,
        probe_id: str,
        spec: str,
        url: str,
        every: int = 25,
        seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.case = case
        self.probe_id = probe_id
        self.spec = spec
        self.url = url
        self.every = every
        self.seconds = seconds
        self.clock = clock
        self.parts = 0
        self.written = 0  # runs stored so far
        self._runs: list[RunRecord] = []
        self._exchanges: list[dict[str, Any]] = []
        self._last = clock()

    def add(self, record: RunRecord, exchanges: list[dict[str, Any]]) -> None:
        self._runs.append(record)
        self._exchanges.extend(exchanges)
        if len(self._runs) >= self.every or self.clock() - self._last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Write the buffered runs as the next part; nothing when the buffer is empty."""
        self._last = self.clock()
        if not self._runs:
            return
        part = f"{self.probe_id}-{self.parts:04d}"
        write_part(self.case, EXCHANGES, f"probe-{part}", exchanges_frame(self._exchanges))
        write_part(
            self.case,
            PROBE_RUNS,
            part,
            runs_frame(self._runs, probe_id=self.probe_id, spec=self.spec, url=self.url),
        )
        self.parts += 1
        self.written += len(self._runs)
        self._runs, self._exchanges = [], []
