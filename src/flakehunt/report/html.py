"""
The report as one self-contained HTML file: the Markdown report's content, styled, with inline
SVG charts. No scripts and no external resources, so it opens anywhere, offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

from markdown_it import MarkdownIt

from flakehunt.report.charts import heatmap_svg, timeline_svg
from flakehunt.report.markdown import render_markdown

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #c62828; padding-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
code, pre { background: #f6f8fa; font-size: 12px; }
pre { padding: .6em; overflow-x: auto; }
figure { margin: 1em 0; }
figcaption { font-size: 13px; color: #555; }
"""


def _charts(data: dict[str, Any]) -> str:
    correlation = data.get("correlation") or {}
    figures = []
    if correlation.get("timeline"):
        figures.append(("Failure rate over time", timeline_svg(correlation["timeline"])))
    for name, tables in (correlation.get("breakdown") or {}).items():
        for key, (rows_key, columns_key) in {
            "edge_pop x browser": ("edge_pop", "browser"),
            "edge_pop x ua_family": ("edge_pop", "ua_family"),
        }.items():
            if tables.get(key):
                figures.append(
                    (
                        f"Failure rate by edge and browser ({name})",
                        heatmap_svg(tables[key], rows_key, columns_key),
                    )
                )
                break
    return "".join(
        f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>" for caption, svg in figures if svg
    )


def render_html(data: dict[str, Any], *, audience: str) -> str:
    markdown = render_markdown(data, audience=audience)
    # Log content ends up in the report: raw HTML in it is shown as text, never interpreted.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    charts = _charts(data) if audience == "engineer" else ""
    if charts:
        marker = "<h2>"
        position = body.find(marker)
        body = body[:position] + charts + body[position:] if position >= 0 else body + charts
    title = escape(f"flakehunt report: case {data['case']['id']}")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>\n{body}</body></html>\n"
    )
