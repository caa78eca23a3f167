"""
Explain failures by dimension: which values, and which combinations of 2 or 3 values, fail
clearly more often than the rest (issue #5, "Explaining").

How it decides
--------------
- **Counting** is columnar: one polars group-by over all dimensions gives the base cuboid
  (one row per distinct combination of values with its observations and failures), and every
  group of 1 to `max_order` dimensions is a roll-up of that much smaller table (the classic
  data-cube computation). No Python loop touches rows.
- **Support pruning** (apriori): a group with fewer than `min_support` observations is not
  tested. Support can only shrink when a dimension is added, so this is exactly apriori's
  pruning; nothing is ever pruned for the *significance* of its parts, so a pure interaction
  (firefox fails only at one edge, and neither is unusual alone) is tested and found.
- **Test**: per group, a one-sided 2x2 test of "fails more often inside than outside" (Fisher's
  exact test unless the table is large, see :mod:`.stats`), Benjamini-Hochberg over every group
  and numeric dimension tested.
- **Effect size**: a group explains failures only when its risk ratio is at least
  `min_risk_ratio`; a significant but smaller ratio is `small_effect`.
- **Redundancy**: a combination is reported only when it explains *clearly more than each of
  its parts*: inside every part (every proper subset of its dimension values) the combination
  must fail at least `min_risk_ratio` times as often as the rest of that part, and the largest
  of those one-sided p-values, Benjamini-Hochberg corrected over all groups tested (a strong
  group has thousands of children, and some beat it by chance), must be below `alpha`. So
  "edge=X and browser=chrome" is not repeated after "edge=X" when
  chrome fails no more than other browsers at X; otherwise it is `redundant`. The other way
  round, a reported group is `redundant` too when its excess is all inside a reported
  combination that contains it ("country=DE" only because "country=DE and browser=firefox").
- **Not enough evidence**: a group that is not significant and has fewer observations than
  :func:`.stats.runs_needed` (59 to tell a 5 % failure rate from 0 % at 95 %) gets
  `not_enough_evidence` and the number of further runs needed in that configuration.
- **Numeric dimensions** (time taken, bytes, age) compare failures with successes by the
  Mann-Whitney U test, with medians and the probability that a failure's value is the larger
  one (Vargha-Delaney A; at least 0.64 or at most 0.36, their "medium" effect, to count).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps

from flakehunt.correlate.stats import (
    association_p_values,
    benjamini_hochberg,
    rate_upper_bound,
    risk_ratio,
    runs_needed,
    wilson_interval,
)
from flakehunt.errors import FlakehuntError

MISSING = "(missing)"
# Vargha & Delaney (2000): A >= 0.64 (or <= 0.36) is a "medium" effect.
MIN_NUMERIC_EFFECT = 0.14
# How many "not enough evidence" groups Explanation.undecided lists (all are in .groups).
MAX_UNDECIDED = 20

_N, _F, _ORDER, _COMBO = "_n", "_f", "_order", "_combo"


def _json_number(x: float | None) -> float | None:
    """NaN and infinities are not JSON; they become null."""
    return None if x is None or not math.isfinite(x) else x


class Verdict(enum.StrEnum):
    """What the evidence says about one group or numeric dimension."""

    SIGNIFICANT = "significant"  # fails clearly more often: an explanation
    REDUNDANT = "redundant"  # significant, but no clearly more than one of its parts
    SMALL_EFFECT = "small_effect"  # significant, risk ratio below the minimum effect
    NOT_ENOUGH_EVIDENCE = "not_enough_evidence"  # too few observations to tell 5 % from 0 %
    NOT_SIGNIFICANT = "not_significant"  # enough observations, no difference


@dataclass(frozen=True)
class Finding:
    """One group of dimension values and its evidence."""

    dimensions: dict[str, Any]
    support: int
    failures: int
    rate: float
    rate_outside: float
    risk_ratio: float
    risk_ratio_ci: tuple[float, float]
    p_value: float
    p_adjusted: float
    verdict: Verdict
    runs_needed: int = 0  # further runs in this configuration to tell 5 % from 0 %
    exact: bool = True  # Fisher's exact test (False: chi-square)

    @property
    def order(self) -> int:
        return len(self.dimensions)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dimensions": dict(self.dimensions),
            "support": self.support,
            "failures": self.failures,
            "rate": _json_number(self.rate),
            "rate_outside": _json_number(self.rate_outside),
            "risk_ratio": _json_number(self.risk_ratio),
            "risk_ratio_ci": [_json_number(x) for x in self.risk_ratio_ci],
            "p_value": _json_number(self.p_value),
            "p_adjusted": _json_number(self.p_adjusted),
            "test": "fisher" if self.exact else "chi2",
            "verdict": str(self.verdict),
        }
        if self.verdict is Verdict.NOT_ENOUGH_EVIDENCE:
            out["runs_needed"] = self.runs_needed
        return out


@dataclass(frozen=True)
class NumericComparison:
    """A numeric dimension compared between failures and successes."""

    dimension: str
    failures: int
    successes: int
    median_failed: float | None
    median_passed: float | None
    effect: float | None  # P(failure's value > success's value), ties count half
    p_value: float
    p_adjusted: float
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "failures": self.failures,
            "successes": self.successes,
            "median_failed": self.median_failed,
            "median_passed": self.median_passed,
            "effect": self.effect,
            "p_value": _json_number(self.p_value),
            "p_adjusted": _json_number(self.p_adjusted),
            "test": "mann-whitney-u",
            "verdict": str(self.verdict),
        }


@dataclass(frozen=True)
class Explanation:
    """
    What separates failures from successes.

    `explanations` are the significant, non-redundant groups, strongest first (by the lower
    bound of the risk ratio's interval, then the adjusted p-value). `undecided` are groups with
    failures but too few observations, highest failure rate first, each with the runs it still
    needs. `groups` holds every tested group with all its numbers and its verdict, and
    `examined` says what was looked at, so "nothing significant" can say of what.
    """

    label: str
    observations: int
    failures: int
    explanations: list[Finding]
    undecided: list[Finding]
    numeric: list[NumericComparison]
    examined: dict[str, Any]
    overall: dict[str, Any]
    groups: pl.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "observations": self.observations,
            "failures": self.failures,
            "overall": self.overall,
            "explanations": [f.to_dict() for f in self.explanations],
            "undecided": [f.to_dict() for f in self.undecided],
            "numeric": [n.to_dict() for n in self.numeric],
            "examined": self.examined,
        }


def explain(
    frame: pl.LazyFrame | pl.DataFrame,
    *,
    label: str = "failed",
    dimensions: Sequence[str],
    numeric: Sequence[str] = (),
    max_order: int = 3,
    min_support: int = 5,
    min_risk_ratio: float = 2.0,
    alpha: float = 0.05,
    target_rate: float = 0.05,
    confidence: float = 0.95,
) -> Explanation:
    """
    Find the dimension values and combinations that separate failures from successes.

    Parameters
    ----------
    frame
        One row per observation (an exchange, a probe run, an expected sequence's anchor), with
        a boolean `label` column (True = failed; null rows are left out and counted) and the
        dimension columns (strings, integers or booleans; a null is a value of its own, shown
        as ``"(missing)"``).
    label
        The boolean failure column.
    dimensions
        Categorical columns to explain by.
    numeric
        Numeric columns (time taken, bytes, age) to compare between failures and successes.
    max_order
        Largest number of dimensions combined in one group.
    min_support
        Smallest number of observations a group needs to be tested.
    min_risk_ratio
        Smallest risk ratio (failure rate inside over outside) that counts as an explanation.
    alpha
        False discovery rate for the Benjamini-Hochberg correction, and the level of the
        redundancy test.
    target_rate, confidence
        "Not enough evidence" means fewer observations than it takes to tell a failure rate of
        `target_rate` from 0 % at `confidence` (59 for 5 % at 95 %).

    Returns
    -------
    Explanation

    Raises
    ------
    FlakehuntError
        A column is missing or the label is not boolean.

    Examples
    --------
    >>> import polars as pl
    >>> runs = pl.DataFrame({
    ...     "edge_pop": ["FRA56-C1"] * 60 + ["AMS1-C1"] * 60 + ["LHR3-C2"] * 60,
    ...     "failed": [True] * 30 + [False] * 30 + [False] * 120,
    ... })
    >>> result = explain(runs, dimensions=["edge_pop"])
    >>> [(f.dimensions, f.failures, f.support) for f in result.explanations]
    [({'edge_pop': 'FRA56-C1'}, 30, 60)]
    """
    dims = list(dict.fromkeys(dimensions))
    numeric = list(dict.fromkeys(numeric))
    lf = frame.lazy()
    _check_columns(lf, label, dims, numeric)
    if max_order < 1:
        raise FlakehuntError(f"max_order must be at least 1, got {max_order!r}")
    n_runs = runs_needed(target_rate, confidence=confidence)

    labelled = lf.filter(pl.col(label).is_not_null())
    counts = lf.select(
        pl.len().alias("rows"), pl.col(label).count().alias("labelled"), pl.col(label).sum().alias("failed")
    )
    if dims:
        base_q = labelled.group_by(dims).agg(
            pl.len().cast(pl.Int64).alias(_N), pl.col(label).sum().cast(pl.Int64).alias(_F)
        )
        counts_df, base = pl.collect_all([counts, base_q])
    else:
        counts_df, base = counts.collect(), pl.DataFrame()
    total, total_failures = int(counts_df["labelled"][0]), int(counts_df["failed"][0] or 0)
    unlabelled = int(counts_df["rows"][0]) - total

    groups, values, by_order, combos = _count_groups(base, dims, max_order, min_support, total)
    numeric_raw = _numeric_tests(labelled, label, numeric)

    groups, p_adj_numeric = _judge(
        groups,
        np.array([r["p_value"] for r in numeric_raw], dtype=float),
        combos,
        (total, total_failures),
        alpha=alpha,
        min_risk_ratio=min_risk_ratio,
        n_runs=n_runs,
    )

    reported = groups.filter(pl.col("verdict") == Verdict.SIGNIFICANT).sort(
        ["risk_ratio_lo", "p_adjusted", _F], descending=[True, False, True]
    )
    undecided = (
        groups.filter((pl.col("verdict") == Verdict.NOT_ENOUGH_EVIDENCE) & (pl.col(_F) > 0))
        .sort(["rate", _ORDER, _N], descending=[True, True, True])
        .head(MAX_UNDECIDED)
    )
    numeric_results = [
        _numeric_verdict(raw, float(p_adj_numeric[i]), alpha, n_runs) for i, raw in enumerate(numeric_raw)
    ]
    lo_all, hi_all = wilson_interval(total_failures, total, confidence=confidence)
    overall = {
        "rate": total_failures / total if total else None,
        "rate_ci": [float(lo_all), float(hi_all)],
        "rate_upper_bound": float(rate_upper_bound(total_failures, total, confidence=confidence)),
        "confidence": confidence,
        "runs_needed": max(n_runs - total, 0) if total_failures == 0 else 0,
    }
    examined = {
        "dimensions": dims,
        "numeric": numeric,
        "max_order": max_order,
        "min_support": min_support,
        "min_risk_ratio": min_risk_ratio,
        "alpha": alpha,
        "combinations": len(combos),
        "groups_tested": groups.height,
        "groups_by_order": by_order,
        "unlabelled": unlabelled,
    }
    return Explanation(
        label=label,
        observations=total,
        failures=total_failures,
        explanations=[_finding(row, dims, values) for row in reported.iter_rows(named=True)],
        undecided=[_finding(row, dims, values) for row in undecided.iter_rows(named=True)],
        numeric=numeric_results,
        examined=examined,
        overall=overall,
        groups=_decode(groups, dims, values),
    )


def _judge(
    groups: pl.DataFrame,
    numeric_p: np.ndarray,
    combos: list[tuple[str, ...]],
    everything: tuple[int, int],
    *,
    alpha: float,
    min_risk_ratio: float,
    n_runs: int,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Test every group, correct, judge effect size and redundancy; add the columns and verdicts."""
    total, total_failures = everything
    # One Benjamini-Hochberg family: every group tested and every numeric dimension.
    f = groups[_F].to_numpy().astype(float)
    n = groups[_N].to_numpy().astype(float)
    p, exact = association_p_values(f, n, total_failures, total)
    p_all = np.concatenate([p, numeric_p])
    p_adj_all = benjamini_hochberg(p_all)
    p_adj, p_adj_numeric = p_adj_all[: len(p)], p_adj_all[len(p) :]
    rr, lo, hi = risk_ratio(f, n - f, total_failures - f, (total - n) - (total_failures - f))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = f / n
        rate_outside = (total_failures - f) / (total - n)

    significant = (p_adj < alpha) & (rr >= min_risk_ratio)
    # Redundancy: the evidence against every part is one more family of tests, corrected over all
    # groups tested (a group that is not a candidate counts with p = 1).
    p_parts, rr_parts = _parts_evidence(groups, significant, combos, everything, min_risk_ratio)
    clearly_more = (groups[_ORDER].to_numpy() == 1) | (
        (benjamini_hochberg(p_parts) < alpha) & (rr_parts >= min_risk_ratio)
    )
    verdict = np.select(
        [
            significant & clearly_more,
            significant,
            p_adj < alpha,
            n < n_runs,
        ],
        [Verdict.SIGNIFICANT, Verdict.REDUNDANT, Verdict.SMALL_EFFECT, Verdict.NOT_ENOUGH_EVIDENCE],
        default=Verdict.NOT_SIGNIFICANT,
    )
    explained = _explained_by_a_child(groups, verdict == Verdict.SIGNIFICANT, everything, alpha)
    verdict = np.where(explained, Verdict.REDUNDANT, verdict)
    more_runs = np.where(verdict == Verdict.NOT_ENOUGH_EVIDENCE, np.maximum(n_runs - n, 0), 0)
    groups = groups.with_columns(
        pl.Series("rate", rate),
        pl.Series("rate_outside", rate_outside),
        pl.Series("risk_ratio", rr),
        pl.Series("risk_ratio_lo", lo),
        pl.Series("risk_ratio_hi", hi),
        pl.Series("p_value", p),
        pl.Series("p_adjusted", p_adj),
        pl.Series("exact", exact),
        pl.Series("verdict", verdict.astype(str)),
        pl.Series("runs_needed", more_runs.astype(np.int64)),
    )
    return groups, p_adj_numeric


def _check_columns(lf: pl.LazyFrame, label: str, dims: list[str], numeric: list[str]) -> None:
    schema = lf.collect_schema()
    for name in [label, *dims, *numeric]:
        if name not in schema:
            raise FlakehuntError(
                f"no column {name!r} in the observations; available: {', '.join(schema.names())}"
            )
    if schema[label] != pl.Boolean:
        raise FlakehuntError(
            f"label column {label!r} must be boolean (True = failed), got {schema[label]}; "
            "label the observations first"
        )
    for name in numeric:
        if not schema[name].is_numeric():
            raise FlakehuntError(
                f"numeric dimension {name!r} has type {schema[name]}; pass it as a dimension"
            )


def _count_groups(
    base: pl.DataFrame, dims: list[str], max_order: int, min_support: int, total: int
) -> tuple[pl.DataFrame, dict[str, list[Any]], dict[int, int], list[tuple[str, ...]]]:
    """Roll the base cuboid up to every combination of 1..max_order dims; keep testable groups."""
    empty = pl.DataFrame(
        {
            **{d: pl.Series([], dtype=pl.UInt32) for d in dims},
            _N: pl.Series([], dtype=pl.Int64),
            _F: pl.Series([], dtype=pl.Int64),
            _ORDER: pl.Series([], dtype=pl.Int32),
            _COMBO: pl.Series([], dtype=pl.Int32),
        }
    )
    if not dims or base.height == 0:
        return empty, {d: [None] for d in dims}, {}, []
    coded, values = _encode(base, dims)
    combos = [c for k in range(1, max_order + 1) for c in itertools.combinations(dims, k)]
    lazy = coded.lazy()
    testable = (pl.col(_N) >= min_support) & (pl.col(_N) < total)
    rolled = pl.collect_all(
        [
            lazy.group_by(list(combo))
            .agg(pl.col(_N).sum(), pl.col(_F).sum())
            .filter(testable)
            .with_columns(
                *[pl.lit(None, dtype=pl.UInt32).alias(d) for d in dims if d not in combo],
                pl.lit(len(combo), dtype=pl.Int32).alias(_ORDER),
                pl.lit(i, dtype=pl.Int32).alias(_COMBO),
            )
            .select(empty.columns)
            for i, combo in enumerate(combos)
        ]
    )
    groups = pl.concat([empty, *rolled])
    by_order = {k: 0 for k in range(1, min(max_order, len(dims)) + 1)}
    for combo, part in zip(combos, rolled, strict=True):
        by_order[len(combo)] += part.height
    return groups, values, by_order, combos


def _encode(base: pl.DataFrame, dims: list[str]) -> tuple[pl.DataFrame, dict[str, list[Any]]]:
    """Replace each dimension by a dense UInt32 code: 0 is a missing value, 1.. the sorted values."""
    values: dict[str, list[Any]] = {}
    coded = base.select(_N, _F)
    for d in dims:
        col = base[d]
        if isinstance(col.dtype, pl.Categorical | pl.Enum):
            col = col.cast(pl.String)
        present = col.drop_nulls().unique().sort()
        values[d] = [None, *present.to_list()]
        table = pl.DataFrame(
            {d: present, "_code": pl.int_range(1, len(present) + 1, dtype=pl.UInt32, eager=True)}
        )
        codes = col.to_frame().join(table, on=d, how="left", maintain_order="left")["_code"]
        coded = coded.with_columns(codes.fill_null(0).alias(d))
    return coded, values


def _parts_evidence(
    groups: pl.DataFrame,
    candidate: np.ndarray,
    combos: list[tuple[str, ...]],
    everything: tuple[int, int],
    min_risk_ratio: float,
) -> tuple[np.ndarray, np.ndarray]:
    """
    How much more each candidate group (order >= 2) fails than the rest of each of its parts.

    A part is every proper, non-empty subset of the group's dimension values. Returns, per group,
    the largest one-sided p-value and the smallest risk ratio of "fails more than the rest of the
    part" over its parts (an intersection-union test: every part must be beaten); 1 and NaN where
    the group is not a candidate. p-values are only computed for groups whose risk ratio beats
    `min_risk_ratio` in every part (the others are redundant whatever the p-value), which keeps
    the exact tests few: a strong group has thousands of children that fail no more than it.
    """
    p_max = np.ones(groups.height)
    rr_min = np.full(groups.height, np.nan)
    rows = groups.with_row_index("_row").filter(pl.Series(candidate) & (pl.col(_ORDER) >= 2))
    if rows.height == 0:
        return p_max, rr_min
    combo_id = {combo: i for i, combo in enumerate(combos)}
    by_combo = groups.partition_by(_COMBO, as_dict=True)
    tables = []  # (row, f, n, f_part, n_part) of every (group, part) pair, tested in one go
    for (cid,), cand in rows.partition_by(_COMBO, as_dict=True).items():
        combo = combos[cid]
        for k in range(1, len(combo)):
            for part in itertools.combinations(combo, k):
                lookup = by_combo.get((combo_id[part],), groups.clear())
                joined = cand.select("_row", *part, _N, _F).join(
                    lookup.select(*part, pl.col(_N).alias("_np"), pl.col(_F).alias("_fp")),
                    on=list(part),
                    how="left",
                )
                # A part holds at least the group's observations, so it was counted unless it holds
                # every observation (a dimension with one value), and then it is "everything".
                tables.append(
                    joined.select(
                        "_row",
                        _F,
                        _N,
                        pl.col("_fp").fill_null(everything[1]),
                        pl.col("_np").fill_null(everything[0]),
                    )
                )
    pairs = pl.concat(tables)
    idx = pairs["_row"].to_numpy()
    f, n, fp, n_part = (pairs[c].to_numpy().astype(float) for c in (_F, _N, "_fp", "_np"))
    rr, _, _ = risk_ratio(f, n - f, fp - f, (n_part - n) - (fp - f))
    rr_min[idx] = np.inf
    np.minimum.at(rr_min, idx, rr)
    worth = rr_min[idx] >= min_risk_ratio
    p, _ = association_p_values(f[worth], n[worth], fp[worth], n_part[worth])
    p_max[idx[worth]] = 0.0
    np.maximum.at(p_max, idx[worth], p)
    return p_max, rr_min


def _explained_by_a_child(
    groups: pl.DataFrame, reported: np.ndarray, everything: tuple[int, int], alpha: float
) -> np.ndarray:
    """
    Reported groups whose excess is all in a reported combination that contains them.

    "country=DE" fails more only because "country=DE and browser=firefox" does: without that
    combination's observations, DE fails no more (one-sided p >= `alpha`, uncorrected so that a
    part is kept whenever some evidence of its own remains) than outside DE.
    """
    out = np.zeros(groups.height, dtype=bool)
    rows = groups.with_row_index("_row").filter(pl.Series(reported))
    if rows.height < 2:
        return out
    codes = rows.drop("_row", _N, _F, _ORDER, _COMBO)
    keys = [
        frozenset((d, c) for d, c in zip(codes.columns, row, strict=True) if c is not None)
        for row in codes.iter_rows()
    ]
    index = {key: i for i, key in enumerate(keys)}
    pairs = [  # (part, child) positions in `rows`
        (index[frozenset(sub)], i)
        for i, key in enumerate(keys)
        for k in range(1, len(key))
        for sub in itertools.combinations(sorted(key), k)
        if frozenset(sub) in index
    ]
    if not pairs:
        return out
    part, child = (np.array(x) for x in zip(*pairs, strict=True))
    n, f = rows[_N].to_numpy().astype(float), rows[_F].to_numpy().astype(float)
    total, total_failures = everything
    rest_n, rest_f = n[part] - n[child], f[part] - f[child]
    # The part without the child, against everything outside the part.
    p, _ = association_p_values(
        rest_f, rest_n, rest_f + (total_failures - f[part]), rest_n + (total - n[part])
    )
    gone = np.zeros(rows.height, dtype=bool)
    np.logical_or.at(gone, part, ~(p < alpha))
    out[rows["_row"].to_numpy()[gone]] = True
    return out


def _numeric_tests(labelled: pl.LazyFrame, label: str, numeric: list[str]) -> list[dict[str, Any]]:
    if not numeric:
        return []
    data = labelled.select(label, *numeric).collect()
    out = []
    for name in numeric:
        sub = data.select(label, name).drop_nulls()
        failed = sub.filter(pl.col(label))[name].to_numpy().astype(float)
        passed = sub.filter(~pl.col(label))[name].to_numpy().astype(float)
        raw: dict[str, Any] = {
            "dimension": name,
            "failures": len(failed),
            "successes": len(passed),
            "median_failed": float(np.median(failed)) if len(failed) else None,
            "median_passed": float(np.median(passed)) if len(passed) else None,
            "effect": None,
            "p_value": math.nan,
        }
        if len(failed) and len(passed):
            res = sps.mannwhitneyu(failed, passed, alternative="two-sided")
            raw["effect"] = float(res.statistic) / (len(failed) * len(passed))
            raw["p_value"] = float(res.pvalue)
        out.append(raw)
    return out


def _numeric_verdict(raw: dict[str, Any], p_adj: float, alpha: float, n_runs: int) -> NumericComparison:
    effect = raw["effect"]
    if effect is None or min(raw["failures"], raw["successes"]) < 2:
        verdict = Verdict.NOT_ENOUGH_EVIDENCE
    elif p_adj < alpha:
        big = abs(effect - 0.5) >= MIN_NUMERIC_EFFECT
        verdict = Verdict.SIGNIFICANT if big else Verdict.SMALL_EFFECT
    elif raw["failures"] + raw["successes"] < n_runs:
        verdict = Verdict.NOT_ENOUGH_EVIDENCE
    else:
        verdict = Verdict.NOT_SIGNIFICANT
    return NumericComparison(p_adjusted=p_adj, verdict=verdict, **raw)


def _value(values: list[Any], code: int) -> Any:
    return MISSING if code == 0 else values[code]


def _finding(row: dict[str, Any], dims: list[str], values: dict[str, list[Any]]) -> Finding:
    return Finding(
        dimensions={d: _value(values[d], row[d]) for d in dims if row[d] is not None},
        support=int(row[_N]),
        failures=int(row[_F]),
        rate=float(row["rate"]),
        rate_outside=float(row["rate_outside"]),
        risk_ratio=float(row["risk_ratio"]),
        risk_ratio_ci=(float(row["risk_ratio_lo"]), float(row["risk_ratio_hi"])),
        p_value=float(row["p_value"]),
        p_adjusted=float(row["p_adjusted"]),
        verdict=Verdict(row["verdict"]),
        runs_needed=int(row["runs_needed"]),
        exact=bool(row["exact"]),
    )


def _decode(groups: pl.DataFrame, dims: list[str], values: dict[str, list[Any]]) -> pl.DataFrame:
    """Codes back to values (as strings; MISSING for a missing value, null when not in the group)."""
    decoded = []
    for d in dims:
        labels = [MISSING, *(str(v) for v in values[d][1:])]
        decoded.append(
            pl.col(d).replace_strict(list(range(len(labels))), labels, return_dtype=pl.String, default=None)
        )
    return groups.with_columns(decoded).rename({_N: "support", _F: "failures", _ORDER: "order"}).drop(_COMBO)
