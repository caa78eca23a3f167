"""aio.run: SIGTERM cancels the main task, which unwinds, and then Terminated is raised."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from flakehunt import aio
from flakehunt.errors import Terminated


def _raise_terminated(signum, frame) -> None:  # what the CLI installs
    raise Terminated


@pytest.fixture
def cli_handler():
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_lets_the_main_task_unwind_then_raises_terminated(cli_handler) -> None:
    """
    As a probe's: the main task's cleanup (closing the browser) needs another task (Playwright's
    connection) to answer. Raised inside the loop, Terminated had asyncio cancel both at once, and
    the cleanup waited for an answer that never came.
    """
    steps: list[str] = []

    async def main() -> None:
        requests: asyncio.Queue[asyncio.Future] = asyncio.Queue()

        async def connection() -> None:
            while True:
                (await requests.get()).set_result("closed")

        reader = asyncio.create_task(connection())
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()  # while the loop waits
        try:
            await asyncio.sleep(30)
        finally:
            answer = asyncio.get_running_loop().create_future()
            await requests.put(answer)
            try:
                steps.append(await asyncio.wait_for(answer, timeout=5))
            except TimeoutError:
                steps.append("the connection was gone")
            reader.cancel()

    with pytest.raises(Terminated):
        aio.run(main())
    assert steps == ["closed"]
    assert signal.getsignal(signal.SIGTERM) is _raise_terminated  # the CLI's handler is back


def test_a_main_that_swallows_the_cancellation_still_ends_terminated(cli_handler) -> None:
    async def main() -> str:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "carried on"
        return "slept"  # pragma: no cover

    with pytest.raises(Terminated):
        aio.run(main())


def test_without_a_signal_the_result_comes_back(cli_handler) -> None:
    async def main() -> int:
        await asyncio.sleep(0)
        return 7

    assert aio.run(main()) == 7
    assert signal.getsignal(signal.SIGTERM) is _raise_terminated


def test_a_handler_that_returns_lets_the_work_go_on(cli_handler) -> None:
    """`watch`'s first signal during a round: counted, and the round finishes."""
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))

    async def main() -> str:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        await asyncio.sleep(0.5)
        return "round recorded"

    try:
        assert aio.run(main()) == "round recorded"
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM]
