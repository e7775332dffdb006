"""RateLimiter: cases 22 and 24, closing, contexts and asyncio."""

import asyncio
import queue
import random
import threading
import time

import pytest

from kando_parallel.context import with_cancel, with_timeout
from kando_parallel.errors import (
    Cancelled,
    DeadlineExceeded,
    LimiterShutdownError,
)
from kando_parallel.limiter import RateLimiter

from primitives_support import FakeClock, Runner, wait_until

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)

SECOND = 10**9


def test_default_burst_is_gos_capacity():
    assert RateLimiter(250).burst == 250
    assert RateLimiter(0.2).burst == 1
    assert RateLimiter(5, burst=2).tokens_per_second == 5


@pytest.mark.timeout(20)
def test_case_22a_five_waiters_are_admitted_at_0_0_5_10_15():
    clock = FakeClock()
    limiter = RateLimiter(0.2, burst=2, clock=clock)
    waiters = [Runner(limiter.wait, timeout=100) for _ in range(5)]

    def finished():
        return sum(1 for w in waiters if not w.thread.is_alive())

    assert wait_until(lambda: finished() == 2, 2)
    for admitted_at, count in ((5, 3), (10, 4), (15, 5)):
        clock.set(admitted_at * SECOND - 10_000_000)
        time.sleep(0.03)
        assert finished() == count - 1
        clock.set(admitted_at * SECOND)
        assert wait_until(lambda: finished() == count, 2)
    for w in waiters:
        w.value(1)


def test_case_24a_waits_within_the_allowed_time_succeed():
    clock = FakeClock()
    limiter = RateLimiter(0.2, burst=2, clock=clock)
    for _ in range(10):
        delay, _ticket = limiter.reserve(1, 100 * SECOND)
        assert 0 <= delay <= 5 * SECOND
        clock.advance(delay)
        clock.advance(SECOND)


@pytest.mark.timeout(20)
def test_case_24a_in_real_time_no_wait_exceeds_one_interval():
    limiter = RateLimiter(20, burst=2)
    waits = []
    for _ in range(10):
        start = time.monotonic()
        limiter.wait(timeout=100)
        waits.append(time.monotonic() - start)
        time.sleep(0.01)
    assert max(waits) <= 0.05 + 0.1


@pytest.mark.timeout(10)
def test_case_24b_request_above_burst_fails_at_once_and_takes_nothing():
    limiter = RateLimiter(1.0, burst=5, clock=FakeClock())
    assert limiter.try_acquire(2)
    for kwargs in ({}, {"timeout": 10}):
        start = time.monotonic()
        with pytest.raises(ValueError, match="burst"):
            limiter.wait(6, **kwargs)
        assert time.monotonic() - start < 0.5
    with pytest.raises(ValueError):
        asyncio.run(limiter.wait_async(6))
    with pytest.raises(ValueError):
        limiter.try_acquire(6)
    assert limiter.available == 3


def test_wait_longer_than_the_timeout_fails_at_once_and_keeps_tokens():
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=1, clock=clock)
    assert limiter.try_acquire()
    with pytest.raises(DeadlineExceeded):
        limiter.wait(timeout=0.5)
    clock.advance(SECOND)
    assert limiter.try_acquire()


@pytest.mark.timeout(10)
def test_cancelled_wait_raises_and_gives_its_tokens_back():
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=1, clock=clock)
    assert limiter.try_acquire()
    ctx = with_cancel()
    w = Runner(limiter.wait, ctx=ctx)
    time.sleep(0.02)
    ctx.cancel()
    w.join(1)
    assert isinstance(w.error, Cancelled)
    clock.advance(SECOND)
    assert limiter.try_acquire()


@pytest.mark.timeout(10)
def test_context_deadline_bounds_the_wait():
    limiter = RateLimiter(0.01, burst=1)
    assert limiter.try_acquire()
    with pytest.raises(DeadlineExceeded):
        limiter.wait(ctx=with_timeout(None, 0.05))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("with_ctx", [False, True])
def test_close_wakes_blocked_waiters(with_ctx):
    limiter = RateLimiter(0.01, burst=1)
    assert limiter.try_acquire()
    kwargs = {"ctx": with_cancel()} if with_ctx else {}
    waiters = [Runner(limiter.wait, **kwargs) for _ in range(3)]
    time.sleep(0.05)
    limiter.close()
    limiter.close()
    for w in waiters:
        w.join(1)
        assert isinstance(w.error, LimiterShutdownError)
    with pytest.raises(LimiterShutdownError):
        limiter.wait()
    assert not limiter.try_acquire()


@pytest.mark.timeout(60)
def test_close_racing_a_blocked_wait_never_hangs():
    jobs = queue.SimpleQueue()
    results = queue.SimpleQueue()
    rounds = 10_000

    def waiter():
        while True:
            limiter = jobs.get()
            if limiter is None:
                return
            try:
                limiter.wait(n=1)
                results.put("admitted")
            except LimiterShutdownError:
                results.put("closed")
            except BaseException as exc:
                results.put(exc)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    rng = random.Random(21)
    outcomes = {"closed": 0}
    for _ in range(rounds):
        limiter = RateLimiter(0.01, burst=1)
        assert limiter.try_acquire()
        jobs.put(limiter)
        for _ in range(rng.randint(0, 30)):
            pass
        limiter.close()
        outcome = results.get(timeout=1.0)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    jobs.put(None)
    thread.join(5)
    assert outcomes == {"closed": rounds}


@pytest.mark.timeout(10)
def test_async_wait_paces_and_close_wakes_async_waiters():
    limiter = RateLimiter(100, burst=1)

    async def main():
        start = time.monotonic()
        for _ in range(3):
            await limiter.wait_async()
        paced = time.monotonic() - start

        async with limiter:
            pass
        slow = RateLimiter(0.01, burst=1)
        assert slow.try_acquire()
        task = asyncio.create_task(slow.wait_async())
        await asyncio.sleep(0.02)
        threading.Thread(target=slow.close).start()
        with pytest.raises(LimiterShutdownError):
            await asyncio.wait_for(task, 2)

        ctx = with_cancel()
        slow2 = RateLimiter(0.01, burst=1)
        assert slow2.try_acquire()
        asyncio.get_running_loop().call_later(0.02, ctx.cancel)
        with pytest.raises(Cancelled):
            await slow2.wait_async(ctx=ctx)
        return paced

    assert asyncio.run(main()) >= 0.02 - 0.001


@pytest.mark.timeout(10)
def test_with_block_waits_for_one_token():
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=1, clock=clock)
    with limiter:
        assert limiter.available == 0
    w = Runner(limiter.__enter__)
    time.sleep(0.02)
    assert w.thread.is_alive()
    clock.advance(SECOND)
    w.value(1)


@pytest.mark.timeout(10)
def test_waiters_with_a_fake_clock_are_served_in_arrival_order():
    clock = FakeClock()
    limiter = RateLimiter(1.0, burst=1, clock=clock)
    assert limiter.try_acquire()
    order = []
    waiters = []
    for k in range(3):
        waiters.append(Runner(lambda k=k: (limiter.wait(), order.append(k))))
        time.sleep(0.02)
    for step in range(1, 4):
        clock.set(step * SECOND)
        assert wait_until(lambda: len(order) == step, 2)
    assert order == [0, 1, 2]
