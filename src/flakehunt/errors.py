"""One error hierarchy and the exit codes every command shares (DESIGN.md, "Commands")."""

from __future__ import annotations

import enum
import errno


class ExitCode(enum.IntEnum):
    OK = 0
    SITE_FAILING = 1  # the investigation ran and the site failed
    BAD_INPUT = 2  # bad usage or bad input: one line, no traceback
    ENVIRONMENT = 3  # no browser, no GeoIP database when one was demanded
    INTERRUPTED = 130  # 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM


class FlakehuntError(Exception):
    """An expected failure, explained to the user in one line."""

    exit_code = ExitCode.BAD_INPUT


class UnknownFormatError(FlakehuntError):
    """No log format flakehunt knows matches a file."""


class BrokenDocumentError(UnknownFormatError):
    """A file starts like one JSON document (a HAR) but does not parse: cut short, most likely."""


class MissingEnvironmentError(FlakehuntError):
    """A browser, database or file flakehunt needs is not installed."""

    exit_code = ExitCode.ENVIRONMENT


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's timeout, `kill`): unwinds like Ctrl-C, so temporary files go too."""


def interruption(exc: BaseException) -> str:
    """What stopped the work: "terminated" (SIGTERM) or "interrupted" (Ctrl-C, also behind Click's Abort)."""
    return (
        "terminated"
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated)
        else "interrupted"
    )


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """
    The Ctrl-C or SIGTERM that `exc` is, or was raised from: Python 3.11 turns one that lands in
    a class's `__set_name__` (a module being imported) into a RuntimeError.
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__
    return None


def interrupted_exit(exc: BaseException) -> tuple[str, ExitCode]:
    """The line and exit code for an interrupt: Ctrl-C is 130, SIGTERM 143."""
    word = interruption(exc)
    return f"flakehunt: {word}", ExitCode.TERMINATED if word == "terminated" else ExitCode.INTERRUPTED


_STORAGE = {
    errno.ENOSPC: "free some space there, or point FLAKEHUNT_HOME at another disk",
    errno.EDQUOT: "free some space there, or point FLAKEHUNT_HOME at another disk",
    errno.EROFS: "point FLAKEHUNT_HOME at a folder you can write",
    errno.EACCES: "point FLAKEHUNT_HOME at a folder you can write",
    errno.EPERM: "point FLAKEHUNT_HOME at a folder you can write",
}


def storage_problem(exc: OSError) -> str | None:
    """
    The one line for a disk that is full or a folder that cannot be written, else None.

    Reads of the user's inputs are explained where they happen; what reaches here is the case
    store or a report being written.

    >>> storage_problem(OSError(errno.ENOSPC, "No space left on device", "/cases/T-1/x.tmp"))
    "No space left on device: '/cases/T-1/x.tmp' (free some space there, or point FLAKEHUNT_HOME at another disk)"
    """
    hint = _STORAGE.get(exc.errno or 0)
    if hint is None:
        return None
    where = f": {str(exc.filename)!r}" if exc.filename else ""
    return f"{exc.strerror or exc}{where} ({hint})"
