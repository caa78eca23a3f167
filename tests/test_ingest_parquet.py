"""The Parquet that ingest writes: what other tools read back, and the encodings chosen for it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from flakehunt import store
from flakehunt.case import open_case
from flakehunt.ingest import ingest_paths

SAMPLE = (
    Path(__file__).resolve().parent.parent
    / "fixtures/cloudfront-standard/aws-clo-log-processor-cloudfront.log"
)


def _part(tmp_path: Path, case_id: str) -> Path:
    """The exchanges part of a log of the real sample's lines, 500 times over."""
    header, data = [], []
    for line in SAMPLE.read_text().splitlines():
        (header if line.startswith("#") else data).append(line + "\n")
    log = tmp_path / "repeated.log"
    log.write_text("".join(header + data * 500))
    case = open_case(case_id)
    ingest_paths([log], case=case)
    (part,) = store.dataset_dir(case, store.EXCHANGES).glob("*.parquet")
    return part


def test_duckdb_reads_the_part_as_polars_does(tmp_path, case_dir):
    part = _part(tmp_path, "T-duck")
    ours = pl.read_parquet(part).drop("vendor")
    theirs = duckdb.sql(f"SELECT * EXCLUDE (vendor) FROM read_parquet('{part}') ORDER BY line").pl()
    assert ours.height == 1000
    assert theirs.select(ours.columns).cast(ours.schema).equals(ours)


def test_numbers_times_and_ids_are_written_in_the_encodings_that_cost_the_writer_least(tmp_path, case_dir):
    metadata = pq.ParquetFile(_part(tmp_path, "T-enc")).metadata
    chunk = max(
        (metadata.row_group(i) for i in range(metadata.num_row_groups)), key=lambda group: group.num_rows
    )
    columns = {chunk.column(i).path_in_schema: chunk.column(i) for i in range(chunk.num_columns)}
    encodings = {name: set(column.encodings) - {"RLE"} for name, column in columns.items()}
    assert encodings["ts"] == encodings["line"] == encodings["bytes_sent"] == {"DELTA_BINARY_PACKED"}
    assert encodings["time_taken_ms"] == {"BYTE_STREAM_SPLIT"}
    assert encodings["request_id"] == {"DELTA_LENGTH_BYTE_ARRAY"}
    assert columns["edge_pop"].has_dictionary_page and columns["vendor.key_value.key"].has_dictionary_page
    assert not columns["vendor.key_value.value"].has_dictionary_page


def test_a_part_has_no_empty_row_group(tmp_path, case_dir):
    """The header lines of a W3C log are a piece without rows: they open the file, nothing more."""
    metadata = pq.ParquetFile(_part(tmp_path, "T-groups")).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sizes and 0 not in sizes and sum(sizes) == 1000


@pytest.mark.parametrize("format_name", [None, "cloudfront"])  # detected (a header-only log) and named
def test_a_log_of_header_lines_only_is_a_part_without_row_groups(tmp_path, case_dir, format_name):
    header = [line for line in SAMPLE.read_text().splitlines() if line.startswith("#")]
    log = tmp_path / "header-only.log"
    log.write_text("\n".join(header) + "\n")
    case = open_case("T-empty")
    ingest_paths([log], case=case, format_name=format_name)
    (part,) = store.dataset_dir(case, store.EXCHANGES).glob("*.parquet")
    assert pq.ParquetFile(part).metadata.num_row_groups == 0
    assert store.scan_dataset(case, store.EXCHANGES).collect().height == 0
