"""Running async work (Playwright) from synchronous commands."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
SHUTDOWN_GRACE_SECONDS = 5.0


def run_interruptible(work: Coroutine[Any, Any, T]) -> T:
    """
    `asyncio.run(work)`, but Ctrl-C cancels the work and always surfaces as KeyboardInterrupt.

    Cancelling mid-way makes Playwright's pending calls fail with its own errors (for example
    TargetClosedError); those are consequences of the interrupt, not failures to report, so the
    command exits 130 with one line instead of a traceback. Shutdown after an interrupt waits at
    most a few seconds for cancelled tasks: a browser driver that does not answer any more must
    not keep the command from exiting (its processes end with ours).
    """
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(work)
    loop = asyncio.new_event_loop()
    task = loop.create_task(work)
    interrupted = threading.Event()

    def cancel() -> None:
        interrupted.set()
        task.cancel()

    loop.add_signal_handler(signal.SIGINT, cancel)
    # After an interrupt, tasks that die of it are not worth a "never retrieved" traceback.
    loop.set_exception_handler(
        lambda loop, context: None if interrupted.is_set() else loop.default_exception_handler(context)
    )
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if interrupted.is_set():
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        _shutdown(loop, grace=SHUTDOWN_GRACE_SECONDS if interrupted.is_set() else None)


def _shutdown(loop: asyncio.AbstractEventLoop, *, grace: float | None) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for leftover in pending:
        leftover.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=grace))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
