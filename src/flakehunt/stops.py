"""
Ctrl-C and SIGTERM: each raises where the main thread is (KeyboardInterrupt, `Terminated`), so
the work unwinds and its temporary files go, except where raising would break Python itself.

Python runs a signal's handler between any two steps of the main thread. In the import
system's own code (a lock taken, its `try` not yet entered; a weakref callback) an exception
leaves a lock held, and the next import, on any thread, waits forever; in a finalizer Python
drops it and the command goes on as if never stopped. There the signal is sent again a moment
later, until it lands somewhere safe.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from flakehunt.errors import Terminated, interrupt_behind, interrupted_exit

_AGAIN_S = 0.01
_IMPORT_SYSTEM = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")


def install() -> None:
    """Take Ctrl-C and SIGTERM as this module says (main thread only, as for any handler)."""
    signal.signal(signal.SIGINT, raise_interrupt)
    signal.signal(signal.SIGTERM, raise_terminated)
    sys.unraisablehook = _stop_again


def said(exc: BaseException) -> int | None:
    """If `exc` is a stop (or was raised from one): its one line on stderr, and its exit code."""
    stop = interrupt_behind(exc)
    if stop is None:
        return None
    line, code = interrupted_exit(stop)
    print(line, file=sys.stderr)
    return code


def raise_interrupt(signum, frame) -> None:
    """The Ctrl-C handler: raise KeyboardInterrupt, as Python's own does, but never mid-import."""
    if not _later_if_importing(signum, frame):
        raise KeyboardInterrupt


def raise_terminated(signum, frame) -> None:
    """The SIGTERM handler: raise `Terminated`, but never mid-import."""
    if not _later_if_importing(signum, frame):
        raise Terminated


def _later_if_importing(signum: int, frame) -> bool:
    """Whether the main thread is in the import system's code; if so, the signal comes again soon."""
    if frame is None or frame.f_code.co_filename not in _IMPORT_SYSTEM:
        return False
    _send_soon(signum)
    return True


def _send_soon(signum: int) -> None:
    timer = threading.Timer(_AGAIN_S, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def _stop_again(unraisable) -> None:
    """A stop raised in a finalizer, which Python would drop: sent again, to land elsewhere."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _send_soon(signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT)
        return
    sys.__unraisablehook__(unraisable)  # anything else: printed, as Python does
