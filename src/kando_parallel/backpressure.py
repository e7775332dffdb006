"""Backpressure: pause producers while too much work is in flight.

:class:`BackpressureController` is the core's lock-free load counter
(:mod:`kando_parallel._core.counter`, or its pure twin) with the waiting
added.  Adding and removing load never takes a lock; only a pause or
resume transition, which the counter reports, takes the waiters' lock to
wake them.

No waiter misses a resume.  A waiter reads the resume generation and the
paused flag under the lock that the resuming thread takes to bump the
generation and notify, after its compare-and-swap has cleared the flag:
either the waiter sees the flag cleared, or it is already waiting when the
notification comes.  A waiter returns once the generation has moved, so a
resume followed at once by a new pause still releases everyone who was
waiting for it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from ._aio import wake
from ._backend import counter
from ._checks import whole_number
from .context import WaitBudget

if TYPE_CHECKING:
    from typing_extensions import Self

    from .context import Context

__all__ = ["BackpressureController", "water_marks"]


def water_marks(max_queue_size: int) -> tuple[int, int]:
    """The default marks for a queue of ``max_queue_size``: 80 % and 20 %.

    They keep ``0 <= low < high`` and ``high >= 1`` for tiny sizes, where
    Go's ``int(0.8 * max)`` gives a high mark of 0 for a size of 1.

    Examples
    --------
    >>> [water_marks(n) for n in (1, 2, 3, 5, 100)]
    [(1, 0), (1, 0), (2, 0), (4, 1), (80, 20)]
    """
    if max_queue_size < 1:
        raise ValueError(
            f"max_queue_size must be >= 1, got {max_queue_size!r}"
        )
    high = max(1, max_queue_size * 4 // 5)
    low = min(max_queue_size // 5, high - 1)
    return high, low


class BackpressureController(counter.LoadCounter):
    """A load counter that pauses producers at the high water mark.

    Parameters
    ----------
    max_queue_size : int
        The capacity the marks derive from: pause at 80 % of it, resume at
        20 % (see :func:`water_marks`).  Both marks are settable later.

    Notes
    -----
    ``add_load(n=1)`` and ``remove_load(n=1)`` (clamped at zero) change the
    load and return the transitions they caused (``counter.PAUSED``,
    ``counter.RESUMED``); ``paused`` is true from the moment the load
    reaches the high mark until it falls to the low mark.  Setting
    ``high_water_mark``, ``low_water_mark`` or both with
    ``set_water_marks`` re-evaluates the state at once.

    ``with controller:`` waits while paused, then holds one unit of load
    until the block exits, by error or not; ``async with`` does the same
    without blocking the event loop.

    Examples
    --------
    >>> bp = BackpressureController(10)
    >>> bp.high_water_mark, bp.low_water_mark
    (8, 2)
    >>> _ = bp.add_load(8)
    >>> bp.paused
    True
    >>> _ = bp.remove_load(6)
    >>> bp.paused, bp.current_load
    (False, 2)
    >>> bp.check_backpressure(timeout=0.1)
    >>> with bp:
    ...     bp.current_load
    3
    """

    def __init__(self, max_queue_size: int) -> None:
        max_queue_size = whole_number(max_queue_size, "max_queue_size", 1)
        high, low = water_marks(max_queue_size)
        super().__init__(high, low)
        self.max_queue_size = max_queue_size
        self._cond = threading.Condition(threading.Lock())
        self._generation = 0
        self._waiting = 0
        self._async_waiters: set[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
        ] = set()

    def _transition(self, flags: int) -> None:
        if not flags & counter.RESUMED:
            return
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
            waiters = list(self._async_waiters)
            self._async_waiters.clear()
        for loop, future in waiters:
            wake(loop, future)

    @property
    def waiters(self) -> int:
        """How many threads and tasks wait in ``check_backpressure``."""
        with self._cond:
            return self._waiting + len(self._async_waiters)

    def check_backpressure(
        self, ctx: Context | None = None, timeout: float | None = None
    ) -> None:
        """Block while paused; return once the load fell to the low mark.

        Returns at once when not paused.  Raises
        :class:`~kando_parallel.errors.Cancelled` or
        :class:`~kando_parallel.errors.DeadlineExceeded` when ``ctx`` stops
        or ``timeout`` seconds pass first.
        """
        if not self.paused:
            return

        with WaitBudget(ctx, timeout, "check_backpressure") as budget:
            budget.watch(self._wake_all)
            with self._cond:
                generation = self._generation
                self._waiting += 1
                try:
                    while self.paused and self._generation == generation:
                        budget.check()
                        self._cond.wait(budget.wait_time())
                finally:
                    self._waiting -= 1

    def _wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()

    async def check_backpressure_async(
        self, ctx: Context | None = None, timeout: float | None = None
    ) -> None:
        """The asyncio form of :meth:`check_backpressure`."""
        if not self.paused:
            return

        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = (loop, future)
        with WaitBudget(ctx, timeout, "check_backpressure") as budget:
            budget.watch(
                lambda: wake(loop, future)
            )
            with self._cond:
                if not self.paused:
                    return
                self._async_waiters.add(waiter)
            try:
                while not future.done():
                    budget.check()
                    await asyncio.wait([future], timeout=budget.wait_time())
                    if future.done() and self.paused:
                        budget.check()
            finally:
                with self._cond:
                    self._async_waiters.discard(waiter)
                if not future.done():
                    future.cancel()

    def __enter__(self) -> Self:
        self.check_backpressure()
        self.add_load(1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove_load(1)

    async def __aenter__(self) -> Self:
        await self.check_backpressure_async()
        self.add_load(1)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.remove_load(1)

    def __repr__(self) -> str:
        return (
            f"<BackpressureController load={self.current_load} "
            f"paused={self.paused} high={self.high_water_mark} "
            f"low={self.low_water_mark}>"
        )
