"""StreamMerger: cases 25, 26 and 28, plus bounds and source kinds."""

import asyncio
import collections
import itertools
import queue
import threading
import time

import pytest

from kando_parallel.errors import MergerClosedError
from kando_parallel.merger import END, StreamMerger

from primitives_support import Runner, wait_until

# Every test here runs under a hard timeout, so that a hang fails.
pytestmark = pytest.mark.timeout(30)


def counting(i):
    for k in itertools.count():
        yield (i, k)


def merged_all_at_once(n):
    m = StreamMerger()
    for i in range(n):
        m.add_stream(counting(i))
    return m


def merged_one_at_a_time_while_reading(n):
    m = StreamMerger()
    m.add_stream(counting(0))
    out = m.output()
    first = next(out)
    for i in range(1, n):
        m.add_stream(counting(i))
    return m, first, out


def merged_by_nesting(n):
    m = StreamMerger()
    m.add_stream(counting(0))
    for i in range(1, n):
        outer = StreamMerger()
        outer.add_stream(m)
        outer.add_stream(counting(i))
        m = outer
    return m


def check_fair(items, n):
    shares = collections.Counter(i for i, _ in items)
    assert set(shares) == set(range(n))
    assert min(shares.values()) >= 50, shares
    for start in range(len(items) - 49):
        window = {i for i, _ in items[start:start + 50]}
        assert window == set(range(n)), (start, shares)
    for i in range(n):
        ks = [k for j, k in items if j == i]
        assert ks == sorted(ks) and len(set(ks)) == len(ks)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("form", ["all", "one_at_a_time", "nested"])
def test_case_25_fair_merge_whatever_the_form(form):
    if form == "one_at_a_time":
        m, first, out = merged_one_at_a_time_while_reading(5)
        assert wait_until(lambda: m.buffered >= 5 * m.max_buffered, 5)
        items = [first] + [next(out) for _ in range(499)]
        items = items[1:]
        check_fair(items[:450], 5)
    else:
        m = merged_all_at_once(5) if form == "all" else merged_by_nesting(5)
        out = m.output()
        items = [next(out) for _ in range(500)]
        check_fair(items, 5)
    m.close()


@pytest.mark.timeout(20)
def test_case_25_ready_sources_take_exact_turns():
    m = merged_all_at_once(5)
    out = m.output()
    assert wait_until(lambda: m.buffered == 5 * m.max_buffered, 5)
    items = [next(out) for _ in range(5 * m.max_buffered)]
    shares = collections.Counter(i for i, _ in items)
    assert sorted(shares.values()) == [m.max_buffered] * 5
    for start in range(0, len(items), 5):
        assert {i for i, _ in items[start:start + 5]} == set(range(5))
    m.close()


def silent_queue():
    return queue.Queue()


def silent_generator(stop):
    stop.wait()
    yield "never"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("silent", ["queue", "generator"])
def test_case_26_a_silent_source_blocks_nobody(silent):
    stop = threading.Event()
    a = silent_queue() if silent == "queue" else silent_generator(stop)
    m = StreamMerger()
    m.add_stream(a)
    m.add_stream(iter([1, 2, 3]))
    out = m.output()
    got = [Runner(next, out).value(1) for _ in range(3)]
    assert got == [1, 2, 3]

    fourth = Runner(next, out)
    time.sleep(0.3)
    assert fourth.thread.is_alive()
    start = time.monotonic()
    m.close()
    assert time.monotonic() - start < 1.5
    fourth.join(1)
    assert isinstance(fourth.error, StopIteration)
    stop.set()


@pytest.mark.timeout(20)
def test_case_28_close_reaches_every_source():
    cleaned = []
    lock = threading.Lock()

    def source(name):
        try:
            for k in itertools.count():
                yield (name, k)
        finally:
            with lock:
                cleaned.append(name)

    m = StreamMerger(max_buffered=2)
    for name in "abc":
        m.add_stream(source(name))
    out = m.output()
    assert len([next(out) for _ in range(4)]) == 4
    threads = [src.thread for src in m._sources]
    m.close()
    assert wait_until(lambda: len(cleaned) == 3, 1)
    assert sorted(cleaned) == ["a", "b", "c"]
    assert not any(t.is_alive() for t in threads)
    with pytest.raises(StopIteration):
        next(out)


@pytest.mark.timeout(20)
def test_case_28_breaking_out_of_a_with_block_closes_the_sources():
    cleaned = []

    def source(name):
        try:
            yield from itertools.repeat(name)
        finally:
            cleaned.append(name)

    with StreamMerger() as m:
        for name in "xyz":
            m.add_stream(source(name))
        for count, _ in enumerate(m, 1):
            if count == 4:
                break
    assert wait_until(lambda: len(cleaned) == 3, 1)


@pytest.mark.timeout(20)
def test_nothing_lost_nothing_duplicated_order_kept():
    sizes = [0, 1, 7, 50, 333]
    with StreamMerger(max_buffered=3) as m:
        for i, size in enumerate(sizes):
            m.add_stream([(i, k) for k in range(size)])
        items = list(m.output())
    assert sorted(items) == sorted((i, k) for i, s in enumerate(sizes)
                                   for k in range(s))
    for i, size in enumerate(sizes):
        assert [k for j, k in items if j == i] == list(range(size))


@pytest.mark.timeout(20)
def test_read_ahead_is_bounded():
    produced = []

    def source():
        for k in itertools.count():
            produced.append(k)
            yield k

    m = StreamMerger(max_buffered=4)
    m.add_stream(source())
    time.sleep(0.05)
    assert produced == []
    out = m.output()
    assert wait_until(lambda: m.buffered == 4, 2)
    time.sleep(0.05)
    assert len(produced) <= 4 + 1
    assert next(out) == 0
    m.close()


@pytest.mark.timeout(20)
def test_queue_sources_end_with_the_end_marker():
    q = queue.Queue()
    for item in ("a", "b", END):
        q.put(item)
    with StreamMerger() as m:
        m.add_stream(q)
        m.add_stream(["c"])
        assert sorted(m.output()) == ["a", "b", "c"]


@pytest.mark.timeout(20)
def test_async_sources_and_async_output():
    cleaned = []

    async def numbers():
        try:
            for k in range(5):
                await asyncio.sleep(0)
                yield k
        finally:
            cleaned.append("numbers")

    async def forever():
        try:
            while True:
                await asyncio.sleep(0.001)
                yield "tick"
        finally:
            cleaned.append("forever")

    async def main():
        m = StreamMerger()
        m.add_stream(numbers())
        m.add_stream(["x", "y"])
        got = [item async for item in m.output_async()]
        m.close()

        m2 = StreamMerger()
        m2.add_stream(forever())
        out = m2.output_async()
        first = await asyncio.wait_for(out.__anext__(), 2)
        m2.close()
        return got, first

    got, first = asyncio.run(main())
    assert [x for x in got if isinstance(x, int)] == [0, 1, 2, 3, 4]
    assert sorted(x for x in got if isinstance(x, str)) == ["x", "y"]
    assert first == "tick"
    assert wait_until(lambda: sorted(cleaned) == ["forever", "numbers"], 1)


@pytest.mark.timeout(20)
def test_source_error_comes_out_in_place_and_the_rest_go_on():
    def failing():
        yield 1
        raise KeyError("bad source")

    with StreamMerger() as m:
        m.add_stream(failing())
        m.add_stream(iter(range(10, 13)))
        out = m.output()
        got = []
        with pytest.raises(KeyError):
            while True:
                got.append(next(out))
        got.extend(out)
    assert 1 in got
    assert [x for x in got if x >= 10] == [10, 11, 12]


class CloseFails:
    """An iterator that gives 1, 2 and then fails to close."""

    def __init__(self):
        self.items = iter([1, 2])

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.items)

    def close(self):
        raise OSError("cannot close")


def test_a_source_whose_close_raises_ends_with_that_error():
    with StreamMerger() as m:
        m.add_stream(CloseFails())
        m.add_stream([10])
        out = m.output()
        got = []
        with pytest.raises(OSError, match="cannot close"):
            while True:
                got.append(next(out))
        got.extend(out)

    assert sorted(got) == [1, 2, 10]


def test_add_after_close_and_bad_sources_are_refused():
    m = StreamMerger()
    with pytest.raises(TypeError):
        m.add_stream(42)
    m.close()
    with pytest.raises(MergerClosedError):
        m.add_stream([1])
    with pytest.raises(ValueError):
        StreamMerger(max_buffered=0)


@pytest.mark.timeout(20)
def test_a_started_inner_merger_is_read_like_any_stream():
    inner = StreamMerger()
    inner.add_stream([1, 2])
    it = inner.output()
    outer = StreamMerger()
    outer.add_stream(it)
    outer.add_stream([3])
    assert sorted(outer.output()) == [1, 2, 3]
    outer.close()
    inner.close()


def test_adopted_merger_refuses_output():
    inner = StreamMerger()
    inner.add_stream([1])
    outer = StreamMerger()
    outer.add_stream(inner)
    with pytest.raises(MergerClosedError):
        inner.output()
    assert list(outer.output()) == [1]
