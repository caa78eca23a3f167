"""
What `ingest PATH...` reads: files, folders (recursively), globs, `-` for stdin, and pipes.

A stream (stdin, a named pipe, `<(zcat ...)`) can be read only once, and ingest reads a file
more than once (its head to sniff the format, then its blocks, and its hash beside), so a stream
is copied to a private temporary file first and removed after.

A folder's subfolders that cannot be listed, links to folders (not followed: they may loop) and
links to nothing are said in a note, so a customer's logs are never passed over without a word.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from flakehunt.errors import FlakehuntError
from flakehunt.ingest.read import unreadable

STDIN_LABEL = "<stdin>"


@dataclass(frozen=True)
class Input:
    path: Path  # what is read
    label: str  # what the user called it: the path given or found, or <stdin>
    named: bool  # named on its own, so it must be a log (not found in a folder or by a glob)
    spooled: bool = False  # a stream's private copy, gone after the ingest


@dataclass
class Inputs:
    files: list[Input] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a folder held but was not read


@contextmanager
def expanded(paths: list[Path | str]) -> Iterator[Inputs]:
    """
    The files to read, and notes on what a folder held but was not read.

    A folder's or a glob's files may include other files than logs, which ingest skips, where a
    file named on its own must be a log (`Input.named`).
    """
    inputs = Inputs()
    spools: list[Path] = []
    try:
        for item in paths:
            text = str(item)
            if text == "-":
                if not any(known.label == STDIN_LABEL for known in inputs.files):  # it reads once
                    inputs.files.append(Input(_spool(sys.stdin.buffer, spools), STDIN_LABEL, True, True))
                continue
            _add(Path(item), text, inputs, spools)
        yield inputs
    finally:
        for spool in spools:
            spool.unlink(missing_ok=True)


def _add(path: Path, text: str, inputs: Inputs, spools: list[Path]) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a folder on the way that cannot be searched, say
        raise unreadable(path, exc) from None
    if mode is not None and stat.S_ISDIR(mode):
        found, notes = _walk(path)
        if not found:  # as for a glob that matches nothing: the user meant something else
            raise FlakehuntError(f"no files to read in {text!r}" + "".join(f"; {note}" for note in notes))
        inputs.files += [Input(p, str(p), named=False) for p in found]
        inputs.notes += notes
    elif mode is not None and stat.S_ISREG(mode):
        inputs.files.append(Input(path, text, named=True))
    elif mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        try:
            with path.open("rb") as stream:
                inputs.files.append(Input(_spool(stream, spools), text, named=True, spooled=True))
        except OSError as exc:
            raise unreadable(path, exc) from None
    elif mode is not None:
        raise FlakehuntError(f"{text!r} is neither a file, a folder nor a pipe")
    elif glob.has_magic(text):
        matched = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matched:
            raise FlakehuntError(f"no files match {text!r}")
        inputs.files += [Input(p, str(p), named=False) for p in matched]
    else:
        raise FlakehuntError(f"no such file or folder {text!r}")


def _spool(stream: BinaryIO, spools: list[Path]) -> Path:
    """`stream` copied to a temporary file (readable by this user only), removed by `expanded`."""
    with tempfile.NamedTemporaryFile(prefix="flakehunt-stdin-", delete=False) as spool:
        spools.append(Path(spool.name))
        shutil.copyfileobj(stream, spool)
    return Path(spool.name)


def _walk(folder: Path) -> tuple[list[Path], list[str]]:
    """The files under `folder`, hidden ones (`.git`, `.DS_Store`) left out, and what was passed over."""
    found: list[Path] = []
    unlistable: list[str] = []
    linked: list[str] = []
    dangling: list[str] = []
    for root, dirs, files in os.walk(folder, onerror=lambda exc: unlistable.append(str(exc.filename))):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in dirs:
            if (Path(root) / name).is_symlink():
                linked.append(str(Path(root) / name))
        for name in files:
            path = Path(root) / name
            if name.startswith("."):
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink() and not path.exists():
                dangling.append(str(path))
    notes = []
    if unlistable:
        notes.append(
            f"{len(unlistable)} folder(s) could not be read and were passed over: {_listed(sorted(unlistable))}"
        )
    if linked:
        notes.append(
            f"{len(linked)} linked folder(s) were not followed; name one to read it: {_listed(sorted(linked))}"
        )
    if dangling:
        notes.append(f"{len(dangling)} link(s) lead to no file: {_listed(sorted(dangling))}")
    return sorted(found), notes


def _listed(paths: list[str], most: int = 3) -> str:
    shown = ", ".join(repr(p) for p in paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")
