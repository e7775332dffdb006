"""WorkerPool: cases 16, 17, 18, 20 and 21 (b)."""

import concurrent.futures as cf
import contextlib
import functools
import os
import queue
import random
import sys
import threading
import time

import pytest

from kando_parallel.context import with_cancel
from kando_parallel.errors import (
    Cancelled,
    DeadlineExceeded,
    ErrPoolShutdown,
    PoolShutdownError,
)
from kando_parallel.pool import WorkerPool

from primitives_support import Runner, wait_until

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)


def noop():
    return None


@contextlib.contextmanager
def short_switch_interval():
    """Hand the GIL over often, so that two threads really interleave."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_is_an_executor_with_map_and_with():
    with WorkerPool(2) as pool:
        assert isinstance(pool, cf.Executor)
        assert list(pool.map(lambda x: x * x, range(20))) == [
            x * x for x in range(20)
        ]
        assert pool.submit(functools.partial(int, "7")).result(5) == 7
        assert pool.submit(dict, a=1).result(5) == {"a": 1}


def test_defaults():
    pool = WorkerPool(0)
    assert pool.max_workers == (os.cpu_count() or 1)
    assert pool.max_queue_size == 2 * pool.max_workers
    assert WorkerPool(-3, 5).max_queue_size == 5
    with pytest.raises(ValueError):
        WorkerPool(1, 0)
    pool.shutdown()


@pytest.mark.timeout(10)
def test_task_error_goes_to_its_future_and_the_pool_keeps_working():
    with WorkerPool(1) as pool:
        bad = pool.submit(operator_div, 1, 0)
        good = pool.submit(operator_div, 6, 3)
        with pytest.raises(ZeroDivisionError):
            bad.result(5)
        assert good.result(5) == 2


def busy_pool(max_queue_size):
    """A one-worker pool whose worker is held until the event is set."""
    pool = WorkerPool(1, max_queue_size)
    event = threading.Event()
    held = pool.submit(event.wait, 5)
    assert wait_until(lambda: pool.running == 1, 2)
    return pool, event, held


def operator_div(a, b):
    return a / b


@pytest.mark.timeout(10)
def test_case_16_submit_after_shutdown_raises_at_once():
    pool = WorkerPool(2, 4)
    pool.shutdown()
    start = time.monotonic()
    with pytest.raises(PoolShutdownError):
        pool.submit(noop)
    with pytest.raises(RuntimeError):
        pool.submit(noop, timeout=5)
    assert time.monotonic() - start < 0.5
    assert ErrPoolShutdown is PoolShutdownError


@pytest.mark.timeout(20)
def test_case_16_submit_racing_shutdown_loses_nothing():
    pool = WorkerPool(2, 4)
    lock = threading.Lock()
    counter = [0]
    accepted = [0] * 8
    refused = [0] * 8
    other = []

    def task():
        with lock:
            counter[0] += 1

    def submitter(k):
        for _ in range(1000):
            try:
                pool.submit(task)
                accepted[k] += 1
            except PoolShutdownError:
                refused[k] += 1
            except BaseException as exc:
                other.append(exc)

    threads = [threading.Thread(target=submitter, args=(k,), daemon=True)
               for k in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: sum(accepted) >= 500, 5)
    pool.shutdown(wait=True)
    ran_at_shutdown = counter[0]
    for t in threads:
        t.join(10)
        assert not t.is_alive()

    assert other == []
    assert sum(accepted) + sum(refused) == 8000
    assert ran_at_shutdown == counter[0] == sum(accepted)
    assert sum(refused) > 0


@pytest.mark.timeout(60)
def test_case_16_stress_submit_against_shutdown():
    rounds = 10_000
    rng = random.Random(16)
    turn = [-1]
    pools = [None]
    outcomes = queue.SimpleQueue()

    def submitter():
        for k in range(rounds):
            while turn[0] != k:
                pass
            pool = pools[0]
            for _ in range(rng.randint(0, 300)):
                pass
            ran = []
            try:
                future = pool.submit(ran.append, 1)
            except PoolShutdownError:
                outcomes.put(("refused", None, ran))
            except BaseException as exc:
                outcomes.put(("error", exc, ran))
            else:
                outcomes.put(("accepted", future, ran))

    counts = {"accepted": 0, "refused": 0}
    with short_switch_interval():
        thread = threading.Thread(target=submitter, daemon=True)
        thread.start()
        for k in range(rounds):
            pool = pools[0] = WorkerPool(1, 2)
            turn[0] = k
            for _ in range(rng.randint(0, 3000)):
                pass
            pool.shutdown(wait=True)
            kind, value, ran = outcomes.get(timeout=1.0)
            assert kind != "error", value
            counts[kind] += 1
            if kind == "accepted":
                assert value.done() and not value.cancelled()
                assert ran == [1]
            else:
                assert ran == []
        thread.join(5)
    assert counts["accepted"] and counts["refused"], counts


@pytest.mark.timeout(10)
def test_case_17_graceful_shutdown_drains_the_queue():
    pool = WorkerPool(2, 10)
    done = []
    called = []

    def task(k):
        time.sleep(0.05)
        done.append(k)
        return k

    start = time.monotonic()
    futures = [pool.submit(task, k) for k in range(6)]
    for f in futures:
        f.add_done_callback(called.append)
    pool.shutdown(wait=True)
    elapsed = time.monotonic() - start

    assert sorted(done) == list(range(6))
    assert all(f.done() and not f.cancelled() for f in futures)
    assert len(called) == 6
    assert elapsed >= 0.14


@pytest.mark.timeout(10)
def test_case_18_cancel_futures_cancels_queued_work_and_notifies():
    pool, event, f0 = busy_pool(10)
    bodies = []
    rest = [pool.submit(bodies.append, k) for k in range(1, 4)]

    pool.shutdown(wait=False, cancel_futures=True)
    event.set()
    seen = list(cf.as_completed([f0, *rest], timeout=2))

    assert len(seen) == 4
    assert all(f.cancelled() for f in rest)
    assert bodies == []
    assert f0.result(1) is True
    done, not_done = cf.wait([f0, *rest], timeout=2)
    assert len(done) == 4 and not not_done


@pytest.mark.timeout(10)
def test_case_18_shutdown_wakes_blocked_submitters():
    pool, event, _held = busy_pool(1)
    pool.submit(noop)
    blocked = [Runner(pool.submit, noop) for _ in range(3)]
    time.sleep(0.05)
    pool.shutdown(wait=False, cancel_futures=True)
    for b in blocked:
        b.join(1)
        assert isinstance(b.error, PoolShutdownError)
    event.set()
    pool.shutdown(wait=True)


@pytest.mark.timeout(10)
def test_case_20_bounded_queue_blocks_times_out_and_cancels():
    pool = WorkerPool(1, 2)
    event = threading.Event()
    ran = []
    depths = []
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            depths.append(pool.queue_depth)
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    pool.submit(event.wait, 5)
    assert wait_until(lambda: pool.running == 1, 2)
    pool.submit(ran.append, "T1")
    pool.submit(ran.append, "T2")
    assert pool.queue_depth == 2

    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        pool.submit(ran.append, "T3", timeout=0.2)
    assert 0.15 <= time.monotonic() - start < 1.0

    ctx = with_cancel()
    cancelled = Runner(pool.submit, ran.append, "T5", ctx=ctx)
    t4 = Runner(pool.submit, ran.append, "T4")
    time.sleep(0.05)
    assert t4.thread.is_alive() and cancelled.thread.is_alive()
    ctx.cancel()
    cancelled.join(1)
    assert isinstance(cancelled.error, Cancelled)

    event.set()
    t4.value(2).result(2)
    pool.shutdown(wait=True)
    sampling.set()
    sampler.join(2)
    assert sorted(ran) == ["T1", "T2", "T4"]
    assert max(depths) <= 2


@pytest.mark.timeout(60)
def test_case_21b_shutdown_with_idle_workers_returns_promptly():
    slow = 0
    for _ in range(10_000):
        pool = WorkerPool(1, 2)
        pool.submit(noop).result(1)
        start = time.monotonic()
        pool.shutdown(wait=True)
        if time.monotonic() - start > 1.0:
            slow += 1
        assert pool.running == 0
    assert slow == 0


@pytest.mark.timeout(10)
def test_shutdown_from_inside_a_task_does_not_deadlock():
    pool = WorkerPool(2)
    ran = []

    def stopper():
        pool.shutdown(wait=True)
        return "stopped"

    event = threading.Event()
    pool.submit(event.wait, 5)
    inner = pool.submit(stopper)
    assert inner.result(2) == "stopped"
    with pytest.raises(PoolShutdownError):
        pool.submit(ran.append, 1)
    event.set()
    pool.shutdown(wait=True)


@pytest.mark.timeout(10)
def test_shutdown_from_two_threads_at_once():
    pool = WorkerPool(2, 10)
    futures = [pool.submit(time.sleep, 0.02) for _ in range(6)]
    stoppers = [Runner(pool.shutdown, wait=True) for _ in range(2)]
    for s in stoppers:
        s.value(5)
    assert all(f.done() for f in futures)
    pool.shutdown()


@pytest.mark.timeout(10)
def test_done_context_refuses_even_with_room():
    with WorkerPool(1) as pool:
        ctx = with_cancel()
        ctx.cancel()
        ran = []
        with pytest.raises(Cancelled):
            pool.submit(ran.append, 1, ctx=ctx)
        assert ran == []


@pytest.mark.timeout(10)
def test_running_count_and_workers_grow_with_work():
    pool = WorkerPool(3, 10)
    event = threading.Event()
    futures = [pool.submit(event.wait, 5) for _ in range(3)]
    assert wait_until(lambda: pool.running == 3, 2)
    assert pool.worker_count == 3
    event.set()
    pool.shutdown(wait=True)
    assert pool.running == 0
    assert all(f.result(1) for f in futures)


def test_shutdown_wakes_a_submitter_waiting_with_a_context():
    pool, event, _held = busy_pool(1)
    pool.submit(noop)
    blocked = Runner(pool.submit, noop, ctx=with_cancel())
    time.sleep(0.05)
    assert blocked.thread.is_alive()
    pool.shutdown(wait=False)
    blocked.join(1)
    assert isinstance(blocked.error, PoolShutdownError)
    event.set()
    pool.shutdown(wait=True)
    assert pool.queue_depth == 0 and pool.running == 0


def test_negative_timeout_is_refused():
    with WorkerPool(1, 1) as pool:
        with pytest.raises(ValueError):
            pool.submit(noop, timeout=-1, ctx=with_cancel())
