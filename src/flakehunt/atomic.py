"""Small files written whole: a reader, or a crash, sees the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def write_atomic(path: Path, data: bytes | str) -> None:
    """
    Write `data` (text as UTF-8) to a temporary file beside `path`, then rename it over `path`.

    The folder is made if missing. On failure the temporary file is removed and the error raised;
    `path` keeps what it had. The temporary name carries the process and thread, so concurrent
    writers never share one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
