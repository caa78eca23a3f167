"""Docs cannot drift: the CLI reference is generated from --help and must match it."""

from __future__ import annotations

from pathlib import Path

from flakehunt.clidocs import command_paths, render

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_cli_reference_matches_the_commands():
    assert DOCS.read_text() == render(), (
        "docs/cli.md is stale; run: python -m flakehunt.clidocs > docs/cli.md"
    )


def test_every_command_has_help_text():
    reference = render()
    for path in command_paths()[1:]:
        section = reference.split(f"## `flakehunt {' '.join(path)}`", 1)[1].split("\n## ", 1)[0]
        assert "Usage:" in section and len(section.splitlines()) > 5, path
