"""BackpressureController: cases 21 (a, c), 29 and 30."""

import asyncio
import threading

import pytest

from kando_parallel.backpressure import BackpressureController, water_marks
from kando_parallel.context import with_cancel
from kando_parallel.errors import Cancelled, DeadlineExceeded

from primitives_support import Runner, wait_until

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)


def paused_controller(size=100):
    bp = BackpressureController(size)
    bp.add_load(bp.high_water_mark)
    assert bp.paused
    return bp


def test_default_marks_are_80_and_20_percent():
    bp = BackpressureController(100)
    assert (bp.high_water_mark, bp.low_water_mark) == (80, 20)
    assert bp.max_queue_size == 100


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 10, 1000])
def test_case_29_tiny_sizes_keep_sane_marks(size):
    high, low = water_marks(size)
    assert 0 <= low < high and high >= 1
    bp = BackpressureController(size)
    assert not bp.paused
    bp.add_load(high)
    assert bp.paused
    bp.remove_load(high)
    assert not bp.paused and bp.current_load == 0


@pytest.mark.parametrize("size", [0, -5])
def test_size_below_one_is_refused(size):
    with pytest.raises(ValueError):
        BackpressureController(size)


def test_case_29_table_through_the_controller():
    bp = BackpressureController(100)
    steps = [(bp.add_load, 79, 79, False), (bp.add_load, 1, 80, True),
             (bp.remove_load, 0, 80, True), (bp.remove_load, 30, 50, True),
             (bp.remove_load, 29, 21, True), (bp.remove_load, 1, 20, False),
             (bp.add_load, 59, 79, False), (bp.remove_load, 79, 0, False),
             (bp.add_load, 85, 85, True), (bp.remove_load, 200, 0, False)]
    for op, n, load, paused in steps:
        op(n)
        assert (bp.current_load, bp.paused) == (load, paused)


def test_not_paused_returns_at_once():
    bp = BackpressureController(10)
    bp.check_backpressure(timeout=0)
    bp.add_load(5)
    bp.check_backpressure(timeout=0)


@pytest.mark.timeout(30)
def test_case_21a_resume_racing_a_waiter_never_loses_the_wakeup():
    bp = BackpressureController(100)
    rounds = 10_000
    start = threading.Barrier(2)
    end = threading.Barrier(2)
    failures = []

    def waiter():
        for k in range(rounds):
            start.wait(5)
            try:
                bp.check_backpressure(timeout=1.0)
            except DeadlineExceeded:
                failures.append(k)
            end.wait(5)

    def resumer():
        for _ in range(rounds):
            bp.add_load(80 - bp.current_load)
            start.wait(5)
            bp.remove_load(60)
            end.wait(5)

    threads = [threading.Thread(target=f, daemon=True)
               for f in (waiter, resumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
        assert not t.is_alive()
    assert failures == []
    assert bp.current_load == 20 and not bp.paused


@pytest.mark.timeout(10)
def test_case_21c_waiter_after_resume_and_repause_stays_blocked():
    bp = paused_controller()
    bp.remove_load(60)
    bp.add_load(60)
    assert bp.paused

    with pytest.raises(DeadlineExceeded):
        bp.check_backpressure(timeout=0.2)
    w2 = Runner(bp.check_backpressure, timeout=5)
    assert wait_until(lambda: bp.waiters == 1, 2)
    assert w2.thread.is_alive()
    bp.remove_load(60)
    w2.value(1)


@pytest.mark.timeout(10)
def test_waiter_released_by_a_resume_even_if_paused_again_at_once():
    bp = paused_controller()
    w = Runner(bp.check_backpressure, timeout=5)
    assert wait_until(lambda: bp.waiters == 1, 2)
    bp.remove_load(60)
    bp.add_load(60)
    w.value(1)
    assert bp.paused


@pytest.mark.timeout(10)
@pytest.mark.parametrize("error_path", [False, True])
def test_case_30_every_waiter_is_released(error_path):
    bp = paused_controller()
    waiters = [Runner(bp.check_backpressure, timeout=5) for _ in range(5)]
    assert wait_until(lambda: bp.waiters == 5, 2)

    def consumer():
        try:
            if error_path:
                raise OSError("the consumer failed part-way")
        finally:
            bp.remove_load(bp.current_load)

    if error_path:
        with pytest.raises(OSError):
            consumer()
    else:
        consumer()
    for w in waiters:
        w.value(1)
    assert bp.waiters == 0


@pytest.mark.timeout(10)
def test_case_30_blocked_waiter_honours_its_timeout():
    bp = paused_controller()
    w = Runner(bp.check_backpressure, timeout=0.1)
    w.join(2)
    assert isinstance(w.error, DeadlineExceeded)
    assert bp.paused and bp.waiters == 0


@pytest.mark.timeout(10)
def test_case_30_blocked_waiter_honours_its_context():
    bp = paused_controller()
    ctx = with_cancel()
    w = Runner(bp.check_backpressure, ctx=ctx)
    assert wait_until(lambda: bp.waiters == 1, 2)
    ctx.cancel()
    w.join(1)
    assert isinstance(w.error, Cancelled)
    assert bp.paused


def test_done_context_raises_even_before_waiting():
    bp = paused_controller()
    ctx = with_cancel()
    ctx.cancel()
    with pytest.raises(Cancelled):
        bp.check_backpressure(ctx=ctx)


@pytest.mark.timeout(10)
def test_context_manager_holds_one_unit_and_releases_it_on_error():
    bp = BackpressureController(10)
    with bp:
        assert bp.current_load == 1
    assert bp.current_load == 0
    with pytest.raises(KeyError):
        with bp:
            raise KeyError("boom")
    assert bp.current_load == 0


@pytest.mark.timeout(10)
def test_context_manager_waits_while_paused():
    bp = paused_controller(10)

    def enter():
        with bp:
            return bp.current_load

    w = Runner(enter)
    assert wait_until(lambda: bp.waiters == 1, 2)
    bp.remove_load(7)
    assert w.value(1) == 2


@pytest.mark.timeout(10)
def test_async_waiters_are_released_from_another_thread():
    bp = paused_controller()

    async def main():
        tasks = [asyncio.create_task(bp.check_backpressure_async(timeout=5))
                 for _ in range(5)]
        while bp.waiters < 5:
            await asyncio.sleep(0.001)
        threading.Thread(target=bp.remove_load, args=(80,)).start()
        await asyncio.wait_for(asyncio.gather(*tasks), 2)

        async with bp:
            held = bp.current_load
        return held, bp.current_load

    assert asyncio.run(main()) == (1, 0)


@pytest.mark.timeout(10)
def test_async_waiter_honours_timeout_and_context():
    bp = paused_controller()

    async def main():
        with pytest.raises(DeadlineExceeded):
            await bp.check_backpressure_async(timeout=0.05)
        ctx = with_cancel()
        asyncio.get_running_loop().call_later(0.05, ctx.cancel)
        with pytest.raises(Cancelled):
            await bp.check_backpressure_async(ctx=ctx)
        return bp.waiters

    assert asyncio.run(main()) == 0
