"""stops.py: a signal never raises inside the import system's code, nor vanishes in a finalizer."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest

from flakehunt import stops
from flakehunt.errors import Terminated


@pytest.fixture
def handlers():
    """flakehunt's handlers for the test, then the previous ones again."""
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    hook = sys.unraisablehook
    stops.install()
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    sys.unraisablehook = hook


def _frame_in(filename: str):
    space: dict = {}
    exec(compile("import sys\nframe = sys._getframe()", filename, "exec"), space)
    return space["frame"]


def _wait_for_stop(seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.001)  # the handler raises here, between two steps of this loop


@pytest.mark.parametrize(
    ("handler", "stop"), [(stops.raise_terminated, Terminated), (stops.raise_interrupt, KeyboardInterrupt)]
)
def test_a_stop_raises_where_the_main_thread_is(handler, stop):
    with pytest.raises(stop):
        handler(signal.SIGTERM, _frame_in("some_module.py"))


def test_a_stop_that_lands_in_the_import_system_comes_again_a_moment_later(handlers):
    received = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.set())
    try:
        stops.raise_terminated(signal.SIGUSR1, _frame_in("<frozen importlib._bootstrap>"))  # no raise
        assert received.wait(5), "the signal was not sent again"
    finally:
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.parametrize("stop", [Terminated, KeyboardInterrupt])
def test_a_stop_raised_in_a_finalizer_is_not_lost(handlers, stop):
    class Finalized:
        def __del__(self):
            raise stop  # what a handler does when the signal lands in a finalizer

    Finalized()  # gone at once: Python drops what __del__ raised, and calls the unraisable hook
    with pytest.raises(stop):
        _wait_for_stop()
