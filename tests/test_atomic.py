"""Small files written whole: old content or new, never half, and no temporary file left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flakehunt.atomic import remove_stale, write_atomic


def test_write_atomic_replaces_the_content_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "deeper" / "settings.toml"
    write_atomic(path, b"old")
    write_atomic(path, "näu\n")
    assert path.read_bytes() == "näu\n".encode()
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]


def test_a_failed_write_keeps_what_was_there_and_removes_its_temporary_file(tmp_path):
    taken = tmp_path / "report.html"
    taken.mkdir()  # a folder where the file should go: the rename fails
    (taken / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_atomic(taken, "new")
    assert (taken / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_remove_stale_takes_only_dead_writers_temporaries(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)  # that process has ended
    (tmp_path / f".part.parquet.{dead_pid}.1.tmp").write_text("half")
    (tmp_path / f".part.parquet.{os.getpid()}.1.tmp").write_text("being written")
    (tmp_path / "part.parquet").write_text("done")
    (tmp_path / ".notes.tmp").write_text("not ours: no process in its name")
    assert remove_stale(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".notes.tmp", f".part.parquet.{os.getpid()}.1.tmp", "part.parquet"
    ]  # fmt: skip
