"""Running store work off the event loop: a time limit, and a cap on how many run at once.

Examples
--------
>>> import anyio
>>> anyio.run(in_thread, lambda: 6 * 7, 5.0, "a sum")
42
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable, TypeVar

import anyio

__all__ = ["in_thread", "Busy"]

T = TypeVar("T")


class Busy(Exception):
    """The server runs as many requests of this kind as it allows, and one waited too long (``429``)."""


async def in_thread(fn: Callable[[], T], timeout: float, what: str,
                    limiter: anyio.CapacityLimiter | None = None, queue_timeout: float = 60.0) -> T:
    """Run ``fn`` in a worker thread; ``TimeoutError`` naming ``what`` when it runs over ``timeout`` s.

    With a ``limiter``, ``fn`` first waits for one of its slots (at most ``queue_timeout`` s, then
    :class:`Busy`); the slot is held until ``fn`` really ends, even when the client was answered ``408``
    before (a thread cannot be stopped), so runaway work cannot pile up beyond the limiter's size.
    """
    borrower = object()
    if limiter is not None:
        try:
            with anyio.fail_after(queue_timeout):
                await limiter.acquire_on_behalf_of(borrower)
        except TimeoutError:
            raise Busy(f"too many requests like this one are running: {what} waited {queue_timeout:g} s for "
                       "its turn; try again later") from None
    loop = asyncio.get_running_loop()
    lock, state = threading.Lock(), {"started": False, "dropped": False}

    def job() -> T:
        with lock:
            if state["dropped"]:  # the request gave up before a thread was free: do nothing
                raise TimeoutError(what)
            state["started"] = True
        try:
            return fn()
        finally:
            if limiter is not None:
                loop.call_soon_threadsafe(limiter.release_on_behalf_of, borrower)

    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
    except TimeoutError:
        raise TimeoutError(f"{what} ran over the {timeout:g} s limit") from None
    finally:
        with lock:
            never_ran = not state["started"]
            state["dropped"] = never_ran
        if never_ran and limiter is not None:
            limiter.release_on_behalf_of(borrower)
