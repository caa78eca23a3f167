"""`flakehunt probe`: wiring, output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.cli import app
from flakehunt.edgesim import SimWorld
from flakehunt.errors import ExitCode

runner = CliRunner()
PROBES = Path(__file__).resolve().parents[2] / "probes"


def test_a_spec_error_is_one_line_naming_the_key_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text("url: http://shop.test/\nmatrix:\n  browser: [safari]\n")
    result = runner.invoke(app, ["probe", "bad.yaml", "--case", "T-1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stdout == ""
    assert result.stderr == (
        "flakehunt: error: bad.yaml: key 'matrix.browser' has unknown value 'safari'; "
        "choose one of: chromium, firefox\n"
    )


def test_a_missing_spec_file_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["probe", "nope.yaml", "--case", "T-1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("flakehunt: error: cannot read probe spec 'nope.yaml'")
    assert result.stderr.count("\n") == 1


def test_freshness_exits_1_and_names_the_stale_edge_in_json():
    with SimWorld(preset="stale-edge") as world:
        described = world.describe()
        result = runner.invoke(
            app,
            [
                "probe",
                "--freshness",
                world.site_url + "static/app.js",
                "--edge-ips",
                described["edge_ips"],
                "--origin",
                world.origin_url,
                "--format",
                "json",
            ],
        )
    assert result.exit_code == ExitCode.SITE_FAILING, result.stderr
    assert json.loads(result.stdout)["stale_edges"] == ["FRA56-C1"]


@pytest.mark.browser
def test_probe_json_per_configuration_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAKEHUNT_HOME", str(tmp_path))
    with SimWorld(preset="stale-edge", edges=2) as world:
        args = ["probe", str(PROBES / "conversion-pixel.yaml"), "--case", "T-9", "--url", world.site_url]
        args += ["--edge-ips", world.describe()["edge_ips"], "--repeat", "1", "--format", "json"]
        result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.SITE_FAILING, result.stderr
    configurations = json.loads(result.stdout)["configurations"]
    assert len(configurations) == 4  # 2 browsers x 2 edges
    failing = {
        (c["dimensions"]["browser"], c["dimensions"]["edge_pop"]) for c in configurations if c["failures"]
    }
    assert failing == {("chromium", "FRA56-C1"), ("firefox", "FRA56-C1")}
    for configuration in configurations:
        assert set(configuration) >= {"dimensions", "runs", "failures", "errors", "rate", "ci95"}
        assert configuration["dimensions"]["edge"] in {"127.0.0.2", "127.0.0.3"}
    assert (tmp_path / "cases" / "T-9" / "data" / "probe_runs").is_dir()


def test_freshness_finds_the_edges_through_resolvers():
    from ..test_probe_edges import DnsServer

    with SimWorld(preset="stale-edge") as world:
        described = world.describe()
        ips = {edge["pop"]: edge["ip"] for edge in described["edges"]}
        servers = [
            DnsServer({described["host"]: [ips["FRA56-C1"], ips["IAD89-P2"]]}),
            DnsServer({described["host"]: [ips["NRT57-C3"]]}),
        ]
        args = ["probe", "--freshness", world.site_url + "static/app.js", "--origin", world.origin_url]
        for server in servers:
            args += ["--resolver", server.address]
        try:
            result = runner.invoke(app, [*args, "--format", "json"])
        finally:
            for server in servers:
                server.close()
    assert result.exit_code == ExitCode.SITE_FAILING, result.stderr
    report = json.loads(result.stdout)
    assert report["stale_edges"] == ["FRA56-C1"]
    assert {a["edge_pop"] for a in report["assets"] if a["via"] != "origin"} == {
        "FRA56-C1",
        "IAD89-P2",
        "NRT57-C3",
    }


def test_a_resolver_that_is_not_an_address_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["probe", "--freshness", "http://shop.test/a.js", "--resolver", "dns.google"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == (
        "flakehunt: error: --resolver must be an IP address with an optional :PORT "
        "(e.g. '1.1.1.1' or '127.0.0.1:5353'), got 'dns.google'\n"
    )
