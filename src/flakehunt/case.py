"""
A case: the folder where everything about one customer report meets (DESIGN.md, "The case").

    <root>/<case-id>/case.toml       what the customer reported, settings
                     data/<dataset>/ Parquet parts (see store.py)
                     journal.jsonl   append-only record of every action
                     reports/        rendered reports

The root is `$FLAKEHUNT_HOME/cases` when that is set, else `./.flakehunt/cases`.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w
from rich.console import Group
from rich.table import Table
from rich.text import Text

from flakehunt.atomic import write_atomic
from flakehunt.errors import FlakehuntError

_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Case:
    id: str
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def journal_path(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def settings_path(self) -> Path:
        return self.root / "case.toml"

    def settings(self) -> dict[str, Any]:
        """The parsed case.toml."""
        with self.settings_path.open("rb") as handle:
            return tomllib.load(handle)

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` (None values skipped) into case.toml, atomically."""
        settings = self.settings()
        settings.update({key: value for key, value in changes.items() if value is not None})
        write_atomic(self.settings_path, tomli_w.dumps(settings).encode())
        return settings


def cases_root() -> Path:
    if home := os.environ.get("FLAKEHUNT_HOME"):
        return Path(home) / "cases"
    return Path.cwd() / ".flakehunt" / "cases"


def open_case(case_id: str, *, create: bool = True, root: Path | None = None) -> Case:
    """
    Open the case `case_id`, creating its folder when `create` is true.

    Raises
    ------
    FlakehuntError
        The id has characters a folder name cannot safely hold, or the case does not exist
        and `create` is false.
    """
    if not _CASE_ID.match(case_id):
        raise FlakehuntError(
            f"case id {case_id!r} must start with a letter or digit and hold only letters, digits and . _ -, "
            "at most 128 of them"
        )
    case = Case(case_id, (root or cases_root()) / case_id)
    if not case.settings_path.exists():
        if not create:
            raise FlakehuntError(f"no case {case_id!r} in {case.root.parent}; see 'flakehunt case list'")
        case.root.mkdir(parents=True, exist_ok=True)
        created = datetime.now(UTC).replace(microsecond=0)
        write_atomic(case.settings_path, tomli_w.dumps({"id": case_id, "created": created}).encode())
    return case


def case_exists(case_id: str, *, root: Path | None = None) -> bool:
    return ((root or cases_root()) / case_id / "case.toml").exists()


def discard_if_unused(case: Case) -> bool:
    """
    Remove a case that holds nothing (no journal, no data file): what a first command that
    failed at once (a typo in a path) created. Returns whether it was removed.
    """
    if case.journal_path.exists() or any(p.is_file() for p in case.data_dir.rglob("*")):
        return False
    shutil.rmtree(case.root, ignore_errors=True)
    return True


def list_cases(root: Path | None = None) -> list[Case]:
    folder = root or cases_root()
    if not folder.is_dir():
        return []
    return [Case(p.name, p) for p in sorted(folder.iterdir()) if (p / "case.toml").exists()]


def record(
    case: Case,
    action: str,
    *,
    params: dict[str, Any] | None = None,
    outcome: str = "",
    author: str | None = None,
) -> dict[str, Any]:
    """Append one entry to the case's journal: when, who, what, with which parameters, outcome."""
    entry = {
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
        "author": author or _os_user(),
        "action": action,
        "params": params or {},
        "outcome": outcome,
    }
    with case.journal_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, default=str) + "\n")
    return entry


def read_journal(case: Case) -> list[dict[str, Any]]:
    if not case.journal_path.exists():
        return []
    with case.journal_path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def describe_cases(root: Path | None = None) -> Table:
    """The cases as a table: id, created, actions taken, last action."""
    table = Table(title=f"cases in {root or cases_root()}", header_style="fh.key")
    for column in ("case", "created", "actions", "last action"):
        table.add_column(column)
    for case in list_cases(root):
        journal = read_journal(case)
        last = journal[-1] if journal else None
        table.add_row(
            case.id,
            str(case.settings().get("created", "")),
            str(len(journal)),
            f"{last['ts']} {last['action']}: {last['outcome']}" if last else "-",
        )
    return table


def story(case: Case) -> Group:
    """What the customer reported and every action on the case, oldest first, for `case show`."""
    settings = case.settings()
    lines: list[Text] = [Text(f"case {case.id}, opened {settings.get('created', '?')}", style="fh.key")]
    for key, value in settings.get("reported", {}).items():
        lines.append(Text(f"  reported {key}: {value}"))
    journal = read_journal(case)
    if not journal:
        lines.append(Text("  nothing done yet", style="fh.dim"))
    for entry in journal:
        style = "fh.pass" if entry["action"] == "note" else ""
        lines.append(
            Text(
                f"{entry['ts']}  {entry['author']:<10} {entry['action']:<10} {entry['outcome']}", style=style
            )
        )
    return Group(*lines)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
