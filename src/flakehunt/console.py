"""stdout is for results, stderr is for people (STYLE.md section 7)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.theme import Theme

THEME = Theme(
    {
        "fh.pass": "green",
        "fh.fail": "bold red",
        "fh.error": "yellow",
        "fh.dim": "dim",
        "fh.key": "bold",
    }
)

out = Console(theme=THEME, soft_wrap=True)
err = Console(stderr=True, theme=THEME)


ProgressFn = Callable[[str, int, int], None]

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""
    `text` with its control characters shown as escapes: what a log line, a reject reason or a
    file name holds must not clear the screen or retitle the terminal of whoever reads it.

    >>> printable("04/\x1b[2JJan\n")
    '04/\\x1b[2JJan\\n'
    """
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


@contextmanager
def progress_to_stderr(title: str, *, enabled: bool = True, unit: str = "items") -> Iterator[ProgressFn]:
    """
    A transient Rich progress bar on stderr, fed by the library's `(label, done, total)` calls.

    A no-op when disabled or when stderr is not a terminal, so `... | jq` and CI logs stay clean.
    `unit="bytes"` shows sizes and speed (ingest); otherwise counts (probe runs).
    """
    if not enabled or not err.is_terminal:
        yield lambda label, done, total: None
        return
    amount = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(),)
    columns = (TextColumn(title), BarColumn(), *amount, TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("", total=None)

        def update(label: str, done: int, total: int) -> None:
            progress.update(task, description=label, completed=done, total=total)

        yield update
