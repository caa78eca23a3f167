"""
Benchmark: `explain` up to order 3 against DuckDB's GROUPING SETS on the same Parquet.

Generates (once, seeded) N exchanges with 8 categorical dimensions and a failure label, then runs
each side in its own subprocess, so each one's peak RSS is its own:

- flakehunt: ``explain(pl.scan_parquet(...), dimensions=<8>, max_order=3)``, which counts every
  group of 1, 2 and 3 dimension values *and* tests them, corrects them and judges redundancy;
- duckdb: ``GROUP BY GROUPING SETS (<the same 92 sets>)`` counting observations and failures,
  fetched into a polars frame.

Both report the number of groups with at least `min_support` observations (and not all of them),
which must agree. Target (issue #5): flakehunt no slower than 1.5x DuckDB, peak memory < 4 GB.

    python bench/correlate.py --rows 5000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DIMENSIONS = {  # name -> number of distinct values, drawn with Zipf-like popularity
    "edge_pop": 40,
    "geo_country": 60,
    "ua_family": 10,
    "ua_major": 25,
    "os_family": 8,
    "device_class": 5,
    "cache_status": 8,
    "status_class": 5,
}
MIN_SUPPORT = 5


def generate(path: Path, rows: int, seed: int) -> None:
    """Write `rows` seeded exchanges: one stale edge, one browser x country interaction, 1 % noise."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    columns, codes = {}, {}
    for name, k in DIMENSIONS.items():
        weights = 1.0 / np.arange(1, k + 1) ** 1.1
        codes[name] = rng.choice(k, size=rows, p=weights / weights.sum())
        columns[name] = pl.Series([f"{name}-{i}" for i in range(k)]).gather(codes[name])
    p = np.full(rows, 0.01)
    p[codes["edge_pop"] == 3] = 0.2
    p[(codes["ua_family"] == 1) & (codes["geo_country"] == 2)] = 0.15
    columns["failed"] = pl.Series(rng.random(rows) < p)
    tmp = path.with_suffix(".tmp")
    pl.DataFrame(columns).write_parquet(tmp)
    tmp.replace(path)


def run_flakehunt(path: Path) -> dict:
    import polars as pl

    from flakehunt.correlate import explain

    start = time.perf_counter()
    result = explain(pl.scan_parquet(path), dimensions=list(DIMENSIONS), max_order=3, min_support=MIN_SUPPORT)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "groups": result.examined["groups_tested"],
        "top": [f.dimensions for f in result.explanations[:3]],
    }


def run_duckdb(path: Path) -> dict:
    import duckdb

    dims = list(DIMENSIONS)
    sets = ", ".join(
        "(" + ", ".join(combo) + ")" for k in (1, 2, 3) for combo in itertools.combinations(dims, k)
    )
    start = time.perf_counter()
    con = duckdb.connect()
    groups = con.sql(
        f"SELECT {', '.join(dims)}, count(*) AS n, sum(failed::INT) AS f "
        f"FROM read_parquet('{path}') GROUP BY GROUPING SETS ({sets})"
    ).pl()
    seconds = time.perf_counter() - start
    total = con.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
    testable = groups.filter((groups["n"] >= MIN_SUPPORT) & (groups["n"] < total)).height
    return {"seconds": seconds, "groups": testable}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path("/tmp/flakehunt-bench"))
    parser.add_argument("--side", choices=["flakehunt", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side:  # child: run one side, report as JSON
        result = (run_flakehunt if args.side == "flakehunt" else run_duckdb)(args.parquet)
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}, default=str))
        return

    args.data.mkdir(parents=True, exist_ok=True)
    path = args.data / f"exchanges-{args.rows}-{args.seed}.parquet"
    if not path.exists():
        start = time.perf_counter()
        generate(path, args.rows, args.seed)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - start:.1f}s: {path}")
    results = {}
    for side in ("duckdb", "flakehunt"):
        child = subprocess.run(
            [sys.executable, __file__, "--side", side, "--parquet", str(path)],
            capture_output=True,
            text=True,
        )
        if child.returncode:
            sys.exit(f"{side} side failed:\n{child.stderr}")
        results[side] = json.loads(child.stdout.strip().splitlines()[-1])
    fh, dd = results["flakehunt"], results["duckdb"]
    print(f"{args.rows:,} exchanges, {len(DIMENSIONS)} dimensions, groups of 1-3 values")
    print(f"{'side':<10} {'seconds':>8} {'peak RSS MB':>12} {'groups':>8}")
    for side, r in results.items():
        print(f"{side:<10} {r['seconds']:>8.2f} {r['peak_rss_mb']:>12.0f} {r['groups']:>8}")
    print(f"ratio flakehunt/duckdb: {fh['seconds'] / dd['seconds']:.2f} (target <= 1.5)")
    print(f"peak memory flakehunt: {fh['peak_rss_mb'] / 1024:.2f} GB (target < 4)")
    print(f"same groups: {fh['groups'] == dd['groups']}; top explanations: {fh['top']}")


if __name__ == "__main__":
    main()
