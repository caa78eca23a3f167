"""
The simulated world: one origin and N edges on loopback, a deploy, faults, logs, controls.

    with SimWorld(preset="stale-edge", logs_dir=tmp) as world:
        world.site_url         # http://shop.flakehunt.test:PORT/
        world.pin("FRA56-C1")  # {"shop.flakehunt.test": "127.0.0.2"} for launch_browser(pin_hosts=...)
        world.purge("FRA56-C1")
"""

from __future__ import annotations

import errno
import http.client
import json
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from flakehunt.edgesim.accesslog import NGINX_LOG_FORMAT
from flakehunt.edgesim.edge import EdgeServer, EdgeSpec
from flakehunt.edgesim.faults import Faults
from flakehunt.edgesim.origin import CONTROL_PREFIX, OriginServer, control_json
from flakehunt.edgesim.site import Release, Response
from flakehunt.errors import FlakehuntError

SITE_HOST = "shop.flakehunt.test"

# (POP code, region, country of the region). Real CloudFront POP naming: IATA code, number, suffix.
POPS = (
    ("FRA56-C1", "eu-central-1", "DE"),
    ("IAD89-P2", "us-east-1", "US"),
    ("NRT57-C3", "ap-northeast-1", "JP"),
    ("LHR61-C2", "eu-west-2", "GB"),
    ("SEA19-C1", "us-west-2", "US"),
    ("GRU3-C1", "sa-east-1", "BR"),
    ("SIN2-C1", "ap-southeast-1", "SG"),
    ("SYD4-C1", "ap-southeast-2", "AU"),
    ("CDG50-C1", "eu-west-3", "FR"),
    ("BOM78-P1", "ap-south-1", "IN"),
    ("ICN54-C1", "ap-northeast-2", "KR"),
    ("ORD58-C1", "us-east-2", "US"),
    ("AMS1-C1", "eu-west-1", "NL"),
    ("JNB1-C1", "af-south-1", "ZA"),
    ("MAD53-C1", "eu-south-2", "ES"),
    ("DFW56-C1", "us-central-1", "US"),
)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    edges: int
    faults: dict


def _load_presets() -> dict[str, Preset]:
    text = resources.files("flakehunt.edgesim").joinpath("presets.yaml").read_text()
    return {
        name: Preset(name, body["description"], int(body["edges"]), body.get("faults") or {})
        for name, body in yaml.safe_load(text).items()
    }


PRESETS = _load_presets()


def _preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise FlakehuntError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None


class SimWorld:
    """
    A running simulated CDN. Use as a context manager; everything binds loopback only.

    Parameters
    ----------
    preset
        A name from `PRESETS`; its faults are the starting faults.
    edges
        How many edges (default: the preset's), at 127.0.0.2, 127.0.0.3, ...
    port
        The port every edge listens on; 0 picks one that is free on all their addresses.
    logs_dir
        Where the logs go: `cdn/` (CloudFront standard logs, one file per edge) and
        `origin/access.log` (nginx). A temporary folder when omitted.
    seed
        Seeds the fault dice, so a scenario's failure pattern can be replayed.
    """

    def __init__(
        self,
        *,
        preset: str = "no-fault",
        edges: int | None = None,
        port: int = 0,
        logs_dir: Path | None = None,
        seed: int | None = None,
    ) -> None:
        self.preset = _preset(preset)
        count = self.preset.edges if edges is None else edges
        if not 1 <= count <= len(POPS):
            raise FlakehuntError(f"--edges must be between 1 and {len(POPS)}, got {count}")
        self.specs = [
            EdgeSpec(pop, f"127.0.0.{index + 2}", region, country)
            for index, (pop, region, country) in enumerate(POPS[:count])
        ]
        self._faults = Faults.from_dict(dict(self.preset.faults))
        self._check_fault_edges(self._faults)
        self._requested_port = port
        self.logs_dir = Path(logs_dir) if logs_dir else Path(tempfile.mkdtemp(prefix="flakehunt-sim-"))
        self._rng = random.Random(seed)
        self._release = Release(1, time.time())
        self._lock = threading.Lock()
        self.origin: OriginServer | None = None
        self.edges: list[EdgeServer] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> SimWorld:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.origin = OriginServer(
            host="127.0.0.1",
            port=0,
            log_path=self.logs_dir / "origin" / "access.log",
            state=self.state,
            control=self._control,
            rng=self._rng,
        )
        self.origin.start()
        self.edges = self._bind_edges()
        for edge in self.edges:
            edge.start()
        # Release 1 is live; edges that will miss the invalidation cache it now, then release 2
        # ships and the invalidation reaches every other edge.
        for pop in self._faults.stale_edges:
            for path in self._faults.stale_paths:
                self.fetch(pop, path)
        self.deploy(2)

    def stop(self) -> None:
        for server in [*self.edges, self.origin]:
            if server is not None:
                server.stop()
        self.edges, self.origin = [], None

    def _bind_edges(self) -> list[EdgeServer]:
        """Bind every edge on one port, retrying when a chosen port is taken on some address."""
        for _attempt in range(50):
            edges: list[EdgeServer] = []
            port = self._requested_port
            try:
                for spec in self.specs:
                    edge = self._make_edge(spec, port)
                    port = edge.port
                    edges.append(edge)
                return edges
            except OSError as exc:
                for edge in edges:
                    edge.stop()
                if exc.errno != errno.EADDRINUSE:
                    raise
                if self._requested_port:
                    raise FlakehuntError(f"port {self._requested_port} is in use on {spec.ip}") from None
        raise FlakehuntError("no port is free on every edge address; pass --port")

    def _make_edge(self, spec: EdgeSpec, port: int) -> EdgeServer:
        assert self.origin is not None
        return EdgeServer(
            spec,
            port=port,
            origin=("127.0.0.1", self.origin.port),
            log_dir=self.logs_dir / "cdn",
            faults=lambda: self._faults,
            rng=self._rng,
        )

    # -- what tests, probes and the CLI use ---------------------------------------------------

    @property
    def port(self) -> int:
        return self.edges[0].port

    @property
    def site_url(self) -> str:
        return f"http://{SITE_HOST}:{self.port}/"

    @property
    def origin_url(self) -> str:
        assert self.origin is not None
        return f"http://127.0.0.1:{self.origin.port}/"

    @property
    def faults(self) -> Faults:
        return self._faults

    def state(self) -> tuple[Release, Faults]:
        return self._release, self._faults

    def edge(self, pop: str) -> EdgeServer:
        for edge in self.edges:
            if edge.spec.pop == pop:
                return edge
        raise FlakehuntError(f"no edge {pop!r}; edges: {', '.join(s.pop for s in self.specs)}")

    def pin(self, pop: str) -> dict[str, str]:
        """Host pinning for `launch_browser`: the site's hostname resolves to this edge."""
        return {SITE_HOST: self.edge(pop).spec.ip}

    def set_faults(self, **changes: object) -> Faults:
        """Change fault knobs while running, e.g. `world.set_faults(failing_edges={"FRA56-C1": 0.5})`."""
        updated = replace(self._faults, **changes)
        self._check_fault_edges(updated)
        self._faults = updated
        return updated

    def deploy(self, version: int) -> None:
        """Ship release `version` to origin and invalidate every edge but the stale ones."""
        with self._lock:
            self._release = Release(version, time.time())
            for edge in self.edges:
                if edge.spec.pop not in self._faults.stale_edges:
                    edge.purge()

    def purge(self, pop: str | None = None, paths: Iterable[str] | None = None) -> int:
        """Purge one edge's cache (or every edge's): what flakehunt tells people to do."""
        targets = [self.edge(pop)] if pop else self.edges
        return sum(edge.purge(paths) for edge in targets)

    def fetch(self, pop: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        """One plain HTTP request through an edge, as a client pinned to it would make it."""
        edge = self.edge(pop)
        connection = http.client.HTTPConnection(edge.spec.ip, edge.port, timeout=10)
        connection.request("GET", path, headers={"Host": f"{SITE_HOST}:{self.port}", **(headers or {})})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def describe(self) -> dict:
        """What `flakehunt sim` prints: URLs, edges, active faults by POP, log locations."""
        return {
            "site_url": self.site_url,
            "origin_url": self.origin_url,
            "host": SITE_HOST,
            "port": self.port,
            "preset": self.preset.name,
            "edges": [
                {"pop": s.pop, "ip": s.ip, "region": s.region, "country": s.country} for s in self.specs
            ],
            "edge_ips": ",".join(s.ip for s in self.specs),
            "faults": self._faults.by_edge({s.pop: s.country for s in self.specs}),
            "release": {
                "version": self._release.version,
                "deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._release.deployed_at)),
            },
            "logs": {
                "dir": str(self.logs_dir),
                "cdn": [str(edge.log.path) for edge in self.edges],
                "cdn_format": "cloudfront",
                "origin": str(self.logs_dir / "origin" / "access.log"),
                "origin_format": "nginx",
                "origin_log_format": NGINX_LOG_FORMAT,
            },
            "control": f"{self.origin_url}{CONTROL_PREFIX.lstrip('/')}",
        }

    # -- HTTP controls on origin: GET /__sim/state, POST /__sim/faults, /__sim/deploy, /__sim/purge

    def _control(self, method: str, target: str, body: bytes) -> Response:
        parts = urlsplit(target)
        action = parts.path[len(CONTROL_PREFIX) :]
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            if action == "state" and method == "GET":
                return control_json(self.describe())
            if action == "faults" and method == "POST":
                self.set_faults(**json.loads(body or b"{}"))
                return control_json(self.describe())
            if action == "deploy" and method == "POST":
                self.deploy(int(query.get("version", self._release.version + 1)))
                return control_json(self.describe())
            if action == "purge" and method == "POST":
                paths = [query["path"]] if "path" in query else None
                return control_json({"purged": self.purge(query.get("pop"), paths)})
        except (FlakehuntError, TypeError, ValueError) as exc:
            return control_json({"error": str(exc)}, status=400)
        return control_json({"error": f"unknown control {method} {action!r}"}, status=404)

    def _check_fault_edges(self, faults: Faults) -> None:
        pops = {spec.pop for spec in self.specs}
        named = {*faults.stale_edges, *faults.failing_edges, *faults.slow_edges}
        if missing := sorted(named - pops):
            raise FlakehuntError(
                f"fault names edge {missing[0]!r}, which this world of {len(pops)} edges does not have"
            )


def serve_forever(
    *,
    preset: str,
    edges: int | None,
    port: int,
    logs_dir: Path | None,
    announce: Callable[[dict], None],
) -> None:
    """Run a world until Ctrl-C or SIGTERM, announcing it first; logs are flushed on the way out."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with SimWorld(preset=preset, edges=edges, port=port, logs_dir=logs_dir) as world:
            announce(world.describe())
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
