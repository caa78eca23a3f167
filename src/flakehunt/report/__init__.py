"""
Reports: what a case found, per audience (customer, engineer, exec), as Markdown, HTML or JSON,
redacted by default (DESIGN.md, "Safe to share").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text

from flakehunt.atomic import write_atomic
from flakehunt.case import Case, record
from flakehunt.errors import FlakehuntError
from flakehunt.redact import Redactor
from flakehunt.report.data import gather
from flakehunt.report.html import render_html
from flakehunt.report.markdown import render_markdown
from flakehunt.report.narrative import AUDIENCES, customer_paragraphs, exec_lines

FORMATS = {"md": "md", "html": "html", "json": "json"}

__all__ = ["AUDIENCES", "FORMATS", "RenderedReport", "render_report"]


@dataclass
class RenderedReport:
    audience: str
    format: str
    text: str
    path: Path | None
    redaction: str  # the manifest, or "not redacted"

    def __rich__(self) -> Text:
        where = str(self.path) if self.path else "stdout"
        return Text(f"{self.audience} report ({self.format}, redacted: {self.redaction}) written to {where}")


def render_report(
    case: Case,
    *,
    audience: str = "engineer",
    format_name: str = "md",
    redact: bool = True,
    output: str | Path | None = None,
    data: dict[str, Any] | None = None,
) -> RenderedReport:
    """
    Render the report of `case` for `audience` in `format_name`.

    Parameters
    ----------
    redact
        Replace client IPs, cookies, credentials, tokens and emails by keyed pseudonyms and list
        what was removed. A customer report is always redacted.
    output
        A file path, ``"-"`` for the text only (the caller prints it), or None for the case's
        ``reports/<case>-<audience>.<format>``.
    data
        What `report.data.gather(case)` returned, when several reports are rendered at once, so
        the case is read and correlated only once.

    Raises
    ------
    FlakehuntError
        Unknown audience or format, or an unredacted customer report was asked for.
    """
    if audience not in AUDIENCES:
        raise FlakehuntError(f"--audience {audience!r} is not one of: {', '.join(AUDIENCES)}")
    if format_name not in FORMATS:
        raise FlakehuntError(f"--format {format_name!r} is not one of: {', '.join(FORMATS)}")
    if audience == "customer" and not redact:
        raise FlakehuntError("a customer report is always redacted; drop --no-redact")
    data = gather(case) if data is None else data
    manifest = "not redacted"
    if redact:
        redactor = Redactor(keep_addresses=data.get("edge_addresses", []))
        data = redactor.redact_json(data, addresses=True)
        manifest = redactor.manifest()
        data["redaction"] = {"applied": True, "manifest": manifest, "counts": dict(redactor.counts)}
    else:
        data["redaction"] = {"applied": False}
    text = _render(data, audience, format_name)
    path = None
    if output != "-":
        path = Path(output) if output else case.reports_dir / f"{case.id}-{audience}.{FORMATS[format_name]}"
        write_atomic(path, text)
    record(
        case,
        "report",
        params={"audience": audience, "format": format_name, "redact": redact},
        outcome=f"written to {path or 'stdout'}; redacted: {manifest}",
    )
    return RenderedReport(audience, format_name, text, path, manifest)


def _render(data: dict[str, Any], audience: str, format_name: str) -> str:
    if format_name == "md":
        return render_markdown(data, audience=audience)
    if format_name == "html":
        return render_html(data, audience=audience)
    if audience == "exec":
        content: dict[str, Any] = {"case": data["case"]["id"], "lines": exec_lines(data)}
    elif audience == "customer":
        content = {
            "case": data["case"]["id"],
            "sections": [{"heading": h, "text": t} for h, t in customer_paragraphs(data)],
        }
    else:
        content = dict(data)
    content["redaction"] = data["redaction"]
    return json.dumps(content, indent=2, default=str) + "\n"
