"""Runs are stored in parts as they finish, and secrets are scrubbed from what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flakehunt.case import open_case
from flakehunt.probe.matrix import DEFAULTS
from flakehunt.probe.results import FailedCheck, RunRecord
from flakehunt.probe.scrub import Scrubber
from flakehunt.probe.writer import RunWriter
from flakehunt.store import dataset_dir, scan_dataset, scan_exchanges

CONFIG = {**DEFAULTS, "edge": "127.0.0.2"}


def _run(index: int) -> RunRecord:
    now = datetime.now(UTC)
    return RunRecord(f"p-{index:05d}", CONFIG, index, now, now, "pass")


def _exchange(index: int) -> dict:
    return {
        "ts": datetime.now(UTC),
        "source": "probe",
        "path": "/checkout",
        "status": 200,
        "run_id": f"p-{index:05d}",
    }


def test_runs_are_written_every_n_and_the_rest_on_flush(tmp_path):
    case = open_case("T-5", root=tmp_path)
    writer = RunWriter(case, probe_id="p", spec="s", url="http://shop.test/", every=2, clock=lambda: 0.0)
    for index in range(5):
        writer.add(_run(index), [_exchange(index)])
    assert writer.written == 4 and writer.parts == 2  # the fifth waits for the next part
    writer.flush()
    writer.flush()  # nothing buffered: no empty part
    assert sorted(p.name for p in dataset_dir(case, "probe_runs").iterdir()) == [
        "p-0000.parquet",
        "p-0001.parquet",
        "p-0002.parquet",
    ]
    runs = scan_dataset(case, "probe_runs").collect()
    assert sorted(runs["run_id"]) == [f"p-{i:05d}" for i in range(5)]
    assert sorted(scan_exchanges(case).collect()["run_id"]) == sorted(runs["run_id"])


def test_a_part_is_also_written_when_time_passes(tmp_path):
    case = open_case("T-6", root=tmp_path)
    now = [0.0]
    writer = RunWriter(
        case, probe_id="q", spec="s", url="http://shop.test/", every=100, seconds=15, clock=lambda: now[0]
    )
    writer.add(_run(0), [])
    assert writer.parts == 0
    now[0] = 16.0
    writer.add(_run(1), [])
    assert writer.parts == 1 and writer.written == 2


def test_secrets_are_scrubbed_from_records_rows_and_files(tmp_path):
    scrub = Scrubber({"SHOP_PASSWORD": 'pa"ss word/1'})
    record = _run(0)
    record.console_errors = ['login with pa"ss word/1']
    record.failed_checks = [FailedCheck("field", "empty", "'pa\"ss word/1'")]
    scrub.value(record)
    assert record.console_errors == ["login with [secret $SHOP_PASSWORD]"]
    assert record.failed_checks[0].observed == "'[secret $SHOP_PASSWORD]'"
    rows = scrub.value(
        [{"query": "pw=pa%22ss%20word%2F1", "vendor": [{"key": "k", "value": "pa%22ss+word%2F1"}]}]
    )
    assert rows == [
        {"query": "pw=[secret $SHOP_PASSWORD]", "vendor": [{"key": "k", "value": "[secret $SHOP_PASSWORD]"}]}
    ]
    har = tmp_path / "run.har"
    har.write_text(json.dumps({"postData": {"text": 'pa"ss word/1'}}))
    scrub.file(har)
    assert json.loads(har.read_text()) == {"postData": {"text": "[secret $SHOP_PASSWORD]"}}
