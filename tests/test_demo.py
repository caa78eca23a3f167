"""The demo tells the seed story: only the stale edge loses the pixel, in both browsers."""

from __future__ import annotations

import pytest

from flakehunt.demo import run_demo


@pytest.mark.browser
@pytest.mark.slow
def test_demo_singles_out_the_stale_edge_in_both_browsers():
    lines: list[str] = []
    result = run_demo(edges=3, on_progress=lines.append)
    assert {(v.pop, v.engine) for v in result.visits} == {
        (pop, engine) for pop in ("FRA56-C1", "IAD89-P2", "NRT57-C3") for engine in ("chromium", "firefox")
    }
    assert result.failing_edges == ["FRA56-C1"]
    stale = [v for v in result.visits if v.pop == "FRA56-C1"]
    fresh = [v for v in result.visits if v.pop != "FRA56-C1"]
    assert len({v.app_js_etag for v in stale}) == 1
    assert {v.app_js_etag for v in stale}.isdisjoint({v.app_js_etag for v in fresh})
    assert all(v.pixel_fired and v.page_status == 200 for v in fresh)
    assert all(v.console_errors for v in stale)  # the removed cart endpoint's 404 shows up
    assert "purge /static/app.js on edge FRA56-C1" in result.summary()
    assert lines[0].startswith("simulated CDN up: 3 edges")
