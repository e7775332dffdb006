"""The token bucket of the core, compiled and pure: cases 22 and 24."""

import pickle
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from primitives_support import (
    FakeClock,
    core_modules,
    impl_params,
    run_threads,
)

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)

SECOND = 10**9


@impl_params("bucket")
def test_case_22a_admission_schedule(impl):
    clock = FakeClock()
    b = impl.TokenBucket(0.2, 2, clock=clock)
    delays = [b.reserve()[0] for _ in range(5)]
    assert delays == [0, 0, 5 * SECOND, 10 * SECOND, 15 * SECOND]


@impl_params("bucket")
def test_case_22b_idle_bucket_caps_at_burst_and_bounds_a_minute(impl):
    clock = FakeClock()
    b = impl.TokenBucket(15 / 60, 15, clock=clock)
    clock.set(600 * SECOND)
    assert b.available == 15

    admitted = []
    for step in range(0, 60_000 + 1, 10):
        clock.set(600 * SECOND + step * 10**6)
        while b.try_acquire():
            admitted.append(step)
    assert sum(1 for ms in admitted if ms < 60_000) == 29
    assert len(admitted) == 30
    assert admitted[:15] == [0] * 15
    assert admitted[15:] == [4000 * k for k in range(1, 16)]


@impl_params("bucket")
def test_refused_take_reports_the_wait(impl):
    clock = FakeClock()
    b = impl.TokenBucket(1000, 1, clock=clock)
    assert b.try_acquire_ns() == 0
    wait = b.try_acquire_ns()
    assert wait == 10**6
    clock.advance(wait - 1)
    assert not b.try_acquire()
    clock.advance(1)
    assert b.try_acquire()


@impl_params("bucket")
def test_case_24b_request_above_burst_fails_at_once(impl):
    clock = FakeClock()
    b = impl.TokenBucket(1.0, 5, clock=clock)
    assert b.try_acquire(2)
    for call in (b.try_acquire, b.try_acquire_ns, b.reserve):
        with pytest.raises(ValueError, match="burst"):
            call(6)
    with pytest.raises(ValueError):
        b.try_acquire(0)
    with pytest.raises(TypeError):
        b.try_acquire(1.0)
    assert b.available == 3


@impl_params("bucket")
@pytest.mark.parametrize("rate", [0.01, 0.5, 3.0, 1000.0, 333_333.0, 1e7])
def test_rates_across_the_range(impl, rate):
    clock = FakeClock()
    b = impl.TokenBucket(rate, 3, clock=clock)
    assert [b.try_acquire() for _ in range(4)] == [True] * 3 + [False]
    wait = b.try_acquire_ns()
    assert abs(wait - SECOND / rate) <= 1 + SECOND / rate * 1e-3
    clock.advance(wait)
    assert b.try_acquire()
    assert not b.try_acquire()


@impl_params("bucket")
@pytest.mark.parametrize("rate, burst", [(0.0, 1), (-1.0, 1),
                                         (float("nan"), 1),
                                         (float("inf"), 1), (1.0, 0),
                                         (1e-9, 10**9)])
def test_bad_parameters_are_refused(impl, rate, burst):
    with pytest.raises(ValueError):
        impl.TokenBucket(rate, burst)


@impl_params("bucket")
def test_reservation_cancel_gives_back_only_the_last(impl):
    clock = FakeClock()
    b = impl.TokenBucket(1.0, 1, clock=clock)
    assert b.try_acquire()
    d1, t1 = b.reserve()
    d2, t2 = b.reserve()
    assert (d1, d2) == (SECOND, 2 * SECOND)
    assert not b.cancel(1, t1)
    assert b.cancel(1, t2)
    assert b.reserve()[0] == 2 * SECOND


@impl_params("bucket")
def test_reserve_refuses_past_max_wait_without_reserving(impl):
    clock = FakeClock()
    b = impl.TokenBucket(1.0, 1, clock=clock)
    assert b.try_acquire()
    assert b.reserve(1, SECOND - 1) == (impl.TOO_LATE, 0)
    assert b.reserve(1, SECOND)[0] == SECOND


@impl_params("bucket")
def test_closed_bucket_admits_nothing(impl):
    b = impl.TokenBucket(1e6, 10)
    assert not b.closed
    b.close()
    assert b.closed
    assert not b.try_acquire()
    assert b.try_acquire_ns() == impl.CLOSED
    assert b.reserve()[0] == impl.CLOSED
    assert b.available == 0


@impl_params("bucket")
def test_default_clock_is_the_core_clock(impl):
    b = impl.TokenBucket(1.0, 1)
    before = impl.monotonic_ns()
    now = b.now()
    assert before <= now <= impl.monotonic_ns()


requests = st.lists(
    st.tuples(st.integers(0, 3 * SECOND // 100), st.integers(1, 4)),
    min_size=1, max_size=120,
)


@impl_params("bucket")
@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 2000.0), burst=st.integers(4, 8),
       steps=requests)
def test_no_window_admits_more_than_burst_plus_rate_times_length(
    impl, rate, burst, steps
):
    clock = FakeClock()
    b = impl.TokenBucket(rate, burst, clock=clock)
    admitted = []
    now = 0
    for gap, n in steps:
        now += gap
        clock.set(now)
        if b.try_acquire(n):
            admitted.append((now, n))

    for i, (start, _) in enumerate(admitted):
        total = 0
        for end, n in admitted[i:]:
            total += n
            assert total <= burst + rate * (end - start) / SECOND + 1e-9


def test_compiled_and_pure_agree_on_random_sequences():
    modules = core_modules("bucket")
    if len(modules) < 2:
        pytest.skip("the compiled core is not built in this run")
    rng = random.Random(22)
    for _ in range(200):
        rate = rng.choice([0.01, 0.2, 1.0, 7.0, 1000.0, 3e6, 1e7])
        burst = rng.randint(1, 6)
        clocks = [FakeClock(rng.randint(0, 10**12)) for _ in modules]
        buckets = [m.TokenBucket(rate, burst, clock=c)
                   for m, c in zip(modules, clocks)]
        tickets = [[] for _ in modules]
        for _ in range(60):
            op = rng.choice(["take", "ns", "reserve", "cancel", "tick"])
            n = rng.randint(1, burst)
            gap = rng.randint(0, int(3 * SECOND / rate))
            max_wait = rng.randint(0, int(5 * SECOND / rate))
            results = []
            for b, c, mine in zip(buckets, clocks, tickets):
                if op == "tick":
                    c.advance(gap)
                    got = b.available
                elif op == "take":
                    got = b.try_acquire(n)
                elif op == "ns":
                    got = b.try_acquire_ns(n)
                elif op == "reserve":
                    got = b.reserve(n, max_wait)
                    mine.append((n, got[1]))
                else:
                    got = b.cancel(*mine[-1]) if mine else None
                results.append(got)
            assert results[0] == results[1], op


@impl_params("bucket")
@pytest.mark.timeout(60)
def test_threads_reserving_get_distinct_slots(impl):
    b = impl.TokenBucket(1000.0, 5, clock=lambda: 0)
    delays = []
    lock = threading.Lock()

    def hammer():
        mine = [b.reserve()[0] for _ in range(5000)]
        with lock:
            delays.extend(mine)

    run_threads(hammer, 4, 50)
    delays.sort()
    assert delays[:5] == [0] * 5
    assert delays[5:] == [10**6 * k for k in range(1, len(delays) - 4)]


@impl_params("bucket")
@pytest.mark.timeout(60)
def test_threads_taking_at_once_stay_within_the_bound(impl):
    rate, burst = 200_000.0, 100
    b = impl.TokenBucket(rate, burst)
    counts = []
    lock = threading.Lock()
    start = impl.monotonic_ns()

    def hammer():
        got = sum(1 for _ in range(40_000) if b.try_acquire())
        with lock:
            counts.append(got)

    run_threads(hammer, 4, 50)
    elapsed = (impl.monotonic_ns() - start) / SECOND
    assert burst <= sum(counts) <= burst + rate * elapsed


@impl_params("bucket")
def test_buckets_are_not_picklable_in_either_implementation(impl):
    with pytest.raises(TypeError):
        pickle.dumps(impl.TokenBucket(2.0, 1))
