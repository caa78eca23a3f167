"""
The `flakehunt` command's entry point. A stop (Ctrl-C, SIGTERM) is one line and its exit code
from the first instant: the command line's imports and Typer's building of the commands take
a tenth of a second, and a signal there would otherwise print a traceback. Only the light
`errors` module is imported before the handlers are in place.
"""

from __future__ import annotations

import signal
import sys

from flakehunt.errors import interrupted_exit, raise_terminated


def main() -> None:
    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        from flakehunt.cli import main as command_line

        command_line()  # builds the commands from their signatures before its own handlers run
    except KeyboardInterrupt as exc:
        line, code = interrupted_exit(exc)
        print(line, file=sys.stderr)
        sys.exit(code)
