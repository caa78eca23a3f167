"""
The synthetic log generator: the ground truth of the accuracy benchmark must itself be right.

Every check reads the files the generator wrote (raw lines, the real MaxMind reader), never its
internal arrays.
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import geoip2.database
import maxminddb
import polars as pl
import pytest
from ua_parser import parse as parse_ua

from flakehunt.edgesim.accesslog import CLOUDFRONT_FIELDS
from flakehunt.errors import FlakehuntError
from flakehunt.synth import CAUSES, EXPECT, Scenario, generate, read_case, world

REPO = Path(__file__).resolve().parents[1]
NGINX_LINE = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>[^\]]+)\] "GET (?P<target>\S+) HTTP/1\.1" (?P<status>\d{3}) '
    r'(?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)" "(?P<id>[^"]*)"$'
)
SESSIONS = 2000


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("synth")
    return {cause: generate(Scenario(cause, sessions=SESSIONS, seed=7), root / cause) for cause in CAUSES}


def read_cloudfront(paths) -> pl.DataFrame:
    frames = []
    for path in paths:
        text = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode()
        lines = text.splitlines()
        rows = [line.split("\t") for line in lines[2:]]
        frames.append(pl.DataFrame(rows, schema=CLOUDFRONT_FIELDS, orient="row"))
    frame = pl.concat(frames)
    return frame.with_columns(
        pl.concat_str("date", "time", separator="T").str.to_datetime("%Y-%m-%dT%H:%M:%S").alias("ts"),
        pl.col("sc-status").cast(pl.Int32).alias("status"),
        pl.concat_str("c-ip", "cs(User-Agent)", separator="|").alias("session"),
    )


def read_origin(path: Path) -> pl.DataFrame:
    rows = []
    for line in path.read_text().splitlines():
        match = NGINX_LINE.match(line)
        assert match, f"not an nginx combined + request id line: {line!r}"
        rows.append(match.groupdict())
    return pl.DataFrame(rows).with_columns(pl.col("status").cast(pl.Int32))


def checkouts(cdn: pl.DataFrame) -> pl.DataFrame:
    """The expected-sequence rule, computed over the raw lines: a checkout lacks its pixel."""
    anchors = cdn.filter(pl.col("cs-uri-stem") == "/checkout").sort("ts")
    pixels = (
        cdn.filter(pl.col("cs-uri-stem") == "/pixel.gif")
        .select("session", pl.col("ts").alias("pixel_ts"))
        .sort("pixel_ts")
    )
    joined = anchors.join_asof(
        pixels, left_on="ts", right_on="pixel_ts", by="session", strategy="forward",
        tolerance="30s", check_sortedness=False,
    )  # fmt: skip
    return joined.with_columns(pl.col("pixel_ts").is_null().alias("failed"))


def failure_rate(frame: pl.DataFrame, condition: pl.Expr) -> tuple[float, float]:
    inside = frame.filter(condition)["failed"].mean()
    outside = frame.filter(~condition)["failed"].mean()
    return inside, outside


def ua_family(escaped: str) -> str:
    return parse_ua(unquote(escaped)).user_agent.family


def with_family(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("cs(User-Agent)").map_elements(ua_family, return_dtype=pl.String).alias("family")
    )


def all_files(out_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out_dir).as_posix(): p.read_bytes() for p in sorted(out_dir.rglob("*")) if p.is_file()
    }


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path):
    scenario = Scenario("stale_cache", sessions=300, seed=11)
    generate(scenario, tmp_path / "a")
    generate(scenario, tmp_path / "b")
    first, second = all_files(tmp_path / "a"), all_files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert first == second


def test_another_seed_gives_other_traffic(tmp_path):
    one = generate(Scenario("none", sessions=300, seed=1), tmp_path / "a")
    two = generate(Scenario("none", sessions=300, seed=2), tmp_path / "b")
    assert one.origin_log.read_bytes() != two.origin_log.read_bytes()


def test_regenerating_into_a_folder_replaces_its_files(tmp_path):
    generate(Scenario("none", sessions=300, window_hours=3), tmp_path)
    case = generate(Scenario("none", sessions=300, window_hours=1), tmp_path)
    assert sorted((tmp_path / "cdn").iterdir()) == sorted(case.cdn_logs)


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize("cause", CAUSES)
def test_cloudfront_files_have_the_documented_header_and_33_fields(cases, cause):
    case = cases[cause]
    assert case.cdn_logs
    for path in case.cdn_logs:
        lines = path.read_text().splitlines()
        assert lines[0] == "#Version: 1.0"
        assert lines[1] == "#Fields: " + " ".join(CLOUDFRONT_FIELDS)
        assert len(CLOUDFRONT_FIELDS) == 33
        for line in lines[2:]:
            fields = line.split("\t")
            assert len(fields) == 33, line
            assert all(field and " " not in field for field in fields), line
    cdn = read_cloudfront(case.cdn_logs)
    assert cdn["x-edge-location"].str.contains(r"^[A-Z]{3}\d+-C1$").all()
    assert set(cdn["x-edge-result-type"]) <= {"Hit", "RefreshHit", "Miss", "Error"}
    assert cdn["time-taken"].str.contains(r"^\d+\.\d{3}$").all()
    assert cdn["x-edge-request-id"].str.contains(r"^[A-Za-z0-9_-]{54}==$").all()
    assert cdn["x-edge-request-id"].is_unique().all()


def test_user_agents_are_percent_encoded_as_cloudfront_does(cases):
    cdn = read_cloudfront(cases["none"].cdn_logs)
    agents = set(cdn["cs(User-Agent)"])
    assert (
        "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64;%20rv:132.0)%20Gecko/20100101%20Firefox/132.0"
        in agents
    )
    assert {unquote(a) for a in agents} <= {b.user_agent for b in (*world.BROWSERS, *world.BOTS)}


def test_cloudfront_lines_are_not_in_time_order(cases):
    unsorted = 0
    for path in cases["none"].cdn_logs:
        stamps = [line.split("\t")[1] for line in path.read_text().splitlines()[2:]]
        unsorted += stamps != sorted(stamps)
    assert unsorted > 0


def test_gzip_files_are_named_and_compressed_as_s3_delivers_them(tmp_path):
    case = generate(Scenario("none", sessions=200), tmp_path, gzip=True)
    for path in case.cdn_logs:
        assert re.fullmatch(rf"{world.DISTRIBUTION_ID}\.2026-11-20-\d\d\.[0-9a-f]{{8}}\.gz", path.name)
        assert gzip.decompress(path.read_bytes()).startswith(b"#Version: 1.0\n#Fields: date time ")


@pytest.mark.parametrize("cause", ["none", "origin_fault", "edge_fault", "rate_limited"])
def test_request_ids_join_cdn_and_origin_lines(cases, cause):
    case = cases[cause]
    cdn = read_cloudfront(case.cdn_logs)
    origin = read_origin(case.origin_log)
    joined = origin.join(cdn, left_on="id", right_on="x-edge-request-id", how="left")
    assert joined["x-edge-location"].null_count() == 0, "an origin line without its CDN line"
    # Origin sees the edge, not the visitor.
    assert (
        joined.select(pl.col("addr") == pl.col("x-edge-location").replace_strict(case.edges))
        .to_series()
        .all()
    )
    # Only what reached origin is there: misses, revalidations, origin's own errors.
    kinds = set(joined.select("x-edge-result-type", "status").unique().iter_rows())
    assert kinds <= {("Miss", 200), ("RefreshHit", 304), ("Error", 503)}
    misses = cdn.filter(pl.col("x-edge-result-type").is_in(["Miss", "RefreshHit"]))
    assert misses["x-edge-request-id"].is_in(origin["id"].implode()).all()
    edge_errors = cdn.filter(pl.col("status").is_in([502, 504, 429]))
    assert not edge_errors["x-edge-request-id"].is_in(origin["id"].implode()).any()


def test_origin_log_is_combined_format_plus_request_id(cases):
    lines = cases["none"].origin_log.read_text().splitlines()
    assert lines and all(NGINX_LINE.match(line) for line in lines)
    origin = read_origin(cases["none"].origin_log)
    scripts = origin.filter(pl.col("target").str.starts_with("/static/"))
    assert set(scripts["ua"]) == {"Amazon CloudFront"}  # the cache policy forwards no User-Agent
    assert origin.filter(pl.col("target").str.starts_with("/pixel.gif?event=purchase&")).height > 0


# --- addresses and GeoIP ------------------------------------------------------------------


@pytest.mark.parametrize("cause", CAUSES)
def test_no_real_ip_address_is_generated(cases, cause):
    case = cases[cause]
    addresses = set(read_cloudfront(case.cdn_logs)["c-ip"]) | set(read_origin(case.origin_log)["addr"])
    for text in addresses:
        address = ipaddress.ip_address(text)
        assert any(address in network for network in world.RESERVED_NETWORKS), text


def test_geoip_databases_map_generated_addresses_to_their_countries(cases):
    case = cases["geo_specific"]
    cdn = read_cloudfront(case.cdn_logs)
    plan = {subnet.network: subnet for subnets in world.client_subnets() for subnet in subnets}
    with maxminddb.open_database(case.geoip_city) as city, maxminddb.open_database(case.geoip_asn) as asn:
        countries = set()
        for text in cdn["c-ip"].unique():
            record, owner = city.get(text), asn.get(text)
            assert record is not None and owner is not None, text
            address = ipaddress.ip_address(text)
            subnet = plan.get(ipaddress.ip_network(f"{text}/24", strict=False))
            if subnet is not None:
                assert record["country"]["iso_code"] == subnet.country.iso
                assert record["city"]["names"]["en"] == subnet.city.name
                assert owner["autonomous_system_number"] == subnet.asn
            elif address in world.CARRIER_NETWORK:
                assert record["country"]["iso_code"] == world.CARRIER_COUNTRY
                assert owner["autonomous_system_number"] == world.carrier_asn()
            else:
                assert address in world.CRAWLER_NETWORK
            assert owner["autonomous_system_number"] in world.DOCUMENTATION_ASNS
            countries.add(record["country"]["iso_code"])
    assert countries == {country.iso for country in world.COUNTRIES}


def test_geoip_databases_open_with_geoip2_as_city_and_asn(cases):
    case = cases["none"]
    with geoip2.database.Reader(case.geoip_city) as city, geoip2.database.Reader(case.geoip_asn) as asn:
        assert city.city("198.18.0.1").country.iso_code == world.COUNTRIES[0].iso
        assert city.city(world.CARRIER_IPS[0]).country.iso_code == world.CARRIER_COUNTRY
        assert asn.asn(world.CARRIER_IPS[0]).autonomous_system_organization == world.CARRIER_NAME


def test_browser_families_are_what_ua_parser_says(cases):
    for browser in (*world.BROWSERS, *world.BOTS):
        assert parse_ua(browser.user_agent).user_agent.family == browser.family


# --- the injected effects, seen in the raw lines ------------------------------------------


def test_stale_edge_serves_the_old_app_js_and_loses_the_pixel(cases):
    case = cases["stale_cache"]
    stale = case.truth["implicates"]["edge_pop"]
    cdn = read_cloudfront(case.cdn_logs)
    app = cdn.filter((pl.col("cs-uri-stem") == "/static/app.js") & (pl.col("status") == 200))
    lengths = app.group_by(pl.col("x-edge-location") == stale).agg(pl.col("sc-content-len").unique())
    by_edge = {row[0]: set(row[1]) for row in lengths.iter_rows()}
    assert by_edge == {True: {"48213"}, False: {"48790"}}
    inside, outside = failure_rate(checkouts(cdn), pl.col("x-edge-location") == stale)
    assert inside > 0.7 and outside < 0.08


def test_faulty_edge_answers_about_30_percent_with_502_or_504(cases):
    case = cases["edge_fault"]
    faulty = case.truth["implicates"]["edge_pop"]
    cdn = read_cloudfront(case.cdn_logs)
    at_edge = cdn.filter(pl.col("x-edge-location") == faulty)
    errors = at_edge.filter(pl.col("status").is_in([502, 504]))
    assert 0.22 < errors.height / at_edge.height < 0.38
    assert set(errors["x-edge-result-type"]) == {"Error"}
    assert set(errors["status"]) == {502, 504}
    elsewhere = cdn.filter(pl.col("x-edge-location") != faulty)
    assert elsewhere.filter(pl.col("status") >= 500).height / elsewhere.height < 0.01


def test_origin_fault_is_503_on_misses_at_every_edge(cases):
    case = cases["origin_fault"]
    cdn, origin = read_cloudfront(case.cdn_logs), read_origin(case.origin_log)
    assert 0.15 < (origin["status"] == 503).mean() < 0.25
    failed = cdn.filter(pl.col("status") == 503)
    assert set(failed["x-edge-location"]) == set(case.edges)
    assert not failed["cs-uri-stem"].is_in(["/static/app.js", "/static/vendor.js"]).all()


def test_one_browser_family_loses_the_pixel(cases):
    case = cases["browser_specific"]
    family = case.truth["implicates"]["ua_family"]
    observed = with_family(checkouts(read_cloudfront(case.cdn_logs)))
    inside, outside = failure_rate(observed, pl.col("family") == family)
    assert inside > 0.55 and outside < 0.08


def test_one_country_loses_the_pixel_whatever_edge_it_uses(cases):
    case = cases["geo_specific"]
    country = case.truth["implicates"]["geo_country"]
    observed = checkouts(read_cloudfront(case.cdn_logs))
    with maxminddb.open_database(case.geoip_city) as city:
        observed = observed.with_columns(
            pl.col("c-ip")
            .map_elements(lambda ip: city.get(ip)["country"]["iso_code"], return_dtype=pl.String)
            .alias("country")
        )
    inside, outside = failure_rate(observed, pl.col("country") == country)
    assert inside > 0.55 and outside < 0.08
    per_edge = (
        observed.filter(pl.col("country") == country)
        .group_by("x-edge-location")
        .agg(pl.col("failed").mean(), pl.len())
    )
    assert per_edge.filter(pl.col("len") >= 10).height >= 2
    assert per_edge.filter(pl.col("len") >= 10)["failed"].min() > 0.4


def test_deploy_changes_app_js_everywhere_and_raises_failures_from_the_event(cases):
    case = cases["deploy_regression"]
    ((when, label),) = case.events
    assert label == "deploy v42" and when == case.truth["details"]["onset"] == "2026-11-20T10:00:00Z"
    deploy = pl.lit(when).str.to_datetime("%Y-%m-%dT%H:%M:%SZ")
    cdn = read_cloudfront(case.cdn_logs)
    app = cdn.filter((pl.col("cs-uri-stem") == "/static/app.js") & (pl.col("status") == 200))
    before = app.filter(pl.col("ts") < deploy - pl.duration(seconds=60))
    after = app.filter(pl.col("ts") > deploy + pl.duration(seconds=60))
    assert set(before["sc-content-len"]) == {"48213"} and set(after["sc-content-len"]) == {"48790"}
    assert set(after["x-edge-location"]) == set(case.edges)
    inside, outside = failure_rate(checkouts(cdn), pl.col("ts") >= deploy)
    assert inside > outside + 0.2


def test_slow_sessions_lose_the_pixel(cases):
    case = cases["network_timing"]
    cdn = read_cloudfront(case.cdn_logs)
    app = (
        cdn.filter(pl.col("cs-uri-stem") == "/static/app.js")
        .select(
            "session", pl.col("ts").alias("app_ts"), pl.col("time-taken").cast(pl.Float64).alias("app_js_s")
        )
        .sort("app_ts")
    )
    observed = checkouts(cdn).join_asof(
        app, left_on="ts", right_on="app_ts", by="session", strategy="forward",
        tolerance="30s", check_sortedness=False,
    )  # fmt: skip
    inside, outside = failure_rate(observed, pl.col("app_js_s") > 1.0)
    assert inside > 0.6 and outside < 0.08
    slow_median = observed.filter(pl.col("failed"))["app_js_s"].median()
    fast_median = observed.filter(~pl.col("failed"))["app_js_s"].median()
    assert slow_median > 10 * fast_median


def test_rate_limit_answers_429_only_to_a_few_addresses_of_one_asn(cases):
    case = cases["rate_limited"]
    cdn = read_cloudfront(case.cdn_logs)
    limited = cdn.filter(pl.col("status") == 429)
    assert limited.height > 20
    assert set(limited["c-ip"]) == set(case.truth["details"]["client_ips"])
    with maxminddb.open_database(case.geoip_asn) as asn:
        owners = {asn.get(ip)["autonomous_system_number"] for ip in limited["c-ip"].unique()}
    assert owners == {case.truth["implicates"]["asn"]}
    # The limit counts requests per address and window: the first ones of a window pass.
    window = case.truth["details"]["effect"]["window_s"]
    counted = (
        cdn.filter(pl.col("c-ip").is_in(limited["c-ip"].unique().implode()))
        .with_columns((pl.col("ts").dt.epoch("s") // window).alias("window"))
        .group_by("c-ip", "window")
        .agg(pl.len().alias("requests"), (pl.col("status") == 429).sum().alias("refused"))
    )
    assert (counted["requests"] - counted["refused"]).max() <= case.truth["details"]["limit_per_window"] + 1


def test_blocked_pixels_never_reach_the_cdn_and_concentrate_on_desktop(cases):
    case = cases["client_blocking"]
    cdn = read_cloudfront(case.cdn_logs)
    assert cdn.filter(pl.col("status") >= 400).height < 0.005 * cdn.height  # only background errors
    observed = with_family(checkouts(cdn))
    desktop = {b.family for b in world.BROWSERS if b.device_class == "desktop"}
    inside, outside = failure_rate(observed, pl.col("family").is_in(desktop))
    assert inside > 0.2 and outside < 0.1
    single = observed.group_by("session").len().filter(pl.col("len") == 1)["session"]  # CGNAT shares keys
    lost = observed.filter(pl.col("failed") & pl.col("session").is_in(single.implode()))["session"]
    requests_of_lost = cdn.filter(pl.col("session").is_in(lost.implode()))
    assert set(requests_of_lost["cs-uri-stem"]) == {
        "/checkout",
        "/static/vendor.js",
        "/static/app.js",
        "/api/v2/cart",
    }


def test_noise_only_scenario_loses_about_noise_share_of_pixels(cases):
    case = cases["none"]
    assert case.truth == {
        "cause": "none",
        "implicates": {},
        "details": {
            "effect": {},
            **{k: case.truth["details"][k] for k in ("checkouts", "checkouts_without_pixel")},
        },
    }
    observed = checkouts(read_cloudfront(case.cdn_logs))
    assert 0.01 < observed["failed"].mean() < 0.06
    assert observed.height == case.truth["details"]["checkouts"]
    assert observed["failed"].sum() == case.truth["details"]["checkouts_without_pixel"]


def test_crawlers_never_request_the_checkout(cases):
    observed = with_family(read_cloudfront(cases["none"].cdn_logs))
    bots = observed.filter(pl.col("family").is_in([b.family for b in world.BOTS]))
    assert bots.height > 0
    assert set(bots["cs-uri-stem"]) <= {"/robots.txt", "/", "/static/app.js", "/static/vendor.js"}


# --- the API ---------------------------------------------------------------------------------


def test_case_folder_reads_back(cases):
    case = cases["deploy_regression"]
    again = read_case(case.out_dir)
    assert again == case
    assert again.expect == EXPECT
    assert again.event_options() == ["2026-11-20T10:00:00Z deploy v42"]
    assert (case.out_dir / "truth.json").exists() and (case.out_dir / "scenario.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cause": "gremlins"}, "unknown cause 'gremlins'; causes are: stale_cache, edge_fault"),
        ({"cause": "none", "noise": 1.5}, "noise 1.5 must be at least 0 and below 1"),
        ({"cause": "none", "edges": 13}, "edges 13 must be between 1 and 12"),
    ],
)
def test_bad_scenarios_are_one_line_errors(kwargs, message):
    with pytest.raises(FlakehuntError, match=re.escape(message)):
        Scenario(**kwargs)


def test_reading_a_folder_that_is_not_a_scenario_says_so(tmp_path):
    with pytest.raises(FlakehuntError, match="is not a generated scenario"):
        read_case(tmp_path)


def test_few_edges_still_route_every_visitor(tmp_path):
    case = generate(Scenario("edge_fault", sessions=300, edges=2), tmp_path)
    assert (
        set(read_cloudfront(case.cdn_logs)["x-edge-location"]) == set(case.edges) == {"FRA56-C1", "LHR61-C1"}
    )


@pytest.mark.slow
def test_accuracy_bench_generates_one_folder_per_scenario(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "accuracy.py"), "--generate-only", str(tmp_path),
         "--sizes", "200,300", "--noise", "0.02,0.08", "--seeds", "2", "--causes", "none,edge_fault"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2 * 2 * 2 * 2
    assert "edge_fault-s300-n0.08-seed1" in folders
    for folder in folders:
        assert read_case(tmp_path / folder).truth["cause"] in ("none", "edge_fault")
