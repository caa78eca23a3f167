"""Small files written whole: old content or new, never half, and no temporary file left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flakehunt.atomic import remove_stale, temporary_beside, write_atomic


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
    dead_here = temporary_beside(tmp_path / "part.parquet").name.replace(f".{os.getpid()}.", f".{dead_pid}.")
    alive_here = temporary_beside(tmp_path / "part.parquet").name
    elsewhere = f".part.parquet.another-machine.{dead_pid}.1.tmp"  # a shared folder: its writer may live
    for name in (dead_here, alive_here, elsewhere, "part.parquet", ".notes.tmp"):
        (tmp_path / name).write_text("x")
    assert remove_stale(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [alive_here, elsewhere, "part.parquet", ".notes.tmp"]
    )
