"""Small files written whole: old content or new, never half, and no temporary file left behind."""

from __future__ import annotations

import pytest

from flakehunt.atomic import write_atomic


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
