"""The fast W3C/TSV path (polars' CSV reader over raw blocks) gives what the line-wise parser gives."""

from __future__ import annotations

import dataclasses
import gzip

import polars as pl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flakehunt.case import open_case
from flakehunt.edgesim.accesslog import nginx_line
from flakehunt.formats import load_formats
from flakehunt.ingest import ingest_paths, read_rejects
from flakehunt.ingest.blocks import parse_block, read_delimited
from flakehunt.ingest.detect import detect_format
from flakehunt.ingest.parse import LINE, FileState, parse_chunk
from flakehunt.ingest.read import Block, iter_blocks, lines_from_text, to_chunk
from flakehunt.store import read_exchanges

from .conftest import FIXTURES

CLOUDFRONT = load_formats()["cloudfront"]
SMALL = dataclasses.replace(CLOUDFRONT, columns=("a", "b", "c", "d", "e"), min_columns=3)


def _both_ways(fmt, data: bytes, chunk_bytes: int, tmp_path) -> tuple[tuple, tuple]:
    """(rows, rejects, skipped) from the fast path over blocks, and from the line-wise parser."""
    path = tmp_path / "in.log"
    path.write_bytes(data)
    fast_state, slow_state = FileState(), FileState()
    fast, slow = [], []
    for block in iter_blocks(path, chunk_bytes=chunk_bytes):
        fast += list(parse_block(fmt, block, fast_state))
    for block in iter_blocks(path, chunk_bytes=1 << 30):
        chunk = to_chunk(block)
        slow.append((parse_chunk(fmt, chunk.lines, slow_state), chunk.too_long))

    def summary(parsed, too_long):
        rows = pl.concat([p.rows for p in parsed], how="diagonal_relaxed").sort(LINE)
        rejects = pl.concat([*[p.rejects for p in parsed], *too_long], how="vertical_relaxed").sort(LINE)
        return rows, rejects, sum(p.skipped for p in parsed)

    return (
        summary([p.parsed for p in fast], [p.too_long for p in fast]),
        summary([p for p, _ in slow], [t for _, t in slow]),
    )


FIELD = st.sampled_from(["-", "", "a", "x y", "é", "%20q", " ", "#", "1.5", "b\r", "\xff"])
CLEAN = st.lists(st.sampled_from(["-", "a", "x y", "é", "%20q", "1.5", "#"]), min_size=3, max_size=5)
LINE_TEXT = st.one_of(
    CLEAN.map("\t".join),
    CLEAN.map("\t".join),
    st.lists(FIELD, min_size=0, max_size=8).map("\t".join),
    st.sampled_from(["", "   ", "#Version: 1.0", "# note", "\t\t", "a\tb\tc\td\te\t"]),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(LINE_TEXT, min_size=1, max_size=40),
    crlf=st.booleans(),
    chunk=st.sampled_from([16, 64, 1 << 20]),
    least=st.sampled_from([1, 3, 5]),  # fields every line must have, of 5
)
def test_fast_path_equals_line_wise(tmp_path, lines, crlf, chunk, least):
    text = ("\r\n" if crlf else "\n").join(lines)
    data = text.encode("utf-8").replace("\xff".encode(), b"\xff")  # one invalid byte
    assume(data)  # an empty file has no blocks at all
    fast, slow = _both_ways(dataclasses.replace(SMALL, min_columns=least), data, chunk, tmp_path)
    assert fast[0].equals(slow[0])
    assert fast[1].select(LINE, "reason").equals(slow[1].select(LINE, "reason"))
    assert fast[2] == slow[2]


def test_fast_path_takes_clean_runs_and_refuses_odd_ones():
    good = b"1\t2\t3\t4\t5\n1\t-\t3\n"
    rows = read_delimited(SMALL, Block(good, 10, 0), list(SMALL.columns))
    assert rows is not None
    assert rows.row(1, named=True) == {LINE: 11, "a": "1", "b": None, "c": "3", "d": None, "e": None}
    for odd in [
        b"1\t\t3\t4\n",  # an empty field before the last one: "" line-wise, null in the CSV reader
        b"1\t2\n",  # too few fields: a reject
        b"1\t2\t3\t4\t5\t6\n",  # too many
        b"\n1\t2\t3\n",  # a blank line
        b"1\t2\r3\n",  # a bare carriage return
        b"1\t2\t\xff\n",  # not UTF-8
    ]:
        assert read_delimited(SMALL, Block(odd, 1, 0), list(SMALL.columns)) is None, odd


def test_a_malformed_line_in_a_large_file_is_rejected_with_its_number(tmp_path, case_dir):
    source = (FIXTURES / "cloudfront-standard/crowdsec-hub-aws-cloudfront-logs-noheader.log").read_text()
    good = next(line for line in source.splitlines() if line.count("\t") >= 30)
    lines = [good] * 3000
    lines[1234] = "this line was cut"
    path = tmp_path / "big.log"
    path.write_text("\n".join(lines) + "\n")
    summary = ingest_paths([path], case=open_case("B-1"), format_name="cloudfront")
    assert (summary.files[0].kept, summary.files[0].rejected) == (2999, 1)
    assert read_rejects(open_case("B-1"))["line"].to_list() == [1235]
    assert read_exchanges(open_case("B-1"))["line"].is_sorted()


def test_a_new_fields_header_mid_file_applies_from_its_line(tmp_path, case_dir):
    first = (
        "#Version: 1.0\n#Fields: date time sc-status x-edge-location\n2024-01-01\t00:00:01\t200\tFRA56-C1\n"
    )
    second = "#Fields: date time x-edge-location sc-status\n2024-01-01\t00:00:02\tIAD89-P2\t503\n"
    path = tmp_path / "two-headers.log.gz"
    path.write_bytes(gzip.compress((first + second).encode()))
    ingest_paths([path], case=open_case("H-1"), format_name="cloudfront")
    rows = read_exchanges(open_case("H-1")).sort("line").select("line", "status", "edge_pop").rows()
    assert rows == [(3, 200, "FRA56-C1"), (5, 503, "IAD89-P2")]


def test_origin_lines_without_a_cdn_request_id_still_detect_as_request_id_format():
    common = {"remote_addr": "127.0.0.1", "when": 1_741_082_400.0, "status": 200, "body_bytes": 12}
    text = "\n".join(
        [
            nginx_line(**common, request_line="GET / HTTP/1.1", referer=None, user_agent="curl/8.5.0",
                       request_id="SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="),
            nginx_line(**common, request_line="GET /health HTTP/1.1", referer=None, user_agent="curl/8.5.0",
                       request_id=None),
        ]
    )  # fmt: skip
    assert text.endswith('"-"')
    fmt = detect_format(lines_from_text(text), load_formats(), label="origin.log")
    assert fmt.name == "nginx_combined_request_id"
    parsed = parse_chunk(fmt, lines_from_text(text), FileState())
    assert parsed.rejects.height == 0
    assert parsed.rows.sort(LINE)["request_id"].to_list() == [
        "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        None,
    ]
