"""Inline SVG charts for the HTML report: no scripts, no network, readable when printed."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT = 720, 200
_FAIL = "#c62828"
_OK = "#2e7d32"


def _shade(rate: float | None) -> str:
    """White (0 %) to red (100 %); grey when nothing was observed."""
    if rate is None:
        return "#eeeeee"
    level = max(0.0, min(1.0, rate))
    green_blue = int(255 - level * 200)
    return f"rgb(255,{green_blue},{green_blue})"


def timeline_svg(timeline: dict[str, Any]) -> str:
    """Failure rate per time bucket as bars, with the onset and the user's events marked."""
    buckets = timeline.get("buckets") or []
    if not buckets:
        return ""
    left, bottom, top = 40, HEIGHT - 30, 10
    step = (WIDTH - left - 10) / len(buckets)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="failure rate over time">',
        f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}" stroke="#999"/>',
        f'<text x="4" y="{top + 10}" font-size="11">100%</text><text x="4" y="{bottom}" font-size="11">0%</text>',
    ]
    starts = [b["start"] for b in buckets]
    for index, bucket in enumerate(buckets):
        rate = bucket["rate"] or 0.0
        height = (bottom - top) * rate
        x = left + index * step
        parts.append(
            f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{max(step - 1, 1):.1f}" height="{height:.1f}" '
            f'fill="{_FAIL if rate else _OK}"><title>{escape(bucket["start"])}: {bucket["failures"]}/'
            f"{bucket['observations']} failed</title></rect>"
        )
    marks = [("onset", timeline["onset"]["at"], _FAIL)] if timeline.get("onset") else []
    marks += [(event["event"], event["at"], "#1565c0") for event in timeline.get("events", [])]
    for label, at, colour in marks:
        index = sum(1 for start in starts if start <= at) - 1
        x = left + max(index, 0) * step
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{colour}" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3:.1f}" y="{top + 12}" font-size="11" fill="{colour}">{escape(label)}</text>'
        )
    parts.append(
        f'<text x="{left}" y="{HEIGHT - 8}" font-size="11">{escape(starts[0])}</text>'
        f'<text x="{WIDTH - 10}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">{escape(starts[-1])}</text>'
    )
    return "".join(parts) + "</svg>"


def heatmap_svg(rows: list[dict[str, Any]], row_key: str, column_key: str) -> str:
    """Failure rate by two dimensions (edge x browser): one shaded cell per pair, counts inside."""
    if not rows:
        return ""
    row_values = sorted({str(r[row_key]) for r in rows})
    column_values = sorted({str(r[column_key]) for r in rows})
    cells = {(str(r[row_key]), str(r[column_key])): r for r in rows}
    cell_w, cell_h, left, top = 110, 28, 120, 30
    width, height = left + cell_w * len(column_values) + 10, top + cell_h * len(row_values) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="failure rate by {escape(row_key)} and {escape(column_key)}">'
    ]
    for j, column in enumerate(column_values):
        parts.append(
            f'<text x="{left + j * cell_w + cell_w / 2}" y="{top - 10}" font-size="12" text-anchor="middle">'
            f"{escape(column)}</text>"
        )
    for i, row in enumerate(row_values):
        y = top + i * cell_h
        parts.append(
            f'<text x="{left - 8}" y="{y + 18}" font-size="12" text-anchor="end">{escape(row)}</text>'
        )
        for j, column in enumerate(column_values):
            cell = cells.get((row, column))
            rate = cell["rate"] if cell else None
            label = f"{cell['failures']}/{cell['observations']}" if cell else "-"
            x = left + j * cell_w
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{_shade(rate)}" '
                f'stroke="#ccc"><title>{escape(row)} x {escape(column)}: {label} failed</title></rect>'
                f'<text x="{x + cell_w / 2}" y="{y + 18}" font-size="12" text-anchor="middle">{label}</text>'
            )
    return "".join(parts) + "</svg>"
