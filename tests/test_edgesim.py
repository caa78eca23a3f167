"""The simulated CDN behaves like a CDN: caching, headers, purge, faults, and real-format logs."""

from __future__ import annotations

import http.client
import json
import math
import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from flakehunt.edgesim import CLOUDFRONT_FIELDS, PRESETS, SimWorld
from flakehunt.edgesim.httpbase import LoopbackServer
from flakehunt.errors import FlakehuntError


def read_cloudfront(path: Path) -> list[dict[str, str]]:
    """An independent reader of W3C CloudFront logs: the #Fields line names the tab-separated columns."""
    lines = path.read_text().splitlines()
    assert lines[0] == "#Version: 1.0"
    assert lines[1].startswith("#Fields: ")
    names = lines[1].removeprefix("#Fields: ").split(" ")
    rows = []
    for line in lines[2:]:
        values = line.split("\t")
        assert len(values) == len(names), line
        rows.append(dict(zip(names, values, strict=True)))
    return rows


NGINX_COMBINED_WITH_ID = re.compile(
    r'^(?P<remote_addr>\S+) - (?P<remote_user>\S+) \[(?P<time_local>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<body_bytes_sent>\d+) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" '
    r'"(?P<request_id>[^"]*)"$'
)


def read_origin(world: SimWorld) -> list[dict[str, str]]:
    text = (world.logs_dir / "origin" / "access.log").read_text()
    rows = []
    for line in text.splitlines():
        match = NGINX_COMBINED_WITH_ID.match(line)
        assert match, line
        rows.append(match.groupdict())
    return rows


def wilson(failures: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = failures / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# -- caching ---------------------------------------------------------------------------------------


def test_edge_caches_assets_and_reports_hit_miss_age_and_its_identity(sim):
    world = sim(edges=2)
    first = world.fetch("FRA56-C1", "/static/app.js")
    second = world.fetch("FRA56-C1", "/static/app.js")
    assert first.status == second.status == 200
    assert first.getheader("X-Cache") == "Miss from cloudfront"
    assert second.getheader("X-Cache") == "Hit from cloudfront"
    assert first.getheader("Age") is None and second.getheader("Age") == "0"
    assert second.getheader("X-Amz-Cf-Pop") == "FRA56-C1"
    assert second.getheader("Via").endswith(".cloudfront.net (CloudFront)")
    assert len(second.getheader("X-Amz-Cf-Id")) == 56
    assert first.getheader("X-Amz-Cf-Id") != second.getheader("X-Amz-Cf-Id")
    assert first.getheader("ETag") == second.getheader("ETag")


def test_age_counts_seconds_since_the_edge_stored_the_object(sim):
    world = sim(edges=1)
    world.fetch("FRA56-C1", "/static/vendor.js")
    entry = world.edge("FRA56-C1").cached("/static/vendor.js")
    entry.stored_at -= 42
    assert world.fetch("FRA56-C1", "/static/vendor.js").getheader("Age") == "42"


def test_expired_objects_are_fetched_again(sim):
    world = sim(edges=1)
    world.fetch("FRA56-C1", "/static/vendor.js")
    world.edge("FRA56-C1").cached("/static/vendor.js").stored_at -= 86_400
    assert world.fetch("FRA56-C1", "/static/vendor.js").getheader("X-Cache") == "Miss from cloudfront"


def test_uncacheable_responses_always_go_to_origin(sim):
    world = sim(edges=1)
    for path in ("/checkout", "/pixel.gif?event=purchase", "/api/v2/cart"):
        world.fetch("FRA56-C1", path)
        assert world.fetch("FRA56-C1", path).getheader("X-Cache") == "Miss from cloudfront", path


def test_conditional_request_gets_304_without_body(sim):
    world = sim(edges=1)
    etag = world.fetch("FRA56-C1", "/static/app.js").getheader("ETag")
    response = world.fetch("FRA56-C1", "/static/app.js", headers={"If-None-Match": etag})
    assert response.status == 304


def test_purge_over_http_and_from_python_empties_the_cache(sim):
    world = sim(edges=2)
    world.fetch("FRA56-C1", "/static/app.js")
    world.fetch("IAD89-P2", "/static/app.js")
    edge = world.edge("FRA56-C1")
    connection = http.client.HTTPConnection(edge.spec.ip, edge.port, timeout=5)
    connection.request("POST", "/__purge?path=/static/app.js", body=b"")
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert answer == {"pop": "FRA56-C1", "purged": 1}
    assert world.fetch("FRA56-C1", "/static/app.js").getheader("X-Cache") == "Miss from cloudfront"
    assert world.purge("IAD89-P2") == 1
    assert world.edge("IAD89-P2").cached_paths() == []


# -- the seed story and the other faults ------------------------------------------------------------


def test_stale_edge_serves_release_1_until_purged(sim):
    world = sim("stale-edge")
    etags = {spec.pop: world.fetch(spec.pop, "/static/app.js").getheader("ETag") for spec in world.specs}
    fresh = {etag for pop, etag in etags.items() if pop != "FRA56-C1"}
    assert len(fresh) == 1 and etags["FRA56-C1"] not in fresh
    stale_body = _body(world, "FRA56-C1", "/static/app.js")
    assert "/api/v1/cart" in stale_body and "release 1" in stale_body
    assert _status(world, "FRA56-C1", "/api/v1/cart") == 404  # the endpoint release 2 removed
    world.purge("FRA56-C1")
    assert world.fetch("FRA56-C1", "/static/app.js").getheader("ETag") in fresh
    assert world.describe()["faults"]["stale_edge"]["edges"] == ["FRA56-C1"]


def test_deploy_invalidates_every_edge_but_the_stale_one(sim):
    world = sim("stale-edge", edges=3)
    for spec in world.specs:
        world.fetch(spec.pop, "/static/app.js")
    world.deploy(3)
    assert world.edge("FRA56-C1").cached_paths() == ["/static/app.js"]
    assert world.edge("IAD89-P2").cached_paths() == []
    assert "release 3" in _body(world, "IAD89-P2", "/static/app.js")


def test_failing_edge_answers_502_or_504_at_about_its_rate(sim):
    world = sim("failing-edge", seed=11)
    statuses = [_status(world, "IAD89-P2", "/checkout") for _ in range(300)]
    failures = sum(status in (502, 504) for status in statuses)
    assert set(statuses) <= {200, 502, 504} and {502, 504} <= set(statuses)
    low, high = wilson(failures, len(statuses))
    assert low <= 0.3 <= high, (failures, low, high)
    assert all(_status(world, "FRA56-C1", "/checkout") == 200 for _ in range(30))


def test_slow_edge_adds_its_latency(sim):
    world = sim(edges=2)
    world.set_faults(slow_edges={"IAD89-P2": 300})
    started = time.perf_counter()
    world.fetch("IAD89-P2", "/checkout")
    assert time.perf_counter() - started >= 0.3
    assert world.describe()["faults"]["slow_edge"] == {"edges": ["IAD89-P2"], "added_ms": {"IAD89-P2": 300}}


def test_origin_fault_fails_misses_but_not_hits(sim):
    world = sim(edges=1)
    world.fetch("FRA56-C1", "/static/vendor.js")
    world.set_faults(origin_miss_failure_rate=1.0)
    assert _status(world, "FRA56-C1", "/checkout") == 503
    assert _status(world, "FRA56-C1", "/static/vendor.js") == 200  # a hit never reaches origin


def test_geo_fault_depends_on_the_country_the_edge_adds(sim):
    world = sim("geo-specific", edges=2)
    assert '"consentRequired": true' in _body(world, "FRA56-C1", "/checkout")  # DE
    assert '"consentRequired": false' in _body(world, "IAD89-P2", "/checkout")  # US
    assert world.describe()["faults"]["geo_specific"]["edges"] == ["FRA56-C1"]


def test_browser_fault_ships_a_chromium_only_api_call(sim):
    world = sim("browser-specific", edges=1)
    script = _body(world, "FRA56-C1", "/static/app.js")
    assert '(document.getElementById("order") || document.body).scrollIntoViewIfNeeded();' in script


def test_race_fault_loads_scripts_async(sim):
    world = sim("timing-race", edges=1)
    assert '<script src="/static/app.js" async>' in _body(world, "FRA56-C1", "/checkout")
    assert '<script src="/static/app.js" defer>' in _body(sim(edges=1), "FRA56-C1", "/checkout")


def test_rate_limit_answers_429_after_the_limit(sim):
    world = sim(edges=1)
    world.set_faults(rate_limit=5)
    statuses = [_status(world, "FRA56-C1", "/checkout") for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3


def test_faults_can_be_switched_over_the_control_endpoint(sim):
    world = sim(edges=2)
    connection = http.client.HTTPConnection("127.0.0.1", world.origin.port, timeout=5)
    connection.request("POST", "/__sim/faults", body=json.dumps({"failing_edges": {"FRA56-C1": 1.0}}))
    state = json.loads(connection.getresponse().read())
    assert state["faults"]["failing_edge"]["edges"] == ["FRA56-C1"]
    assert _status(world, "FRA56-C1", "/") in (502, 504)
    connection.request("POST", "/__sim/faults", body=json.dumps({"no_such_knob": 1}))
    response = connection.getresponse()
    assert response.status == 400 and "no_such_knob" in json.loads(response.read())["error"]
    connection.close()


# -- logs ------------------------------------------------------------------------------------------


def test_cloudfront_log_has_the_documented_33_fields_in_order(sim):
    world = sim(edges=1)
    ua = 'Mozilla/5.0 (X11; Linux x86_64) "quoted" 100%'
    world.fetch(
        "FRA56-C1", "/checkout?step=2&coupon=a%20b", headers={"User-Agent": ua, "Referer": "http://x/"}
    )
    world.fetch("FRA56-C1", "/static/app.js")
    world.fetch("FRA56-C1", "/static/app.js")
    rows = read_cloudfront(world.edge("FRA56-C1").log.path)
    assert list(rows[0]) == CLOUDFRONT_FIELDS and len(CLOUDFRONT_FIELDS) == 33
    checkout, miss, hit = rows
    assert checkout["cs-uri-stem"] == "/checkout"
    assert checkout["cs-uri-query"] == "step=2&coupon=a%2520b"  # % itself is escaped
    assert checkout["cs(User-Agent)"] == "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20%22quoted%22%20100%25"
    assert unquote(checkout["cs(User-Agent)"]) == ua
    assert checkout["x-edge-location"] == "FRA56-C1"
    assert checkout["cs(Host)"].endswith(".cloudfront.net")  # the distribution, not the viewer's Host
    assert checkout["x-host-header"] == "shop.flakehunt.test"
    assert checkout["sc-status"] == "200" and checkout["cs-method"] == "GET"
    assert checkout["c-ip"] == "127.0.0.1" and checkout["cs-protocol"] == "http"
    assert checkout["sc-content-type"] == "text/html;%20charset=utf-8"
    assert checkout["cs(Cookie)"] == "-" and checkout["ssl-protocol"] == "-"
    assert int(checkout["sc-bytes"]) > int(checkout["sc-content-len"]) > 0  # sc-bytes includes headers
    assert re.fullmatch(r"\d+\.\d{3}", checkout["time-taken"])
    assert (miss["x-edge-result-type"], hit["x-edge-result-type"]) == ("Miss", "Hit")
    assert time.strptime(f"{hit['date']} {hit['time']}", "%Y-%m-%d %H:%M:%S")


def test_request_ids_join_edge_and_origin_logs(sim):
    world = sim(edges=2)
    answers = [world.fetch(pop, "/checkout") for pop in ("FRA56-C1", "IAD89-P2")]
    cdn = {row["x-edge-request-id"]: row for edge in world.edges for row in read_cloudfront(edge.log.path)}
    origin = {row["request_id"]: row for row in read_origin(world)}
    for answer in answers:
        request_id = answer.getheader("X-Amz-Cf-Id")
        assert request_id in cdn and request_id in origin
        # origin sees the edge's own address, as behind a real CDN
        assert origin[request_id]["remote_addr"] == world.edge(cdn[request_id]["x-edge-location"]).spec.ip


def test_error_responses_are_logged_as_errors(sim):
    world = sim(edges=1)
    world.set_faults(failing_edges={"FRA56-C1": 1.0})
    world.fetch("FRA56-C1", "/")
    (row,) = read_cloudfront(world.edge("FRA56-C1").log.path)
    assert row["sc-status"] in {"502", "504"}
    assert row["x-edge-result-type"] == "Error"
    assert row["x-edge-detailed-result-type"] in {"OriginConnectError", "OriginCommError"}


# -- lifecycle and mistakes ------------------------------------------------------------------------


def test_every_preset_starts_and_describes_itself(tmp_path):
    for name in PRESETS:
        with SimWorld(preset=name, logs_dir=tmp_path / name) as world:
            description = world.describe()
            assert description["site_url"] == f"http://shop.flakehunt.test:{world.port}/"
            assert [edge["ip"] for edge in description["edges"]][:2] == ["127.0.0.2", "127.0.0.3"]
            assert world.fetch(world.specs[0].pop, "/").status in (200, 502, 503, 504)


def test_edges_share_one_port_on_distinct_loopback_addresses(sim):
    world = sim(edges=4)
    assert {edge.port for edge in world.edges} == {world.port}
    assert [edge.spec.ip for edge in world.edges] == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


def test_servers_refuse_non_loopback_addresses():
    with pytest.raises(ValueError, match="loopback"):
        LoopbackServer(("0.0.0.0", 0), None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preset": "nope"}, "unknown preset 'nope'"),
        ({"edges": 0}, "--edges must be between 1 and 16"),
        ({"preset": "stale-edge", "edges": 0}, "--edges must be between"),
        ({"preset": "failing-edge", "edges": 1}, "fault names edge 'IAD89-P2'"),
    ],
)
def test_bad_world_options_are_one_line_errors(options, message):
    with pytest.raises(FlakehuntError, match=re.escape(message)):
        SimWorld(**options)


def test_stopping_releases_the_port(tmp_path):
    with SimWorld(edges=1, logs_dir=tmp_path) as world:
        port = world.port
    with SimWorld(edges=1, port=port, logs_dir=tmp_path) as again:
        assert again.port == port


def _status(world: SimWorld, pop: str, path: str) -> int:
    return world.fetch(pop, path).status


def _body(world: SimWorld, pop: str, path: str) -> str:
    edge = world.edge(pop)
    connection = http.client.HTTPConnection(edge.spec.ip, edge.port, timeout=5)
    connection.request("GET", path, headers={"Host": f"shop.flakehunt.test:{world.port}"})
    try:
        return connection.getresponse().read().decode()
    finally:
        connection.close()
