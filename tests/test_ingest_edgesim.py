"""edgesim's logs round-trip: its CloudFront logs and its nginx origin log join on request id."""

from __future__ import annotations

import polars as pl

from flakehunt.case import open_case
from flakehunt.edgesim import SimWorld
from flakehunt.ingest import ingest_paths, read_rejects
from flakehunt.store import read_exchanges


def test_cdn_and_origin_logs_join_on_request_id(tmp_path, case_dir):
    logs = tmp_path / "logs"
    with SimWorld(preset="stale-edge", logs_dir=logs) as world:
        pops = [spec.pop for spec in world.specs][:2]
        for pop in pops:
            for path in ("/", "/static/app.js", "/static/app.js?v=2"):
                world.fetch(pop, path)
    case = open_case("SIM-1")
    summary = ingest_paths([logs], case=case)
    formats = {f.file.rsplit("/", 2)[-2]: f.format for f in summary.files if f.kept}
    assert formats == {"cdn": "cloudfront", "origin": "nginx_combined_request_id"}
    assert read_rejects(case).height == 0
    frame = read_exchanges(case)
    cdn = frame.filter(pl.col("source") == "cdn")
    origin = frame.filter(pl.col("source") == "origin")
    ours = cdn.filter(pl.col("edge_pop").is_in(pops) & pl.col("path").is_in(["/", "/static/app.js"]))
    assert ours.height >= 6  # the world may warm an edge itself
    assert ours.filter(pl.col("query") == "v=2").height == 2
    assert cdn["request_id"].null_count() == 0 and origin["request_id"].null_count() == 0
    joined = origin.join(cdn, on="request_id", suffix="_cdn")
    assert joined.height == origin.height > 0  # every origin request came through an edge
    assert (joined["path"] == joined["path_cdn"]).all()
    assert set(cdn["host"]) == {"shop.flakehunt.test"}
    assert set(cdn["cache_status"]) <= {"hit", "miss", "refresh_hit", "error"}
