"""A Rich progress bar for probe rounds, with live failure counts (drawn only on a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(console: Console, *, enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """Yield an `(label, done, total)` callback; a no-op when disabled or `console` is not a terminal."""
    if not enabled or not console.is_terminal:
        yield lambda label, done, total: None
        return
    columns = (
        TextColumn("probing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def update(label: str, done: int, total: int) -> None:
            progress.update(task, description=label, completed=done, total=total)

        yield update
