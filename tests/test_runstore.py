"""The run store: concurrent runners, compaction, interrupted writes, and S3 through moto's server."""

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
import pyarrow.parquet as pq
import pytest

from flakehunt.errors import FlakehuntError
from flakehunt.watch.runstore import open_store

SRC = Path(__file__).resolve().parent.parent / "src"


def probe_rows(round_no: int, edges: tuple[str, ...] = ("FRA56-C1", "IAD89-P2"), repeat: int = 3):
    """Rows shaped like probe_runs: one per run, the configuration as columns, an outcome."""
    return pl.DataFrame(
        {
            "run_id": [f"r{round_no}-{edge}-{i}" for edge in edges for i in range(repeat)],
            "edge_pop": [edge for edge in edges for _ in range(repeat)],
            "browser": ["chromium"] * (len(edges) * repeat),
            "outcome": ["fail" if (round_no + i) % 4 == 0 else "pass" for _ in edges for i in range(repeat)],
        }
    )


def sorted_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(sorted(frame.columns)).sort("round_id", "run_id")


def test_each_round_is_one_file_tagged_with_its_location(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    store.append_round(probe_rows(1), location="fra-office", round_id="a")
    store.append_round(probe_rows(2), location="iad-office", round_id="b")
    frame = store.read()
    assert len(store.files()) == 2
    assert frame.group_by("location").len().sort("location").rows() == [("fra-office", 6), ("iad-office", 6)]
    assert frame.schema["round_ts"] == pl.Datetime("us", "UTC")


def test_scan_window_is_on_round_time(tmp_path: Path) -> None:
    times = iter([datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)])
    store = open_store(str(tmp_path), clock=lambda: next(times))
    store.append_round(probe_rows(1), location="a", round_id="early")
    store.append_round(probe_rows(2), location="a", round_id="late")
    late = store.scan(since=datetime(2026, 1, 1, 10, 30, tzinfo=UTC)).collect()
    early = store.scan(until=datetime(2026, 1, 1, 10, 30, tzinfo=UTC)).collect()
    assert set(late["round_id"]) == {"late"}
    assert set(early["round_id"]) == {"early"}


_RUNNER = textwrap.dedent(
    """
    import sys
    import polars as pl
    from flakehunt.watch.runstore import open_store
    store = open_store(sys.argv[1])
    location, rounds = sys.argv[2], int(sys.argv[3])
    for n in range(rounds):
        frame = pl.DataFrame({"run_id": [f"{location}-{n}-{i}" for i in range(5)], "outcome": ["pass"] * 5})
        store.append_round(frame, location=location, round_id=f"{location}-{n}")
    """
)


def _spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, "-c", _RUNNER, *args], env=env)


def test_two_runners_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    uri = str(tmp_path / "shared-store")
    runners = [_spawn(uri, "fra-office", "40"), _spawn(uri, "iad-office", "40")]
    assert [runner.wait(timeout=120) for runner in runners] == [0, 0]
    frame = open_store(uri).read()
    per_round = frame.group_by("location", "round_id").len()
    assert per_round.height == 80
    assert per_round["len"].unique().to_list() == [5]
    assert frame["run_id"].n_unique() == 400


def test_compaction_keeps_query_results(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    for n in range(6):
        store.append_round(probe_rows(n), location=("fra", "iad")[n % 2], round_id=f"r{n}")
    # A round with a column the others lack: the merged file must still answer the same.
    store.append_round(probe_rows(6).with_columns(device=pl.lit("Pixel 7")), location="fra", round_id="r6")
    before = sorted_rows(store.read())

    kept = store.compact(grace=timedelta(hours=1))
    assert (kept.merged, kept.rows, kept.removed) == (7, before.height, 0)
    assert len(list((tmp_path / "rounds").glob("*.parquet"))) == 7, "replaced files wait for the grace period"
    assert sorted_rows(store.read()).equals(before), "a reader sees each row once while old files remain"

    store.append_round(probe_rows(7), location="iad", round_id="r7")
    after_more = sorted_rows(store.read())
    second = store.compact(grace=timedelta(0))
    assert second.merged == 2, "the earlier merge and the new round"
    assert second.removed == 9, "7 rounds, the first merge, and the new round"
    assert sorted_rows(store.read()).equals(after_more)
    assert len(store.files()) == 1


def test_compaction_of_one_file_changes_nothing(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    store.append_round(probe_rows(1), location="fra", round_id="only")
    assert store.compact(grace=timedelta(0)).merged == 0
    assert len(store.files()) == 1


_BIG_WRITER = textwrap.dedent(
    """
    import sys
    import polars as pl
    from flakehunt.watch.runstore import open_store
    store = open_store(sys.argv[1])
    frame = pl.DataFrame({"run_id": [f"run-{i:08d}" for i in range(400_000)], "outcome": ["pass"] * 400_000})
    n = 0
    while True:
        store.append_round(frame, location="killed", round_id=str(n))
        n += 1
    """
)


def test_a_killed_writer_leaves_no_visible_partial_file(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    writer = subprocess.Popen(
        [sys.executable, "-c", _BIG_WRITER, uri], env={**os.environ, "PYTHONPATH": str(SRC)}
    )
    deadline = time.monotonic() + 120
    rounds = tmp_path / "store" / "rounds"
    while time.monotonic() < deadline and len(list(rounds.glob("*.parquet"))) < 2:
        time.sleep(0.05)
    time.sleep(0.07)  # somewhere inside the next round
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    files = open_store(uri).files()
    assert len(files) >= 2
    for path in files:
        assert pq.read_metadata(path).num_rows == 400_000
    assert open_store(uri).read().group_by("round_id").len()["len"].unique().to_list() == [400_000]


def test_alerts_are_recorded_in_order(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    store.alerts.append([{"kind": "raised", "n": 1}, {"kind": "raised", "n": 2}], location="fra")
    assert store.alerts.append([], location="fra") is None
    store.alerts.append([{"kind": "recovered", "n": 3}], location="iad")
    assert [record["n"] for record in store.alerts.read()] == [1, 2, 3]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gs://bucket/x", "unknown scheme"),
        ("s3://", "names no bucket"),
    ],
)
def test_bad_store_uris_are_one_line(uri: str, message: str) -> None:
    with pytest.raises(FlakehuntError, match=message):
        open_store(uri)


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    with pytest.raises(FlakehuntError, match="is a file"):
        open_store(str(tmp_path / "x"))


def test_a_round_cannot_bring_store_columns(tmp_path: Path) -> None:
    with pytest.raises(FlakehuntError, match="'location'"):
        open_store(str(tmp_path)).append_round(
            pl.DataFrame({"location": ["x"]}), location="fra", round_id="r"
        )


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch):
    """moto's S3 server on a free loopback port, with a bucket; yields the endpoint URL."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    boto3 = pytest.importorskip("boto3", reason="boto3 (from moto) is not installed")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="probes")
    yield endpoint
    server.stop()


def test_s3_store_against_an_s3_compatible_server(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAKEHUNT_S3_ENDPOINT", s3_server)
    fra = open_store("s3://probes/watch/shop")
    iad = open_store("s3://probes/watch/shop", endpoint=s3_server)
    for n in range(3):
        fra.append_round(probe_rows(n), location="fra-office", round_id=f"fra-{n}")
        iad.append_round(probe_rows(n), location="iad-office", round_id=f"iad-{n}")
    before = sorted_rows(fra.read())
    assert before.height == 36
    assert sorted(before["location"].unique()) == ["fra-office", "iad-office"]
    assert all(path.startswith("probes/watch/shop/rounds/") for path in fra.files())

    summary = iad.compact(grace=timedelta(0))
    assert (summary.merged, summary.removed) == (6, 6)
    assert sorted_rows(fra.read()).equals(before)

    fra.alerts.append([{"kind": "raised", "text": "edge FRA56-C1: 5/6 failed"}], location="fra-office")
    assert iad.alerts.read() == [{"kind": "raised", "text": "edge FRA56-C1: 5/6 failed"}]
    assert not [key for key in _s3_keys(s3_server) if "/_tmp/" in key and not key.endswith("/")], (
        "temporary objects are moved away"
    )


def _s3_keys(endpoint: str) -> list[str]:
    import boto3

    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket="probes")
    return [item["Key"] for item in listing.get("Contents", [])]


def exchange_rows(runs: pl.DataFrame) -> pl.DataFrame:
    """Two requests per run, keyed by run_id as the probe runner writes them."""
    return pl.DataFrame(
        {
            "run_id": [run_id for run_id in runs["run_id"] for _ in range(2)],
            "path": ["/checkout", "/static/app.js"] * runs.height,
            "status": [200, 200] * runs.height,
        }
    )


def test_a_rounds_exchanges_are_read_back_with_its_runs(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    for n in range(3):
        runs = probe_rows(n)
        store.append_round(
            runs, location=("fra", "iad")[n % 2], round_id=f"r{n}", exchanges=exchange_rows(runs)
        )
    exchanges = store.scan_exchanges().collect()
    assert exchanges.height == 36
    assert exchanges.group_by("location").len().sort("location").rows() == [("fra", 24), ("iad", 12)]
    runs = store.read()
    joined = exchanges.join(runs.select("run_id", "round_id"), on="run_id")
    assert (joined["round_id"] == joined["round_id_right"]).all()

    store.compact(grace=timedelta(0))
    assert store.scan_exchanges().collect().height == 36, "rounds merged by compaction keep their exchanges"


def test_exchanges_of_a_round_that_never_committed_stay_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(str(tmp_path))
    runs = probe_rows(1)
    store.append_round(runs, location="fra", round_id="kept", exchanges=exchange_rows(runs))
    commit = store._commit

    def die_on_runs(relative: str, payload) -> str:
        if relative.startswith("rounds/"):
            raise KeyboardInterrupt  # the writer stops between the exchanges and the runs file
        return commit(relative, payload)

    monkeypatch.setattr(store, "_commit", die_on_runs)
    with pytest.raises(KeyboardInterrupt):
        store.append_round(
            probe_rows(2), location="fra", round_id="lost", exchanges=exchange_rows(probe_rows(2))
        )
    assert len(list((tmp_path / "exchanges").glob("*.parquet"))) == 2
    assert set(store.scan_exchanges().collect()["round_id"]) == {"kept"}


def test_artifacts_are_copied_into_the_store_and_paths_rewritten(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    har = tmp_path / "case" / "r-0.har"
    har.parent.mkdir()
    har.write_text('{"log": {"entries": []}}')
    runs = probe_rows(0).with_columns(
        har_path=pl.when(pl.col("outcome") == "fail").then(pl.lit(str(har))),
        screenshot_path=pl.when(pl.col("outcome") == "fail").then(pl.lit(str(tmp_path / "not-kept.png"))),
    )
    store.append_round(runs, location="fra", round_id="r0", artifacts={str(har): har.read_bytes()})
    stored = store.read().filter(pl.col("outcome") == "fail")
    assert stored.height == 2
    (address,) = set(stored["har_path"])
    assert address.startswith(str(tmp_path / "store" / "artifacts")) and address.endswith("/r-0.har")
    assert store.read_artifact(address) == har.read_bytes()
    assert stored["screenshot_path"].null_count() == 2, "a file not kept is not pointed at"


def test_s3_store_keeps_exchanges_and_artifacts(s3_server: str, tmp_path: Path) -> None:
    store = open_store("s3://probes/with-evidence", endpoint=s3_server)
    shot = tmp_path / "r-0.png"
    shot.write_bytes(b"\x89PNG not really")
    runs = probe_rows(0).with_columns(screenshot_path=pl.lit(str(shot)))
    store.append_round(
        runs,
        location="fra",
        round_id="r0",
        exchanges=exchange_rows(runs),
        artifacts={str(shot): shot.read_bytes()},
    )
    assert store.scan_exchanges().collect().height == 12
    (address,) = set(store.read()["screenshot_path"])
    assert address.startswith("s3://probes/with-evidence/artifacts/") and address.endswith("/r-0.png")
    assert store.read_artifact(address) == shot.read_bytes()
