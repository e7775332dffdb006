"""Rate limiting: a token bucket on the core's lock-free GCRA state.

:class:`RateLimiter` is the core's token bucket
(:mod:`kando_parallel._core.bucket`, or its pure twin) with blocking and
asyncio waiting added.  ``try_acquire`` is the core's own method, with no
Python layer in between.

A waiter does not poll.  ``wait`` reserves its tokens in the bucket at
once, which fixes the moment they may be used, and then sleeps until that
moment: waiters are served in the order they arrived, and a waiter that
wakes a little late does not push back the ones after it, so a greedy
consumer gets the configured rate even with a burst of 1.  The sleep stops
short of the moment by ``SPIN_NS`` and the rest is spent yielding the
processor, because an operating-system sleep overshoots by about 0.1 ms.
A wait that is cancelled or closed gives its reservation back when no
later reservation depends on it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._aio import wake
from ._backend import bucket
from ._checks import positive_rate, whole_number
from .context import WaitBudget, wait_slice
from .errors import DeadlineExceeded, LimiterShutdownError

if TYPE_CHECKING:
    from typing_extensions import Self

    from .context import Context

__all__ = ["RateLimiter"]

SPIN_NS = 150_000
_FAKE_CLOCK_POLL = 0.001
_NO_LIMIT_NS = 2**63 - 1


class RateLimiter(bucket.TokenBucket):
    """Admit at most ``burst + tokens_per_second * T`` tokens in any ``T``.

    Parameters
    ----------
    tokens_per_second : float
        The refill rate, > 0; tested from 0.01 to 10**7.
    burst : int, optional
        The bucket's capacity: how many tokens can be taken at once after
        an idle spell.  The default is Go's: a capacity of
        ``tokens_per_second`` (at least 1).  The bucket starts full.
    clock : callable, optional
        Returns the time in integer nanoseconds; for tests.  With an
        injected clock the waits poll it every millisecond of real time,
        since nothing says how it moves.

    Notes
    -----
    Go's limiter of the seed keeps a channel of ``tokensPerSecond`` tokens,
    full at the start, refilled by a ticker; in its first second it can
    therefore hand out about twice its rate.  That is the token-bucket
    bound, not a bug: over any window of length ``T`` this limiter admits
    at most ``burst + tokens_per_second * T`` tokens, so pass a smaller
    ``burst`` (down to 1) for a smoother start.  A request for more than
    ``burst`` tokens can never be met and raises ValueError at once.

    Examples
    --------
    >>> limiter = RateLimiter(1000, burst=2)
    >>> limiter.try_acquire(), limiter.try_acquire(), limiter.try_acquire()
    (True, True, False)
    >>> limiter.wait(timeout=1.0)
    >>> limiter.close()
    >>> limiter.try_acquire()
    False
    """

    def __init__(
        self,
        tokens_per_second: float,
        burst: int | None = None,
        *,
        clock: Callable[[], int] | None = None,
    ) -> None:
        tokens_per_second = positive_rate(tokens_per_second,
                                          "tokens_per_second")
        if burst is None:
            burst = max(1, int(tokens_per_second))
        burst = whole_number(burst, "burst", 1)
        super().__init__(tokens_per_second, burst, clock)
        self._fake_clock = clock is not None
        self._lock = threading.Lock()
        self._closed_event = threading.Event()
        self._wakers: set[threading.Event] = set()
        self._async_waiters: set[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
        ] = set()

    @property
    def tokens_per_second(self) -> float:
        """The refill rate."""
        return self.rate

    def close(self) -> None:
        """Admit nothing more; wake every waiter with LimiterShutdownError.

        Idempotent.
        """
        super().close()
        with self._lock:
            self._closed_event.set()
            wakers = list(self._wakers)
            waiters = list(self._async_waiters)
        for stop in wakers:
            stop.set()
        for loop, future in waiters:
            wake(loop, future)

    def _reserve(self, n: int, budget: WaitBudget) -> tuple[int, int]:
        if self._closed_event.is_set():
            raise LimiterShutdownError("the rate limiter is closed")
        budget.check()

        left = budget.remaining()
        if left is None or left * 1e9 >= _NO_LIMIT_NS:
            max_wait = _NO_LIMIT_NS
        else:
            max_wait = int(left * 1e9)
        delay, ticket = self.reserve(n, max_wait)
        if delay == bucket.CLOSED:
            raise LimiterShutdownError("the rate limiter is closed")
        if delay == bucket.TOO_LATE:
            raise DeadlineExceeded(
                f"{n} token(s) come later than the "
                f"{budget.timeout if budget.ctx is None else 'context'} "
                "allows"
            )
        return delay, ticket

    def _give_up(self, n: int, ticket: int, budget: WaitBudget) -> None:
        self.cancel(n, ticket)
        if self._closed_event.is_set():
            raise LimiterShutdownError("the rate limiter closed")
        budget.check()

    def wait(
        self,
        n: int = 1,
        ctx: Context | None = None,
        timeout: float | None = None,
    ) -> None:
        """Block until ``n`` tokens are taken.

        Raises ValueError at once when ``n`` exceeds the burst,
        :class:`~kando_parallel.errors.LimiterShutdownError` when the
        limiter is or gets closed, and
        :class:`~kando_parallel.errors.Cancelled` or
        :class:`~kando_parallel.errors.DeadlineExceeded` when ``ctx`` stops
        or when the tokens would come later than ``timeout`` seconds (then
        it says so at once rather than sleeping first).
        """
        budget = WaitBudget(ctx, timeout, "RateLimiter.wait")
        delay, ticket = self._reserve(n, budget)
        if delay == 0:
            return

        target = self.now() + delay
        stop = self._closed_event
        if ctx is not None:
            stop = threading.Event()
            with self._lock:
                self._wakers.add(stop)
                if self._closed_event.is_set():
                    stop.set()
        try:
            with budget:
                budget.watch(stop.set)
                if self._sleep_until(target, stop):
                    return
        finally:
            if ctx is not None:
                with self._lock:
                    self._wakers.discard(stop)
        self._give_up(n, ticket, budget)

    def _sleep_until(self, target: int, stop: threading.Event) -> bool:
        while True:
            left = target - self.now()
            if left <= 0:
                return True
            if stop.is_set():
                return False
            if self._fake_clock:
                stop.wait(min(left / 1e9, _FAKE_CLOCK_POLL))
            elif left > SPIN_NS:
                stop.wait(wait_slice((left - SPIN_NS) / 1e9))
            else:
                time.sleep(0)

    async def wait_async(
        self,
        n: int = 1,
        ctx: Context | None = None,
        timeout: float | None = None,
    ) -> None:
        """The asyncio form of :meth:`wait`; never blocks the loop."""
        budget = WaitBudget(ctx, timeout, "RateLimiter.wait_async")
        delay, ticket = self._reserve(n, budget)
        if delay == 0:
            return

        target = self.now() + delay
        loop = asyncio.get_running_loop()
        interrupted: asyncio.Future[None] = loop.create_future()
        waiter = (loop, interrupted)
        with self._lock:
            self._async_waiters.add(waiter)
            if self._closed_event.is_set():
                interrupted.set_result(None)
        try:
            with budget:
                budget.watch(
                    lambda: wake(loop, interrupted)
                )
                while not interrupted.done():
                    left = target - self.now()
                    if left <= 0:
                        return
                    step = left / 1e9
                    if self._fake_clock:
                        step = min(step, _FAKE_CLOCK_POLL)
                    await asyncio.wait([interrupted], timeout=step)
        except BaseException:
            self.cancel(n, ticket)
            raise
        finally:
            with self._lock:
                self._async_waiters.discard(waiter)
        self._give_up(n, ticket, budget)

    def __enter__(self) -> Self:
        self.wait()
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.wait_async()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def __repr__(self) -> str:
        return (
            f"<RateLimiter {self.rate:g}/s burst={self.burst} "
            f"closed={self.closed}>"
        )
