"""stdout is for results, stderr is for people (STYLE.md section 7)."""

from __future__ import annotations

from rich.console import Console
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
