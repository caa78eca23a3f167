"""
`run`: asyncio.run that SIGTERM stops the way Ctrl-C does.

asyncio.run turns Ctrl-C into a cancellation of the main task, so its `finally` and `async with`
blocks run and the browsers close. The CLI's SIGTERM handler raises `Terminated` wherever Python
is, which inside an event loop is the loop's own machinery: the tasks are then cancelled with the
loop half stopped, and waiting for Playwright's to end never returns (a probe hung there until
killed). Here SIGTERM cancels the main task as well, and `Terminated` is raised once it is done.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from flakehunt.errors import Terminated

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end; on SIGTERM, cancel it, let it unwind, then raise `Terminated`."""
    return asyncio.run(_stoppable(main))


async def _stoppable(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    previous = signal.getsignal(signal.SIGTERM)
    stopped: list[bool] = []

    def stop() -> None:
        stopped.append(True)
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or not Unix
        return await main
    try:
        result = await main
    except BaseException:
        if stopped:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if stopped:  # `main` swallowed the cancellation
        raise Terminated
    return result
