"""Shared fixtures: a case folder, the shared corpus, golden files (STYLE.md section 8)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = REPO / "fixtures"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/")


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of third-party log samples (`<repo>/../shared/corpus`)."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (only CI and the dev machine have it)")
    return CORPUS


@pytest.fixture
def case_dir(tmp_path, monkeypatch) -> Path:
    """An empty FLAKEHUNT_HOME; cases are created under it."""
    home = tmp_path / "home"
    monkeypatch.setenv("FLAKEHUNT_HOME", str(home))
    monkeypatch.setenv("FLAKEHUNT_FORMATS_DIR", str(tmp_path / "no-user-formats"))
    return home / "cases"


@pytest.fixture
def golden(request):
    def check(name: str, actual: str) -> None:
        path = Path(__file__).parent / "golden" / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual)
        assert actual == path.read_text(), f"{name} changed; rerun with --update-golden, review the diff"

    return SimpleNamespace(check=check)
