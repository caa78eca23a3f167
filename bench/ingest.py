"""
Benchmark: flakehunt's full ingest of a large CloudFront standard log against plain peers.

    python bench/ingest.py                 # 5M lines, 3 rounds; then 25M lines once: memory is bounded
    python bench/ingest.py --lines 500000 --no-scale --repeat 1   # a quick look

Same file, same run, each measured in its own subprocess: wall time, CPU seconds (user + system,
all threads) and peak RSS, via wait4. On a shared machine the wall time follows the load; runs
are interleaved and the best of `--repeat` kept, and the CPU seconds show the work itself;
each round's flakehunt/peer ratio is printed with their median, as the best runs of two peers
may come from different minutes of a machine whose speed drifts.

* flakehunt  `flakehunt ingest FILE --case ...`: detect, parse, normalize (UTC times, %-decoding,
  cache vocabulary, path/query, vendor map), enrich, write Parquet.
* duckdb     `COPY (SELECT * FROM read_csv(FILE, delim='\\t', ...)) TO 'x.parquet'`: no normalization.
* polars     `pl.scan_csv(FILE, separator='\\t').sink_parquet(...)`: the best plain peer seen here.
* duckdb_same_work  DuckDB doing flakehunt's work in SQL (bench/duckdb_same_work.py): what the
  normalization and enrichment cost the engine the target is set against.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from enrich import make_agents

HEADER = (
    "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem "
    "sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
    "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
    "x-edge-detailed-result-type "
    "sc-content-type sc-content-len sc-range-start sc-range-end\n"
)
POPS = ["FRA56-C1", "IAD89-P2", "NRT57-C3", "LHR61-C2", "SEA19-C1", "GRU3-C1", "SIN2-C1", "SYD4-C1"]
RESULTS = ["Hit", "Hit", "Hit", "Miss", "RefreshHit", "Error"]


AGENT_COUNT = 10_000  # distinct user agents: a busy site's day has tens of thousands


def cloudfront_agents(count: int, seed: int) -> pl.Series:
    """`count` user agents as CloudFront writes them: spaces as %20, one in twenty double-encoded."""
    rng = random.Random(seed)
    agents = [
        *make_agents(rng, count - 2),
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
    ]
    rng.shuffle(agents)
    return pl.Series([agent.replace(" ", "%2520" if rng.random() < 0.05 else "%20") for agent in agents])


def request_ids(count: int, seed: int) -> pl.Series:
    """CloudFront-like request ids: 56 URL-safe base64 characters of random bytes (they do not compress)."""
    raw = np.random.default_rng(seed).bytes(42 * count)
    ids = pl.Series(np.frombuffer(raw, dtype="S42")).bin.encode("base64")
    return ids.str.replace_all("+", "-", literal=True).str.replace_all("/", "_", literal=True)


def write_cloudfront_log(path: Path, *, lines: int, seed: int = 42) -> Path:
    """
    A seeded CloudFront standard log of `lines` records, written columnar (fast at 5M lines).

    As in real logs, a few user agents are most of the traffic and a long tail the rest, and
    request ids are random.
    """
    n = lines
    rnd = pl.int_range(n, eager=True).alias("i")
    frame = pl.DataFrame(rnd).with_columns(
        h1=pl.col("i").hash(seed),
        h2=pl.col("i").hash(seed + 1),
    )
    start = 1_712_700_000
    frame = frame.select(
        pl.from_epoch(start + (pl.col("i") * 86_400 // max(n, 1)) + (pl.col("h1") % 7).cast(pl.Int64)).alias(
            "t"
        ),
        (pl.col("h1") % len(POPS)).alias("pop"),
        (pl.col("h1") // 7 % 60_000 + 200).alias("bytes"),
        pl.format("198.51.{}.{}", (pl.col("h2") % 200), (pl.col("h2") // 200 % 250)).alias("ip"),
        pl.format("/static/asset-{}.js", pl.col("h2") // 50_000 % 300).alias("path"),
        # u**3 of a uniform u: the first agents are the popular ones
        ((pl.col("h2") % 1_000_003 / 1_000_003).pow(3) * AGENT_COUNT).cast(pl.Int64).alias("ua"),
        (pl.col("h1") // 11 % len(RESULTS)).alias("result"),
        ((pl.col("h1") // 17 % 900) / 1000 + 0.001).round(3).alias("taken"),
        (pl.col("h2") // 19 % 60_000 + 1024).alias("port"),
    )
    pops, agents = pl.Series(POPS), cloudfront_agents(AGENT_COUNT, seed)
    result = pl.col("result").replace_strict(list(range(len(RESULTS))), RESULTS)
    out = frame.select(
        pl.col("t").dt.strftime("%Y-%m-%d").alias("date"),
        pl.col("t").dt.strftime("%H:%M:%S").alias("time"),
        pl.col("pop").replace_strict(list(range(len(pops))), pops.to_list()).alias("pop"),
        pl.col("bytes"),
        pl.col("ip"),
        pl.lit("GET").alias("method"),
        pl.lit("d111111abcdef8.cloudfront.net").alias("dist"),
        pl.col("path"),
        pl.when(result == "Error").then(pl.lit("502")).otherwise(pl.lit("200")).alias("status"),
        pl.lit("-").alias("referer"),
        pl.col("ua").replace_strict(list(range(len(agents))), agents.to_list()).alias("ua"),
        pl.lit("v=3").alias("query"),
        pl.lit("-").alias("cookie"),
        result.alias("result"),
        request_ids(n, seed).alias("rid"),
        pl.lit("shop.example.com").alias("host"),
        pl.lit("https").alias("proto"),
        pl.lit("310").alias("cs_bytes"),
        pl.col("taken"),
        pl.lit("-").alias("xff"),
        pl.lit("TLSv1.3").alias("ssl"),
        pl.lit("TLS_AES_128_GCM_SHA256").alias("cipher"),
        result.alias("result2"),
        pl.lit("HTTP/2.0").alias("pv"),
        pl.lit("-").alias("fle"),
        pl.lit("-").alias("fle2"),
        pl.col("port"),
        pl.col("taken").alias("ttfb"),
        result.alias("result3"),
        pl.lit("application/javascript").alias("ctype"),
        pl.col("bytes").alias("clen"),
        pl.lit("-").alias("r1"),
        pl.lit("-").alias("r2"),
    )
    with path.open("wb") as handle:
        handle.write(HEADER.encode())
        out.write_csv(handle, separator="\t", include_header=False, quote_style="never")
    return path


PEERS = {
    "flakehunt": None,  # the CLI itself
    "duckdb": [
        "-c",
        "import duckdb, sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}', delim='\\t', "
        "header=false, skip=2, quote='', escape='')) TO '{sys.argv[2]}' (FORMAT parquet)\")",
    ],
    "polars": [
        "-c",
        "import polars as pl, sys; pl.scan_csv(sys.argv[1], separator='\\t', has_header=False, skip_rows=2, "
        "quote_char=None).sink_parquet(sys.argv[2])",
    ],
    # DuckDB doing flakehunt's work in SQL (see that file): what the normalization costs DuckDB
    "duckdb_same_work": [str(Path(__file__).with_name("duckdb_same_work.py"))],
}


def measure(name: str, log: Path, work: Path) -> dict:
    if name == "flakehunt":
        argv = [sys.executable, "-m", "flakehunt", "ingest", str(log), "--case", f"bench-{time.time_ns()}",
                "--output", "json"]  # fmt: skip
    else:
        argv = [sys.executable, *PEERS[name], str(log), str(work / f"{name}-{time.time_ns()}.parquet")]
    env = {**os.environ, "FLAKEHUNT_HOME": str(work / "home")}
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (rc {proc.returncode}): {stderr.decode()[-1500:]}")
    rows = json.loads(stdout)["rows_added"] if name == "flakehunt" else None
    return {"name": name, "wall": wall, "rows": rows, "rc": proc.returncode}


def run_measured(name: str, log: Path, work: Path) -> dict:
    """Run `measure` in a fresh child so RUSAGE_CHILDREN's peak is this peer's alone."""
    code = (
        "import json, resource, sys; sys.path.insert(0, sys.argv[1]); import ingest as b;"
        "from pathlib import Path;"
        "r = b.measure(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]));"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "r['peak_mb'] = u.ru_maxrss / 1024; r['cpu'] = u.ru_utime + u.ru_stime; print(json.dumps(r))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), name, str(log), str(work)],
        capture_output=True, check=False, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout)


def bench(lines: int, work: Path, peers: list[str], repeat: int = 1) -> dict[str, dict]:
    """
    Each peer `repeat` times in rounds (a shared machine's load hits all alike); best wall kept.

    A round runs every peer once, in the opposite order from the round before, so a machine
    that slows down or speeds up over minutes favours no peer. The ratio of each round's pair
    is printed too: the best of each peer may come from different rounds, the pairs may not.
    """
    log = write_cloudfront_log(work / f"cloudfront-{lines}.log", lines=lines)
    size_mb = log.stat().st_size / 1e6
    print(f"\n{lines:,} lines, {size_mb:,.0f} MB ({log.name}), best of {repeat}")
    rounds: list[dict[str, dict]] = []
    for index in range(repeat):
        order = peers if index % 2 == 0 else peers[::-1]
        rounds.append({name: run_measured(name, log, work) for name in order})
    results = {name: min((done[name] for done in rounds), key=lambda r: r["wall"]) for name in peers}
    for name in peers:
        r = results[name]
        r["mb_s"] = size_mb / r["wall"]
        r["rows_s"] = lines / r["wall"]
        extra = f"  rows kept {r['rows']:,}" if r["rows"] is not None else ""
        print(f"  {name:<16} {r['wall']:7.2f} s  {r['mb_s']:7.1f} MB/s  {r['rows_s']:>11,.0f} rows/s  "
              f"cpu {r['cpu']:6.2f} s  peak RSS {r['peak_mb']:7.0f} MB{extra}")  # fmt: skip
    if "flakehunt" in results:
        for peer in (p for p in peers if p != "flakehunt"):
            ratio = results["flakehunt"]["mb_s"] / results[peer]["mb_s"]
            cpu = results[peer]["cpu"] / results["flakehunt"]["cpu"]
            memory = results["flakehunt"]["peak_mb"] / results[peer]["peak_mb"]
            print(f"  flakehunt / {peer}: {ratio:.2f}x throughput (wall), {cpu:.2f}x per CPU second, "
                  f"{memory:.2f}x peak memory{_paired(rounds, peer)}")  # fmt: skip
    log.unlink()
    return results


def _paired(rounds: list[dict[str, dict]], peer: str) -> str:
    """Each round's throughput ratio flakehunt/peer, their median and range; "" for one round."""
    if len(rounds) < 2:
        return ""
    ratios = sorted(done[peer]["wall"] / done["flakehunt"]["wall"] for done in rounds)
    shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    return f"; per round {shown} (median {statistics.median(ratios):.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--no-scale", action="store_true", help="skip the 5x run")
    parser.add_argument("--peers", default="flakehunt,duckdb,polars,duckdb_same_work")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of runs per peer (the best wall time counts; 1 for a quick look)",
    )
    args = parser.parse_args()
    peers = args.peers.split(",")
    # flakehunt's bytecode, as an installed package has it: an editable install has none, and
    # with PYTHONDONTWRITEBYTECODE set each run would compile its modules again (0.1 s).
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "src", quiet=1)
    with tempfile.TemporaryDirectory(prefix="flakehunt-bench-") as tmp:
        base = bench(args.lines, Path(tmp), peers, args.repeat)
        if not args.no_scale and "flakehunt" in peers:
            big = bench(args.lines * 5, Path(tmp), ["flakehunt"])
            ratio = big["flakehunt"]["peak_mb"] / base["flakehunt"]["peak_mb"]
            print(f"\n5x the input: flakehunt peak RSS {ratio:.2f}x (bounded if well under 5x)")


if __name__ == "__main__":
    main()
