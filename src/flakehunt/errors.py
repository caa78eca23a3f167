"""One error hierarchy and the exit codes every command shares (DESIGN.md, "Commands")."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    SITE_FAILING = 1  # the investigation ran and the site failed
    BAD_INPUT = 2  # bad usage or bad input: one line, no traceback
    ENVIRONMENT = 3  # no browser, no GeoIP database when one was demanded
    INTERRUPTED = 130  # 128 + SIGINT


class FlakehuntError(Exception):
    """An expected failure, explained to the user in one line."""

    exit_code = ExitCode.BAD_INPUT


class UnknownFormatError(FlakehuntError):
    """No log format flakehunt knows matches a file."""


class MissingEnvironmentError(FlakehuntError):
    """A browser, database or file flakehunt needs is not installed."""

    exit_code = ExitCode.ENVIRONMENT
