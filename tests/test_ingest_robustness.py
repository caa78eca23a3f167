"""Bad input never stops an ingest: it is counted, kept with file and line, and explained."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

from flakehunt.case import open_case, read_journal
from flakehunt.errors import FlakehuntError, UnknownFormatError
from flakehunt.ingest import ingest_paths, read_rejects
from flakehunt.ingest.har import parse_har
from flakehunt.ingest.read import MAX_LINE_BYTES, zstd
from flakehunt.ingest.summary import SKIPPED
from flakehunt.store import read_exchanges

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NGINX = FIXTURES / "nginx/beats-nginx-access-test-xff-ipv6.log"
LINE = '192.0.2.{n} - - [07/Dec/2016:11:05:07 +0100] "GET /p{n} HTTP/1.1" 200 5{n} "-" "curl/8.0"\n'


def ingest(*paths, **options):
    case = open_case("R-1")
    return case, ingest_paths(list(paths), case=case, **options)


def test_truncated_gzip_keeps_complete_lines_and_rejects_the_end(tmp_path, case_dir):
    body = "".join(LINE.format(n=n) for n in range(2000)).encode()
    whole = gzip.compress(body)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    case, summary = ingest(cut)
    (result,) = summary.files
    assert 0 < result.kept < 2000
    rejects = read_rejects(case)
    assert rejects["reason"].str.contains("compressed stream ends early").any()
    assert read_exchanges(case)["line"].max() == result.kept


def test_zstd_file(tmp_path, case_dir):
    path = tmp_path / "access.log.zst"
    path.write_bytes(zstd.compress(NGINX.read_bytes()))
    _, summary = ingest(path)
    assert summary.files[0].kept == 7


def test_truncated_zstd_keeps_complete_lines_and_rejects_the_end(tmp_path, case_dir):
    body = "".join(LINE.format(n=n) for n in range(20_000)).encode()  # zstd decodes whole 128 KB blocks
    whole = zstd.compress(body)
    cut = tmp_path / "cut.log.zst"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # an interrupted download
    case, summary = ingest(cut)
    (result,) = summary.files
    reasons = read_rejects(case).sort("line")["reason"].to_list()
    assert len(reasons) == result.rejected <= 2  # the cut line, if the cut fell inside one, and the end
    assert (
        reasons[-1]
        == "compressed stream ends early (Compressed file ended before the end-of-stream marker was reached)"
    )
    assert 0 < read_exchanges(case)["line"].max() == result.kept < 20_000


def test_a_zstd_file_of_several_frames_is_read_to_its_end(tmp_path, case_dir):
    lines = NGINX.read_bytes().splitlines(keepends=True)
    path = tmp_path / "joined.log.zst"  # `cat a.zst b.zst > joined.zst` is a valid zstd file
    path.write_bytes(b"".join(zstd.compress(b"".join(part)) for part in (lines[:3], lines[3:])))
    _, summary = ingest(path)
    assert (summary.files[0].kept, summary.files[0].rejected) == (7, 0)


def test_a_zstd_file_that_starts_with_a_skippable_frame_is_zstd(tmp_path, case_dir):
    path = tmp_path / "access.log.zst"  # as pzstd writes them: a skippable frame of metadata first
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"meta"
    path.write_bytes(skippable + zstd.compress(NGINX.read_bytes()))
    _, summary = ingest(path)
    assert (summary.files[0].format, summary.files[0].kept) == ("nginx_combined", 7)


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("garbled.log.gz", b"\x1f\x8b garbage", "Unknown compression method"),
        (
            "cut.log.zst",
            b"\x28\xb5\x2f\xfd\x64\x00",
            "Compressed file ended before the end-of-stream marker was reached",
        ),
        (
            "garbled.log.zst",
            b"\x28\xb5\x2f\xfdgarbage",
            "Unable to decompress Zstandard data: Dictionary mismatch",
        ),
    ],
)
def test_a_compressed_file_broken_before_its_first_line_is_a_reject_not_an_empty_file(
    tmp_path, case_dir, name, data, why
):
    path = tmp_path / name
    path.write_bytes(data)
    case, summary = ingest(path)
    (result,) = summary.files
    assert (result.lines, result.kept, result.rejected) == (0, 0, 1)
    rejects = read_rejects(case)
    assert rejects.select("line", "reason").rows() == [(1, f"compressed stream ends early ({why})")]


def test_non_utf8_bytes_do_not_stop_the_file(tmp_path, case_dir):
    path = tmp_path / "latin1.log"
    path.write_bytes(LINE.format(n=1).encode() + "ü".encode("latin-1") + LINE.format(n=2).encode())
    case, summary = ingest(path)
    (result,) = summary.files
    assert (result.lines, result.kept, result.rejected) == (2, 2, 0)
    # the stray byte becomes U+FFFD in place: the line is kept and the damage stays visible
    assert read_exchanges(case).sort("line")["client_ip"].to_list() == ["192.0.2.1", "\ufffd192.0.2.2"]


def test_over_long_lines_are_rejected_under_one_reason_each_with_its_size(tmp_path, case_dir):
    path = tmp_path / "long.log"
    long_lines = ["x" * (MAX_LINE_BYTES + 10), "y" * (MAX_LINE_BYTES + 99)]
    path.write_text(LINE.format(n=1) + "".join(line + "\n" for line in long_lines) + LINE.format(n=4))
    case, summary = ingest(path)
    assert (summary.files[0].kept, summary.files[0].rejected) == (2, 2)
    assert summary.files[0].reasons == {"line over the 1048576 byte limit": (2, 2)}  # counted together
    rejects = read_rejects(case).sort("line").rows(named=True)
    assert [r["line"] for r in rejects] == [2, 3]
    assert rejects[0]["text"] == "x" * 200 + "… (1048586 bytes)"
    assert rejects[1]["text"] == "y" * 200 + "… (1048675 bytes)"


def test_over_long_tab_separated_line_is_rejected_though_its_fields_are_well_formed(tmp_path, case_dir):
    # Only its length tells this line apart, so the CSV fast path must leave the block alone.
    version, fields, first = (
        (FIXTURES / "cloudfront-standard/node-cloudfront-log-parser-web-1-0.log").read_text().splitlines()[:3]
    )
    cells = first.split("\t")
    cells[10] = "Mozilla/5.0%20" + "x" * MAX_LINE_BYTES  # cs(User-Agent)
    path = tmp_path / "long-ua.log"
    path.write_text("\n".join([version, fields, first, "\t".join(cells), first]) + "\n")
    case, summary = ingest(path, format_name="cloudfront")
    assert (summary.files[0].kept, summary.files[0].rejected) == (2, 1)
    reject = read_rejects(case).row(0, named=True)
    assert reject["line"] == 4 and "over the 1048576 byte limit" in reject["reason"]


def test_empty_file(tmp_path, case_dir):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    _, summary = ingest(path)
    assert (summary.files[0].lines, summary.files[0].kept) == (0, 0)
    _, again = ingest(path)
    assert again.files[0].status == "already ingested"


def test_header_only_cloudfront_file(tmp_path, case_dir):
    path = tmp_path / "E2ABC.2024-01-01-00.abcd.gz"
    header = (
        (FIXTURES / "cloudfront-standard/node-cloudfront-log-parser-web-1-0.log").read_text().splitlines()[:2]
    )
    path.write_bytes(gzip.compress(("\n".join(header) + "\n").encode()))
    _, summary = ingest(path, format_name="cloudfront")
    (result,) = summary.files
    assert (result.lines, result.kept, result.skipped, result.rejected) == (2, 0, 2, 0)


def test_header_only_file_without_format_adds_nothing(tmp_path, case_dir):
    path = tmp_path / "header.log"
    path.write_text("#Version: 1.0\n#Fields: date time\n")
    _, summary = ingest(path)
    (result,) = summary.files
    assert (result.format, result.lines, result.kept, result.skipped) == (None, 2, 0, 2)


def test_mixed_formats_in_one_folder(tmp_path, case_dir):
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(NGINX, folder / "origin.log")
    shutil.copy(
        FIXTURES / "cloudfront-standard/crowdsec-hub-aws-cloudfront-logs-noheader.log", folder / "cdn.log"
    )
    shutil.copy(FIXTURES / "cloudflare-logpush/lnav-logfile_cloudflare-epoch-ns.ndjson", folder / "cf.json")
    case, summary = ingest(folder)
    assert {f.file.rsplit("/", 1)[-1]: f.format for f in summary.files} == {
        "cdn.log": "cloudfront", "cf.json": "cloudflare_logpush", "origin.log": "nginx_combined",
    }  # fmt: skip
    frame = read_exchanges(case)
    assert frame.height == 7 + 2 + 15
    assert set(frame["source"]) == {"cdn", "origin"}


def test_a_folder_s_other_files_are_skipped_and_listed_but_a_named_one_is_an_error(tmp_path, case_dir):
    folder = tmp_path / "from-the-customer"
    folder.mkdir()
    shutil.copy(NGINX, folder / "access.log")
    (folder / "README.txt").write_text("Logs from the edge, as asked.\nCall me if anything is missing.\n")
    (folder / "manifest.csv").write_text("file,bytes\naccess.log,1234\n")
    case, summary = ingest(folder)
    statuses = {f.file.rsplit("/", 1)[-1]: (f.format, f.status) for f in summary.files}
    assert statuses == {
        "README.txt": (None, "skipped: unknown format"),
        "access.log": ("nginx_combined", "ingested"),
        "manifest.csv": (None, "skipped: unknown format"),
    }
    assert read_exchanges(case).height == summary.rows_added == 7
    assert any(
        note.startswith("2 file(s) skipped, as no known format matches them") for note in summary.notes
    )
    # The same through a glob; and a file named on its own must be a log.
    _, by_glob = ingest(str(folder / "*"))
    assert [f.status for f in by_glob.files] == [
        "skipped: unknown format",
        "already ingested",
        "skipped: unknown format",
    ]
    with pytest.raises(UnknownFormatError, match=r"no known format matches '.*README.txt'"):
        ingest(folder / "README.txt")


def test_a_folder_without_a_single_log_is_an_error(tmp_path, case_dir):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Notes from the call\n")
    (folder / "b.txt").write_text("More notes\n")
    with pytest.raises(
        UnknownFormatError,
        match=r"no known format matches '.*a.txt'.* \(and 1 more file\(s\) that could not be read either\)$",
    ):
        ingest(folder)


def test_a_folder_of_nothing_but_a_broken_har_is_an_error_naming_the_har(tmp_path, case_dir):
    """Before, it exited 0 with "0 rows added": a scheduled job would not have noticed."""
    folder = tmp_path / "ticket-4711"
    folder.mkdir()
    (folder / "customer.har").write_bytes(HAR.read_bytes()[:3000])
    (folder / "notes.txt").write_text("Notes from the call\n")
    with pytest.raises(UnknownFormatError) as caught:
        ingest(folder)
    assert str(caught.value).startswith(f"'{folder / 'customer.har'}' starts like a JSON document (a HAR?)")
    assert str(caught.value).endswith("(and 1 more file(s) that could not be read either)")


def test_the_summary_names_the_common_folder_once(tmp_path, case_dir):
    from rich.console import Console

    from flakehunt.console import THEME

    folder = tmp_path / "logs"
    (folder / "edge").mkdir(parents=True)
    shutil.copy(NGINX, folder / "edge" / "access.log")
    (folder / "notes.txt").write_text("not a log\n")
    _, summary = ingest(folder)
    console = Console(width=200, record=True, color_system=None, theme=THEME)
    console.print(summary)
    text = console.export_text()
    assert text.startswith(f"files in {folder}/\n")
    assert "\nedge/access.log " in text and "\nnotes.txt " in text
    from flakehunt.ingest.summary import common_folder

    assert common_folder(["/srv/a/x.log", "/var/b/y.log"]) == ""  # only "/" in common: said for no one
    assert common_folder(["<stdin>", "logs/a.log"]) == ""


def test_stdin(case_dir, tmp_path):
    code = (
        "import sys; from flakehunt.case import open_case; from flakehunt.ingest import ingest_paths;"
        "s = ingest_paths(['-'], case=open_case('S-1')); print(s.files[0].file, s.files[0].kept)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=NGINX.read_bytes(), capture_output=True, check=True, cwd=tmp_path
    )
    assert done.stdout.decode().split() == ["<stdin>", "7"]


def test_stdin_named_twice_is_read_once_and_leaves_no_copy_behind(case_dir, tmp_path):
    spools = tmp_path / "tmp"
    spools.mkdir()
    code = (
        "import sys; from flakehunt.case import open_case; from flakehunt.ingest import ingest_paths;"
        "s = ingest_paths(['-', '-'], case=open_case('S-2')); print(len(s.files), s.rows_added)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=NGINX.read_bytes(),
        capture_output=True,
        check=True,
        env={**os.environ, "TMPDIR": str(spools)},
    )
    assert done.stdout.decode().split() == ["1", "7"]
    assert list(spools.iterdir()) == []  # the customer's log is not left in /tmp


def test_a_named_pipe_is_read_as_stdin_is(tmp_path, case_dir):
    pipe = tmp_path / "access.pipe"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_bytes(NGINX.read_bytes()))
    writer.start()
    _, summary = ingest(pipe)
    writer.join()
    assert (summary.files[0].file, summary.files[0].kept) == (str(pipe), 7)


def test_a_named_folder_with_nothing_in_it_is_an_error(tmp_path, case_dir):
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    with pytest.raises(FlakehuntError, match=r"^no files to read in '.*empty'$"):
        ingest(tmp_path / "empty")


def test_links_a_folder_walk_does_not_follow_are_said(tmp_path, case_dir):
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    elsewhere.mkdir()
    shutil.copyfile(NGINX, logs / "access.log")
    shutil.copyfile(NGINX, elsewhere / "other.log")
    (logs / "more").symlink_to(elsewhere)
    (logs / "gone.log").symlink_to(tmp_path / "deleted.log")
    _, summary = ingest(logs)
    assert [f.file for f in summary.files] == [str(logs / "access.log")]
    assert f"1 linked folder(s) were not followed; name one to read it: '{logs / 'more'}'" in summary.notes
    assert f"1 link(s) lead to no file: '{logs / 'gone.log'}'" in summary.notes


def test_a_subfolder_that_cannot_be_listed_is_said_not_passed_over(tmp_path):
    logs = tmp_path / "logs"
    (logs / "locked").mkdir(parents=True)
    shutil.copyfile(NGINX, logs / "access.log")
    shutil.copyfile(NGINX, logs / "locked" / "hidden-from-us.log")
    (logs / "locked").chmod(0)
    code = (
        "import sys; from flakehunt.case import open_case; from flakehunt.ingest import ingest_paths;"
        "s = ingest_paths([sys.argv[1]], case=open_case('L-1')); print(s.rows_added); print(*s.notes, sep='\\n')"
    )
    # root reads any folder: drop the capabilities that let it, as a support engineer's shell has none
    drop = [
        "setpriv",
        "--inh-caps=-dac_override,-dac_read_search",
        "--bounding-set=-dac_override,-dac_read_search",
    ]
    argv = [*(drop if os.geteuid() == 0 else []), sys.executable, "-c", code, str(logs)]
    env = {**os.environ, "FLAKEHUNT_HOME": str(tmp_path / "home")}
    try:
        done = subprocess.run(argv, capture_output=True, check=True, env=env, text=True)
    finally:
        (logs / "locked").chmod(0o755)
    rows, *notes = done.stdout.splitlines()
    assert rows == "7"
    assert f"1 folder(s) could not be read and were passed over: '{logs / 'locked'}'" in notes


def test_missing_file_is_one_clear_error(tmp_path, case_dir):
    with pytest.raises(FlakehuntError, match=r"^no such file or folder '.*nope.log'$"):
        ingest(tmp_path / "nope.log")


@pytest.mark.parametrize("change", ["cut", "grown"])
def test_a_log_that_changes_while_it_is_read_is_one_error_and_adds_nothing(
    tmp_path, case_dir, monkeypatch, change
):
    # logrotate's copytruncate empties a log under a reader; a live log grows under it
    from flakehunt.ingest import pipeline

    log = tmp_path / "access.log"
    log.write_bytes(NGINX.read_bytes() * 200)
    monkeypatch.setattr(pipeline, "iter_blocks", partial(pipeline.iter_blocks, chunk_bytes=4096))

    def rotate(label, done, total):  # after the first block
        if change == "cut":
            log.write_bytes(b"")
        else:
            with log.open("ab") as handle:
                handle.write(NGINX.read_bytes())

    case = open_case("R-2")
    with pytest.raises(FlakehuntError, match=r"changed while it was read .* nothing of it was added$"):
        ingest_paths([log], case=case, on_progress=rotate)
    assert read_exchanges(case).height == 0
    assert not [p for p in case.data_dir.rglob("*.tmp")]


def test_crash_mid_ingest_leaves_the_dataset_as_it_was(tmp_path, case_dir, monkeypatch):
    from flakehunt.ingest import pipeline

    case = open_case("R-1")
    ingest_paths([NGINX], case=case)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_enrich", boom)
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([FIXTURES / "apache/beats-apache-access-test-mixed.log"], case=case)
    assert read_exchanges(case).height == 7
    leftovers = [p.name for p in case.data_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


HAR = FIXTURES / "har/mitmproxy-chrome.har"


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("customer.har", HAR.read_bytes()[:3000], "does not parse: Expecting value at line 111, column 24;"),
        ("customer.har.gz", gzip.compress(HAR.read_bytes())[:3000], "its compressed stream ends early"),
        (
            "customer.har",
            b'{"log": {"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}",
            "is nested more deeply than Python's JSON reader can follow",
        ),
    ],
    ids=["cut", "gzip-cut", "too-deep"],
)
def test_a_har_cut_short_is_called_so_not_an_unknown_format(tmp_path, case_dir, name, data, why):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnknownFormatError) as caught:
        ingest(path)
    assert f"starts like a JSON document (a HAR?) but {why}" in str(caught.value)


def test_two_hars_joined_in_one_file_are_called_so_not_json_lines(tmp_path, case_dir):
    """`cat a.har b.har > both.har`: before, "no known format"; it is a HAR and then more."""
    path = tmp_path / "both.har"
    text = HAR.read_text()
    path.write_text(text + text)
    last = text.count("\n") + 1  # the fixture ends without a newline: its closing brace starts this line
    joined = f"holds a whole HAR document and then more, from line {last}, column 2 (files joined?)"
    with pytest.raises(UnknownFormatError) as caught:
        ingest(path)
    assert f"'{path}' {joined}; keep one HAR per file" in str(caught.value)
    with pytest.raises(FlakehuntError) as caught:  # investigate --har reads it through parse_har
        parse_har(path, file_label="both.har")
    assert joined in str(caught.value)
    # JSON lines are still JSON lines: a record per line is "more after the first value" too
    records = tmp_path / "records.json"
    records.write_text('{"a": 1}\n{"a": 2}\n')
    with pytest.raises(UnknownFormatError) as caught:
        ingest(records)
    assert "no known format" in str(caught.value)


def test_a_cut_har_in_a_folder_is_named_broken_not_passed_over(tmp_path, case_dir):
    folder = tmp_path / "ticket-4711"
    folder.mkdir()
    shutil.copy(NGINX, folder / "access.log")
    (folder / "customer.har").write_bytes(HAR.read_bytes()[:3000])
    _, summary = ingest(folder)
    assert {f.file.rsplit("/", 1)[-1]: f.status for f in summary.files} == {
        "access.log": "ingested",
        "customer.har": "skipped: broken JSON document",
    }
    assert any(
        "customer.har' starts like a JSON document (a HAR?) but does not parse" in n for n in summary.notes
    )


@pytest.mark.parametrize("suffix", ["gz", "zst"])
def test_a_compressed_har_is_read_as_a_har(tmp_path, case_dir, suffix):
    path = tmp_path / f"customer.har.{suffix}"
    compress = gzip.compress if suffix == "gz" else zstd.compress
    path.write_bytes(compress(HAR.read_bytes()))
    case, summary = ingest(path)
    assert (summary.files[0].format, summary.files[0].kept) == ("har", 3)
    assert read_exchanges(case)["format"].to_list() == ["har"] * 3


def test_an_empty_time_window_is_a_user_error(case_dir):
    with pytest.raises(FlakehuntError, match="the time window is empty: --since 2026-01-02"):
        ingest(NGINX, since=datetime(2026, 1, 2), until=datetime(2026, 1, 1))


def test_an_error_midway_says_what_the_files_before_it_added(tmp_path, case_dir):
    broken = tmp_path / "customer.har"
    broken.write_bytes(HAR.read_bytes()[:3000])
    with pytest.raises(
        UnknownFormatError, match=r"\(1 file\(s\) before it added 7 rows to case R-1; run again"
    ):
        ingest(NGINX, broken, FIXTURES / "nginx/crowdsec-hub-nginx_http-logs-mixed.log")
    (entry,) = read_journal(open_case("R-1"))
    assert entry["outcome"].startswith("stopped by an error after 1 file(s), 7 rows added: ")
    case, summary = ingest(NGINX)  # what the message promises: nothing added twice
    assert [f.status for f in summary.files] == ["already ingested"]
    assert read_exchanges(case).height == 7


def test_a_signal_mid_ingest_leaves_one_line_and_no_part(tmp_path, stop_signal):
    signum, code, line = stop_signal
    # SIGTERM is what a scheduler's timeout or `kill` sends: it must unwind like Ctrl-C.
    process, exchanges = _signal_mid_ingest(tmp_path, signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert stderr.splitlines()[-1] == f"flakehunt: {line}"
    assert "Traceback" not in stderr
    assert [p.name for p in exchanges.iterdir()] == []  # neither a part nor a temporary file


def test_a_killed_ingest_s_temporary_file_is_removed_by_the_next_ingest(tmp_path, case_dir):
    process, exchanges = _signal_mid_ingest(tmp_path, signal.SIGKILL)  # nothing runs to clean up
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    (left,) = exchanges.iterdir()
    assert left.name.startswith(".ingest-") and left.name.endswith(".tmp")
    case = open_case("SIG")  # case_dir is the same FLAKEHUNT_HOME as the killed one
    ingest_paths([NGINX], case=case)
    assert not left.exists()
    assert read_exchanges(case).height == 7


def _signal_mid_ingest(tmp_path: Path, signum: int) -> tuple[subprocess.Popen, Path]:
    """`flakehunt ingest` of a large file, sent `signum` once its first block is being written."""
    big = tmp_path / "big.log"
    big.write_text("".join(LINE.format(n=n % 250) for n in range(1_500_000)))  # several seconds of work
    home = tmp_path / "home"
    flakehunt = Path(sys.executable).with_name("flakehunt")
    process = subprocess.Popen(
        [str(flakehunt), "ingest", str(big), "--case", "SIG"],
        env={**os.environ, "FLAKEHUNT_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    exchanges = home / "cases/SIG/data/exchanges"
    deadline = time.monotonic() + 60
    while not any(exchanges.glob(".*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the first block is being written: the ingest is under way
    process.send_signal(signum)
    return process, exchanges


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_har_too_large_to_read_whole_says_so_plain_or_compressed(tmp_path, case_dir, monkeypatch, suffix):
    """The limit is on the decompressed size: a 40 KB .gz may hold gigabytes."""
    from flakehunt.ingest import pipeline

    monkeypatch.setattr(pipeline, "JSON_DOCUMENT_LIMIT", 1 << 20)
    document = json.loads(HAR.read_text())
    document["log"]["comment"] = "x" * (2 << 20)
    data = json.dumps(document).encode()
    path = tmp_path / f"customer.har{suffix}"
    path.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(
        UnknownFormatError, match=r"is over the 1 MB a HAR may be, decompressed \(a HAR is read whole\)"
    ):
        ingest(path)


def _tar_gz(member: Path) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(member, arcname=member.name)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "said"),
    [
        ("logs.tar.gz", _tar_gz, "is a tar archive; extract it (tar xf) and ingest the folder"),
        ("logs.gz.gz", lambda log: gzip.compress(gzip.compress(log.read_bytes())), "is compressed twice"),
        ("logs.zip", lambda log: b"PK\x03\x04" + log.read_bytes(), "is a zip archive; unzip it"),
        ("logs.bz2", lambda log: __import__("bz2").compress(log.read_bytes()), "is bzip2-compressed"),
        ("logs.xz", lambda log: __import__("lzma").compress(log.read_bytes()), "is xz-compressed"),
        ("utf16.log", lambda log: log.read_text().encode("utf-16"), "is UTF-16 text; convert it to UTF-8"),
        (
            "mac.log",
            lambda log: log.read_bytes().replace(b"\n", b"\r"),
            "ends its lines with a carriage return alone",
        ),
    ],
    ids=["tar.gz", "gz.gz", "zip", "bz2", "xz", "utf-16", "cr-only"],
)
def test_what_is_no_log_text_is_named_not_read_as_lines(tmp_path, case_dir, name, make, said):
    """A .tar.gz read as lines lost its first record to the tar header and added the rest twice."""
    path = tmp_path / name
    path.write_bytes(make(NGINX))
    with pytest.raises(UnknownFormatError, match=re.escape(f"{str(path)!r} {said}")):
        ingest(path)
    shutil.copyfile(NGINX, tmp_path / "access.log")
    _, summary = ingest(tmp_path)  # in a folder: skipped and listed, the log beside it read
    assert [f.status for f in summary.files if f.file == str(path)] == [SKIPPED]
    assert summary.rows_added == 7
