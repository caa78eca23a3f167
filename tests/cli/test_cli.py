"""CLI wiring: help, one-line errors with exit 2, doctor, sim; one test per exit code lives here."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.cli import app
from flakehunt.edgesim.world import SITE_HOST
from flakehunt.errors import ExitCode

runner = CliRunner()
DESIGN_COMMANDS = [
    "investigate", "probe", "ingest", "correlate", "report", "watch", "schedule",
    "case", "demo", "sim", "doctor", "formats",
]  # fmt: skip


def test_help_lists_every_command_of_the_design():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == ExitCode.OK
    for command in DESIGN_COMMANDS:
        assert f" {command} " in result.stdout, command


def test_every_command_has_help():
    for command in DESIGN_COMMANDS:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == ExitCode.OK, command
        assert "Usage:" in result.stdout


def test_no_arguments_prints_help_and_exits_0():
    result = runner.invoke(app, [])
    assert result.exit_code == ExitCode.OK
    assert "Usage:" in result.stdout


def test_unknown_option_is_one_line_and_exit_2(golden):
    result = runner.invoke(app, ["sim", "--edgez", "3"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stdout == ""
    golden.check("sim-unknown-option.stderr", result.stderr)
    assert result.stderr.count("\n") == 1


def test_unknown_command_is_one_line_and_exit_2():
    result = runner.invoke(app, ["investigat"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("flakehunt: error: ") and result.stderr.count("\n") == 1


def test_bad_value_is_one_line_and_exit_2():
    result = runner.invoke(app, ["sim", "--edges", "many"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "Invalid value for '--edges'" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    [["ingest", "missing.log"], ["correlate"], ["investigate", "http://127.0.0.1:9/"]],
    ids=lambda command: command[0],
)
def test_a_window_ending_before_it_starts_is_one_line_and_exit_2(command, case_dir):
    result = runner.invoke(app, [*command, "--case", "W", "--since", "2h", "--until", "3h"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("flakehunt: error: the time window is empty: --since ")
    assert result.stderr.count("\n") == 1


def test_the_same_age_twice_is_an_empty_window(case_dir):
    result = runner.invoke(app, ["correlate", "--case", "W", "--since", "1h", "--until", "1h"])
    assert result.stderr.startswith("flakehunt: error: the time window is empty: ")


def test_library_error_is_one_line_and_exit_2(golden):
    result = runner.invoke(app, ["sim", "--preset", "nope"])
    assert result.exit_code == ExitCode.BAD_INPUT
    golden.check("sim-unknown-preset.stderr", result.stderr)


def test_sim_lists_its_presets():
    result = runner.invoke(app, ["sim", "--list"])
    assert result.exit_code == ExitCode.OK
    assert result.stdout.splitlines()[0].startswith("stale-edge\t")


@pytest.mark.browser
def test_doctor_launches_each_browser_and_reports_versions():
    result = runner.invoke(app, ["doctor", "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    engines = {browser["engine"]: browser for browser in report["browsers"]}
    assert set(engines) == {"chromium", "firefox"}
    assert all(b["version"] and b["version"][0].isdigit() for b in engines.values())
    text = runner.invoke(app, ["doctor"])
    assert "chromium" in text.stdout and "firefox" in text.stdout and "geoip" in text.stdout


def test_doctor_without_browsers_exits_3_with_the_install_command(monkeypatch, tmp_path):
    for variable in ("FLAKEHUNT_CHROMIUM", "FLAKEHUNT_FIREFOX"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert "missing" in result.stdout
    assert "apt-get install -y chromium firefox-esr" in result.stdout


def test_doctor_finds_geoip_databases(monkeypatch, tmp_path):
    (tmp_path / "GeoLite2-City.mmdb").write_bytes(b"")
    monkeypatch.setenv("FLAKEHUNT_GEOIP_DIR", str(tmp_path))
    monkeypatch.setenv("FLAKEHUNT_CHROMIUM", sys.executable)  # found, fails to launch: fine here
    monkeypatch.setenv("FLAKEHUNT_FIREFOX", sys.executable)
    report = json.loads(runner.invoke(app, ["doctor", "--format", "json"]).stdout)
    assert report["geoip"]["databases"] == [str(tmp_path / "GeoLite2-City.mmdb")]
    assert report["browsers"][0]["problem"].startswith("chromium at ")


def test_doctor_with_a_missing_geoip_dir_is_a_user_error():
    result = runner.invoke(app, ["doctor", "--geoip-dir", "/no/such/dir"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == "flakehunt: error: --geoip-dir '/no/such/dir' is not a folder\n"


def _flakehunt(*args: str, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flakehunt", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def test_sim_announces_serves_and_stops_cleanly_on_sigterm(tmp_path):
    with _flakehunt("sim", "--preset", "stale-edge", "--edges", "2", "--logs", str(tmp_path)) as process:
        try:
            description = json.loads(process.stdout.readline())
            edge = description["edges"][1]
            connection = http.client.HTTPConnection(edge["ip"], description["port"], timeout=5)
            connection.request("GET", "/checkout", headers={"Host": SITE_HOST})
            served_by = connection.getresponse().getheader("X-Amz-Cf-Pop")
            connection.close()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
    assert process.returncode == ExitCode.OK
    assert "Traceback" not in stderr
    assert description["site_url"].startswith(f"http://{SITE_HOST}:")
    assert [edge["pop"] for edge in description["edges"]] == ["FRA56-C1", "IAD89-P2"]
    assert description["faults"]["stale_edge"]["edges"] == ["FRA56-C1"]
    assert served_by == "IAD89-P2"
    logs = list(Path(description["logs"]["dir"]).rglob("*.log"))
    assert any("/checkout" in log.read_text() for log in logs)


@pytest.mark.browser
def test_a_signal_while_browsers_run_is_one_line(tmp_path, stop_signal):
    signum, code, line = stop_signal
    # The demo is stopped while it drives browsers: 128 + the signal, one line, no traceback.
    with _flakehunt("demo", "--edges", "2", env={**os.environ, "FLAKEHUNT_HOME": str(tmp_path)}) as process:
        process.stderr.readline()  # "simulated CDN up": the browsers are starting now
        time.sleep(1)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    assert stderr.splitlines()[-1] == f"flakehunt: {line}"
    assert "Traceback" not in stderr


def test_a_stop_while_the_command_line_starts_is_one_line(tmp_path, stop_signal):
    """
    The first tenth of a second (imports, Typer building the commands from their signatures)
    was where a Ctrl-C printed a traceback and a SIGTERM ended with a silent 130. Each run
    here is stopped a moment later; every one must end with the one line and its code.
    """
    signum, code, line = stop_signal
    env = {**os.environ, "FLAKEHUNT_HOME": str(tmp_path)}
    outcomes = set()
    for delay in (0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.1, 0.13, 0.17, 0.22, 0.3, 0.5):
        # `ingest -` with stdin left open waits for its log: it runs until the signal comes.
        with _flakehunt("ingest", "-", "--case", "STOP-1", stdin=subprocess.PIPE, env=env) as process:
            _wait_for_handlers(process.pid)
            time.sleep(delay)
            process.send_signal(signum)
            try:
                _, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:  # e.g. a lock the signal left held: no hanging test
                process.kill()
                raise AssertionError(f"stopped {delay} s in, flakehunt did not end") from None
        # Python may end a Ctrl-C'd process by SIGINT itself once it has said so: to a shell,
        # the same 130.
        ended = code if process.returncode == -signum else process.returncode
        outcomes.add((ended, stderr))
    assert outcomes == {(code, f"flakehunt: {line}\n")}


def _wait_for_handlers(pid: int) -> None:
    """Until the process catches SIGTERM: its first line of code has run (Linux's /proc)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(row for row in status.splitlines() if row.startswith("SigCgt:")).split()[1], 16)
        if caught >> (signal.SIGTERM - 1) & 1:
            return
        time.sleep(0.001)
    raise AssertionError("flakehunt never installed its SIGTERM handler")


def test_the_flakehunt_command_starts_where_stops_are_handled_first():
    (script,) = entry_points(group="console_scripts", name="flakehunt")
    assert script.value == "flakehunt.launch:main"


@pytest.mark.parametrize("args", [["--help"], ["formats"]])
def test_output_into_a_closed_pipe_ends_quietly(args):
    # `flakehunt formats | head -1`: the reader is gone before flakehunt writes. No traceback.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        process = subprocess.run(
            [sys.executable, "-m", "flakehunt", *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert "Traceback" not in process.stderr
    assert process.stderr == ""
    assert process.returncode in (ExitCode.OK, 1)
