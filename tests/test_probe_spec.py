"""Probe specs, matrix expansion, rates and edge headers: no browser needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from flakehunt.correlate.stats import rate_upper_bound, wilson_interval
from flakehunt.probe import SpecError, load_spec, parse_spec
from flakehunt.probe.matrix import expand_matrix

PROBES = Path(__file__).resolve().parents[1] / "probes"


@pytest.mark.parametrize("path", sorted(PROBES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_specs_load(path):
    spec = load_spec(path)
    assert spec.checks, "an example spec must say what working means"


def test_the_three_example_specs_exist():
    assert {p.name for p in PROBES.glob("*.yaml")} >= {
        "conversion-pixel.yaml",
        "checkout-flow.yaml",
        "asset-freshness.yaml",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"url": "http://s.test/", "matrix": {"browser": ["safari"]}},
            "key 'matrix.browser' has unknown value 'safari'",
        ),
        ({"url": "http://s.test/", "matrix": {"colour": ["red"]}}, "key 'matrix.colour' is not a dimension"),
        ({"url": "ftp://s.test/"}, "key 'url' must be an http(s) URL, got 'ftp://s.test/'"),
        ({"url": "http://s.test/", "repeat": 0}, "key 'repeat' must be a whole number >= 1, got 0"),
        (
            {"url": "http://s.test/", "checks": [{"request": "re:("}]},
            "key 'checks[0].request' is not a valid regex",
        ),
        (
            {"url": "http://s.test/", "checks": [{"request": "/p", "within": 5}]},
            "key 'checks[0].within' is not an option",
        ),
        ({"url": "http://s.test/", "steps": [{"jump": "/"}]}, "key 'steps[0]' must have exactly one action"),
        (
            {"url": "http://s.test/", "matrix": {"network": "5g"}},
            "key 'matrix.network' has unknown value '5g'",
        ),
        ({"url": "http://s.test/", "matrix": {"geolocation": [{"lat": 99, "lon": 0}]}}, "out of range"),
        ({"url": "http://s.test/", "retry": 3}, "key 'retry' is not a spec key"),
    ],
)
def test_bad_specs_name_the_key(data, message):
    with pytest.raises(SpecError) as info:
        parse_spec(data, source="x.yaml")
    text = str(info.value)
    assert text.startswith("x.yaml: key ") and message in text
    assert "\n" not in text


def test_yaml_syntax_error_is_one_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("url: http://s.test/\nchecks: [\n")
    with pytest.raises(SpecError, match=r"broken.yaml: not valid YAML at line \d"):
        load_spec(path)


def test_matrix_product_exclude_include_and_customer():
    spec = parse_spec(
        {
            "url": "http://s.test/",
            "matrix": {
                "browser": ["chromium", "firefox"],
                "blocker": ["off", "basic"],
                "exclude": [{"browser": "firefox", "blocker": "basic"}],
                "include": [{"browser": "firefox", "network": "slow-3g"}],
            },
        }
    )
    configs = expand_matrix(spec, edges=["10.0.0.1", "10.0.0.2"], customer={"locale": "de-DE"})
    keys = {(c["browser"], c["blocker"], c["network"], c["locale"], c["edge"]) for c in configs}
    assert ("firefox", "basic", "fast", None, "10.0.0.1") not in keys
    assert ("firefox", "off", "slow-3g", None, "10.0.0.2") in keys  # include rule, on every edge
    assert ("chromium", "off", "fast", "de-DE", "10.0.0.1") in keys  # the customer's own
    assert len(configs) == 3 * 2 + 2 + 2


def test_customer_with_unknown_dimension_is_a_spec_error():
    spec = parse_spec({"url": "http://s.test/"})
    with pytest.raises(SpecError, match="--customer: 'vpn' is not a dimension"):
        expand_matrix(spec, customer={"vpn": "on"})


def test_edge_all_without_edges_is_a_spec_error():
    spec = parse_spec({"url": "http://s.test/", "matrix": {"edge": "all"}})
    with pytest.raises(SpecError, match="--edge-ips"):
        expand_matrix(spec)


def test_zero_failure_bound_matches_the_rule_of_three_scale():
    def zero_failure_upper_bound(runs: int) -> float:
        return float(rate_upper_bound(0, runs))

    assert f"{zero_failure_upper_bound(40) * 100:.1f}" == "7.2"
    assert zero_failure_upper_bound(300) < 3 / 300 < zero_failure_upper_bound(100)


def test_wilson_interval_contains_the_estimate_and_narrows():
    low, high = wilson_interval(30, 100)
    assert low < 0.3 < high
    narrower = wilson_interval(300, 1000)
    assert narrower[1] - narrower[0] < high - low
