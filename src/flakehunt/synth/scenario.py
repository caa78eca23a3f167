"""Scenarios in, a folder of logs, GeoIP databases and ground truth out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

from flakehunt.edgesim.accesslog import NGINX_LOG_FORMAT
from flakehunt.errors import FlakehuntError
from flakehunt.synth import logs, traffic
from flakehunt.synth.geoip import write_geoip

EXPECT = "path = '/checkout' -> path LIKE '/pixel.gif%' within 30s"
GENERATOR_VERSION = 1
MAX_EDGES = 12


@dataclass(frozen=True)
class Scenario:
    """
    What to generate: one cause, a number of visitor sessions, the background pixel loss.

    Parameters
    ----------
    cause
        One of `CAUSES`; `none` injects nothing (noise only).
    sessions
        Visitor sessions, about 3 % of them crawlers; each shopper makes about 5 CDN requests.
    noise
        Share of shoppers whose pixel never fires whatever the cause (they did not buy).
    seed
        Seeds everything; the same scenario always gives byte-identical files.
    edges
        How many CloudFront POPs serve the site (1-12, taken in `world.POPS` order).
    window_hours
        Length of the time window, starting 2026-11-20T09:00:00Z.
    """

    cause: str
    sessions: int = 2000
    noise: float = 0.03
    seed: int = 0
    edges: int = 8
    window_hours: float = 2.0

    def __post_init__(self) -> None:
        if self.cause not in traffic.CAUSES:
            raise FlakehuntError(f"unknown cause {self.cause!r}; causes are: {', '.join(traffic.CAUSES)}")
        if not 1 <= self.sessions <= 50_000_000:
            raise FlakehuntError(f"sessions {self.sessions!r} must be between 1 and 50000000")
        if not 0.0 <= self.noise < 1.0:
            raise FlakehuntError(f"noise {self.noise!r} must be at least 0 and below 1")
        if not 1 <= self.edges <= MAX_EDGES:
            raise FlakehuntError(f"edges {self.edges!r} must be between 1 and {MAX_EDGES}")
        if not 0.1 <= self.window_hours <= 24 * 7:
            raise FlakehuntError(f"window_hours {self.window_hours!r} must be between 0.1 and 168")

    @property
    def name(self) -> str:
        """
        A folder name that tells the scenario apart from its neighbours in a grid.

        >>> Scenario("edge_fault", sessions=500, noise=0.02, seed=1).name
        'edge_fault-s500-n0.02-seed1'
        """
        return f"{self.cause}-s{self.sessions}-n{self.noise:g}-seed{self.seed}"


@dataclass(frozen=True)
class GeneratedCase:
    """
    What `generate` wrote, and what `flakehunt correlate` needs to be judged on it.

    `truth` is `{"cause": ..., "implicates": {column: value}, "details": {...}}`; the keys of
    `implicates` are DESIGN's normalized column names (`edge_pop`, `path`, `ua_family`,
    `geo_country`, `asn`, `device_class`, `status`, ...), the values what a right answer names.
    """

    scenario: Scenario
    out_dir: Path
    cdn_logs: tuple[Path, ...]
    origin_log: Path
    geoip_city: Path
    geoip_asn: Path
    expect: str
    events: tuple[tuple[str, str], ...]
    truth: dict
    window: tuple[str, str]
    edges: dict[str, str]  # POP code -> the edge's address as origin sees it
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def log_paths(self) -> list[Path]:
        """Every log file, CDN first: what to hand to `flakehunt ingest`."""
        return [*self.cdn_logs, self.origin_log]

    def event_options(self) -> list[str]:
        """
        The events as `flakehunt correlate --event` values (`"<ISO time> <label>"`).

        >>> case = GeneratedCase(Scenario("none"), Path("."), (), Path("o"), Path("c"), Path("a"),
        ...     EXPECT, (("2026-11-20T10:00:00Z", "deploy v42"),), {}, ("", ""), {})
        >>> case.event_options()
        ['2026-11-20T10:00:00Z deploy v42']
        """
        return [f"{when} {label}" for when, label in self.events]

    def to_dict(self) -> dict:
        """JSON-ready, paths relative to `out_dir` (the folder can be moved)."""
        return {
            "generator_version": GENERATOR_VERSION,
            "scenario": asdict(self.scenario),
            "cdn_logs": [p.relative_to(self.out_dir).as_posix() for p in self.cdn_logs],
            "origin_log": self.origin_log.relative_to(self.out_dir).as_posix(),
            "geoip_city": self.geoip_city.relative_to(self.out_dir).as_posix(),
            "geoip_asn": self.geoip_asn.relative_to(self.out_dir).as_posix(),
            "expect": self.expect,
            "events": [list(event) for event in self.events],
            "window": list(self.window),
            "edges": self.edges,
            "lines": self.lines,
            "nginx_log_format": NGINX_LOG_FORMAT,
        }


def generate(scenario: Scenario, out_dir: Path, *, gzip: bool = False) -> GeneratedCase:
    """
    Write a scenario's CloudFront and origin logs, GeoIP databases, `truth.json` and `scenario.json`.

    Parameters
    ----------
    scenario
        What to generate.
    out_dir
        Created if missing; files of an earlier run there are overwritten.
    gzip
        Compress the CloudFront files as S3 delivers them (`.gz`); plain `.log` otherwise.

    Returns
    -------
    GeneratedCase
        The paths, the labelling rule, the events and the ground truth.

    Examples
    --------
    >>> import tempfile
    >>> case = generate(Scenario("edge_fault", sessions=200), Path(tempfile.mkdtemp()))
    >>> case.truth["cause"], sorted(case.truth["implicates"])
    ('edge_fault', ['edge_pop'])
    """
    out_dir = Path(out_dir)
    simulated = traffic.simulate(
        scenario.cause,
        sessions=scenario.sessions,
        noise=scenario.noise,
        seed=scenario.seed,
        edges=scenario.edges,
        window_hours=scenario.window_hours,
    )
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, 2, scenario.sessions]))
    frame = logs.requests_frame(simulated, rng)
    for stale in (*(out_dir / "cdn").glob("*.log"), *(out_dir / "cdn").glob("*.gz")):
        stale.unlink()
    cdn_logs = logs.write_cloudfront(frame, out_dir / "cdn", rng, gzip=gzip)
    origin_log = out_dir / "origin" / "access.log"
    origin_lines = logs.write_nginx(frame, origin_log)
    city, asn = write_geoip(out_dir / "geoip")
    start = traffic.WINDOW_START
    end = start + timedelta(hours=scenario.window_hours)
    case = GeneratedCase(
        scenario=scenario,
        out_dir=out_dir,
        cdn_logs=tuple(cdn_logs),
        origin_log=origin_log,
        geoip_city=city,
        geoip_asn=asn,
        expect=EXPECT,
        events=tuple(simulated.events),
        truth=simulated.truth,
        window=(_iso(start), _iso(end)),
        edges={pop.code: pop.edge_ip for pop in simulated.edges},
        lines={"cdn": frame.height, "origin": origin_lines},
    )
    (out_dir / "truth.json").write_text(json.dumps(case.truth, indent=2, sort_keys=True) + "\n")
    (out_dir / "scenario.json").write_text(json.dumps(case.to_dict(), indent=2, sort_keys=True) + "\n")
    return case


def read_case(out_dir: Path) -> GeneratedCase:
    """
    A `GeneratedCase` back from the folder `generate` wrote.

    Raises
    ------
    FlakehuntError
        `out_dir` holds no `scenario.json` and `truth.json`.
    """
    out_dir = Path(out_dir)
    try:
        meta = json.loads((out_dir / "scenario.json").read_text())
        truth = json.loads((out_dir / "truth.json").read_text())
    except FileNotFoundError as exc:
        raise FlakehuntError(
            f"{str(out_dir)!r} is not a generated scenario: {exc.filename!r} is missing"
        ) from None
    return GeneratedCase(
        scenario=Scenario(**meta["scenario"]),
        out_dir=out_dir,
        cdn_logs=tuple(out_dir / p for p in meta["cdn_logs"]),
        origin_log=out_dir / meta["origin_log"],
        geoip_city=out_dir / meta["geoip_city"],
        geoip_asn=out_dir / meta["geoip_asn"],
        expect=meta["expect"],
        events=tuple(tuple(e) for e in meta["events"]),
        truth=truth,
        window=tuple(meta["window"]),
        edges=meta["edges"],
        lines=meta["lines"],
    )


def _iso(when) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
