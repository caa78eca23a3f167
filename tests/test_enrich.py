"""Enrichment over real inputs: a real .mmdb built here, real POP codes and user agents from the corpus."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from pathlib import Path

import polars as pl
import pytest

import flakehunt.enrich
from flakehunt import doctor, store
from flakehunt.case import open_case
from flakehunt.distinct import Answers, fill_from_distinct
from flakehunt.enrich import enrich_exchanges
from flakehunt.enrich.geoip import NO_ASN_NOTE, NO_DATABASE_NOTE
from flakehunt.enrich.pop import POP_COLUMNS, locate_pops
from flakehunt.enrich.testing import DOCUMENTATION_NETWORKS, write_test_geoip
from flakehunt.enrich.useragent import UA_COLUMNS, parse_user_agent, parse_user_agents
from flakehunt.errors import FlakehuntError
from flakehunt.formats.loader import load_formats
from flakehunt.ingest import ingest_paths
from flakehunt.ingest.har import parse_har
from flakehunt.ingest.normalize import normalize_apart
from flakehunt.ingest.parse import FileState, parse_chunk
from flakehunt.ingest.read import lines_from_text
from flakehunt.schema import EXCHANGE_SCHEMA, conform

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "har"
GEO = ["geo_country", "geo_region", "geo_city", "asn", "as_org"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GeoIP database of this machine and no real fingerprint key take part."""
    monkeypatch.setattr(doctor, "STANDARD_GEOIP_DIRS", ())
    monkeypatch.delenv(doctor.GEOIP_ENV_VAR, raising=False)
    monkeypatch.setenv("FLAKEHUNT_KEY", "test-key")


@pytest.fixture
def geoip_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "geoip"
    write_test_geoip(folder)
    return folder


def exchanges(**columns: list) -> pl.DataFrame:
    return conform(pl.DataFrame(columns))


def test_client_ips_are_located_and_cleaned(geoip_dir: Path) -> None:
    frame = exchanges(
        client_ip=[
            "192.0.2.7",
            "198.51.100.2:9989",  # Google Cloud logs the client port
            "[2001:db8::1]:443",
            "2001:db8:0:0::2",
            "203.0.113.9, 10.0.0.1",  # an X-Forwarded-For chain: the client is first
            "192.0.2.7",
            "10.0.0.1",  # not in the database
            "not-an-ip",
            "",
            None,
        ]
    )
    enriched, notes = enrich_exchanges(frame, geoip_dir=geoip_dir)
    assert notes == []
    assert enriched.schema == pl.Schema(EXCHANGE_SCHEMA)
    assert enriched["client_ip"].to_list() == frame["client_ip"].to_list()  # same rows, same order
    rows = enriched.select(GEO).rows()
    assert rows[0] == ("DE", "Hesse", "Frankfurt am Main", 64496, "Example Transit DE")
    assert rows[1] == ("US", "California", "San Francisco", 64497, "Example Cable US")
    assert rows[2] == ("FR", "Île-de-France", "Paris", 64499, "Example Fibre FR")
    assert rows[3] == rows[2]
    assert rows[4] == ("JP", "Tokyo", "Tokyo", 64498, "Example Mobile JP")
    assert rows[5] == rows[0]
    assert rows[6:] == [(None,) * 5] * 4


def test_known_values_are_kept(geoip_dir: Path) -> None:
    frame = exchanges(
        client_ip=["192.0.2.7", "192.0.2.7"],
        geo_country=["AT", None],  # e.g. Cloudflare's own ClientCountry
        asn=[1, None],
        user_agent=["curl/8.5.0", "curl/8.5.0"],
        ua_family=["flakehunt-probe", None],
        device_class=["desktop", None],
    )
    enriched, _ = enrich_exchanges(frame, geoip_dir=geoip_dir)
    first, second = enriched.to_dicts()
    assert (first["geo_country"], first["asn"], first["geo_city"]) == ("AT", 1, "Frankfurt am Main")
    assert (second["geo_country"], second["asn"]) == ("DE", 64496)
    assert (first["ua_family"], first["device_class"], first["ua_major"]) == (
        "flakehunt-probe",
        "desktop",
        "8",
    )
    assert (second["ua_family"], second["device_class"]) == ("curl", "bot")


def test_no_database_says_so_once_and_leaves_geo_empty() -> None:
    frame = exchanges(client_ip=["192.0.2.7", "198.51.100.2", "192.0.2.8"], edge_pop=["FRA56-C1"] * 3)
    enriched, notes = enrich_exchanges(frame)
    assert notes == [NO_DATABASE_NOTE]
    assert enriched.select(GEO).null_count().row(0) == (3,) * 5
    assert enriched["pop_city"].to_list() == ["Frankfurt am Main"] * 3  # the rest still enriches


def test_no_note_when_there_is_no_client_ip() -> None:
    _, notes = enrich_exchanges(exchanges(edge_pop=["FRA"], client_ip=[None]))
    assert notes == []


def test_databases_are_found_through_the_environment_and_told_apart_by_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    city, asn = write_test_geoip(tmp_path / "built")
    folder = tmp_path / "env"
    folder.mkdir()
    # misleading names: the file called ASN holds the City data and the other way round
    city.rename(folder / "GeoLite2-ASN.mmdb")
    asn.rename(folder / "GeoLite2-City.mmdb")
    monkeypatch.setenv(doctor.GEOIP_ENV_VAR, str(folder))
    enriched, notes = enrich_exchanges(exchanges(client_ip=["203.0.113.200"]))
    assert notes == []
    assert enriched.select(GEO).row(0) == ("JP", "Tokyo", "Tokyo", 64498, "Example Mobile JP")


def test_city_database_alone_notes_the_missing_asn(geoip_dir: Path) -> None:
    (geoip_dir / "Test-ASN.mmdb").unlink()
    enriched, notes = enrich_exchanges(exchanges(client_ip=["192.0.2.1"]), geoip_dir=geoip_dir)
    assert notes == [NO_ASN_NOTE]
    assert enriched.select(GEO).row(0) == ("DE", "Hesse", "Frankfurt am Main", None, None)


def test_a_missing_geoip_dir_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(FlakehuntError, match="is not a folder"):
        enrich_exchanges(exchanges(client_ip=["192.0.2.1"]), geoip_dir=tmp_path / "nope")


def test_documentation_networks_cover_all_four_ranges() -> None:
    assert set(DOCUMENTATION_NETWORKS) == {
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "2001:db8::/32",
    }


@pytest.mark.parametrize(
    ("pop", "city", "country", "continent"),
    [
        ("FRA56-C1", "Frankfurt am Main", "DE", "EU"),  # CloudFront
        ("FRA", "Frankfurt am Main", "DE", "EU"),  # Cloudflare colo
        ("fra", "Frankfurt am Main", "DE", "EU"),
        ("cache-fra19123-FRA", "Frankfurt am Main", "DE", "EU"),  # Fastly
        ("cache-hyd1100029-HYD", "Hyderabad", "IN", "AS"),  # corpus: fastly syslog JSON
        ("HKG54-C1", "Hong Kong", "HK", "AS"),  # corpus: aws-clo cloudfront.log
        ("CDG50-P2", "Paris", "FR", "EU"),  # corpus: crowdsec cloudfront, no header
        ("SFO5-C1", "San Francisco", "US", "NA"),  # corpus: Firefox HAR x-amz-cf-pop
        ("SFO-fbae48ad", "San Francisco", "US", "NA"),  # corpus: Google Cloud CDN cacheId
        ("GRU", "Sao Paulo", "BR", "SA"),
        ("SYD", "Sydney", "AU", "OC"),
    ],
)
def test_pop_codes_resolve_to_their_airport(pop: str, city: str, country: str, continent: str) -> None:
    enriched, _ = enrich_exchanges(exchanges(edge_pop=[pop]))
    row = enriched.row(0, named=True)
    assert (row["pop_city"], row["pop_country"], row["pop_continent"]) == (city, country, continent)
    assert isinstance(row["pop_lat"], float) and isinstance(row["pop_lon"], float)


def test_frankfurt_coordinates_and_unknown_pops() -> None:
    enriched, _ = enrich_exchanges(exchanges(edge_pop=["FRA56-C1", "ZZZ99-Q1", "edge-7", None]))
    lat, lon = enriched.select("pop_lat", "pop_lon").row(0)
    assert lat == pytest.approx(50.03, abs=0.05) and lon == pytest.approx(8.54, abs=0.05)
    assert enriched.select(list(POP_COLUMNS)).slice(1).null_count().row(0) == (3,) * 5


def test_the_airport_table_is_airportsdatas_own_for_every_code() -> None:
    import airportsdata

    from flakehunt.enrich.pop import _airports

    theirs, ours = airportsdata.load("IATA"), _airports()
    assert len(ours) == len(theirs) > 7000
    for code, airport in theirs.items():
        assert (ours[code]["city"] or "", ours[code]["country"] or "") == (
            airport["city"],
            airport["country"],
        )
        assert (ours[code]["lat"], ours[code]["lon"]) == (airport["lat"], airport["lon"]), code


def test_every_cloudflare_colo_in_the_corpus_resolves(corpus: Path) -> None:
    path = corpus / "cloudflare-logpush" / "lnav-logfile_cloudflare-epoch-ns.ndjson"
    colos = [json.loads(line)["EdgeColoCode"] for line in path.read_text().splitlines() if line.strip()]
    enriched, _ = enrich_exchanges(exchanges(edge_pop=colos))
    assert len(colos) == 15
    assert enriched["pop_city"].null_count() == 0
    assert set(enriched["pop_continent"]) <= {"EU", "NA", "SA", "AS", "OC"}


def test_each_distinct_value_is_looked_up_once() -> None:
    asked: list[list[str]] = []

    def counting(pops: list[str]) -> dict[str, list]:
        asked.append(list(pops))
        return locate_pops(pops)

    frame = exchanges(edge_pop=["FRA56-C1", "SFO5-C1", "FRA56-C1", None] * 1000)
    enriched, looked_up = fill_from_distinct(frame, "edge_pop", POP_COLUMNS, counting)
    assert looked_up == 2 and len(asked) == 1 and sorted(asked[0]) == ["FRA56-C1", "SFO5-C1"]
    assert enriched["pop_country"].head(4).to_list() == ["DE", "US", "DE", None]

    # A row that has all its answers already (a probe knows its own POP) asks nothing.
    asked.clear()
    known = {name: [None, "known", None] for name in POP_COLUMNS if name not in ("pop_lat", "pop_lon")}
    frame = exchanges(edge_pop=["FRA56-C1", "LHR61-C2", "SFO5-C1"], pop_lat=[None, 1.0, None],
                      pop_lon=[None, 2.0, None], **known)  # fmt: skip
    enriched, looked_up = fill_from_distinct(frame, "edge_pop", POP_COLUMNS, counting)
    assert looked_up == 2 and sorted(asked[0]) == ["FRA56-C1", "SFO5-C1"]
    assert enriched["pop_city"].to_list() == ["Frankfurt am Main", "known", "San Francisco"]


def _har_user_agent(path: Path) -> dict:
    frame, _ = parse_har(path, file_label=path.name)
    enriched, _ = enrich_exchanges(frame)
    return enriched.select("ua_family", "ua_major", "os_family", "device_class").row(0, named=True)


def test_user_agents_of_the_fixture_hars() -> None:
    assert _har_user_agent(FIXTURES / "mitmproxy-chrome.har") == {
        "ua_family": "Chrome",
        "ua_major": "110",
        "os_family": "Mac OS X",
        "device_class": "desktop",
    }
    assert _har_user_agent(FIXTURES / "haralyzer-cnn-firebug.har") == {
        "ua_family": "Firefox",
        "ua_major": "25",
        "os_family": "Linux",
        "device_class": "desktop",
    }


def test_user_agents_of_the_corpus_hars(corpus: Path) -> None:
    assert _har_user_agent(corpus / "har" / "mitmproxy-safari.har") == {
        "ua_family": "Safari",
        "ua_major": "16",
        "os_family": "Mac OS X",
        "device_class": "desktop",
    }
    assert _har_user_agent(corpus / "har" / "mitmproxy-firefox.har")["ua_major"] == "111"


def test_user_agents_of_a_real_shop_log(corpus: Path) -> None:
    """1000 lines of real traffic with crawlers, phones and desktops (lnav's zanbil.ir sample)."""
    path = corpus / "nginx" / "lnav-logfile_shop_access_log-zanbil.log"
    quoted = re.compile(r'"((?:[^"\\]|\\.)*)"')
    agents = [quoted.findall(line)[2] for line in path.read_text(errors="replace").splitlines()]
    enriched, _ = enrich_exchanges(exchanges(user_agent=agents))
    by_agent = dict(
        zip(agents, enriched.select("ua_family", "ua_major", "os_family", "device_class").rows(), strict=True)
    )
    assert by_agent["Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"][3] == "bot"
    assert by_agent["Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)"][3] == "bot"
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/12.0 Mobile/15E148 Safari/604.1"
    )
    assert by_agent[iphone] == ("Mobile Safari", "12", "iOS", "mobile")
    assert by_agent["Mozilla/5.0 (Windows NT 6.1; rv:42.0) Gecko/20100101 Firefox/42.0"] == (
        "Firefox",
        "42",
        "Windows",
        "desktop",
    )
    googlebot_phone = next(a for a in agents if "Nexus 5X" in a and "Googlebot" in a)
    assert by_agent[googlebot_phone][3] == "bot"  # a crawler pretending to be a phone is a crawler
    dalvik = next(a for a in agents if a.startswith("Dalvik/"))
    assert by_agent[dalvik][2:] == ("Android", "mobile")  # an Android app's HTTP client
    classes = enriched["device_class"].value_counts().to_dict(as_series=False)
    assert set(classes["device_class"]) <= {"desktop", "mobile", "tablet", "bot", "other", None}
    assert enriched["device_class"].null_count() == agents.count("-")


DEVICE_CLASS_CASES = [
    ("curl/7.68.0", "bot"),
    ("python-requests/2.31.0", "bot"),
    ("Go-http-client/1.1", "bot"),
    ("Amazon CloudFront", "bot"),  # corpus: beats nginx line 5, CloudFront fetching from origin
    ("Datadog/Synthetics", "bot"),  # corpus: Akamai DataStream 2 sample
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
        "bot",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.3 Mobile/15E148 Safari/604.1",
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/112.0.0.0 Safari/537.36",
        "tablet",
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "desktop",
    ),
    ("SmartTV/1.0 (Tizen-ish) something", "other"),
]


@pytest.mark.parametrize(("agent", "device_class"), DEVICE_CLASS_CASES)
def test_device_classes(agent: str, device_class: str) -> None:
    enriched, _ = enrich_exchanges(exchanges(user_agent=[agent]))
    assert enriched["device_class"][0] == device_class


def test_missing_user_agents_stay_empty() -> None:
    enriched, _ = enrich_exchanges(exchanges(user_agent=["-", "", "(null)", None]))
    assert enriched.select("ua_family", "device_class").null_count().row(0) == (4, 4)


def test_user_agents_go_through_ua_parsers_native_resolver() -> None:
    """The `regex` extra (ua-parser-rs): the pure-Python resolver takes ~30x as long per distinct
    user agent (bench/enrich.py), which a log with thousands of them would feel."""
    import ua_parser

    assert ua_parser.RegexResolver is not None
    assert ua_parser.BestAvailableResolver is ua_parser.RegexResolver


def test_answers_carry_over_to_the_next_blocks_and_stay_bounded() -> None:
    asked: list[list[str]] = []

    def counting(pops: list[str]) -> dict[str, list]:
        asked.append(sorted(pops))
        return locate_pops(pops)

    answers = Answers("edge_pop", POP_COLUMNS, limit=3)
    first, _ = fill_from_distinct(
        exchanges(edge_pop=["FRA56-C1", "SFO5-C1"]), "edge_pop", POP_COLUMNS, counting, answers
    )
    second, looked_up = fill_from_distinct(
        exchanges(edge_pop=["SFO5-C1", "NRT57-C3", "FRA56-C1", None]),
        "edge_pop",
        POP_COLUMNS,
        counting,
        answers,
    )
    assert asked == [["FRA56-C1", "SFO5-C1"], ["NRT57-C3"]] and looked_up == 1
    assert second["pop_country"].to_list() == ["US", "JP", "DE", None]
    assert first["pop_country"].to_list() == ["DE", "US"]
    # Two threads that looked up the same key add it twice: one row per key stays.
    answers.add(answers.frame)
    assert answers.frame.height == 3
    # Past the limit the answers start afresh, and are still right.
    third, looked_up = fill_from_distinct(
        exchanges(edge_pop=["LHR61-C2"]), "edge_pop", POP_COLUMNS, counting, answers
    )
    assert looked_up == 1 and answers.frame["edge_pop"].to_list() == ["LHR61-C2"]
    assert third["pop_country"].to_list() == ["GB"]


def test_with_answers_kept_only_the_new_keys_of_rows_that_need_them_are_looked_up() -> None:
    asked: list[list[str]] = []

    def counting(pops: list[str]) -> dict[str, list]:
        asked.append(sorted(pops))
        return locate_pops(pops)

    answers = Answers("edge_pop", POP_COLUMNS)
    fill_from_distinct(exchanges(edge_pop=["FRA56-C1"]), "edge_pop", POP_COLUMNS, counting, answers)
    asked.clear()
    # FRA56-C1 is known from the block before; the LHR61-C2 row has all its answers already.
    known = {name: [None, "known", None] for name in POP_COLUMNS if name not in ("pop_lat", "pop_lon")}
    frame = exchanges(edge_pop=["FRA56-C1", "LHR61-C2", "SFO5-C1"], pop_lat=[None, 1.0, None],
                      pop_lon=[None, 2.0, None], **known)  # fmt: skip
    enriched, looked_up = fill_from_distinct(frame, "edge_pop", POP_COLUMNS, counting, answers)
    assert asked == [["SFO5-C1"]] and looked_up == 1
    assert enriched["pop_city"].to_list() == ["Frankfurt am Main", "known", "San Francisco"]
    assert enriched["pop_lat"][1] == 1.0


def _normalized(format_name: str, text: str):
    fmt = load_formats()[format_name]
    return normalize_apart(fmt, parse_chunk(fmt, lines_from_text(text), FileState()).rows, file_label="t")


def test_a_percent_encoded_agent_is_parsed_in_its_decoding_pass_as_enrichment_would() -> None:
    """CloudFront's agents are decoded per distinct value; that pass parses them too, so the
    enrichment need not hash every row's agent again (`agents=False`)."""
    sample = load_formats()["cloudfront"].samples[0]
    normalized = _normalized("cloudfront", f"{sample.header}\n{sample.line}")
    assert normalized.agents_parsed
    row = normalized.exchanges.row(0, named=True)
    assert row["user_agent"] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    assert tuple(row[name] for name in UA_COLUMNS) == parse_user_agent(row["user_agent"])
    # nginx's agents are not encoded: the enrichment parses them.
    line = '192.0.2.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0"'
    plain = _normalized("nginx_combined", line)
    assert not plain.agents_parsed and plain.exchanges["ua_family"].to_list() == [None]
    enriched, _ = enrich_exchanges(plain.exchanges)
    assert enriched["ua_family"].to_list() == ["curl"]
    skipped, _ = enrich_exchanges(plain.exchanges, agents=False)
    assert skipped["ua_family"].to_list() == [None]


def test_ingest_of_a_cloudfront_log_does_not_look_its_agents_up_a_second_time(monkeypatch, case_dir):
    """The pipeline tells the enrichment the agents are parsed: it then leaves `user_agent` alone."""
    keys: list[str] = []
    real = flakehunt.enrich.fill_from_distinct

    def spied(frame, key, *args, **kwargs):
        keys.append(key)
        return real(frame, key, *args, **kwargs)

    monkeypatch.setattr(flakehunt.enrich, "fill_from_distinct", spied)
    log = FIXTURES.parent / "cloudfront-standard" / "aws-clo-log-processor-cloudfront.log"
    case = open_case("T-agents")
    ingest_paths([log], case=case)
    assert "edge_pop" in keys and "user_agent" not in keys
    rows = store.scan_dataset(case, store.EXCHANGES).collect()
    assert rows.height and rows.filter(pl.col("user_agent").is_not_null())["ua_family"].null_count() == 0


def test_two_threads_with_the_same_keys_look_them_up_once() -> None:
    """The first two blocks of a log are parsed at once and share their user agents."""
    asked: list[list[str]] = []
    start = threading.Barrier(2)

    def slow(pops: list[str]) -> dict[str, list]:
        asked.append(sorted(pops))
        time.sleep(0.2)  # long enough for the other thread to arrive while this one looks up
        return locate_pops(pops)

    answers = Answers("edge_pop", POP_COLUMNS)
    frame = exchanges(edge_pop=["FRA56-C1", "SFO5-C1"])
    results: list[pl.DataFrame] = []

    def block() -> None:
        start.wait()
        results.append(fill_from_distinct(frame, "edge_pop", POP_COLUMNS, slow, answers)[0])

    threads = [threading.Thread(target=block) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert asked == [["FRA56-C1", "SFO5-C1"]]
    assert [result["pop_country"].to_list() for result in results] == [["DE", "US"], ["DE", "US"]]


_STARTS = ["Mozilla/5.0 ", "Dalvik/2.1.0 ", "curl/8.5.0", "python-requests/2.31", "pip/24.0 ", " ", "-", ""]
_PLATFORMS = [
    "(Windows NT 10.0; Win64; x64) ",
    "(Macintosh; Intel Mac OS X 10_15_7) ",
    "(X11; Linux x86_64) ",
    "(Linux; Android 13; SM-X700) ",
    "(Linux; Android 13; Pixel 7) ",
    "(iPad; CPU OS 16_3 like Mac OS X) ",
    "(iPhone; CPU iPhone OS 17_4 like Mac OS X) ",
    "(Windows Phone 10.0; Android 6.0.1) ",
    "(X11; CrOS x86_64) ",
    "(Linux; Android 11; KFTRWI) ",
    "(PlayStation 5 3.11) ",
    "(compatible; Googlebot/2.1) ",
    "",
]
_PRODUCTS = [
    "AppleWebKit/537.36 ", "(KHTML, like Gecko) ", "Chrome/120.0.0.0 ", "HeadlessChrome/120.0.0.0 ", "Mobile ",
    "Safari/537.36", "Silk/1.0 ", "Version/17.4 ", "Firefox/125.0", "Amazon CloudFront", "Datadog/Synthetics",
    "Tablet ", "SmartTV ", "Opera Mobi ",
]  # fmt: skip


def test_one_agent_at_a_time_gives_what_the_columnar_lookup_gives() -> None:
    """`parse_user_agent` (Python's `re`) and `parse_user_agents` (polars, Rust's regex) apply
    the device-class rules twice over: they must agree on every agent of this small grammar."""
    agents = [
        start + platform + "".join(products)
        for start, platform in itertools.product(_STARTS, _PLATFORMS)
        for products in itertools.chain(
            [()], itertools.combinations(_PRODUCTS, 1), itertools.combinations(_PRODUCTS, 2)
        )
    ]
    columns = parse_user_agents(agents)
    at_once = list(zip(*(columns[name].to_list() for name in UA_COLUMNS), strict=True))
    assert at_once == [parse_user_agent(agent) for agent in agents]


def test_the_two_device_class_rules_agree_on_the_real_shop_log(corpus: Path) -> None:
    quoted = re.compile(r'"((?:[^"\\]|\\.)*)"')
    shop = corpus / "nginx" / "lnav-logfile_shop_access_log-zanbil.log"
    agents = [quoted.findall(line)[2] for line in shop.read_text(errors="replace").splitlines()]
    agents = list(dict.fromkeys(agents + [agent for agent, _ in DEVICE_CLASS_CASES]))
    columns = parse_user_agents(agents)
    at_once = list(zip(*(columns[name].to_list() for name in UA_COLUMNS), strict=True))
    assert at_once == [parse_user_agent(agent) for agent in agents]
