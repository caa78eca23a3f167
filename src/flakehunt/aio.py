"""
`run`: asyncio.run for Playwright work that a signal must be able to stop cleanly, and at once.

A Python signal handler that raises (Ctrl-C's KeyboardInterrupt, the CLI's SIGTERM handler's
`Terminated`, `watch`'s stop on a second signal) raises wherever Python is, which inside an event
loop is the loop's own machinery: the tasks are then cancelled with the loop half stopped, and
waiting for Playwright's to end never returns (a probe hung there until killed).

Here a signal is queued for the loop, and its handler called from there. One that returns has
done its job (`watch` counting a first signal); one that raises has the main task cancelled, so
its `finally` and `async with` blocks close the browsers, and its exception is raised once the
task has unwound. A further signal while it unwinds acts at once, as a second Ctrl-C does with
asyncio.run. After a stop, tasks left over get a few seconds, not forever: a browser driver that
no longer answers must not keep the command from exiting (its processes end with ours). A signal
that arrives as the work ends still reaches its handler, and the handlers are put back without
a moment of the default action (which for SIGTERM is to die).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_ASK_AGAIN_S = 2.0  # a cleanup (closing the browsers) takes well under this
SHUTDOWN_GRACE_SECONDS = 5.0  # for the tasks left once a stopped main task has ended


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end on a new event loop, signals handled as the module docstring says."""
    handlers: dict[int, Callable] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in _SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):
                handlers[signum] = handler
    loop = asyncio.new_event_loop()
    stopping: list[bool] = []  # set once the work is being stopped
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_relaying(main, handlers, stopping))
    finally:
        _shutdown(loop, grace=SHUTDOWN_GRACE_SECONDS if stopping else None)


def _shutdown(loop: asyncio.AbstractEventLoop, *, grace: float | None) -> None:
    """What asyncio.run does after the main task, but waiting at most `grace` for the rest."""
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=grace))
        loop.run_until_complete(loop.shutdown_asyncgens())
        if grace is None:  # Python 3.11's has no timeout
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def _relaying(main: Coroutine[Any, Any, T], handlers: dict[int, Callable], stopping: list[bool]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    pending: list[int] = []  # signals received, their handlers not called yet
    raised: list[BaseException] = []

    def received(signum: int, frame: object) -> None:
        if stopping:  # a second Ctrl-C (or SIGTERM) while the work unwinds: at once
            handlers[signum](signum, frame)
            return
        pending.append(signum)  # raising nothing here, the loop is never cut
        loop.call_soon_threadsafe(relay)

    def relay() -> None:
        try:
            call_pending()
        except BaseException as exc:  # the handler's way to stop: after the main task unwinds
            raised.append(exc)
            stopping.append(True)
            cancel()

    def cancel() -> None:
        # Python 3.11's asyncio.wait_for can swallow a cancellation that meets the end of the task
        # it waits for (CPython gh-86296), and the probe would go on with all its runs: ask again.
        if task is not None and not task.done():
            task.cancel()
            loop.call_later(_ASK_AGAIN_S, cancel)

    def call_pending() -> None:
        while pending:
            signum = pending.pop(0)
            handlers[signum](signum, None)

    def quiet_when_stopping(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """
        Once the work is stopped, Playwright's pending calls fail ("Target page, context or
        browser has been closed") with nobody left to await them, and tasks left after the grace
        are dropped; asyncio would print each after the one line the user gets. Anything else
        goes to asyncio's own handler.
        """
        message = str(context.get("message", ""))
        if not (stopping and ("never retrieved" in message or "destroyed but it is pending" in message)):
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_when_stopping)
    for signum in handlers:
        signal.signal(signum, received)
    try:
        try:
            result = await main
        except BaseException:
            stopping.append(True)
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
    except BaseException:
        call_pending()  # a signal that came as `main` ended: its handler may still raise
        if raised:
            raise raised[0] from None
        raise
    call_pending()
    if raised:  # `main` swallowed the cancellation
        raise raised[0]
    return result
