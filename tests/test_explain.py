"""explain: which values and combinations separate failures from successes, on seeded observations."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from flakehunt.correlate import Verdict, explain
from flakehunt.errors import FlakehuntError

EDGES = ["FRA56-C1", "AMS1-C1", "LHR3-C2", "CDG50-C1", "WAW51-C1", "MAD53-C1"]


def observations(n: int, seed: int, dims: dict[str, list], rate) -> pl.DataFrame:
    """`n` observations with uniformly drawn dimension values, failing with probability `rate(frame)`."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame({name: rng.choice(values, size=n) for name, values in dims.items()})
    p = rate(frame)
    return frame.with_columns(failed=pl.Series(rng.random(n) < p))


def reported(result):
    return [f.dimensions for f in result.explanations]


def group(result, **dimensions):
    cond = pl.col("order") == len(dimensions)
    for key, value in dimensions.items():
        cond &= pl.col(key) == str(value)
    rows = result.groups.filter(cond)
    assert rows.height == 1, dimensions
    return rows.row(0, named=True)


def test_a_pure_interaction_is_found_at_order_2_while_its_parts_are_unremarkable():
    dims = {
        "browser": ["firefox", "chromium"],
        "edge_pop": ["FRA56-C1", "AMS1-C1"],
        "os": ["linux", "windows", "macos"],
        "locale": ["de-DE", "en-US", "fr-FR", "pl-PL"],
    }

    def rate(frame):
        ff = frame["browser"].to_numpy() == "firefox"
        fra = frame["edge_pop"].to_numpy() == "FRA56-C1"
        # firefox fails at FRA, chromium at AMS: every single value fails equally often.
        return np.where(ff == fra, 0.25, 0.02)

    result = explain(observations(4000, 11, dims, rate), dimensions=list(dims))
    assert {"browser": "firefox", "edge_pop": "FRA56-C1"} in reported(result)
    for value in ({"browser": "firefox"}, {"edge_pop": "FRA56-C1"}):
        part = group(result, **value)
        assert part["p_adjusted"] >= 0.05 and part["verdict"] != Verdict.SIGNIFICANT
    assert all(f.order == 2 for f in result.explanations)
    top = result.explanations[0]
    assert top.rate > 0.2 and top.rate_outside < 0.2 and top.risk_ratio_ci[0] > 1


def test_a_single_edge_is_reported_once_not_again_with_unrelated_dimensions():
    dims = {
        "edge_pop": EDGES,
        "browser": ["firefox", "chromium", "webkit"],
        "os": ["linux", "windows", "macos"],
        "locale": ["de-DE", "en-US", "fr-FR", "pl-PL"],
    }

    def rate(frame):
        return np.where(frame["edge_pop"].to_numpy() == "FRA56-C1", 0.25, 0.02)

    result = explain(observations(6000, 3, dims, rate), dimensions=list(dims))
    assert reported(result) == [{"edge_pop": "FRA56-C1"}]
    # The combinations were tested and are significant on their own, but add nothing.
    combo = group(result, edge_pop="FRA56-C1", browser="chromium")
    assert combo["p_adjusted"] < 0.05 and combo["verdict"] == Verdict.REDUNDANT
    finding = result.explanations[0]
    assert finding.to_dict().keys() >= {
        "dimensions",
        "support",
        "failures",
        "rate",
        "rate_outside",
        "risk_ratio",
        "risk_ratio_ci",
        "p_adjusted",
    }


def test_the_numbers_of_a_finding_are_fishers_and_the_log_risk_ratio():
    dims = {"edge_pop": EDGES[:3], "browser": ["firefox", "chromium"]}

    def rate(frame):
        return np.where(frame["edge_pop"].to_numpy() == "FRA56-C1", 0.3, 0.03)

    frame = observations(300, 5, dims, rate)
    result = explain(frame, dimensions=list(dims), max_order=1)
    f = next(f for f in result.explanations if f.dimensions == {"edge_pop": "FRA56-C1"})
    inside = frame.filter(pl.col("edge_pop") == "FRA56-C1")["failed"]
    outside = frame.filter(pl.col("edge_pop") != "FRA56-C1")["failed"]
    a, n1, c, n2 = int(inside.sum()), inside.len(), int(outside.sum()), outside.len()
    assert (f.support, f.failures) == (n1, a)
    assert f.p_value == pytest.approx(
        stats.fisher_exact([[a, n1 - a], [c, n2 - c]], alternative="greater").pvalue
    )
    rr = stats.contingency.relative_risk(a, n1, c, n2)
    ci = rr.confidence_interval()
    assert (f.risk_ratio, *f.risk_ratio_ci) == pytest.approx((rr.relative_risk, ci.low, ci.high))
    assert f.rate_outside == pytest.approx(c / n2)
    assert result.examined["groups_tested"] == 5  # 3 edges + 2 browsers
    assert f.p_adjusted == pytest.approx(min(1.0, f.p_value * 5))  # the smallest of five


def test_pure_noise_gives_nothing_significant_in_at_least_19_of_20_seeds():
    dims = {f"d{i}": [f"v{j}" for j in range(k)] for i, k in enumerate([2, 3, 4, 5, 6, 8])}
    false_alarms = 0
    for seed in range(20):
        result = explain(observations(2000, seed, dims, lambda f: 0.1), dimensions=list(dims))
        if result.groups.filter(pl.col("p_adjusted") < 0.05).height:
            false_alarms += 1
    assert false_alarms <= 1
    assert result.examined["groups_by_order"][3] > 500  # order 3 was really examined


def test_small_probe_matrices_say_not_enough_evidence_and_how_many_runs_more():
    configs = (
        pl.DataFrame({"browser": ["chromium", "firefox"]})
        .join(pl.DataFrame({"network": ["fast", "slow3g"]}), how="cross")
        .join(pl.DataFrame({"blocker": ["off", "on"]}), how="cross")
    )
    runs = pl.concat([configs] * 5)
    runs = runs.with_columns(
        failed=pl.int_range(pl.len()).eq(7)  # one failure, in one configuration
    )
    failing = runs.filter("failed").row(0, named=True)
    del failing["failed"]
    result = explain(runs, dimensions=["browser", "network", "blocker"])
    assert result.explanations == []
    first = result.undecided[0]
    assert first.dimensions == failing
    assert first.verdict is Verdict.NOT_ENOUGH_EVIDENCE
    assert (first.support, first.failures, first.runs_needed) == (5, 1, 54)
    assert first.to_dict()["runs_needed"] == 54
    assert result.observations == 40 and result.failures == 1


def test_no_failures_at_all_gives_the_upper_bound():
    runs = pl.DataFrame({"browser": ["chromium", "firefox"] * 20, "failed": [False] * 40})
    result = explain(runs, dimensions=["browser"])
    assert result.explanations == [] and result.undecided == []
    assert round(result.overall["rate_upper_bound"], 3) == 0.072
    assert result.overall["runs_needed"] == 19


def test_a_missing_value_is_a_value_of_its_own_and_integer_values_stay_integers():
    rng = np.random.default_rng(1)
    n = 3000
    asn = rng.choice([3320, 16509, 0], size=n)
    frame = pl.DataFrame({"asn": asn, "geo_country": rng.choice(["DE", "FR"], size=n)}).with_columns(
        asn=pl.when(pl.col("asn") == 0).then(None).otherwise(pl.col("asn"))
    )
    frame = frame.with_columns(failed=pl.Series(rng.random(n) < np.where(asn == 0, 0.3, 0.02)))
    result = explain(frame.lazy(), dimensions=["asn", "geo_country"])
    assert reported(result) == [{"asn": "(missing)"}]
    assert result.groups.filter(pl.col("order") == 1)["asn"].drop_nulls().sort().to_list() == [
        "(missing)",
        "16509",
        "3320",
    ]
    frame2 = frame.with_columns(failed=pl.Series(rng.random(n) < np.where(asn == 3320, 0.3, 0.02)))
    assert reported(explain(frame2, dimensions=["asn", "geo_country"])) == [{"asn": 3320}]


def test_numeric_dimensions_compare_failures_with_successes():
    rng = np.random.default_rng(4)
    n = 800
    failed = rng.random(n) < 0.2
    slow = np.where(failed, rng.lognormal(7, 0.3, n), rng.lognormal(6, 0.3, n))
    frame = pl.DataFrame(
        {
            "failed": failed,
            "time_taken_ms": slow,
            "bytes_sent": rng.integers(900, 1100, n),
            "edge_pop": rng.choice(EDGES, n),
        }
    )
    result = explain(frame, dimensions=["edge_pop"], numeric=["time_taken_ms", "bytes_sent"])
    by_name = {c.dimension: c for c in result.numeric}
    timing = by_name["time_taken_ms"]
    assert timing.verdict is Verdict.SIGNIFICANT and timing.effect > 0.9
    assert timing.median_failed > 2 * timing.median_passed
    expected = stats.mannwhitneyu(slow[failed], slow[~failed]).pvalue
    assert timing.p_value == pytest.approx(expected)
    assert by_name["bytes_sent"].verdict is Verdict.NOT_SIGNIFICANT


def test_eager_and_lazy_input_give_the_same_groups():
    dims = {"edge_pop": EDGES, "browser": ["firefox", "chromium"]}
    frame = observations(500, 9, dims, lambda f: 0.1)
    eager = explain(frame, dimensions=list(dims))
    lazy = explain(frame.lazy(), dimensions=list(dims))
    key = ["order", "edge_pop", "browser"]
    assert eager.groups.sort(key, nulls_last=True).equals(lazy.groups.sort(key, nulls_last=True))


def test_bad_input_is_one_clear_error():
    frame = pl.DataFrame({"edge_pop": ["FRA56-C1"], "failed": [True], "status": [500]})
    with pytest.raises(FlakehuntError, match=r"no column 'browser' in the observations; available: edge_pop"):
        explain(frame, dimensions=["browser"])
    with pytest.raises(FlakehuntError, match=r"label column 'status' must be boolean"):
        explain(frame, label="status", dimensions=["edge_pop"])


def test_a_value_that_fails_only_through_one_combination_is_not_reported_alone():
    dims = {
        "browser": ["firefox", "chromium", "webkit"],
        "geo_country": ["DE", "FR", "PL", "US"],
        "os": ["linux", "windows", "macos"],
    }

    def rate(frame):
        hit = (frame["browser"].to_numpy() == "firefox") & (frame["geo_country"].to_numpy() == "DE")
        return np.where(hit, 0.3, 0.02)

    result = explain(observations(8000, 8, dims, rate), dimensions=list(dims))
    assert reported(result) == [{"browser": "firefox", "geo_country": "DE"}]
    # DE and firefox are significant alone, but only because of the combination.
    for value in ({"geo_country": "DE"}, {"browser": "firefox"}):
        part = group(result, **value)
        assert part["p_adjusted"] < 0.05 and part["verdict"] == Verdict.REDUNDANT


def test_empty_input_explains_nothing_and_says_so_in_valid_json():
    empty = pl.DataFrame(schema={"edge_pop": pl.String, "time_taken_ms": pl.Float64, "failed": pl.Boolean})
    result = explain(empty, dimensions=["edge_pop"], numeric=["time_taken_ms"])
    assert (result.observations, result.explanations, result.groups.height) == (0, [], 0)
    assert result.overall["runs_needed"] == 59 and result.numeric[0].verdict is Verdict.NOT_ENOUGH_EVIDENCE
    json.dumps(result.to_dict(), allow_nan=False)
