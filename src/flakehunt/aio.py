"""Running async work (Playwright) from synchronous commands."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_interruptible(work: Coroutine[Any, Any, T]) -> T:
    """
    `asyncio.run(work)`, but Ctrl-C cancels the work and always surfaces as KeyboardInterrupt.

    Cancelling mid-way makes Playwright's pending calls fail with its own errors (for example
    TargetClosedError); those are consequences of the interrupt, not failures to report, so
    the command exits 130 with one line instead of a traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(work)
    interrupted = False

    async def main() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def cancel() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        loop.add_signal_handler(signal.SIGINT, cancel)
        # After an interrupt, tasks that die of it are not worth a "never retrieved" traceback.
        loop.set_exception_handler(
            lambda loop, context: None if interrupted else loop.default_exception_handler(context)
        )
        try:
            return await work
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        return asyncio.run(main())
    except BaseException:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
