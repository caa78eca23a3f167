"""Correlate a case end to end: ingest real logs from the simulated CDN, name the cause."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.case import open_case, read_journal
from flakehunt.cli import app
from flakehunt.correlate import correlate_case
from flakehunt.edgesim.visitors import shop_traffic
from flakehunt.errors import ExitCode, FlakehuntError
from flakehunt.ingest import ingest_paths

PIXEL = "path = '/checkout' -> path LIKE '/pixel.gif%' within 30s"
runner = CliRunner()


def ingest_world_logs(world, case) -> None:
    logs = world.describe()["logs"]
    ingest_paths([Path(p) for p in logs["cdn"]] + [Path(logs["origin"])], case=case)


@pytest.fixture
def stale_case(sim, case_dir):
    world = sim("stale-edge")
    shop_traffic(world, 240)
    case = open_case("T-STALE")
    ingest_world_logs(world, case)
    return case


def test_seed_story_from_logs_alone_names_the_stale_edge_and_the_purge(stale_case):
    result = correlate_case(stale_case, expect=PIXEL)
    top = result.hypotheses[0]
    assert top.cause == "stale_cache"
    assert top.implicates == {"edge_pop": "FRA56-C1", "path": "/static/app.js"}
    assert top.confidence > 0.9
    assert top.next_step.startswith("purge /static/app.js on edge FRA56-C1")
    skew = top.evidence["version_skew"]
    assert skew["reference"] == "majority of edges" and skew["served_version"] != skew["current_version"]
    assert result.sets["logs"].observations == 240  # one observation per /checkout anchor
    assert top.evidence["failures"]["dimensions"] in (
        {"edge_pop": "FRA56-C1"},
        {"app.js content_length": skew["served_version"].removesuffix(" bytes")},
    )


def test_json_interface_has_the_documented_shape(stale_case, monkeypatch):
    result = runner.invoke(app, ["correlate", "--case", "T-STALE", "--expect", PIXEL, "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    data = json.loads(result.stdout)
    assert {"case", "observations", "failures", "hypotheses", "explanations", "timeline"} <= set(data)
    hypothesis = data["hypotheses"][0]
    assert {"cause", "confidence", "implicates", "evidence", "next_step"} <= set(hypothesis)
    confidences = [h["confidence"] for h in data["hypotheses"]]
    assert confidences == sorted(confidences, reverse=True)
    explanation = data["explanations"][0]
    assert {
        "dimensions",
        "support",
        "failures",
        "rate",
        "rate_outside",
        "risk_ratio",
        "risk_ratio_ci",
        "p_adjusted",
    } <= set(explanation)
    assert read_journal(open_case("T-STALE"))[-1]["action"] == "correlate"


def test_no_fault_means_no_confident_cause(sim, case_dir):
    world = sim("no-fault")
    shop_traffic(world, 200)
    case = open_case("T-NONE")
    ingest_world_logs(world, case)
    result = correlate_case(case, expect=PIXEL)
    assert result.hypotheses[0].cause == "none"
    assert all(h.confidence <= 0.5 for h in result.hypotheses[1:])
    assert "examined" in result.hypotheses[0].evidence


def test_failing_edge_from_status_codes(sim, case_dir):
    world = sim("failing-edge")
    shop_traffic(world, 200)
    case = open_case("T-502")
    ingest_world_logs(world, case)
    top = correlate_case(case).hypotheses[0]  # default rule: status >= 500
    assert (top.cause, top.implicates) == ("edge_fault", {"edge_pop": "IAD89-P2"})
    assert top.evidence["errors"]["p_value"] < 1e-6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"failure": "status >>> 5"}, "--failure 'status >>> 5' is not a SQL expression"),
        ({"failure": "colour = 'red'"}, "names unknown column 'colour'"),
        ({"expect": "path = '/a' then path = '/b'"}, "is not like"),
        ({"expect": "path = '/a' -> path = '/b' within soon"}, "duration 'soon'"),
    ],
)
def test_bad_rules_are_one_line_errors(stale_case, options, message):
    with pytest.raises(
        FlakehuntError, match=message.replace("(", r"\(").replace(")", r"\)").replace("'", "'")
    ):
        correlate_case(stale_case, **options)


def test_a_window_without_exchanges_says_so_and_not_that_the_case_is_empty(stale_case):
    with pytest.raises(
        FlakehuntError, match=r"has no exchanges or probe runs since 2030-01-01T00:00:00\+00:00; widen"
    ):
        correlate_case(stale_case, since=datetime(2030, 1, 1, tzinfo=UTC))


def test_unknown_case_and_empty_case_exit_2(case_dir):
    result = runner.invoke(app, ["correlate", "--case", "NOPE"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("flakehunt: error: no case 'NOPE'")
    open_case("EMPTY")
    result = runner.invoke(app, ["correlate", "--case", "EMPTY"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "has no exchanges or probe runs yet" in result.stderr
