"""`flakehunt doctor`: what this machine can do, and the exact command for what it cannot."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from flakehunt import aio
from flakehunt.browsers import (
    INSTALL_COMMAND,
    BrowserExecutable,
    Engine,
    find_browser,
    launch_browser,
)
from flakehunt.errors import FlakehuntError

GEOIP_ENV_VAR = "FLAKEHUNT_GEOIP_DIR"
STANDARD_GEOIP_DIRS = (Path("/usr/share/GeoIP"), Path("/var/lib/GeoIP"))


@dataclass
class BrowserCheck:
    engine: Engine
    executable: BrowserExecutable | None
    version: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.version is not None


@dataclass
class DoctorReport:
    """The result of `check_environment`, renderable by Rich and as JSON."""

    browsers: list[BrowserCheck]
    geoip_databases: list[Path]
    geoip_searched: list[Path]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.browsers)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "browsers": [
                {
                    "engine": check.engine.value,
                    "path": str(check.executable.path) if check.executable else None,
                    "found_by": check.executable.found_by if check.executable else None,
                    "version": check.version,
                    "problem": check.problem,
                }
                for check in self.browsers
            ],
            "geoip": {
                "databases": [str(path) for path in self.geoip_databases],
                "searched": [str(path) for path in self.geoip_searched],
            },
            "notes": self.notes,
        }

    def __rich__(self) -> Table:
        table = Table(title="flakehunt doctor", show_header=True, header_style="fh.key")
        table.add_column("component")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for check in self.browsers:
            if check.ok:
                status, detail = "[fh.pass]ok[/]", f"{check.version} ({check.executable.path})"
            else:
                status, detail = "[fh.fail]missing[/]", check.problem or ""
            table.add_row(check.engine.value, status, detail)
        if self.geoip_databases:
            table.add_row("geoip", "[fh.pass]ok[/]", ", ".join(str(p) for p in self.geoip_databases))
        else:
            searched = ", ".join(str(p) for p in self.geoip_searched)
            table.add_row(
                "geoip",
                "[fh.error]none[/]",
                f"no *.mmdb in {searched}; geo columns stay empty (optional)",
            )
        for note in self.notes:
            table.add_row("note", "", note)
        return table


def geoip_search_dirs(geoip_dir: Path | None = None) -> list[Path]:
    """Where GeoIP databases are looked for, in order: the option, the env var, standard folders."""
    dirs = []
    if geoip_dir is not None:
        dirs.append(geoip_dir)
    if configured := os.environ.get(GEOIP_ENV_VAR):
        dirs.append(Path(configured))
    dirs.extend(STANDARD_GEOIP_DIRS)
    return dirs


def find_geoip_databases(geoip_dir: Path | None = None) -> list[Path]:
    """Every MaxMind-format `.mmdb` file in the GeoIP search folders."""
    if geoip_dir is not None and not geoip_dir.is_dir():
        raise FlakehuntError(f"--geoip-dir {str(geoip_dir)!r} is not a folder")
    found: list[Path] = []
    for folder in geoip_search_dirs(geoip_dir):
        if folder.is_dir():
            found.extend(sorted(folder.glob("*.mmdb")))
    return found


def check_environment(
    *, geoip_dir: Path | None = None, engines: Sequence[Engine] = tuple(Engine)
) -> DoctorReport:
    """
    Find each browser, launch it once headless, and find GeoIP databases.

    Returns
    -------
    DoctorReport
        `report.ok` is False when a browser is missing or does not start.
    """
    checks = [BrowserCheck(engine, find_browser(engine)) for engine in engines]
    aio.run(_launch_each(checks))
    report = DoctorReport(checks, find_geoip_databases(geoip_dir), geoip_search_dirs(geoip_dir))
    if not report.ok:
        prefix = "" if os.geteuid() == 0 else "sudo "
        report.notes.append(f"install the browsers with: {prefix}sh -c '{INSTALL_COMMAND}'")
    return report


async def _launch_each(checks: list[BrowserCheck]) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        for check in checks:
            if check.executable is None:
                check.problem = f"no {check.engine.value} found on PATH or in Playwright's cache"
                continue
            try:
                browser = await launch_browser(playwright, check.engine, executable=check.executable)
            except FlakehuntError as exc:
                check.problem = str(exc)
                continue
            check.version = browser.version
            await browser.close()
