"""
`run`: asyncio.run during which a signal handler that raises stops the work the way Ctrl-C does.

asyncio.run turns Ctrl-C into a cancellation of the main task, so its `finally` and `async with`
blocks run and the browsers close. A Python signal handler that raises (the CLI's SIGTERM handler
raises `Terminated`; `watch` raises its stop on a second signal) raises wherever Python is, which
inside an event loop is the loop's own machinery: the tasks are then cancelled with the loop half
stopped, and waiting for Playwright's to end never returns (a probe hung there until killed).

Here such handlers run from the loop instead. One that returns has done its job (`watch` counting
a first signal); one that raises has the main task cancelled, and its exception is raised once the
task has unwound.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end, signals handled as the module docstring says."""
    return asyncio.run(_relaying(main))


async def _relaying(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    raised: list[BaseException] = []

    def relay(signum: int, handler: Callable) -> None:
        try:
            handler(signum, None)
        except BaseException as exc:  # the handler's way to stop: after the main task unwinds
            raised.append(exc)
            if task is not None:
                task.cancel()

    relayed = {}
    for signum in _SIGNALS:
        handler = signal.getsignal(signum)
        # asyncio.run treats Ctrl-C itself when the handler is Python's own
        if callable(handler) and handler is not signal.default_int_handler:
            try:
                loop.add_signal_handler(signum, relay, signum, handler)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or not Unix
                continue
            relayed[signum] = handler
    try:
        result = await main
    except BaseException:
        if raised:
            raise raised[0] from None
        raise
    finally:
        for signum, handler in relayed.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
    if raised:  # `main` swallowed the cancellation
        raise raised[0]
    return result
