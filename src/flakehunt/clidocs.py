"""The CLI reference (docs/cli.md), generated from the commands' own --help so it cannot drift."""

from __future__ import annotations

from typer.testing import CliRunner

HEADER = """# flakehunt command reference

Generated from `flakehunt --help` by `python -m flakehunt.clidocs > docs/cli.md`; a test checks
that this file matches the commands, so edit the commands' help, not this file.
"""


def command_paths() -> list[list[str]]:
    """Every command and sub-command, as argument lists: [[], ["case"], ["case", "list"], ...]."""
    import typer.main

    from flakehunt.cli import app

    group = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(command, prefix: list[str]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(group, [])
    return paths


def render() -> str:
    from flakehunt.cli import app

    runner = CliRunner()
    sections = [HEADER]
    for path in command_paths():
        result = runner.invoke(
            app, [*path, "--help"], env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
        )
        title = " ".join(["flakehunt", *path])
        text = "\n".join(line.rstrip() for line in result.stdout.strip("\n").splitlines())
        sections.append(f"## `{title}`\n\n```text\n{text}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    print(render(), end="")
