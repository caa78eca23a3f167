"""Shared fixtures: the corpus, a fresh case home, golden files, a running simulated CDN."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import settings

from flakehunt.edgesim import SimWorld
from flakehunt.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
GOLDEN = Path(__file__).parent / "golden"
FIXTURES = REPO / "fixtures"

# No time limit per example: hypothesis's default of 200 ms is a timing threshold inside a unit
# test, and a loaded CI machine (or the first call into polars) passes it now and then.
settings.register_profile("flakehunt", deadline=None)
settings.load_profile("flakehunt")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/")


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or write the real ~/.config (the redaction key, user formats) or ~/.cache."""
    config = tmp_path_factory.getbasetemp() / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    monkeypatch.setenv("FLAKEHUNT_KEY", "flakehunt-test-key")
    monkeypatch.setenv("FLAKEHUNT_FORMATS_DIR", str(config / "flakehunt" / "formats"))


@pytest.fixture
def corpus() -> Path:
    """The third-party samples in ../shared/corpus (read in place; not all may be copied)."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (CI always has it)")
    return CORPUS


@pytest.fixture
def case_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FLAKEHUNT_HOME, so cases never land in the real working folder."""
    home = tmp_path / "flakehunt-home"
    monkeypatch.setenv("FLAKEHUNT_HOME", str(home))
    return home


@pytest.fixture(
    params=[
        (signal.SIGINT, ExitCode.INTERRUPTED, "interrupted"),
        (signal.SIGTERM, ExitCode.TERMINATED, "terminated"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def stop_signal(request) -> tuple[signal.Signals, ExitCode, str]:
    """Each way to stop flakehunt: the signal, its exit code, and the last line on stderr."""
    return request.param


@pytest.fixture
def case_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty FLAKEHUNT_HOME and no user formats; returns the folder cases are created in."""
    home = tmp_path / "home"
    monkeypatch.setenv("FLAKEHUNT_HOME", str(home))
    monkeypatch.setenv("FLAKEHUNT_FORMATS_DIR", str(tmp_path / "no-user-formats"))
    return home / "cases"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> SimpleNamespace:
    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
        assert path.exists(), f"{name} missing; rerun with --update-golden and review it"
        assert actual == path.read_text(), f"{name} changed; rerun with --update-golden, review the diff"

    return SimpleNamespace(check=check)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[callable]:
    """Start simulated CDN worlds: `world = sim("stale-edge", edges=3)`; all stopped afterwards."""
    worlds: list[SimWorld] = []

    def start(preset: str = "no-fault", **options: object) -> SimWorld:
        options.setdefault("logs_dir", tmp_path / f"sim-{len(worlds)}")
        options.setdefault("seed", 7)
        world = SimWorld(preset=preset, **options)
        world.start()
        worlds.append(world)
        return world

    yield start
    for world in worlds:
        world.stop()
