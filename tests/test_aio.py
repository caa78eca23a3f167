"""aio.run: SIGTERM cancels the main task, which unwinds, and then Terminated is raised."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
import time

import pytest

from flakehunt import aio
from flakehunt.errors import Terminated
from flakehunt.stops import raise_terminated


@pytest.fixture
def cli_handler():
    previous = signal.signal(signal.SIGTERM, raise_terminated)  # what the CLI installs
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize(("sent", "stop"), [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_lets_the_main_task_unwind_then_raises_its_stop(cli_handler, sent, stop) -> None:
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
        threading.Timer(0.2, os.kill, (os.getpid(), sent)).start()  # while the loop waits
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

    with pytest.raises(stop):
        aio.run(main())
    assert steps == ["closed"]
    assert signal.getsignal(signal.SIGTERM) is raise_terminated  # the CLI's handler is back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


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
    assert signal.getsignal(signal.SIGTERM) is raise_terminated


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


def test_a_signal_as_the_work_ends_still_reaches_its_handler(cli_handler) -> None:
    """Between the last await and the end of `run`, a SIGTERM used to be dropped."""

    async def main() -> str:
        await asyncio.sleep(0)
        os.kill(os.getpid(), signal.SIGTERM)  # after the last await: the loop never turns again
        return "finished"

    with pytest.raises(Terminated):
        aio.run(main())


def test_the_handlers_come_back_without_a_moment_of_the_default_action(cli_handler, monkeypatch) -> None:
    """The default action of SIGTERM is to die: a signal in that moment killed the process."""
    installed: list[object] = []
    real = signal.signal

    def recording(signum, handler):
        if signum == signal.SIGTERM:
            installed.append(handler)
        return real(signum, handler)

    monkeypatch.setattr(signal, "signal", recording)

    async def main() -> None:
        await asyncio.sleep(0)

    aio.run(main())
    assert signal.SIG_DFL not in installed and installed[-1] is raise_terminated


def test_a_second_ctrl_c_while_the_work_unwinds_breaks_out_at_once() -> None:
    """As with asyncio.run: a cleanup that blocks is not waited for a second time."""
    steps: list[str] = []

    async def main() -> None:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            await asyncio.sleep(30)
        finally:
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            try:
                time.sleep(5)  # a cleanup stuck in blocking code
                steps.append("slept on")
            except KeyboardInterrupt:
                steps.append("broken out")
                raise

    with pytest.raises(KeyboardInterrupt):
        aio.run(main())
    assert steps == ["broken out"]


def test_tasks_left_after_a_stop_get_a_grace_not_forever(cli_handler, monkeypatch) -> None:
    """A browser driver that no longer answers must not keep the command from exiting."""
    monkeypatch.setattr(aio, "SHUTDOWN_GRACE_SECONDS", 0.2)

    async def deaf() -> None:  # ignores every cancellation
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    async def main() -> None:
        asyncio.get_running_loop().create_task(deaf())
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)

    with pytest.raises(Terminated):
        aio.run(main())  # asyncio.run would wait for `deaf` forever


def test_a_swallowed_cancellation_is_asked_again(cli_handler) -> None:
    """Python 3.11's wait_for can swallow a cancellation (gh-86296): the probe must still stop."""
    swallowed: list[int] = []

    async def main() -> None:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        for _ in range(2):
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                swallowed.append(1)  # as if wait_for had lost it

    with pytest.raises(Terminated):
        aio.run(main())
    assert len(swallowed) == 2  # asked again, not left to sleep on


def test_unretrieved_failures_of_a_stopped_run_are_not_printed(cli_handler, caplog) -> None:
    """Playwright's calls fail as the browser closes; asyncio printed each after the one line."""

    def lost_failure() -> None:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(RuntimeError("Target page, context or browser has been closed"))
        del future
        gc.collect()

    async def stopped() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(5)
        finally:
            lost_failure()

    with pytest.raises(Terminated):
        aio.run(stopped())
    assert "never retrieved" not in caplog.text

    async def finished() -> None:  # outside a stop, asyncio still says so: it may be a bug
        lost_failure()

    aio.run(finished())
    assert "never retrieved" in caplog.text
