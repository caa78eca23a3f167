"""`--store` on probe, correlate and report: wiring and one-line errors (the browser runs are in
tests/test_watch_probes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.cli import app
from flakehunt.errors import ExitCode

runner = CliRunner()
PROBES = Path(__file__).resolve().parents[2] / "probes"


@pytest.mark.parametrize("command", ["correlate", "report"])
def test_case_or_store_is_required_but_not_both(command: str, tmp_path: Path) -> None:
    for args in ([], ["--case", "T-1", "--store", str(tmp_path)]):
        result = runner.invoke(app, [command, *args])
        assert result.exit_code == ExitCode.BAD_INPUT
        assert result.stderr == (
            "flakehunt: error: give either --case ID or --store URI (a run store of scheduled probes)\n"
        )


def test_an_empty_store_says_how_to_fill_it(tmp_path: Path, case_home: Path) -> None:
    store = tmp_path / "store"
    result = runner.invoke(app, ["correlate", "--store", str(store), "--since", "24h"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith(f"flakehunt: error: store {str(store)!r} has no probe rounds since ")
    assert result.stderr.rstrip().endswith(f"run 'flakehunt probe SPEC --store {store}' first")
    assert result.stderr.count("\n") == 1


def test_probe_needs_a_case_or_a_store() -> None:
    result = runner.invoke(app, ["probe", str(PROBES / "conversion-pixel.yaml")])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "--case or --store" in result.stderr


def test_probe_store_checks_the_location_before_probing(tmp_path: Path) -> None:
    args = [
        "probe",
        str(PROBES / "conversion-pixel.yaml"),
        "--store",
        str(tmp_path),
        "--location",
        "my laptop",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("flakehunt: error: --location has bad name 'my laptop'")
    assert not (tmp_path / "rounds").exists()


def test_probe_store_rejects_an_unknown_scheme() -> None:
    args = ["probe", str(PROBES / "conversion-pixel.yaml"), "--store", "gs://bucket/x", "--location", "fra"]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "has an unknown scheme" in result.stderr
