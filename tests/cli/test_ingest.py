"""`flakehunt ingest` and `flakehunt formats`: wiring, output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flakehunt.cli import app
from flakehunt.errors import ExitCode

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_unknown_format_is_one_line_and_exit_2(tmp_path, monkeypatch, golden, case_dir):
    monkeypatch.chdir(tmp_path)
    Path("mystery.log").write_text("this is not a log line\n")
    result = runner.invoke(app, ["ingest", "mystery.log", "--case", "T-1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stdout == ""
    golden.check("ingest-unknown-format.stderr", result.stderr)


def test_missing_file_is_one_line_and_exit_2(tmp_path, monkeypatch, golden, case_dir):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["ingest", "nope.log", "--case", "T-1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    golden.check("ingest-missing-file.stderr", result.stderr)


def test_a_file_the_system_cannot_read_is_one_line_and_exit_2(case_dir):
    """/proc/self/mem opens but every read fails (EIO), as a dying disk or a vanished mount would."""
    result = runner.invoke(app, ["ingest", "/proc/self/mem", "--case", "T-1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == "flakehunt: error: cannot read '/proc/self/mem': Input/output error\n"


def test_unknown_format_name_exit_2(tmp_path, monkeypatch, case_dir):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")
    result = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", "--format", "nginx"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("flakehunt: error: unknown format 'nginx' (closest: nginx_combined, ")
    assert result.stderr.count("\n") == 1


def test_json_summary_then_already_ingested(tmp_path, monkeypatch, case_dir):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")
    first = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", "--output", "json"])
    assert first.exit_code == 0, first.stderr
    data = json.loads(first.stdout)
    assert (data["rows_added"], data["files"][0]["format"], data["files"][0]["kept"]) == (
        7,
        "nginx_combined",
        7,
    )
    second = runner.invoke(app, ["ingest", "a.log", "--case", "T-1"])
    assert second.exit_code == 0
    assert "already ingested" in second.stdout and "nothing new" in second.stdout


def test_text_summary_names_file_format_and_counts(tmp_path, monkeypatch, case_dir):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log", "mixed.log")
    result = runner.invoke(app, ["ingest", "mixed.log", "--case", "T-1"])
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if x.startswith("mixed.log"))
    assert line.split() == ["mixed.log", "nginx_combined", "9", "8", "1", "ingested"]
    assert "8 rows added to case T-1, 1 rejected" in result.stdout


def test_formats_lists_every_format_with_its_fields():
    result = runner.invoke(app, ["formats", "--output", "json"])
    assert result.exit_code == 0
    listing = {f["name"]: f for f in json.loads(result.stdout)}
    assert "edge_pop" in listing["cloudfront"]["provides"]
    assert "request_id" in listing["nginx_combined_request_id"]["provides"]
    assert listing["nginx_combined"]["source"] == "origin"
    text = runner.invoke(app, ["formats"])
    assert text.exit_code == 0 and "cloudflare_logpush" in text.stdout


def test_cli_exits_cleanly_after_a_larger_ingest(tmp_path):
    """A process that used polars and pyarrow once aborted at exit (rc 134); this one must not."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from ingest import write_cloudfront_log  # bench/ingest.py's seeded generator

    log = write_cloudfront_log(tmp_path / "big.log", lines=200_000, seed=7)
    done = subprocess.run(
        [sys.executable, "-m", "flakehunt", "ingest", str(log), "--case", "BIG-1", "--output", "json"],
        capture_output=True,
        env={"FLAKEHUNT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads(done.stdout)["rows_added"] == 200_000


def test_time_window_takes_offsets_and_ages_like_the_other_commands(tmp_path, monkeypatch, case_dir):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")  # 2016 to 2018
    # 21:02:48+02:00 is the 2017 line's own time (19:02:48Z): it and the 2018 line are kept;
    # read as UTC, the offset dropped, it would keep the 2018 line alone.
    since = ["--since", "2017-05-29T21:02:48+02:00", "--output", "json"]
    result = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", *since])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["kept"] == 2
    recent = runner.invoke(app, ["ingest", "a.log", "--case", "T-2", "--since", "24h", "--output", "json"])
    assert recent.exit_code == 0, recent.stderr
    assert json.loads(recent.stdout)["files"][0]["kept"] == 0


def test_bad_time_window_is_one_line_and_exit_2(tmp_path, monkeypatch, case_dir):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")
    result = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", "--until", "yesterday"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == (
        "flakehunt: error: --until 'yesterday' is not a time; "
        "use ISO 8601 like '2026-11-20T10:00Z' or an age like '24h'\n"
    )


@pytest.mark.parametrize(
    ("options", "line"),
    [
        (["--since", "999999999d"], "--since '999999999d' reaches back before the year 1"),
        (["--since", "99999999999h"], "--since '99999999999h' reaches back before the year 1"),
        (["--fields", "date time date"], "--fields names 'date' more than once; each field once"),
    ],
    ids=["days", "hours", "fields-twice"],
)
def test_options_found_by_fuzzing_are_one_line_and_exit_2(tmp_path, monkeypatch, case_dir, options, line):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")
    result = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", *options])
    assert (result.exit_code, result.stderr) == (ExitCode.BAD_INPUT, f"flakehunt: error: {line}\n")


def test_a_case_store_that_cannot_be_written_is_one_line_and_exit_3(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "FLAKEHUNT_HOME": str(home)}
    ingest = [sys.executable, "-m", "flakehunt", "ingest"]
    subprocess.run(
        [*ingest, str(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log"), "--case", "RO"],
        env=env,
        check=True,
        capture_output=True,
    )
    for folder in [home, *home.rglob("*")]:
        folder.chmod(folder.stat().st_mode & ~0o222)
    # root writes anywhere: drop the capabilities that let it, as a support engineer's shell has none
    drop = [
        "setpriv",
        "--inh-caps=-dac_override,-dac_read_search",
        "--bounding-set=-dac_override,-dac_read_search",
    ]
    try:
        done = subprocess.run(
            [
                *(drop if os.geteuid() == 0 else []),
                *ingest,
                str(FIXTURES / "apache/beats-apache-access-test-mixed.log"),
                "--case",
                "RO",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        for folder in [home, *home.rglob("*")]:
            folder.chmod(folder.stat().st_mode | 0o200)
    assert done.returncode == ExitCode.ENVIRONMENT, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("flakehunt: error: ") and "Permission denied" in done.stderr
    assert done.stderr.endswith("(point FLAKEHUNT_HOME at a folder you can write)\n")


def test_the_summary_names_the_commonest_reject_reasons_and_case_rejects_lists_the_lines(
    tmp_path, monkeypatch, case_dir
):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log", "mixed.log")
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")
    wrong = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", "--format", "cloudfront_realtime"])
    summary = runner.invoke(app, ["ingest", "mixed.log", "--case", "T-1"])
    assert "  7 × expected 5 to 43 tab-separated fields, got 1 (first: a.log line 1)" in wrong.stdout
    assert "see them: flakehunt case rejects T-1" in wrong.stdout
    reason = "does not match nginx_combined (combined, vhost_combined)"
    assert f"  1 × {reason} (first: mixed.log line 9)" in summary.stdout

    listed = runner.invoke(app, ["case", "rejects", "T-1", "--file", "mixed", "--format", "json"])
    data = json.loads(listed.stdout)
    assert data["matched"] == 1 and [(r["line"], r["reason"]) for r in data["rejects"]] == [(9, reason)]
    assert data["rejects"][0]["text"].startswith(
        "2021/12/01 13:53:33 [error] "
    )  # error log among access lines

    runner.invoke(app, ["ingest", "mixed.log", "--case", "T-1", "--since", "2001-01-01"])  # its rejects again
    text = runner.invoke(app, ["case", "rejects", "T-1", "--limit", "2"]).stdout.splitlines()
    assert text[0] == "a.log:1: expected 5 to 43 tab-separated fields, got 1"
    first = (FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log").read_text().splitlines()[0]
    assert text[1].startswith(f"    {first[:60]}") and text[1].endswith("…")  # cut to the screen: one line
    assert text[-1] == "2 of 8 shown; --limit 0 shows all"
    only = runner.invoke(app, ["case", "rejects", "T-1", "--reason", "does not match"]).stdout
    assert only.splitlines()[0] == f"mixed.log:9: {reason}"

    data = json.loads(runner.invoke(app, ["ingest", "a.log", "--case", "T-2", "--format", "cloudfront_realtime",
                                          "--output", "json"]).stdout)  # fmt: skip
    assert data["files"][0]["reject_reasons"] == [
        {"reason": "expected 5 to 43 tab-separated fields, got 1", "count": 7, "first_line": 1}
    ]


def test_log_content_and_file_names_cannot_drive_the_terminal(tmp_path, monkeypatch, case_dir):
    """A reject reason quotes the log; a file name may look like Rich markup. Both print as they are."""
    monkeypatch.chdir(tmp_path)
    lines = (FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log").read_text().splitlines()
    lines[0] = lines[0].replace("/Dec/", "/\x1b[2J\x07Dec/", 1)  # in the time: quoted by the reason
    Path("br[ack]et.log").write_text("\n".join(lines) + "\n")
    ingested = runner.invoke(app, ["ingest", "br[ack]et.log", "--case", "T-1", "--format", "nginx_combined"])
    rejects = runner.invoke(app, ["case", "rejects", "T-1"])
    for result in (ingested, rejects):
        assert result.exit_code == 0, result.output
        assert "br[ack]et.log" in result.stdout
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "\\x1b[2J\\x07" in result.stdout


def test_a_failed_first_ingest_leaves_no_empty_case_behind(tmp_path, monkeypatch, case_dir):
    monkeypatch.chdir(tmp_path)
    failed = runner.invoke(app, ["ingest", "typo.log", "--case", "NEW-1"])
    assert failed.exit_code == ExitCode.BAD_INPUT
    assert not (case_dir / "NEW-1").exists()
    shutil.copy(FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log", "a.log")
    assert runner.invoke(app, ["ingest", "a.log", "--case", "NEW-1"]).exit_code == 0
    again = runner.invoke(app, ["ingest", "typo.log", "--case", "NEW-1"])
    assert again.exit_code == ExitCode.BAD_INPUT and (case_dir / "NEW-1" / "case.toml").exists()


def test_the_text_summary_counts_add_up_to_the_lines_read(tmp_path, monkeypatch, case_dir):
    """Comment lines, lines outside the window, and lines the case held already have their own columns."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log", "a.log")
    narrow = runner.invoke(
        app, ["ingest", "a.log", "--case", "T-1", "--since", "2020-06-08", "--until", "2020-06-09"]
    )
    wide = runner.invoke(app, ["ingest", "a.log", "--case", "T-1", "--since", "2020-01-01"])
    assert narrow.stdout.splitlines()[:2] == [
        "file   format          lines  kept  rejected  filtered  status  ",
        "a.log  nginx_combined      9     6         1         2  ingested",
    ]
    assert wide.stdout.splitlines()[:2] == [
        "file   format          lines  kept  rejected  in case  status  ",
        "a.log  nginx_combined      9     2         0        7  ingested",
    ]
    shutil.copy(FIXTURES / "cloudfront-standard/node-cloudfront-log-parser-web-1-0.log", "cf.log")
    headed = runner.invoke(app, ["ingest", "cf.log", "--case", "T-2"])  # #Version and #Fields
    assert headed.stdout.splitlines()[:2] == [
        "file    format      lines  kept  rejected  comments  status  ",
        "cf.log  cloudfront      4     2         0         2  ingested",
    ]
