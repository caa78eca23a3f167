"""One error hierarchy and the exit codes every command shares (DESIGN.md, "Commands")."""

from __future__ import annotations

import enum


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


def interrupted_exit(exc: BaseException) -> tuple[str, ExitCode]:
    """The line and exit code for an interrupt: Ctrl-C is 130, SIGTERM 143."""
    word = interruption(exc)
    return f"flakehunt: {word}", ExitCode.TERMINATED if word == "terminated" else ExitCode.INTERRUPTED
