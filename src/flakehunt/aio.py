"""
`run`: asyncio.run during which a signal handler that raises stops the work the way Ctrl-C does.

asyncio.run turns Ctrl-C into a cancellation of the main task, so its `finally` and `async with`
blocks run and the browsers close. A Python signal handler that raises (the CLI's SIGTERM handler
raises `Terminated`; `watch` raises its stop on a second signal) raises wherever Python is, which
inside an event loop is the loop's own machinery: the tasks are then cancelled with the loop half
stopped, and waiting for Playwright's to end never returns (a probe hung there until killed).

Here such handlers are called from the loop instead. One that returns has done its job (`watch`
counting a first signal); one that raises has the main task cancelled, and its exception is
raised once the task has unwound. A signal that arrives as the work ends is handed to its
handler before `run` returns, and the handlers are put back without a moment of the default
action (which for SIGTERM is to die).
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


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end, signals handled as the module docstring says."""
    handlers: dict[int, Callable] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in _SIGNALS:
            handler = signal.getsignal(signum)
            # Python's own Ctrl-C handler is asyncio.run's to deal with: it cancels the main task
            if callable(handler) and handler is not signal.default_int_handler:
                handlers[signum] = handler
    return asyncio.run(_relaying(main, handlers))


async def _relaying(main: Coroutine[Any, Any, T], handlers: dict[int, Callable]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    pending: list[int] = []  # signals received, their handlers not called yet
    raised: list[BaseException] = []

    def received(signum: int, _frame: object) -> None:  # raises nothing, so the loop is never cut
        pending.append(signum)
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
        browser has been closed") with nobody left to await them, and asyncio would print each
        after the one line the user gets. Anything else goes to asyncio's own handler.
        """
        stopped = stopping or (task is not None and task.cancelling())
        if not (stopped and "never retrieved" in str(context.get("message", ""))):
            loop.default_exception_handler(context)

    stopping: list[bool] = []  # by a relayed handler, or by Ctrl-C (asyncio cancels this task)
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
