"""The final demo: the whole job against the stale edge, in under the budget a laptop has."""

from __future__ import annotations

import pytest

from flakehunt.case import read_journal
from flakehunt.demo import run_demo


@pytest.mark.browser
@pytest.mark.slow
def test_demo_names_the_stale_edge_and_the_purge_from_logs_and_probes(case_dir):
    lines: list[str] = []
    result = run_demo(edges=4, visitors=160, repeat=2, case_id="DEMO", on_progress=lines.append)
    top = result.top
    assert (top.cause, top.implicates) == ("stale_cache", {"edge_pop": "FRA56-C1", "path": "/static/app.js"})
    assert top.next_step.startswith("purge /static/app.js on edge FRA56-C1")
    assert sorted(top.evidence["seen_in"]) == ["cdn", "probe"]  # the logs and the browsers agree
    assert result.site_failing
    runs = result.probe.runs_frame()
    failed_edges = set(runs.filter(runs["outcome"] == "fail")["edge_pop"])
    assert failed_edges == {"FRA56-C1"}
    assert {path.suffix for path in (r.path for r in result.reports)} == {".html", ".md"}
    assert all(r.path.exists() for r in result.reports)
    assert lines[0].startswith("simulated CDN up: 4 edges")
    actions = [entry["action"] for entry in read_journal(result.case)]
    assert actions[0] == "investigate" and {"ingest", "probe", "correlate", "report"} <= set(actions)
