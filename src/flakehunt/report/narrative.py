"""
The words of a report, per audience, from the gathered data.

- exec: three lines — impact, cause, status.
- customer: plain language, no internal jargon, no blame, nothing we are not sure of, no dates.
- engineer: everything, with numbers (see markdown.py / html.py for the tables).
"""

from __future__ import annotations

from typing import Any

from flakehunt.correlate.hypotheses import CONFIDENT
from flakehunt.report.data import cause_text

AUDIENCES = ("customer", "engineer", "exec")


def top_hypothesis(data: dict[str, Any]) -> dict[str, Any] | None:
    correlation = data.get("correlation")
    if not correlation or not correlation["hypotheses"]:
        return None
    top = correlation["hypotheses"][0]
    return top if top["cause"] != "none" and top["confidence"] >= CONFIDENT else None


def _place(data: dict[str, Any], edge: str | None) -> str:
    """A customer-facing place for an edge: its city when known, never the POP code."""
    city = data.get("pop_cities", {}).get(edge) if edge else None
    return city or "one of our server locations"


def impact(data: dict[str, Any]) -> str:
    reproduction = data.get("reproduction")
    correlation = data.get("correlation")
    parts = []
    if reproduction and reproduction["runs"]:
        parts.append(
            f"{reproduction['failures']} of {reproduction['runs']} reproduction runs failed "
            f"({reproduction['failures'] / reproduction['runs']:.0%})"
        )
    if correlation and "logs" in correlation["sets"]:
        logs = correlation["sets"]["logs"]
        if logs["observations"]:
            parts.append(
                f"{logs['failures']} of {logs['observations']} logged visits failed "
                f"({logs['failures'] / logs['observations']:.1%})"
            )
    return "; ".join(parts) or "not measured yet"


def exec_lines(data: dict[str, Any]) -> list[str]:
    """Impact, cause, status: three lines for a manager."""
    top = top_hypothesis(data)
    cause = f"{top['summary']} (confidence {top['confidence']:.0%})" if top else "not identified yet"
    if top:
        status = f"next: {top['next_step']}"
    else:
        status = "investigating" + (f"; {data['missing'][0]}" if data["missing"] else "")
    return [f"Impact: {impact(data)}.", f"Cause: {cause}.", f"Status: {status}."]


def _when_it_happens(data: dict[str, Any]) -> str:
    """The reproduction recipe in plain words: where, and how often, it happened for us."""
    recipe = (data.get("reproduction") or {}).get("recipe")
    if not recipe:
        return ""
    words = []
    for key, value in recipe["dimensions"].items():
        if key == "edge_pop":
            words.append(f"the page came from our server location near {_place(data, value)}")
        elif key == "browser":
            words.append(f"the browser was {str(value).capitalize()}")
        elif key == "blocker" and value != "off":
            words.append("a content blocker was active")
        elif key == "device":
            words.append(f"the device was a {value}")
    if not words:
        return ""
    return (
        f" In our tests it happened in {recipe['failures']} of {recipe['runs']} attempts when "
        + " and ".join(words)
        + "."
    )


def customer_paragraphs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(heading, text) pairs in plain language."""
    reported = data["case"]["reported"]
    what = f"“{reported['symptom']}”" if reported.get("symptom") else "the problem you described"
    where = f" on {reported['url']}" if reported.get("url") else ""
    paragraphs = [("What you reported", f"You told us: {what}{where}. Thank you for the details.")]

    reproduction = data.get("reproduction")
    if reproduction and reproduction["runs"]:
        configurations = len(reproduction["configurations"])
        if reproduction["failures"]:
            tried = (
                f"We took your report seriously and tried to make it happen ourselves. We loaded the page "
                f"{reproduction['runs']} times in {configurations} combinations of browser, device and server "
                f"location, and saw the problem {reproduction['failures']} times, so we could reproduce it."
            )
        else:
            bound = min(
                (c.get("statement", "") for c in reproduction["configurations"] if c.get("statement")),
                default="",
            )
            tried = (
                f"We tried to make it happen ourselves: we loaded the page {reproduction['runs']} times in "
                f"{configurations} combinations of browser, device and server location and did not see it. "
                "That does not mean it did not happen to you; it means it is rare in the setups we tried"
                + (f" ({bound.split(': ', 1)[-1]} in each)." if bound else ".")
            )
    else:
        tried = "We have not yet tried to reproduce the problem ourselves; that is our next step."
    paragraphs.append(("What we tried", tried))

    top = top_hypothesis(data)
    if top:
        place = _place(data, top["implicates"].get("edge_pop"))
        found = cause_text(top["cause"], "customer", {**top["implicates"], "place": place})
        paragraphs.append(("What we found", found[0].upper() + found[1:] + "." + _when_it_happens(data)))
        paragraphs.append(
            (
                "What we are doing",
                "We are fixing the cause we found and will check afterwards, the same way, that the "
                "problem no longer occurs.",
            )
        )
    else:
        paragraphs.append(
            ("What we found", "We have not yet found a clear cause. We are continuing to investigate.")
        )
    paragraphs.append(
        (
            "What you can do meanwhile",
            "If it happens again, a note of the time, your browser and your approximate location helps us "
            "most. Reloading the page may help in some cases.",
        )
    )
    return paragraphs
