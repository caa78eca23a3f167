"""What an ingest tells its user: per file, lines read, kept and rejected, and why."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flakehunt.console import printable
from flakehunt.ingest.inputs import STDIN_LABEL

SKIPPED = "skipped: unknown format"  # a file found in a folder or by a glob
BROKEN = "skipped: broken JSON document"  # the same, for a cut HAR: the notes say which and why
# The counts the text summary shows only when a file has some: field, column header.
_EXTRA_COLUMNS = {"skipped": "comments", "filtered": "filtered", "known": "in case"}


@dataclass
class FileResult:
    """What happened to one input file."""

    file: str
    format: str | None
    lines: int = 0
    kept: int = 0
    rejected: int = 0
    skipped: int = 0  # blank and comment lines
    filtered: int = 0  # outside --since/--until/--host
    known: int = 0  # in the case already: the same content was ingested before with other options
    status: str = "ingested"  # or "already ingested", SKIPPED or BROKEN
    reasons: dict[str, tuple[int, int]] = field(default_factory=dict)  # reject reason: count, first line

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "reasons"}
        out["reject_reasons"] = [
            {"reason": reason, "count": count, "first_line": line}
            for reason, (count, line) in self.top_reasons()
        ]
        return out

    def top_reasons(self, limit: int = 5) -> list[tuple[str, tuple[int, int]]]:
        return sorted(self.reasons.items(), key=lambda item: (-item[1][0], item[1][1]))[:limit]


def already_ingested(label: str) -> FileResult:
    return FileResult(label, None, status="already ingested")


@dataclass
class IngestSummary:
    """The result of `ingest_paths`: one FileResult per input, and notes worth saying once."""

    case_id: str
    files: list[FileResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_added(self) -> int:
        return sum(f.kept for f in self.files if f.status == "ingested")

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files if f.status == "ingested")

    def to_dict(self) -> dict:
        return {
            "case": self.case_id,
            "rows_added": self.rows_added,
            "rejected": self.rejected,
            "files": [f.to_dict() for f in self.files],
            "notes": list(self.notes),
        }

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        folder = common_folder([f.file for f in self.files])
        table = Table(box=None, pad_edge=False, header_style="fh.key")
        # Comment and blank lines (a W3C log's header), lines outside --since/--until/--host, and
        # lines the case held already, only when there are any: with them the counts add up to
        # the lines read.
        extra = [name for name in _EXTRA_COLUMNS if any(getattr(f, name) for f in self.files)]
        for name, justify in [
            ("file", "left"),
            ("format", "left"),
            ("lines", "right"),
            ("kept", "right"),
            ("rejected", "right"),
            *[(_EXTRA_COLUMNS[name], "right") for name in extra],
            ("status", "left"),
        ]:
            # Only the file folds (not cut: the end of a path tells the files apart).
            table.add_column(name, justify=justify, overflow="fold", no_wrap=name != "file")  # type: ignore[arg-type]
        for f in self.files:
            # A skipped file is said in two short cells: a long one squeezes the file names.
            shown_format, shown_status = {SKIPPED: ("unknown", "skipped"), BROKEN: ("har?", "broken")}.get(
                f.status, (f.format or "-", f.status)
            )
            table.add_row(
                Text(printable(os.path.relpath(f.file, folder) if folder else f.file)),  # Text: no markup
                shown_format,
                f"{f.lines:,}",
                f"{f.kept:,}",
                Text(f"{f.rejected:,}", style="fh.error" if f.rejected else ""),
                *[f"{getattr(f, name):,}" for name in extra],
                Text(shown_status, style={"ingested": "", BROKEN: "fh.error"}.get(f.status, "fh.dim")),
            )
        added = (
            "nothing new (already ingested)"
            if not self.rows_added and self.files and all(f.status == "already ingested" for f in self.files)
            else f"{self.rows_added:,} rows added to case {self.case_id}, {self.rejected:,} rejected"
        )
        parts: list = [Text(f"files in {printable(folder)}/", style="fh.dim")] if folder else []
        parts += [table, Text(added)]
        parts += [Text(f"  {printable(line)}", style="fh.error") for line in self._reason_lines(folder)]
        parts += [Text(f"note: {printable(note)}", style="fh.dim") for note in self.notes]
        return Group(*parts)

    def _reason_lines(self, folder: str, limit: int = 3) -> list[str]:
        """The most common reject reasons, each with where it first happened: what to fix first."""
        found: dict[str, list] = {}
        for f in self.files:
            if f.status != "ingested":
                continue
            for reason, (count, line) in f.reasons.items():
                seen = found.setdefault(reason, [0, f.file, line])
                seen[0] += count
        ranked = sorted(found.items(), key=lambda item: -item[1][0])
        lines = []
        for reason, (count, file, line) in ranked[:limit]:
            shown = reason if len(reason) <= 100 else reason[:99] + "…"
            where = os.path.relpath(file, folder) if folder else file
            lines.append(f"{count:,} × {shown} (first: {where} line {line:,})")
        if len(ranked) > limit:
            lines.append(f"… and {len(ranked) - limit:,} other reason(s)")
        if lines:
            lines.append(f"see them: flakehunt case rejects {self.case_id}")
        return lines


def common_folder(labels: list[str]) -> str:
    """The folder all of `labels` are in, if more than one ("" otherwise): said once, above them."""
    paths = [label for label in labels if label != STDIN_LABEL]
    if len(paths) < 2 or len(paths) != len(labels):
        return ""
    try:
        common = os.path.commonpath(paths)
    except ValueError:  # absolute and relative paths mixed
        return ""
    return common if common and common != os.path.dirname(common) and common not in paths else ""  # not "/"
