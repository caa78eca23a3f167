"""
Accuracy of `flakehunt correlate` on seeded synthetic logs (issue #5, "Accuracy").

1. generate: one folder per (cause, size, noise, seed) under OUT, each with CloudFront and origin
   logs, GeoIP City + ASN databases, `truth.json` and `scenario.json` (`flakehunt.synth`);
2. score: ingest each folder into a case, run `flakehunt correlate` with the folder's expected
   sequence and events, and judge its JSON against `truth.json`: top-1 accuracy per cause, and
   the false-positive rate on the noise-only (`none`) scenarios.

Targets: top-1 right in >= 90 % of scenarios; no hypothesis above 0.5 confidence on a `none`
scenario.

    .venv/bin/python bench/accuracy.py --generate-only OUT --sizes 500,2000 --noise 0.02,0.08 --seeds 3

Step 2 waits for `flakehunt correlate`: `judge` and `accuracy_table` already read its documented
JSON; what is missing is `correlate_case` (see CORRELATE HOOK below).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from flakehunt.synth import CAUSES, GeneratedCase, Scenario, generate

NULL_CONFIDENCE_LIMIT = 0.5
TOP1_TARGET = 0.90


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--generate-only", metavar="OUT", type=Path, help="write the scenarios to OUT and stop"
    )
    parser.add_argument(
        "--sizes", default="500,2000", help="visitor sessions per scenario (default: %(default)s)"
    )
    parser.add_argument("--noise", default="0.02,0.08", help="background pixel loss (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per combination (default: %(default)s)")
    parser.add_argument("--causes", default="all", help=f"comma-separated, or all: {', '.join(CAUSES)}")
    parser.add_argument("--gzip", action="store_true", help="write CloudFront files .gz as S3 delivers them")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in args.sizes.split(",")]
        args.noise = [float(noise) for noise in args.noise.split(",")]
    except ValueError as exc:
        parser.error(f"--sizes and --noise take comma-separated numbers: {exc}")
    args.causes = list(CAUSES) if args.causes == "all" else args.causes.split(",")
    unknown = [cause for cause in args.causes if cause not in CAUSES]
    if unknown:
        parser.error(f"unknown cause {unknown[0]!r}; causes are: {', '.join(CAUSES)}")
    return args


def scenarios(causes: list[str], sizes: list[int], noises: list[float], seeds: int) -> list[Scenario]:
    """The grid, every cause at every size, noise level and seed."""
    return [
        Scenario(cause, sessions=size, noise=noise, seed=seed)
        for cause in causes
        for size in sizes
        for noise in noises
        for seed in range(seeds)
    ]


def generate_grid(out: Path, grid: list[Scenario], *, gzip: bool = False) -> list[GeneratedCase]:
    """One folder per scenario under `out`, named by `Scenario.name`."""
    return [generate(scenario, out / scenario.name, gzip=gzip) for scenario in grid]


def correlate_case(case: GeneratedCase, cases_root: Path) -> dict:
    """Ingest one scenario's logs into a fresh case and return `flakehunt correlate`'s JSON."""
    from flakehunt.case import open_case
    from flakehunt.correlate import correlate_case as correlate
    from flakehunt.ingest import ingest_paths

    target = open_case(case.scenario.name.replace(".", "_"), root=cases_root)
    ingest_paths(list(case.log_paths), case=target, geoip_dir=case.geoip_city.parent)
    events = [tuple(option.split(" ", 1)) for option in case.event_options()]
    return correlate(target, expect=case.expect, events=events).to_dict()


def judge(case: GeneratedCase, report: dict) -> dict:
    """
    One scenario's verdict from `flakehunt correlate --format json` (issue #5's interface).

    On a cause scenario, top-1 is right when the most confident hypothesis names the true cause;
    `implicated` also asks that it names the truth's dimension values. On a `none` scenario, it
    is a false positive when any hypothesis is above `NULL_CONFIDENCE_LIMIT`.
    """
    truth = case.truth
    hypotheses = sorted(report.get("hypotheses", []), key=lambda h: h.get("confidence", 0), reverse=True)
    top = hypotheses[0] if hypotheses else {"cause": "none", "confidence": 0.0, "implicates": {}}
    verdict = {"scenario": case.scenario.name, "cause": truth["cause"], "top": top["cause"]}
    if truth["cause"] == "none":
        false_positive = any(
            h.get("confidence", 0) > NULL_CONFIDENCE_LIMIT for h in hypotheses if h["cause"] != "none"
        )
        return verdict | {
            "right": not false_positive,
            "implicated": not false_positive,
            "false_positive": false_positive,
        }
    named = {key: str(value) for key, value in top.get("implicates", {}).items()}
    implicated = all(named.get(key) == str(value) for key, value in truth["implicates"].items())
    right = top["cause"] == truth["cause"]
    return verdict | {"right": right, "implicated": right and implicated, "false_positive": False}


def accuracy_table(verdicts: list[dict]) -> str:
    """Top-1 accuracy per cause, overall, and the false-positive rate on null scenarios."""
    by_cause: dict[str, list[dict]] = defaultdict(list)
    for verdict in verdicts:
        by_cause[verdict["cause"]].append(verdict)
    lines = [f"{'cause':<20}{'n':>5}{'top-1':>8}{'+values':>9}  wrong answers"]
    for cause in sorted(by_cause, key=CAUSES.index):
        rows = by_cause[cause]
        wrong = sorted({row["top"] for row in rows if not row["right"]})
        right, implicated = _share(rows, "right"), _share(rows, "implicated")
        lines.append(f"{cause:<20}{len(rows):>5}{right:>8.0%}{implicated:>9.0%}  {', '.join(wrong)}")
    overall = _share(verdicts, "right")
    nulls = by_cause.get("none", [])
    lines.append(f"overall top-1: {overall:.0%} (target {TOP1_TARGET:.0%}) over {len(verdicts)} scenarios")
    if nulls:
        lines.append(
            f"false positives on none: {_share(nulls, 'false_positive'):.0%} of {len(nulls)} "
            f"(target: none above {NULL_CONFIDENCE_LIMIT} confidence)"
        )
    return "\n".join(lines)


def _share(rows: list[dict], key: str) -> float:
    return sum(bool(row[key]) for row in rows) / len(rows) if rows else 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    grid = scenarios(args.causes, args.sizes, args.noise, args.seeds)
    out = args.generate_only or Path(tempfile.mkdtemp(prefix="flakehunt-accuracy-"))
    started = time.perf_counter()
    cases = generate_grid(out, grid, gzip=args.gzip)
    elapsed = time.perf_counter() - started
    cdn = sum(case.lines["cdn"] for case in cases)
    origin = sum(case.lines["origin"] for case in cases)
    print(f"generated {len(cases)} scenarios in {out}: {cdn} CDN + {origin} origin lines")
    print(f"in {elapsed:.1f} s ({(cdn + origin) / max(elapsed, 1e-9):,.0f} lines/s)")
    if args.generate_only:
        return 0
    started = time.perf_counter()
    verdicts = []
    for case in cases:
        verdict = judge(case, correlate_case(case, out / "_cases"))
        verdicts.append(verdict)
        mark = "ok " if verdict["right"] else "BAD"
        print(f"{mark} {verdict['scenario']:<40} top: {verdict['top']}", flush=True)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(accuracy_table(verdicts))
    print(f"correlated {len(cases)} scenarios in {elapsed:.0f} s, peak memory {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
