"""The watch loop against edgesim: a fault switched on mid-run alerts, clears, and signals stop it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from flakehunt.edgesim import SimWorld
from flakehunt.watch.alerts import RAISED, RECOVERED
from flakehunt.watch.loop import watch
from flakehunt.watch.notify import to_store
from flakehunt.watch.runstore import open_store

SRC = Path(__file__).resolve().parent.parent / "src"
EDGES = ("FRA56-C1", "IAD89-P2", "NRT57-C3")

# A round of probe-like rows made with plain HTTP requests through each edge (no browser): the
# same function runs in-process here and in the SIGTERM subprocess below.
ROUND_SOURCE = textwrap.dedent(
    """
    import time
    from datetime import UTC, datetime
    import polars as pl

    def http_round(world, edges, repeat, path="/static/app.js"):
        rows = []
        for pop in edges:
            for n in range(repeat):
                started = datetime.now(UTC)
                try:
                    status = world.fetch(pop, path).status
                    outcome = "pass" if status == 200 else "fail"
                except OSError:
                    status, outcome = None, "error"
                rows.append({"run_id": f"{pop}-{n}-{time.monotonic_ns()}", "edge_pop": pop,
                             "started": started, "status": status, "outcome": outcome})
        return pl.DataFrame(rows, schema_overrides={"status": pl.Int16})
    """
)
_namespace: dict = {}
exec(ROUND_SOURCE, _namespace)
http_round = _namespace["http_round"]


class FakeTime:
    """A clock that only moves when the loop sleeps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 8, tzinfo=UTC)
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_a_fault_switched_on_mid_run_alerts_and_clears(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    fake = FakeTime()
    fault_on, fault_off = 8, 12
    with SimWorld(preset="no-fault", edges=3, logs_dir=tmp_path / "sim", seed=3) as world:
        rounds_run = 0

        def run_round() -> pl.DataFrame:
            nonlocal rounds_run
            if rounds_run == fault_on:
                world.set_faults(failing_edges={"FRA56-C1": 1.0})
            if rounds_run == fault_off:
                world.set_faults(failing_edges={})
            rounds_run += 1
            return http_round(world, EDGES, 5)

        summary = watch(
            run_round,
            every=timedelta(minutes=15),
            jitter=timedelta(minutes=3),
            max_rounds=16,
            store=store,
            location="fra-office",
            notify=to_store(store, location="fra-office"),
            clock=fake.clock,
            sleep=fake.sleep,
        )

    kinds = [(report.number, alert.kind, alert.label) for report in summary.rounds for alert in report.alerts]
    # Two-round window: the first broken round already gives 5/10 against 0/35
    # (p = C(10,5)/C(45,5) = 0.00021 < 0.01 / 3); recovery needs the window to be clean again,
    # two rounds after the fault ends.
    assert kinds == [(fault_on, RAISED, "edge FRA56-C1"), (fault_off + 1, RECOVERED, "edge FRA56-C1")]
    raised = summary.raised[0]
    assert raised.text == (
        "edge FRA56-C1: 5/10 failed in the last 2 rounds vs 0/35 before (p=0.00021), from fra-office"
    )
    assert summary.alerting == []
    assert [record["kind"] for record in store.alerts.read()] == [RAISED, RECOVERED]

    stored = store.read()
    assert stored["round_id"].n_unique() == 16
    assert stored.group_by("round_id").len()["len"].unique().to_list() == [15]
    fra = stored.filter(pl.col("edge_pop") == "FRA56-C1").group_by("outcome").len().sort("outcome")
    assert fra.rows() == [("fail", 20), ("pass", 60)], "4 broken rounds of 5 runs"
    assert set(stored["location"]) == {"fra-office"}

    # On schedule: 15 minutes apart plus at most 3 minutes of jitter each.
    starts = [report.started for report in summary.rounds]
    for number, started in enumerate(starts):
        offset = started - starts[0] - timedelta(minutes=15) * number
        assert timedelta(minutes=-3) <= offset <= timedelta(minutes=3)


def test_a_restarted_watch_keeps_its_baseline(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    with SimWorld(preset="no-fault", edges=3, logs_dir=tmp_path / "sim", seed=3) as world:
        fake = FakeTime()
        options = dict(
            every=timedelta(minutes=15), store=store, location="fra", clock=fake.clock, sleep=fake.sleep
        )
        watch(lambda: http_round(world, EDGES, 5), max_rounds=8, **options)
        world.set_faults(failing_edges={"FRA56-C1": 1.0})
        summary = watch(lambda: http_round(world, EDGES, 5), max_rounds=1, **options)
    assert [alert.kind for alert in summary.alerts] == [RAISED], "the baseline came back from the store"


def test_a_round_without_outcomes_is_refused_before_it_is_stored(tmp_path: Path) -> None:
    from flakehunt.errors import FlakehuntError

    store = open_store(str(tmp_path))
    with pytest.raises(FlakehuntError, match="a round needs an 'outcome' column"):
        watch(
            lambda: pl.DataFrame({"status": [200]}),
            every=timedelta(minutes=1),
            max_rounds=1,
            store=store,
            location="fra",
            sleep=lambda _: None,
        )
    assert store.files() == []


def test_duration_bounds_the_rounds(tmp_path: Path) -> None:
    fake = FakeTime()
    summary = watch(
        lambda: pl.DataFrame({"outcome": ["pass"], "edge_pop": ["FRA56-C1"]}),
        every=timedelta(minutes=15),
        duration=timedelta(hours=1),
        store=open_store(str(tmp_path)),
        location="fra",
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert len(summary.rounds) == 4
    assert fake.slept == [900.0, 900.0, 900.0]


_WATCHER = ROUND_SOURCE + textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from flakehunt.edgesim import SimWorld
    from flakehunt.watch.loop import watch
    from flakehunt.watch.runstore import open_store

    store = open_store(sys.argv[1])
    with SimWorld(preset="no-fault", edges=1, seed=3) as world:
        world.set_faults(slow_edges={"FRA56-C1": 250})
        def run_round():
            print("round-start", flush=True)
            return http_round(world, ["FRA56-C1"], 6)
        summary = watch(run_round, every=timedelta(seconds=0.5), store=store, location="sig")
    print("stopped-by", summary.stopped_by, len(summary.rounds), flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("signals", [1, 2], ids=["one-signal-finishes-the-round", "two-abandon-it"])
def test_sigterm_mid_round_leaves_a_consistent_store(tmp_path: Path, signals: int) -> None:
    uri = str(tmp_path / "store")
    process = subprocess.Popen(
        [sys.executable, "-c", _WATCHER, uri],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        started = 0
        while started < 3:
            line = process.stdout.readline()
            assert line, "the watcher ended early"
            started += line.startswith("round-start")
        time.sleep(0.6)  # about 2 of the round's 6 slow requests (1.5 s in all)
        for _ in range(signals):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.1)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    recorded = 3 if signals == 1 else 2
    assert out.strip().splitlines()[-1] == f"stopped-by SIGTERM {recorded}"
    frame = open_store(uri).read()
    assert frame["round_id"].n_unique() == recorded
    assert frame.group_by("round_id").len()["len"].unique().to_list() == [6], "every round whole"
    assert not list((tmp_path / "store" / "_tmp").glob("*")), "no temporary file left behind"
