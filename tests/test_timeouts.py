"""Timeouts at their edges: every blocking call takes an infinite or huge
timeout as "no limit" (the C time types behind threading would overflow
if such a wait were handed on whole), and refuses NaN."""

import threading

import pytest

from kando_parallel import (
    BackpressureController,
    ParallelConfig,
    ParallelExecutor,
    RateLimiter,
    WorkerPool,
    background,
    membero,
    parallel_run,
    var,
    with_cancel,
    with_timeout,
)

pytestmark = pytest.mark.timeout(60)

HUGE = [float("inf"), 1e10, 1e300]


def paused_backpressure_released_soon():
    controller = BackpressureController(10)
    controller.add_load(9)
    threading.Timer(0.2, controller.remove_load, (9,)).start()
    return controller


def limiter_out_of_tokens():
    limiter = RateLimiter(20, burst=1)
    assert limiter.try_acquire()
    return limiter


def executor_run(timeout):
    q = var()
    with ParallelExecutor(ParallelConfig(max_workers=2)) as executor:
        return sorted(executor.run(0, q, membero(q, [2, 1]),
                                   timeout=timeout))


CALLS = {
    "check_backpressure": lambda timeout: (
        paused_backpressure_released_soon().check_backpressure(
            timeout=timeout)
    ),
    "RateLimiter.wait": lambda timeout: (
        limiter_out_of_tokens().wait(timeout=timeout)
    ),
    "WorkerPool.submit": lambda timeout: (
        WorkerPool(1).submit(abs, -3, timeout=timeout).result(timeout=10)
    ),
    "context.wait": lambda timeout: (
        with_timeout(background(), 0.1).wait(timeout)
    ),
    "ParallelExecutor.run": executor_run,
    "parallel_run": lambda timeout: sorted(
        parallel_run(0, lambda q: membero(q, [2, 1]), timeout=timeout)
    ),
}

RESULTS = {
    "check_backpressure": None,
    "RateLimiter.wait": None,
    "WorkerPool.submit": 3,
    "context.wait": True,
    "ParallelExecutor.run": [1, 2],
    "parallel_run": [1, 2],
}


@pytest.mark.parametrize("timeout", HUGE, ids=repr)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_huge_timeout_means_no_limit(call, timeout):
    assert CALLS[call](timeout) == RESULTS[call]


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_nan_timeout_is_refused(call):
    with pytest.raises(ValueError, match="timeout"):
        CALLS[call](float("nan"))


@pytest.mark.parametrize("seconds", HUGE, ids=repr)
def test_deadlines_still_fire_after_a_huge_one(seconds):
    far = with_timeout(background(), seconds)
    near = with_timeout(background(), 0.1)
    fired = threading.Event()
    near.add_done_callback(lambda _ctx: fired.set())

    assert fired.wait(5)
    assert not far.done()
    far.cancel()


def test_a_nan_deadline_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        with_timeout(with_cancel(), float("nan"))


def test_waiting_on_the_background_context_with_a_timeout_returns():
    assert background().wait(0.05) is False
    with pytest.raises(ValueError):
        background().wait(float("nan"))
