"""Small files written whole: a reader, or a crash, sees the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from pathlib import Path

# `.{name}.{host}.{pid}.{thread}.tmp`: the process that wrote it can be told dead or alive, on
# this machine (a folder shared with another machine holds writers this one cannot see).
_TEMPORARY = re.compile(r"^\..+\.([A-Za-z0-9-]+)\.(\d+)\.\d+\.tmp$")
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def write_atomic(path: Path, data: bytes | str) -> None:
    """
    Write `data` (text as UTF-8) to a temporary file beside `path`, then rename it over `path`.

    The folder is made if missing. On failure the temporary file is removed and the error raised;
    `path` keeps what it had. The temporary name carries the process and thread, so concurrent
    writers never share one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path)
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def temporary_beside(path: Path) -> Path:
    """A hidden name beside `path` for writing it; it carries the process and thread, so concurrent
    writers never share one, and `remove_stale` can tell a dead writer's leftovers."""
    return path.with_name(f".{path.name}.{_HOST}.{os.getpid()}.{threading.get_ident()}.tmp")


def remove_stale(folder: Path) -> int:
    """
    Remove the temporary files in `folder` whose writing process is gone (killed with SIGKILL,
    out of memory, a power cut: nothing ran to clean up). Returns how many were removed.
    """
    removed = 0
    for entry in folder.iterdir() if folder.is_dir() else ():
        match = _TEMPORARY.match(entry.name)
        if match and match.group(1) == _HOST and not _alive(int(match.group(2))):
            with contextlib.suppress(OSError):
                entry.unlink()
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
