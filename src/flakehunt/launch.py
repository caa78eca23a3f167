"""
The `flakehunt` command's entry point. A stop (Ctrl-C, SIGTERM) is one line and its exit code
from the first instant: the command line's imports and Typer's building of the commands take
a tenth of a second, and a signal there would otherwise print a traceback. Only the light
`stops` and `errors` modules are imported before the handlers are in place (stops.py).
"""

from __future__ import annotations

import sys

from flakehunt import stops


def main() -> None:
    stops.install()
    try:
        from flakehunt.cli import main as command_line

        command_line()  # builds the commands from their signatures before its own handlers run
    except (KeyboardInterrupt, Exception) as exc:
        code = stops.said(exc)
        if code is None:
            raise
        sys.exit(code)
