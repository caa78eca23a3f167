"""The lines ingest could not read, as a user looks them over: filtered, in file order, cut short."""

from __future__ import annotations

import os
from dataclasses import dataclass

import polars as pl

from flakehunt.case import Case
from flakehunt.console import printable
from flakehunt.ingest.pipeline import scan_rejects
from flakehunt.ingest.summary import common_folder

_SHOWN_CHARS = 120  # of a rejected line's text: enough to see what is wrong with it


@dataclass
class RejectedLines:
    """Some of a case's rejected lines, and how many matched in all."""

    frame: pl.DataFrame  # file, line, format, reason, text
    matched: int

    def to_dict(self) -> dict:
        return {"matched": self.matched, "rejects": self.frame.to_dicts()}

    def __rich__(self):
        """`file:line: reason` (as compilers and grep print them), then the line's text, cut."""
        from rich.console import Group
        from rich.text import Text

        if not self.matched:
            return Text("no rejected lines")
        folder = common_folder(self.frame["file"].unique().to_list())
        parts: list = [Text(f"files in {printable(folder)}/", style="fh.dim")] if folder else []
        for row in self.frame.iter_rows(named=True):
            where = os.path.relpath(row["file"], folder) if folder else row["file"]
            parts.append(Text(printable(f"{where}:{row['line']}: {row['reason']}")))
            text = printable((row["text"] or "").replace("\t", "\\t"))  # a tab shows as \t, an escape as \x1b
            if len(text) > _SHOWN_CHARS:
                text = text[: _SHOWN_CHARS - 1] + "…"
            parts.append(Text(f"    {text}", style="fh.dim", no_wrap=True, overflow="ellipsis"))
        if self.frame.height < self.matched:
            parts.append(
                Text(f"{self.frame.height:,} of {self.matched:,} shown; --limit 0 shows all", style="fh.dim")
            )
        return Group(*parts)


def rejected_lines(
    case: Case, *, file: str | None = None, reason: str | None = None, limit: int = 20
) -> RejectedLines:
    """
    The case's rejected lines whose file path and reason contain `file` and `reason` (plain
    text, not patterns), ordered by file and line; at most `limit` of them (0: all).
    """
    rejects = scan_rejects(case)
    if file:
        rejects = rejects.filter(pl.col("file").str.contains(file, literal=True))
    if reason:
        rejects = rejects.filter(pl.col("reason").str.contains(reason, literal=True))
    # The same file ingested again with other --since/--until/--host writes its rejects again.
    rejects = rejects.sort("file", "line").unique(["file", "line", "reason"], maintain_order=True).collect()
    shown = rejects if limit <= 0 else rejects.head(limit)
    return RejectedLines(shown, rejects.height)
