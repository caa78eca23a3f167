"""HAR ingest over the real browser exports in fixtures/har and ../shared/corpus/har."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from flakehunt.errors import FlakehuntError
from flakehunt.ingest.har import parse_har
from flakehunt.redact import fingerprint
from flakehunt.schema import EXCHANGE_SCHEMA, REJECT_SCHEMA

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "har"
CORPUS_HARS = ("mitmproxy-firefox.har", "mitmproxy-safari.har")  # too large to copy; read in place
FIXTURE_HARS = ("mitmproxy-chrome.har", "mitmproxy-with-bom.har", "haralyzer-cnn-firebug.har")
KEY = "test-key"
CREDENTIAL_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization", "x-api-key"}


@pytest.fixture(autouse=True)
def _fingerprint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAKEHUNT_KEY", KEY)


def parse(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    return parse_har(path, file_label=path.name)


def row(frame: pl.DataFrame, line: int) -> dict:
    found = frame.filter(pl.col("line") == line).to_dicts()
    assert len(found) == 1
    found[0]["vendor"] = {item["key"]: item["value"] for item in found[0]["vendor"]}
    return found[0]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_chrome_cloudfront_304_and_failed_request() -> None:
    exchanges, rejects = parse(FIXTURES / "mitmproxy-chrome.har")
    assert exchanges.schema == pl.Schema(EXCHANGE_SCHEMA)
    assert rejects.is_empty() and rejects.schema == pl.Schema(REJECT_SCHEMA)
    assert exchanges.height == 3
    first = row(exchanges, 1)
    assert first["ts"] == utc("2023-03-30 00:00:54.250")
    assert (first["source"], first["format"], first["file"]) == ("har", "har", "mitmproxy-chrome.har")
    assert (first["method"], first["scheme"], first["host"], first["path"]) == (
        "GET",
        "https",
        "mitmproxy.org",
        "/",
    )
    assert first["status"] == 304
    assert first["cache_status"] == "hit"
    assert first["edge_pop"] == "SFO5-P1"
    assert first["edge_ip"] == "108.138.246.80"
    assert first["request_id"] == "PaWnOEEyng3O4PBX2lab_qyD2DQ60VajC413wiIbt93eiNkaSKvpkQ=="
    assert first["etag"] == 'W/"a1550c2bd25c5bcfef789d730f5bbddf"'
    assert first["age"] == 11391
    assert first["bytes_sent"] == 253  # _transferSize
    assert first["ttfb_ms"] == pytest.approx(7.330000007074326)
    assert first["time_taken_ms"] == pytest.approx(14.666000031866133)
    assert first["content_hash"].startswith("sha256:")
    assert first["user_agent"].endswith("Chrome/110.0.0.0 Safari/537.36")
    assert first["vendor"]["pageref"] == "page_1"
    assert first["vendor"]["response.headers.via"].endswith("cloudfront.net (CloudFront)")

    failed = row(exchanges, 2)  # status 0 with net::ERR_INTERNET_DISCONNECTED
    assert failed["status"] is None
    assert failed["cache_status"] == "error"
    assert failed["vendor"]["response._error"] == "net::ERR_INTERNET_DISCONNECTED"
    assert failed["edge_ip"] is None  # serverIPAddress ""
    assert failed["content_length"] is None


def test_chrome_cookie_header_is_fingerprinted_per_cookie() -> None:
    exchanges, _ = parse(FIXTURES / "mitmproxy-chrome.har")
    cookie = row(exchanges, 3)["vendor"]["request.headers.cookie"]
    pairs = dict(pair.split("=", 1) for pair in cookie.split("; "))
    assert "SID" in pairs and "NID" in pairs
    assert all(value.startswith("fp:") and len(value) == 15 for value in pairs.values())


def test_byte_order_mark_and_post_body() -> None:
    exchanges, rejects = parse(FIXTURES / "mitmproxy-with-bom.har")
    assert rejects.is_empty()
    post = row(exchanges, 1)
    assert post["method"] == "POST"
    assert post["host"] == "signal-metrics-collector-beta.s-onetag.com"
    assert post["path"] == "/metrics"
    assert post["edge_ip"] == "99.83.181.31"
    assert post["ts"] == utc("2023-07-15 13:37:26.093")
    body = json.loads(post["vendor"]["request.postData.text"])
    assert body["metadata"]["domain"] == "reqbin.com"


def test_firebug_single_line_fastly_shield_and_aborted_request() -> None:
    path = FIXTURES / "haralyzer-cnn-firebug.har"
    assert path.read_bytes().count(b"\n") == 0 and path.stat().st_size > 300_000
    exchanges, rejects = parse(path)
    assert (exchanges.height, rejects.height) == (145, 0)
    assert exchanges["line"].to_list() == list(range(1, 146))

    redirect = row(exchanges, 1)
    assert redirect["ts"] == utc("2015-02-22 03:15:37.909")  # 19:15:37.909-08:00
    assert (redirect["status"], redirect["host"], redirect["scheme"]) == (301, "cnn.com", "http")
    assert (
        redirect["vendor"]["response.headers.set-cookie"]
        == f"CG={fingerprint('CA:BC:Vancouver', key=KEY.encode())}; path=/"
    )

    page = row(exchanges, 2)  # x-served-by: cache-iad2128-IAD, cache-lax1425-LAX (shield, then edge)
    assert page["edge_pop"] == "cache-lax1425-LAX"
    assert page["cache_status"] == "hit"
    assert page["age"] == 35
    assert page["content_length"] == 26951
    assert page["vendor"]["response.headers.x-served-by"] == "cache-iad2128-IAD, cache-lax1425-LAX"

    aborted = row(exchanges, 47)
    assert aborted["status"] is None
    assert aborted["cache_status"] == "error"
    assert aborted["vendor"]["response._error"] == "Aborted"

    assert row(exchanges, 36)["edge_ip"] == "2607:f8b0:4010:800::100d"
    assert row(exchanges, 73)["path"] == "/en_US/all.js"  # the #fragment never reaches a server

    gigya = row(exchanges, 128)  # ?apiKey=3_gtUb... is a credential
    assert gigya["query"].startswith("apiKey=fp:")
    assert "3_gtUb" not in gigya["vendor"]["request.url"]


def test_firefox_local_offset_to_utc(corpus: Path) -> None:
    exchanges, rejects = parse(corpus / "har" / "mitmproxy-firefox.har")
    assert (exchanges.height, rejects.height) == (14, 0)
    first = row(exchanges, 1)
    assert first["ts"] == utc("2023-03-29 23:58:59.303")  # 16:58:59.303-07:00
    assert (first["status"], first["edge_pop"], first["cache_status"]) == (304, "SFO5-C1", "hit")
    assert first["vendor"]["request.httpVersion"] == "HTTP/3"
    cached = row(exchanges, 2)  # served from the browser cache: no address, no timings
    assert cached["edge_ip"] is None and cached["ttfb_ms"] is None and cached["time_taken_ms"] == 0.0


def test_safari_transfer_size_and_fractional_timings(corpus: Path) -> None:
    exchanges, rejects = parse(corpus / "har" / "mitmproxy-safari.har")
    assert (exchanges.height, rejects.height) == (19, 0)
    first = row(exchanges, 1)
    assert first["bytes_sent"] == 5495
    assert first["time_taken_ms"] == pytest.approx(111.34259781101719)
    assert first["vendor"]["_fetchType"] == "Network Load"
    assert row(exchanges, 18)["host"] == "s3-us-west-2.amazonaws.com"


def _credential_values(path: Path) -> set[str]:
    """Every cookie and credential-header value in a HAR, read independently of the parser."""
    entries = json.loads(path.read_bytes().decode("utf-8-sig"))["log"]["entries"]
    values: set[str] = set()
    for entry in entries:
        for side in (entry["request"], entry["response"]):
            for header in side.get("headers", []):
                name = header["name"].lower()
                if name in CREDENTIAL_HEADERS:
                    values.add(header["value"])
                    if name == "cookie":
                        values.update(p.partition("=")[2] for p in header["value"].split(";"))
                    if name == "set-cookie":
                        values.add(header["value"].partition(";")[0].partition("=")[2])
            values.update(cookie.get("value", "") for cookie in side.get("cookies", []))
    return {value.strip() for value in values if len(value.strip()) >= 6}


def _every_string(frame: pl.DataFrame) -> list[str]:
    strings = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            strings += frame[name].drop_nulls().to_list()
    if "vendor" in frame.columns:
        strings += frame["vendor"].explode().struct.field("value").drop_nulls().to_list()
    return strings


@pytest.mark.parametrize("name", FIXTURE_HARS + CORPUS_HARS)
def test_no_cookie_or_authorization_value_reaches_the_frames(
    name: str, request: pytest.FixtureRequest
) -> None:
    path = FIXTURES / name if name in FIXTURE_HARS else request.getfixturevalue("corpus") / "har" / name
    secrets = _credential_values(path)
    assert len(secrets) >= 15 or name not in ("mitmproxy-chrome.har", "haralyzer-cnn-firebug.har")
    exchanges, rejects = parse(path)
    text = "\n".join(_every_string(exchanges) + _every_string(rejects))
    leaked = sorted(secret for secret in secrets if secret in text)
    assert not leaked, f"{name}: {leaked[:3]}"


def test_credentials_in_headers_forms_queries_and_urls(tmp_path: Path) -> None:
    secrets = {
        "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
        "api_key": "AKIAIOSFODNN7EXAMPLE-api",
        "password": "correct horse battery staple",
        "form_password": "hunter2hunter2",
        "token": "tok_9f8e7d6c5b4a",
        "userinfo": "s3cr3t-pass",
        "json_secret": "json-secret-value-123",
    }
    har = {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "startedDateTime": "2024-05-01T12:00:00.000+02:00",
                    "time": 10,
                    "request": {
                        "method": "POST",
                        "url": f"https://ann:{secrets['userinfo']}@shop.example/login?next=/&token={secrets['token']}",
                        "headers": [
                            {"name": "Authorization", "value": f"Bearer {secrets['bearer']}"},
                            {"name": "X-Api-Key", "value": secrets["api_key"]},
                            {"name": "Referer", "value": f"https://shop.example/?token={secrets['token']}"},
                        ],
                        "queryString": [{"name": "token", "value": secrets["token"]}],
                        "postData": {
                            "mimeType": "application/x-www-form-urlencoded",
                            "params": [
                                {"name": "user", "value": "ann"},
                                {"name": "password", "value": secrets["form_password"]},
                            ],
                            "text": f"user=ann&password={secrets['form_password']}",
                        },
                    },
                    "response": {"status": 200, "headers": [], "content": {"size": 0}},
                    "timings": {"wait": 5},
                },
                {
                    "startedDateTime": "2024-05-01T12:00:01.000+02:00",
                    "request": {
                        "method": "POST",
                        "url": "https://shop.example/api/session",
                        "headers": [],
                        "postData": {
                            "mimeType": "application/json",
                            "text": json.dumps(
                                {
                                    "user": "ann",
                                    "password": secrets["password"],
                                    "nested": {"client_secret": secrets["json_secret"]},
                                }
                            ),
                        },
                    },
                    "response": {"status": 201, "headers": []},
                },
            ],
        }
    }
    path = tmp_path / "secrets.har"
    path.write_text(json.dumps(har))
    exchanges, rejects = parse(path)
    text = "\n".join(_every_string(exchanges) + _every_string(rejects))
    assert [name for name, value in secrets.items() if value in text] == []

    login = row(exchanges, 1)
    assert login["ts"] == utc("2024-05-01 10:00:00")
    assert login["query"] == f"next=/&token={fingerprint(secrets['token'], key=KEY.encode())}"
    assert login["host"] == "shop.example"
    assert login["vendor"]["request.headers.authorization"].startswith("Bearer fp:")
    assert login["vendor"]["request.postData.text"].startswith("user=ann&password=fp:")
    # the same secret gives the same fingerprint wherever it appeared, so requests still compare
    token_fp = fingerprint(secrets["token"], key=KEY.encode())
    assert token_fp in login["vendor"]["request.headers.referer"]
    session = json.loads(row(exchanges, 2)["vendor"]["request.postData.text"])
    assert session["user"] == "ann" and session["password"].startswith("fp:")


def test_bad_entries_are_rejected_with_their_number(tmp_path: Path) -> None:
    har = {
        "log": {
            "entries": [
                {
                    "startedDateTime": "yesterday",
                    "request": {"url": "https://a.example/?token=abcdef123"},
                    "response": {},
                },
                {"startedDateTime": "2024-05-01T12:00:00Z", "request": {}, "response": {}},
                "not an entry",
                {
                    "startedDateTime": "2024-05-01T12:00:00Z",
                    "request": {"url": "https://a.example/ok"},
                    "response": {"status": 200},
                },
            ]
        }
    }
    path = tmp_path / "bad.har"
    path.write_text(json.dumps(har))
    exchanges, rejects = parse_har(path, file_label="bad.har")
    assert exchanges["line"].to_list() == [4]
    assert rejects["line"].to_list() == [1, 2, 3]
    assert rejects["reason"][0] == "startedDateTime 'yesterday' is not an ISO 8601 time"
    assert "abcdef123" not in rejects["text"][0]
    assert rejects["reason"][1] == "entry has no request.url"
    assert set(rejects["file"]) == {"bad.har"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"log": {"entries": [', "is not valid JSON"),
        (b'{"log": {}}', "is JSON but not a HAR file"),
        (b"\xff\xfe{}", "is not UTF-8"),
    ],
)
def test_unreadable_har_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "customer.har"
    path.write_bytes(content)
    with pytest.raises(FlakehuntError, match=message) as caught:
        parse_har(path, file_label="customer.har")
    assert "\n" not in str(caught.value)
    assert "customer.har" in str(caught.value)


def _set(document: dict, path: str, value: object) -> None:
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    for part in parents:
        document = document[part]
    document[last] = value


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("log.entries.0.timings", -1),
        ("log.entries.0.request.headers", 1),
        ("log.entries.0.response.headers", True),
        ("log.entries.0.request.cookies", 7),
        ("log.entries.0.request.queryString", "a=b"),
        ("log.entries.0.pageref", []),
        ("log.entries.0.response.bodySize", 2**70),
        ("log.entries.0.response._transferSize", -(2**70)),
        ("log.pages", 1),
        ("log.pages.0.id", []),
    ],
)
def test_a_field_of_the_wrong_type_never_stops_the_parse(path: str, value: object) -> None:
    """Found by fuzzing real HARs: each used to be a traceback instead of an ingest."""
    document = json.loads((FIXTURES / "mitmproxy-chrome.har").read_text())
    entries = len(document["log"]["entries"])
    _set(document, path, value)
    exchanges, rejects = parse_har(Path("odd.har"), file_label="odd.har", document=document)
    assert exchanges.height == entries and rejects.height == 0


def test_a_status_no_server_sends_rejects_its_entry_only() -> None:
    document = json.loads((FIXTURES / "mitmproxy-chrome.har").read_text())
    _set(document, "log.entries.0.response.status", 2**70)
    exchanges, rejects = parse_har(Path("odd.har"), file_label="odd.har", document=document)
    assert exchanges.height == len(document["log"]["entries"]) - 1
    assert rejects.row(0, named=True)["reason"] == f"response.status {2**70} is not an HTTP status"
