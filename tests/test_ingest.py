"""Real third-party samples through the real pipeline: formats detected, no unexpected rejects,
exact normalized values on specific lines, and the traps PROVENANCE.md lists."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import xxhash

from flakehunt import store
from flakehunt.case import open_case, read_journal
from flakehunt.errors import FlakehuntError
from flakehunt.ingest import ingest_paths, read_rejects
from flakehunt.ingest.read import zstd
from flakehunt.store import read_exchanges

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# corpus path -> (detected format, line numbers expected in rejects and why)
SUPPORTED = {
    "cloudfront-standard/elastic-integrations-test-cloudfront.log": ("cloudfront", []),
    "cloudfront-standard/node-cloudfront-log-parser-web-1-0.log": ("cloudfront", []),
    "cloudfront-standard/node-cloudfront-log-parser-web-2019-12-tab-header.log": ("cloudfront", []),
    "cloudfront-standard/aws-clo-log-processor-cloudfront.log": ("cloudfront", []),
    "cloudfront-standard/aws-clo-microbatch-cloudfront-synthetic.log.gz": ("cloudfront", []),
    "cloudfront-standard/crowdsec-hub-aws-cloudfront-logs-noheader.log": ("cloudfront", []),
    "cloudfront-realtime/node-cloudfront-log-parser-kinesis-realtime.log": ("cloudfront_realtime", []),
    "cloudflare-logpush/elastic-integrations-test-pipeline-http-request-first4.log": (
        "cloudflare_logpush",
        [],
    ),
    "cloudflare-logpush/lnav-logfile_cloudflare-epoch-ns.ndjson": ("cloudflare_logpush", []),
    "cloudflare-logpush/lnav-logfile_cloudflare-ripe.json": ("cloudflare_logpush", []),
    "fastly/crowdsec-hub-fastly-logs-syslog-json.log": ("fastly_json", []),
    "akamai/datadog-integrations-extras-akamai-datastream2-sample.json": ("akamai_datastream2", []),
    "gcp-loadbalancer-cdn/elastic-integrations-gcp-test-load-balancer.log": ("gcp_loadbalancer", []),
    "azure-frontdoor/elastic-integrations-test-fdaccess.log": ("azure_frontdoor", []),
    "nginx/beats-nginx-access-test-xff-ipv6.log": ("nginx_combined", []),
    "nginx/crowdsec-hub-nginx-http-malformed.log": ("nginx_combined", []),
    "nginx/crowdsec-hub-nginx_http-logs-mixed.log": ("nginx_combined", [9]),  # an nginx error-log line
    "nginx/lnav-logfile_shop_access_log-zanbil.log": ("nginx_main", []),
    "nginx/matomo-nginx_json.log": ("json_lines", []),
    "apache/beats-apache-access-darwin-2.4.23-common.log": ("apache_common", []),
    "apache/beats-apache-access-test-mixed.log": ("apache_combined", []),
    "apache/crowdsec-hub-apache2-logs-mixed.log": ("apache_combined", [8, 9]),  # Apache error-log lines
    "apache/lnav-logfile_bad_access_log.0.log": ("nginx_combined", []),
    "apache/matomo-logs_to_tests-combined.log": ("apache_combined", []),
}
# Formats nobody asked for (yet): a clear error, never a silent wrong parse.
UNSUPPORTED = [
    "akamai/elastic-integrations-akamai-siem-test-http-json.log",  # security events, not an access log
    "fastly/pypi-linehaul-downloads-2021-01-07T20-55-00.000-B8Hs_G6d6xN61En2ypwk.log.gz",  # PyPI's own
    "haproxy/matomo-haproxy.log",
    "imperva-incapsula/matomo-incapsula_w3c.log",
]


def sample(corpus_root: Path | None, relative: str) -> Path:
    """A fixture copy when the licence allows one, else the shared corpus (skip when absent)."""
    if (FIXTURES / relative).is_file():
        return FIXTURES / relative
    if corpus_root is None or not (corpus_root / relative).is_file():
        pytest.skip(f"{relative} is read in place from the shared corpus, which is absent")
    return corpus_root / relative


@pytest.fixture
def corpus_or_none(request):
    try:
        return request.getfixturevalue("corpus")
    except pytest.skip.Exception:
        return None


def ingest_one(path: Path, case_id: str = "T-1", **options):
    case = open_case(case_id)
    summary = ingest_paths([path], case=case, **options)
    return case, summary


@pytest.mark.parametrize("relative", sorted(SUPPORTED))
def test_corpus_file_parses_without_unexpected_rejects(relative, corpus_or_none, case_dir):
    expected_format, expected_rejects = SUPPORTED[relative]
    case, summary = ingest_one(sample(corpus_or_none, relative))
    (result,) = summary.files
    assert result.format == expected_format
    rejects = read_rejects(case)
    assert sorted(rejects["line"].to_list()) == expected_rejects, rejects.to_dicts()
    exchanges = read_exchanges(case)
    assert exchanges.height == result.kept > 0
    assert result.lines == result.kept + result.rejected + result.skipped
    assert exchanges["ts"].null_count() == 0 and exchanges["line"].null_count() == 0
    assert set(exchanges["format"]) == {expected_format}
    assert exchanges["file"].str.ends_with(Path(relative).name).all()
    assert set(exchanges["cache_status"].drop_nulls()) <= {
        "hit", "miss", "refresh_hit", "stale", "revalidated", "pass", "error", "other",
    }  # fmt: skip


@pytest.mark.parametrize("relative", UNSUPPORTED)
def test_unsupported_corpus_file_is_a_clear_error(relative, corpus, case_dir):
    with pytest.raises(FlakehuntError, match=r"no known format matches .*closest: .*pass --format"):
        ingest_one(corpus / relative)


def row(case, line: int) -> dict:
    return read_exchanges(case).filter(pl.col("line") == line).row(0, named=True)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# -- CloudFront standard ------------------------------------------------------------------------------


def test_cloudfront_spot_values(corpus, case_dir):
    case, _ = ingest_one(corpus / "cloudfront-standard/elastic-integrations-test-cloudfront.log")
    first = row(case, 3)
    assert first["ts"] == utc(2019, 12, 4, 21, 2, 31)
    assert (first["client_ip"], first["status"], first["bytes_sent"]) == ("89.160.20.112", 200, 392)
    assert (first["edge_pop"], first["cache_status"], first["source"]) == ("LAX1", "hit", "cdn")
    assert first["request_id"] == "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="
    assert first["user_agent"].startswith("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36")
    assert row(case, 4)["client_ip"] == "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6"


def test_cloudfront_host_is_the_visitors_host_and_distribution_is_kept(corpus, case_dir):
    case, _ = ingest_one(corpus / "cloudfront-standard/elastic-integrations-test-cloudfront.log")
    line6 = row(case, 6)
    assert line6["host"] == "www.example.com"
    vendor = {item["key"]: item["value"] for item in line6["vendor"]}
    assert vendor["cs(Host)"].endswith(".cloudfront.net")
    assert vendor["x-edge-result-type"] == "Error"


def test_cloudfront_status_000_is_a_viewer_hang_up(corpus, case_dir):
    case, _ = ingest_one(corpus / "cloudfront-standard/elastic-integrations-test-cloudfront.log")
    assert row(case, 10)["status"] == 0


def test_cloudfront_200_with_result_error_is_a_failed_transfer(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudfront-standard/aws-clo-log-processor-cloudfront.log")
    frame = read_exchanges(case)
    assert frame["status"].to_list() == [200, 200]
    assert frame["cache_status"].to_list() == ["error", "error"]
    assert set(frame["edge_pop"]) == {"HKG54-C1"}


def test_cloudfront_repeated_request_ids_all_kept(corpus, case_dir):
    case, _ = ingest_one(corpus / "cloudfront-standard/elastic-integrations-test-cloudfront.log")
    ids = read_exchanges(case).filter(pl.col("line").is_between(9, 13))["request_id"]
    assert ids.len() == 5 and ids.n_unique() == 1


def test_cloudfront_truncated_31_field_line_parses(corpus, case_dir):
    case, _ = ingest_one(corpus / "cloudfront-standard/elastic-integrations-test-cloudfront.log")
    last = row(case, 14)
    assert (last["path"], last["request_id"], last["status"]) == ("/en(test)", "somevalidbase64==", 404)
    assert last["user_agent"].startswith("User-Agent: Mozilla/4.0")


def test_cloudfront_without_fields_header_uses_documented_order(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudfront-standard/crowdsec-hub-aws-cloudfront-logs-noheader.log")
    first = row(case, 1)
    assert (first["edge_pop"], first["status"], first["host"], first["query"]) == (
        "CDG50-P2", 400, "hub-cdn.crowdsec.net", "query_param=42",
    )  # fmt: skip
    assert first["content_type"] == "text/plain; charset=utf-8"


def test_cloudfront_double_encoded_user_agent(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudfront-standard/node-cloudfront-log-parser-web-1-0.log")
    first = row(case, 3)
    assert first["user_agent"].startswith("Mozilla/5.0 (iPhone; CPU iPhone OS 10_2_1 like Mac OS X)")
    assert first["cache_status"] == "refresh_hit"
    assert first["time_taken_ms"] == 1.0


def test_cloudfront_tab_separated_header_and_trailing_tab(case_dir):
    case, summary = ingest_one(
        FIXTURES / "cloudfront-standard/node-cloudfront-log-parser-web-2019-12-tab-header.log"
    )
    assert summary.files[0].rejected == 0
    assert read_exchanges(case)["request_id"].null_count() == 0


def test_cloudfront_unencoded_user_agent_in_gzip(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudfront-standard/aws-clo-microbatch-cloudfront-synthetic.log.gz")
    first = row(case, 3)
    assert first["user_agent"].startswith("Mozilla/5.0 (iPad; CPU iPad OS 12_4_8 like Mac OS X)")
    assert first["content_length"] == 570130  # a float in the log


def test_cloudfront_lines_out_of_time_order_keep_their_times(corpus, case_dir):
    case, _ = ingest_one(corpus / "cloudfront-standard/elastic-integrations-test-cloudfront.log")
    assert row(case, 6)["ts"] > row(case, 7)["ts"]


# -- CloudFront real-time -----------------------------------------------------------------------------


def test_cloudfront_realtime_swapped_hosts_and_query_in_stem(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudfront-realtime/node-cloudfront-log-parser-kinesis-realtime.log")
    line = row(case, 3)
    assert line["ts"] == utc(2020, 12, 7, 20, 52, 1, 541000)
    assert (line["host"], line["path"], line["edge_pop"]) == ("test.cloudfront.net", "/i", "EWR52-C4")
    assert line["query"].startswith("stm=1607374321563&e=pp")
    assert line["ttfb_ms"] == 42.0


def test_cloudfront_realtime_field_list_from_user(tmp_path, case_dir):
    log = tmp_path / "kinesis.log"
    log.write_text("1607374321.541\t192.0.2.1\t200\tGET\tshop.example.com\t/a.js?v=2\tFRA56-C1\n")
    case, _ = ingest_one(log, fields="timestamp c-ip sc-status cs-method cs-host cs-uri-stem x-edge-location")
    line = row(case, 1)
    assert (line["status"], line["host"], line["path"], line["query"]) == (
        200,
        "shop.example.com",
        "/a.js",
        "v=2",
    )


# -- Cloudflare --------------------------------------------------------------------------------------


def test_cloudflare_timestamps_in_every_encoding(corpus, case_dir):
    case, _ = ingest_one(
        corpus / "cloudflare-logpush/elastic-integrations-test-pipeline-http-request-first4.log"
    )
    frame = read_exchanges(case).sort("line")
    assert frame["ts"].to_list() == [utc(2022, 5, 25, 13, 25, 26)] * 4  # RFC 3339, RFC 3339, s, ns strings
    assert set(frame["edge_pop"]) == {"RUH"}
    assert set(frame["cache_status"]) == {"pass"}  # dynamic


def test_cloudflare_integer_nanoseconds(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudflare-logpush/lnav-logfile_cloudflare-epoch-ns.ndjson")
    first = row(case, 1)
    assert first["ts"] == utc(2024, 4, 10, 23, 0, 0, 100000)
    assert (first["request_id"], first["edge_pop"], first["cache_status"]) == (
        "87a1b2c3d4e5f001",
        "SEA",
        "miss",
    )
    assert (first["client_ip"], first["status"], first["bytes_sent"]) == ("89.163.242.206", 200, 12480)


def test_numbers_no_column_can_hold_are_kept_as_text_not_lost(tmp_path, case_dir):
    """Found by fuzzing: a status of 99999 or a byte count past int64 was read as null, and gone."""
    lines = (FIXTURES / "cloudflare-logpush/lnav-logfile_cloudflare-epoch-ns.ndjson").read_text().splitlines()
    record = json.loads(lines[0])
    record.update(EdgeResponseStatus=99999, EdgeResponseBytes=2**70)
    path = tmp_path / "odd.ndjson"
    path.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    case, summary = ingest_one(path)
    assert summary.rejected == 0 and summary.rows_added == len(lines)
    first = row(case, 1)
    assert (first["status"], first["bytes_sent"]) == (None, None)
    vendor = dict((item["key"], item["value"]) for item in first["vendor"])
    assert (vendor["EdgeResponseStatus"], vendor["EdgeResponseBytes"]) == ("99999", str(2**70))
    assert "EdgeResponseStatus" not in dict((item["key"], item["value"]) for item in row(case, 2)["vendor"])


def test_cloudflare_without_colo_code(case_dir):
    case, _ = ingest_one(FIXTURES / "cloudflare-logpush/lnav-logfile_cloudflare-ripe.json")
    line = row(case, 1)
    assert line["edge_pop"] is None and line["user_agent"] is None
    assert (line["status"], line["method"], line["cache_status"]) == (301, "HEAD", "other")


# -- Fastly, Akamai, GCP, Azure -------------------------------------------------------------------------


def test_fastly_json_behind_syslog_prefix(case_dir):
    case, _ = ingest_one(FIXTURES / "fastly/crowdsec-hub-fastly-logs-syslog-json.log")
    first = row(case, 1)
    assert first["ts"] == utc(2021, 11, 12, 16, 59, 45)
    assert (first["edge_pop"], first["cache_status"], first["status"]) == ("CDG", "miss", 404)
    vendor = {item["key"]: item["value"] for item in first["vendor"]}
    assert vendor["_prefix"].startswith("2021-11-12T16:59:46.613304+00:00")


def test_akamai_pretty_printed_record(corpus, case_dir):
    case, _ = ingest_one(corpus / "akamai/datadog-integrations-extras-akamai-datastream2-sample.json")
    line = read_exchanges(case).row(0, named=True)
    assert line["ts"] == utc(2022, 2, 22, 22, 16, 27, 280000)
    assert (line["path"], line["cache_status"], line["client_ip"]) == ("/Tiger.pdf", "hit", "15.188.240.172")


def test_gcp_remote_ip_with_port(corpus, case_dir):
    case, _ = ingest_one(corpus / "gcp-loadbalancer-cdn/elastic-integrations-gcp-test-load-balancer.log")
    line = row(case, 3)
    assert line["client_ip"] == "89.160.20.156"
    assert (line["edge_pop"], line["cache_status"], line["status"]) == ("SFO", "hit", 304)
    assert line["ts"] == utc(2020, 6, 8, 23, 41, 30, 78651)


def test_azure_seven_fractional_digits(corpus, case_dir):
    case, _ = ingest_one(corpus / "azure-frontdoor/elastic-integrations-test-fdaccess.log")
    line = row(case, 1)
    assert line["ts"] == utc(2021, 12, 15, 3, 10, 11, 647971)
    assert (line["edge_pop"], line["cache_status"], line["host"]) == ("SIN", "pass", "erp.testcloud.com")
    assert line["time_taken_ms"] == pytest.approx(384.0)


# -- nginx and Apache ----------------------------------------------------------------------------------


def test_nginx_forwarded_chains_and_ipv6(case_dir):
    case, _ = ingest_one(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log")
    assert row(case, 1)["client_ip"] == "10.0.0.2"
    assert row(case, 5)["client_ip"] == "10.5.102.222"
    assert row(case, 6)["client_ip"] == "2a03:0000:10ff:f00f:0000:0000:0:8000"
    assert row(case, 1)["ts"] == utc(2016, 12, 7, 10, 5, 7)
    empty = row(case, 7)
    assert (empty["status"], empty["method"], empty["path"]) == (400, None, None)


def test_nginx_binary_escapes_parse(case_dir):
    case, summary = ingest_one(FIXTURES / "nginx/crowdsec-hub-nginx-http-malformed.log")
    assert summary.files[0].kept == 12
    assert set(read_exchanges(case)["status"]) == {400}


def test_nginx_error_log_line_is_rejected_with_line_number(case_dir):
    case, _ = ingest_one(FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log")
    rejects = read_rejects(case)
    assert rejects.select("line", "format").row(0) == (9, "nginx_combined")
    assert rejects["text"][0].startswith("2021/12/01 13:53:33 [error]")
    assert row(case, 4)["host"] == "www.crowdsec.net"
    assert row(case, 7)["client_ip"] == "192.168.1.1"
    assert row(case, 8)["path"] == "/api/test"  # ident field missing


def test_apache_408_without_request(case_dir):
    case, _ = ingest_one(FIXTURES / "apache/beats-apache-access-darwin-2.4.23-common.log")
    line = row(case, 3)
    assert (line["status"], line["bytes_sent"], line["method"], line["client_ip"]) == (408, None, None, "::1")
    assert line["ts"] == utc(2016, 12, 26, 14, 16, 48)


def test_apache_comment_and_blank_lines_are_skipped(corpus, case_dir):
    _, summary = ingest_one(corpus / "apache/matomo-logs_to_tests-combined.log")
    (result,) = summary.files
    assert (result.lines, result.kept, result.skipped, result.rejected) == (6, 4, 2, 0)


def test_nginx_main_keeps_forwarded_for_in_vendor(corpus, case_dir):
    case, _ = ingest_one(corpus / "nginx/lnav-logfile_shop_access_log-zanbil.log")
    frame = read_exchanges(case)
    forwarded = frame.select(
        pl.col("vendor").list.eval(
            pl.element()
            .filter(pl.element().struct.field("key") == "http_x_forwarded_for")
            .struct.field("value")
        )
    )["vendor"].list.len()
    assert forwarded.sum() == 13
    assert row(case, 1)["ts"] == utc(2019, 1, 22, 0, 26, 14)


def test_user_given_nginx_log_format(tmp_path, case_dir):
    log = tmp_path / "app.log"
    log.write_text(
        "2024-04-10T23:00:01+02:00 192.0.2.7 shop.example.com "
        '"GET /cart?id=3 HTTP/2.0" 502 0.250 abc123def456\n'
    )
    case, _ = ingest_one(
        log,
        nginx_format='log_format timed \'$time_iso8601 $remote_addr $host "$request" $status '
        "$request_time $request_id';",
    )
    line = row(case, 1)
    assert line["ts"] == utc(2024, 4, 10, 21, 0, 1)
    assert (line["host"], line["path"], line["query"], line["status"]) == (
        "shop.example.com",
        "/cart",
        "id=3",
        502,
    )
    assert (line["time_taken_ms"], line["request_id"]) == (250.0, "abc123def456")


def test_generic_json_with_user_mapping(tmp_path, case_dir):
    log = tmp_path / "app.jsonl"
    log.write_text('{"when": 1712790001, "addr": "192.0.2.1", "code": 418, "route": "/tea"}\n')
    case, _ = ingest_one(log, mapping="ts=when,client_ip=addr,status=code,target=route")
    line = row(case, 1)
    assert (line["ts"], line["client_ip"], line["status"], line["path"]) == (
        utc(2024, 4, 10, 23, 0, 1), "192.0.2.1", 418, "/tea",
    )  # fmt: skip


# -- the pipeline ------------------------------------------------------------------------------------


def test_second_ingest_adds_nothing_and_says_so(case_dir):
    path = FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log"
    case, first = ingest_one(path)
    _, second = ingest_one(path)
    assert first.rows_added == 7 and second.rows_added == 0
    assert second.files[0].status == "already ingested"
    assert read_exchanges(case).height == 7
    assert [e["action"] for e in read_journal(case)] == ["ingest", "ingest"]


def test_a_copy_under_another_name_is_found_already_ingested_after_its_hash(tmp_path, case_dir):
    # the hash runs beside the parse, so a copy is recognised when its part is complete
    original = FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log"
    copy = tmp_path / "copy.log"
    shutil.copyfile(original, copy)
    case, _ = ingest_one(original)
    _, again = ingest_one(copy)
    assert again.files[0].status == "already ingested" and again.rows_added == 0
    assert read_exchanges(case).height == 7
    assert not [p for p in case.data_dir.rglob("*.tmp")]


def test_parts_are_named_by_xxh3_and_a_case_from_0_1_named_by_sha256_is_not_ingested_twice(
    tmp_path, case_dir
):
    log = tmp_path / "access.log"
    shutil.copyfile(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", log)
    case, _ = ingest_one(log)
    xxh3 = xxhash.xxh3_128(log.read_bytes()).hexdigest()
    sha256 = hashlib.sha256(log.read_bytes()).hexdigest()
    parts = sorted(case.data_dir.rglob("*.parquet"))
    assert parts and {p.stem for p in parts} == {xxh3}
    for part in parts:  # what flakehunt 0.1 wrote: sha256 names, and no digest index
        part.rename(part.with_name(f"{sha256}.parquet"))
    (case.data_dir / "ingest-digests.json").unlink()
    _, again = ingest_one(log)
    assert again.files[0].status == "already ingested"
    assert read_exchanges(case).height == 7


def _compressed_copies(log: Path, folder: Path) -> dict[str, Path]:
    data = log.read_bytes()
    copies = {
        "plain": folder / "access.log",
        "gzip": folder / "access.log.gz",
        "zstd": folder / "access.log.zst",
    }
    copies["plain"].write_bytes(data)
    copies["gzip"].write_bytes(gzip.compress(data, mtime=0))
    copies["zstd"].write_bytes(zstd.compress(data))
    return copies


@pytest.mark.parametrize("first", ["plain", "gzip", "zstd"])
def test_a_log_and_its_gz_and_zst_are_one_content_ingested_once(tmp_path, case_dir, first):
    copies = _compressed_copies(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", tmp_path)
    case, summary = ingest_one(copies[first])
    assert summary.rows_added == 7
    for kind, path in copies.items():
        if kind != first:
            _, again = ingest_one(path)
            assert again.files[0].status == "already ingested", kind
    assert read_exchanges(case).height == 7
    assert len(list(store.dataset_dir(case, store.EXCHANGES).glob("*.parquet"))) == 1


def test_a_large_gzip_log_read_in_blocks_and_a_gzipped_har_are_keyed_by_their_content(tmp_path, case_dir):
    lines = (FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log").read_bytes()
    big = tmp_path / "big.log"
    big.write_bytes(lines * 40_000)  # 12 MB: past the head, so its key comes from the read in blocks
    har = tmp_path / "page.har"
    shutil.copyfile(FIXTURES / "har" / sorted(os.listdir(FIXTURES / "har"))[0], har)
    case = open_case("T-content")
    for path in (big, har):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    first = ingest_paths([big, har], case=case)
    again = ingest_paths([big.with_name("big.log.gz"), har.with_name("page.har.gz")], case=case)
    assert [f.status for f in again.files] == ["already ingested", "already ingested"]
    assert again.rows_added == 0 and read_exchanges(case).height == first.rows_added


def test_a_cut_gzip_is_not_taken_for_the_whole_log(tmp_path, case_dir):
    log = tmp_path / "access.log"
    log.write_bytes((FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log").read_bytes() * 2000)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(log.read_bytes(), mtime=0)[:-2000])
    case, whole = ingest_one(log)
    _, partial = ingest_one(cut)
    assert partial.files[0].status == "ingested" and 0 < partial.rows_added < whole.rows_added
    assert read_exchanges(case).height == whole.rows_added + partial.rows_added


def test_a_gz_that_an_earlier_version_keyed_by_its_stored_bytes_is_not_ingested_twice(tmp_path, case_dir):
    copies = _compressed_copies(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", tmp_path)
    case, _ = ingest_one(copies["gzip"])
    stored = xxhash.xxh3_128(copies["gzip"].read_bytes()).hexdigest()
    for part in case.data_dir.rglob("*.parquet"):  # as 0.2 named it: the hash of the .gz itself
        part.rename(part.with_name(f"{stored}.parquet"))
    (case.data_dir / "ingest-digests.json").unlink()
    moved = tmp_path / "elsewhere.log.gz"
    shutil.copyfile(copies["gzip"], moved)
    for _ in range(2):  # found by its content the first time, by what the index remembers the second
        _, again = ingest_one(moved)
        assert again.files[0].status == "already ingested" and read_exchanges(case).height == 7


def test_an_index_from_before_content_keys_is_still_trusted(tmp_path, case_dir, monkeypatch):
    copies = _compressed_copies(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", tmp_path)
    case, _ = ingest_one(copies["plain"])
    index = case.data_dir / "ingest-digests.json"
    entries = json.loads(index.read_text())
    index.write_text(json.dumps({identity: keys[0] for identity, keys in entries.items()}))  # one string each
    with monkeypatch.context() as patch:
        patch.setattr("flakehunt.ingest.digest.file_digest", lambda p: pytest.fail("hashed again"))
        _, again = ingest_one(copies["plain"])
    assert again.files[0].status == "already ingested"


def test_a_rerun_trusts_the_remembered_hash_and_a_changed_file_is_read_again(tmp_path, case_dir, monkeypatch):
    log = tmp_path / "access.log"
    shutil.copyfile(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", log)
    case, _ = ingest_one(log)
    hashed: list[Path] = []
    with monkeypatch.context() as patch:
        patch.setattr("flakehunt.ingest.digest.file_digest", lambda p: hashed.append(p) or "x" * 64)
        _, again = ingest_one(log)
    assert again.files[0].status == "already ingested" and hashed == []
    with log.open("a") as handle:
        handle.write(log.read_text().splitlines()[0] + "\n")
    _, changed = ingest_one(log)
    assert changed.files[0].status == "ingested" and changed.rows_added == 8
    assert read_exchanges(case).height == 15


def test_the_same_log_again_with_other_options_adds_only_lines_not_in_the_case(case_dir):
    """A relative --since is a new window each run: before, each run added every row again."""
    path = FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log"
    case, narrow = ingest_one(path, since=datetime(2020, 6, 8), until=datetime(2020, 6, 9))
    _, wide = ingest_one(path, since=datetime(2020, 1, 1))
    _, same_again = ingest_one(path, since=datetime(2020, 1, 2))
    _, unfiltered = ingest_one(path)
    everything = read_exchanges(case)
    assert everything["line"].is_unique().all() and everything.height == 8  # 9 lines, 1 an error-log line
    assert (narrow.rows_added, wide.rows_added) == (6, 2)
    assert wide.files[0].known == 7 and "not added again" in " ".join(wide.notes)  # 6 rows, 1 reject
    assert same_again.rows_added == unfiltered.rows_added == 0
    assert same_again.files[0].status == unfiltered.files[0].status == "already ingested"
    assert len(read_rejects(case)) == 1  # the error-log line, rejected once
    for result in (narrow, wide, unfiltered):
        f = result.files[0]
        assert f.lines == f.kept + f.rejected + f.skipped + f.filtered + f.known


def test_a_line_one_format_rejected_is_added_when_another_format_reads_it(tmp_path, case_dir):
    log = tmp_path / "access.log"
    shutil.copyfile(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", log)
    case, wrong = ingest_one(log, format_name="cloudfront")  # not tab-separated: every line rejected
    _, right = ingest_one(log, format_name="nginx_combined")
    _, wrong_again = ingest_one(log, format_name="cloudfront", since=datetime(2000, 1, 1))
    assert (wrong.rows_added, wrong.rejected) == (0, 7)
    assert (right.rows_added, right.files[0].known) == (7, 0)
    assert (wrong_again.rows_added, wrong_again.rejected, wrong_again.files[0].known) == (0, 0, 7)
    assert read_exchanges(case).height == 7 and len(read_rejects(case)) == 7


def test_since_until_and_host_filters(case_dir):
    path = FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log"
    case, summary = ingest_one(
        path, since=datetime(2020, 6, 8), until=datetime(2020, 6, 9), host="www.crowdsec11.net"
    )
    frame = read_exchanges(case)
    assert frame.height == 2 and set(frame["host"]) == {"www.crowdsec11.net"}
    assert summary.files[0].filtered == 6


def test_forced_format_overrides_detection(case_dir):
    _, summary = ingest_one(
        FIXTURES / "apache/beats-apache-access-darwin-2.4.23-common.log", format_name="apache_combined"
    )
    assert summary.files[0].format == "apache_combined" and summary.files[0].kept == 6


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("nginx", " (closest: nginx_combined, nginx_combined_request_id, nginx_main)"),
        ("cloudfrnt", " (closest: cloudfront, cloudfront_realtime)"),
        ("Fastly_JSON", " (closest: fastly_json)"),
        ("syslog", ""),
    ],
)
def test_unknown_format_name_says_the_closest(case_dir, name, closest):
    with pytest.raises(FlakehuntError) as raised:
        ingest_one(FIXTURES / "apache/beats-apache-access-darwin-2.4.23-common.log", format_name=name)
    assert str(raised.value).startswith(f"unknown format {name!r}{closest}; known: akamai_datastream2, ")


def test_folder_glob_and_summary(case_dir):
    case = open_case("T-2")
    summary = ingest_paths([FIXTURES / "apache", str(FIXTURES / "nginx" / "beats-*.log")], case=case)
    assert len(summary.files) == 5
    data = summary.to_dict()
    assert data["rows_added"] == read_exchanges(case).height
    assert {f["format"] for f in data["files"]} >= {"apache_common", "apache_combined", "nginx_combined"}
