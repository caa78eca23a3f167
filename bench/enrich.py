"""
Benchmark: flakehunt's dedup-then-enrich against the naive per-row lookup loop.

Generates (seeded) exchanges with many repeated client IPs, user agents and edge POPs, writes a
small real GeoIP City + ASN database covering those IPs (mmdb-writer, dev extra), then times in
the same run:

- flakehunt: `enrich_exchanges` over all rows (each distinct value looked up once, joined back);
- naive: a Python loop that looks every row up (GeoIP City + ASN, ua-parser, POP) over a sample,
  extrapolated to all rows. Note that ua-parser keeps its own 2000-entry cache, which helps the
  naive loop.

Each side runs in its own process (same seeded rows) so its peak RSS is its own.

    python bench/enrich.py [--rows 1000000] [--ips 50000] [--agents 2000] [--sample 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from flakehunt.enrich import enrich_exchanges
from flakehunt.enrich.geoip import clean_ip
from flakehunt.enrich.pop import locate_pop
from flakehunt.enrich.testing import NetworkFacts, write_test_geoip
from flakehunt.enrich.useragent import parse_user_agent
from flakehunt.schema import conform

CHECKED = [
    "geo_country",
    "geo_city",
    "asn",
    "as_org",
    "ua_family",
    "ua_major",
    "os_family",
    "device_class",
    "pop_city",
    "pop_continent",
]
POPS = [
    "FRA56-C1",
    "FRA2-C1",
    "SFO5-C1",
    "HKG54-C1",
    "CDG50-P2",
    "LHR61-C1",
    "NRT57-C2",
    "GRU3-C1",
    "SYD62-C1",
    "IAD89-C1",
    "cache-fra19123-FRA",
    "cache-lax1425-LAX",
    "AMS",
    "SIN",
    "YYZ",
]


def make_networks(rng: random.Random, count: int = 400) -> dict[str, NetworkFacts]:
    countries = [
        ("DE", "Hesse", "Frankfurt am Main"),
        ("US", "California", "San Francisco"),
        ("JP", "Tokyo", "Tokyo"),
        ("FR", "Île-de-France", "Paris"),
        ("BR", "São Paulo", "São Paulo"),
    ]
    networks = {}
    for i in range(count):
        country, region, city = rng.choice(countries)
        networks[f"{11 + i // 256}.{i % 256}.0.0/16"] = NetworkFacts(
            country, region, city, 64496 + i, f"AS {i}"
        )
    return networks


def make_agents(rng: random.Random, count: int) -> list[str]:
    platforms = [
        "Windows NT 10.0; Win64; x64",
        "Macintosh; Intel Mac OS X 10_15_7",
        "X11; Linux x86_64",
        "Linux; Android 13; Pixel 7",
        "iPhone; CPU iPhone OS 17_1 like Mac OS X",
    ]
    agents = set()
    while len(agents) < count:
        major, build = rng.randint(80, 125), rng.randint(1000, 6999)
        kind = rng.random()
        platform = rng.choice(platforms)
        if kind < 0.6:
            mobile = " Mobile" if "Android" in platform or "iPhone" in platform else ""
            agents.add(
                f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{major}.0.{build}.{rng.randint(0, 200)}{mobile} Safari/537.36"
            )
        elif kind < 0.85:
            agents.add(
                f"Mozilla/5.0 ({platform}; rv:{major}.0) Gecko/20100101 Firefox/{major}.{rng.randint(0, 9)}"
            )
        elif kind < 0.95:
            agents.add(
                f"Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{major % 18}.{rng.randint(0, 6)} Safari/605.1.15"
            )
        else:
            agents.add(
                rng.choice(["curl", "python-requests", "Go-http-client", "Wget"]) + f"/{major}.{build}"
            )
    return sorted(agents)


def make_frame(rows: int, ips: int, agents: int, networks: list[str], seed: int = 7) -> pl.DataFrame:
    rng = random.Random(seed)
    blocks = [cidr.split(".")[:2] for cidr in networks]
    addresses = []
    for _ in range(ips):
        a, b = rng.choice(blocks)
        addresses.append(f"{a}.{b}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
    agent_list = make_agents(rng, agents)
    return conform(
        pl.DataFrame(
            {
                "client_ip": [rng.choice(addresses) for _ in range(rows)],
                "user_agent": [rng.choice(agent_list) for _ in range(rows)],
                "edge_pop": [rng.choice(POPS) for _ in range(rows)],
            }
        )
    )


def run_flakehunt(frame: pl.DataFrame, geoip_dir: Path) -> tuple[float, pl.DataFrame]:
    start = time.perf_counter()
    enriched, notes = enrich_exchanges(frame, geoip_dir=geoip_dir)
    assert notes == [], notes
    return time.perf_counter() - start, enriched


def run_naive(frame: pl.DataFrame, city_db: Path, asn_db: Path) -> tuple[float, pl.DataFrame]:
    import maxminddb

    start = time.perf_counter()
    out: dict[str, list] = {
        name: []
        for name in (
            "geo_country",
            "geo_region",
            "geo_city",
            "asn",
            "as_org",
            "ua_family",
            "ua_major",
            "os_family",
            "device_class",
            "pop_city",
            "pop_country",
            "pop_continent",
            "pop_lat",
            "pop_lon",
        )
    }
    with maxminddb.open_database(str(city_db)) as city, maxminddb.open_database(str(asn_db)) as asns:
        for ip, agent, pop in frame.select("client_ip", "user_agent", "edge_pop").iter_rows():
            address = clean_ip(ip)
            place = (city.get(address) if address else None) or {}
            network = (asns.get(address) if address else None) or {}
            out["geo_country"].append((place.get("country") or {}).get("iso_code"))
            out["geo_region"].append(((place.get("subdivisions") or [{}])[0].get("names") or {}).get("en"))
            out["geo_city"].append(((place.get("city") or {}).get("names") or {}).get("en"))
            out["asn"].append(network.get("autonomous_system_number"))
            out["as_org"].append(network.get("autonomous_system_organization"))
            for name, value in zip(
                ("ua_family", "ua_major", "os_family", "device_class"), parse_user_agent(agent), strict=True
            ):
                out[name].append(value)
            located = locate_pop(pop)
            for name, value in zip(
                ("pop_city", "pop_country", "pop_continent", "pop_lat", "pop_lon"),
                located or (None,) * 5,
                strict=True,
            ):
                out[name].append(value)
    result = frame.with_columns(
        pl.Series(name, values, dtype=frame.schema[name]) for name, values in out.items()
    )
    return time.perf_counter() - start, result


def child(role: str, args: argparse.Namespace) -> None:
    """One side of the comparison, in its own process: prints seconds and peak RSS as JSON."""
    networks = make_networks(random.Random(7))
    frame = make_frame(args.rows, args.ips, args.agents, list(networks))
    geoip_dir = Path(args.geoip_dir)
    if role == "flakehunt":
        seconds, result = run_flakehunt(frame, geoip_dir)
        rows = args.rows
    else:
        sample = frame.head(args.sample)
        seconds, result = run_naive(sample, geoip_dir / "Test-City.mmdb", geoip_dir / "Test-ASN.mmdb")
        rows = args.sample
    result.head(args.sample).select(CHECKED).write_parquet(geoip_dir / f"{role}.parquet")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak_mb}))


def measure(role: str, args: argparse.Namespace, geoip_dir: Path) -> dict:
    command = [sys.executable, __file__, "--role", role, "--geoip-dir", str(geoip_dir)]
    for name in ("rows", "ips", "agents", "sample"):
        command += [f"--{name}", str(getattr(args, name))]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ips", type=int, default=50_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--sample", type=int, default=50_000, help="rows the naive loop runs over")
    parser.add_argument("--role", choices=["flakehunt", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--geoip-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        child(args.role, args)
        return

    networks = make_networks(random.Random(7))
    frame = make_frame(args.rows, args.ips, args.agents, list(networks))
    distinct = frame.select(pl.col("client_ip", "user_agent", "edge_pop").n_unique()).row(0)
    del frame
    print(
        f"{args.rows:,} rows; distinct client IPs {distinct[0]:,}, user agents {distinct[1]:,}, "
        f"POPs {distinct[2]}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        geoip_dir = Path(tmp)
        write_test_geoip(geoip_dir, networks)
        fh = measure("flakehunt", args, geoip_dir)
        naive = measure("naive", args, geoip_dir)
        same = pl.read_parquet(geoip_dir / "flakehunt.parquet").equals(
            pl.read_parquet(geoip_dir / "naive.parquet")
        )
    assert same, "the two methods disagree on the sample"
    fh_rate = fh["rows"] / fh["seconds"]
    naive_rate = naive["rows"] / naive["seconds"]
    print(f"{'method':<34}{'rows':>11}{'seconds':>10}{'rows/s':>13}{'peak RSS':>12}")
    print(
        f"{'flakehunt dedup-then-enrich':<34}{fh['rows']:>11,}{fh['seconds']:>10.2f}{fh_rate:>13,.0f}"
        f"{fh['peak_mb']:>9.0f} MB"
    )
    print(
        f"{'naive per-row loop (sample)':<34}{naive['rows']:>11,}{naive['seconds']:>10.2f}"
        f"{naive_rate:>13,.0f}"
        f"{naive['peak_mb']:>9.0f} MB"
    )
    print(f"{'naive, extrapolated':<34}{args.rows:>11,}{args.rows / naive_rate:>10.2f}{naive_rate:>13,.0f}")
    print(
        f"ratio: flakehunt enriches {fh_rate / naive_rate:.1f}x as many rows per second as the naive loop "
        "(identical results on the sample; peak RSS includes generating the rows)"
    )


if __name__ == "__main__":
    main()
