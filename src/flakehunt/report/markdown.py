"""The report as Markdown, pasteable into a ticket."""

from __future__ import annotations

from typing import Any

from flakehunt.report.narrative import customer_paragraphs, exec_lines, impact, top_hypothesis


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_markdown(data: dict[str, Any], *, audience: str) -> str:
    title = f"# Case {data['case']['id']}"
    if audience == "exec":
        return "\n".join([title, "", *[f"- {line}" for line in exec_lines(data)], _footer(data)])
    if audience == "customer":
        parts = [title, ""]
        for heading, text in customer_paragraphs(data):
            parts += [f"## {heading}", "", text, ""]
        parts.append(_footer(data))
        return "\n".join(p for p in parts if p is not None)
    return _engineer(data, title)


def _engineer(data: dict[str, Any], title: str) -> str:
    parts = [title, "", f"**Summary:** {' '.join(exec_lines(data))}", ""]
    reported = data["case"]["reported"]
    if reported:
        parts += [
            "## What the customer reported",
            "",
            _table(["reported", "value"], [[k, v] for k, v in reported.items()]),
            "",
        ]
    if data["missing"]:
        parts += ["## Not available yet", "", *[f"- {item}" for item in data["missing"]], ""]
    parts += _hypotheses(data)
    parts += [_recipe_section(data) or "", ""]
    parts += _reproduction(data)
    parts += _explanations(data)
    parts += _skew(data)
    parts += _timeline(data)
    parts += _examples(data)
    parts += ["## Re-run", "", "```sh", *data["commands"], "```", ""]
    parts += _journal(data)
    parts.append(_footer(data))
    return "\n".join(parts)


def _hypotheses(data: dict[str, Any]) -> list[str]:
    correlation = data.get("correlation")
    if not correlation:
        problem = data.get("correlation_problem", "no data to correlate yet")
        return ["## Hypotheses", "", f"None yet: {problem}.", ""]
    rows = [
        [
            f"{h['confidence']:.2f}",
            h["cause"],
            ", ".join(f"{k}={v}" for k, v in h["implicates"].items()) or "-",
            h["summary"],
            h["next_step"],
        ]
        for h in correlation["hypotheses"]
    ]
    lines = [
        "## Hypotheses",
        "",
        f"Impact: {impact(data)}.",
        "",
        _table(["confidence", "cause", "implicates", "finding", "next step"], rows),
        "",
    ]
    top = top_hypothesis(data)
    if top:
        lines += [f"### Evidence for {top['cause']}", "", "```json", _json(top["evidence"]), "```", ""]
    return lines


def _recipe_section(data: dict[str, Any]) -> str | None:
    reproduction = data.get("reproduction") or {}
    recipe = reproduction.get("recipe")
    if not recipe:
        return None
    configuration = ", ".join(f"{k}={v}" for k, v in recipe["dimensions"].items() if v not in (None, ""))
    lo, hi = recipe["ci95"]
    lines = [
        "## How to reproduce",
        "",
        f"Configuration: {configuration}. It failed {recipe['failures']} of {recipe['runs']} times "
        f"(estimated probability {recipe['rate']:.0%}, 95 % interval {lo:.0%}–{hi:.0%}).",
    ]
    if recipe.get("command"):
        lines += ["", "```sh", recipe["command"], "```"]
    return "\n".join(lines) + "\n"


def _reproduction(data: dict[str, Any]) -> list[str]:
    reproduction = data.get("reproduction")
    if not reproduction:
        return []
    rows = []
    for c in reproduction["configurations"]:
        configuration = ", ".join(f"{k}={v}" for k, v in c["dimensions"].items() if v not in (None, ""))
        rows.append(
            [
                configuration,
                c["runs"],
                c["failures"],
                c["errors"],
                _pct(c["rate"]),
                f"{c['ci95'][0]:.1%}–{c['ci95'][1]:.1%}",
                c.get("statement", ""),
            ]
        )
    return [
        "## Reproduction matrix",
        "",
        f"{reproduction['runs']} runs, {reproduction['failures']} failed, {reproduction['errors']} tool errors "
        "(errors are the tool's own failures and are not counted as site failures).",
        "",
        _table(
            ["configuration", "runs", "failures", "errors", "rate", "Wilson 95 %", "no failure seen"], rows
        ),
        "",
    ]


def _explanations(data: dict[str, Any]) -> list[str]:
    correlation = data.get("correlation")
    if not correlation or not correlation["explanations"]:
        return []
    rows = [
        [
            e["set"],
            " & ".join(f"{k}={v}" for k, v in e["dimensions"].items()),
            e["support"],
            e["failures"],
            _pct(e["rate"]),
            _pct(e["rate_outside"]),
            f"{e['risk_ratio']:.1f} ({e['risk_ratio_ci'][0]:.1f}–{e['risk_ratio_ci'][1]:.1f})",
            f"{e['p_adjusted']:.1e}",
        ]
        for e in correlation["explanations"][:15]
    ]
    return [
        "## What separates failures from successes",
        "",
        _table(
            [
                "data",
                "group",
                "support",
                "failures",
                "rate",
                "rate elsewhere",
                "risk ratio (95 % CI)",
                "p (BH-adjusted)",
            ],
            rows,
        ),
        "",
    ]


def _skew(data: dict[str, Any]) -> list[str]:
    correlation = data.get("correlation")
    if not correlation or not correlation.get("version_skew"):
        return []
    rows = [
        [
            s["path"],
            s["edge_pop"],
            s["served_version"],
            s["current_version"],
            s["reference"],
            f"{s['stale_responses']}/{s['edge_responses']}",
            s["source"],
        ]
        for s in correlation["version_skew"]
    ]
    return [
        "## Asset freshness by edge",
        "",
        _table(["path", "edge", "served", "current", "current per", "old responses", "seen in"], rows),
        "",
    ]


def _timeline(data: dict[str, Any]) -> list[str]:
    correlation = data.get("correlation")
    timeline = correlation.get("timeline") if correlation else None
    if not timeline:
        return []
    lines = ["## Timeline", "", f"Bucket: {timeline['bucket']}."]
    if timeline.get("onset"):
        onset = timeline["onset"]
        lines.append(f"Onset: {onset['at']} (rate {onset['rate_before']:.1%} → {onset['rate_after']:.1%}).")
    for event in timeline.get("events", []):
        lines.append(
            f"Event '{event['event']}' at {event['at']}: rate before {_pct(event['before']['rate'])}, "
            f"after {_pct(event['after']['rate'])}."
        )
    rows = [[b["start"], b["observations"], b["failures"], _pct(b["rate"])] for b in timeline["buckets"]]
    return [*lines, "", _table(["bucket start", "observations", "failures", "rate"], rows), ""]


def _examples(data: dict[str, Any]) -> list[str]:
    examples = data["examples"]
    lines = []
    if examples["request_ids"]:
        lines += ["Example request ids: " + ", ".join(f"`{r}`" for r in examples["request_ids"])]
    for run in examples["failed_runs"]:
        checks = "; ".join(
            f"{c['check']}: expected {c['expected']}, saw {c['observed']}"
            for c in run.get("failed_checks") or []
        )
        links = " ".join(f"[{k}]({run[k]})" for k in ("har_path", "screenshot_path") if run.get(k))
        lines.append(
            f"- run `{run.get('run_id')}` via {run.get('edge_pop')} in {run.get('browser')}: {checks} {links}"
        )
    return ["## Examples", "", *lines, ""] if lines else []


def _journal(data: dict[str, Any]) -> list[str]:
    rows = [[e["ts"], e["author"], e["action"], e.get("outcome", "")] for e in data["journal"]]
    return ["## Case journal", "", _table(["when", "who", "what", "outcome"], rows), ""] if rows else []


def _footer(data: dict[str, Any]) -> str:
    redaction = data.get("redaction", {})
    note = (
        f"Redacted for sharing: {redaction['manifest']}."
        if redaction.get("applied")
        else "Not redacted: internal use only."
    )
    return f"\n---\n{note} Generated {data['generated']['at']} by {data['generated']['by']}.\n"


def _json(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, default=str)
