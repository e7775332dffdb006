"""The concurrency primitives against their peers, measured in one run.

Run:  python benchmarks/bench_primitives.py [--reps N] [--quick]

Each figure is the median of N repetitions (default 5) in this process,
timed with time.perf_counter.  Ours and the peer run in turn within each
repetition, and a ratio is the median of the per-repetition ratios, so a
noisy neighbour on the machine slows both sides of a ratio alike.
The bars are those of issue 3:

- RateLimiter.try_acquire: >= 5x a threading.Lock token bucket and >= 5x
  aiolimiter's acquire (calls per second, never rate-bound);
- WorkerPool: submit 100,000 no-op tasks, then result() on each, at least
  as fast as ThreadPoolExecutor with the same number of workers (aim 1.5x);
- BackpressureController add_load + remove_load: >= 5x a Lock counter;
- accuracy: 1000 tokens/s, burst 1, a greedy consumer for 2 s gets 2001
  tokens within 1 %.
"""

import argparse
import asyncio
import concurrent.futures as cf
import os
import statistics
import sys
import threading
import time

from kando_parallel import _backend
from kando_parallel.backpressure import BackpressureController
from kando_parallel.limiter import RateLimiter
from kando_parallel.pool import WorkerPool


def timed(fn):
    """Seconds ``fn()`` took, or the time it reports itself if it does."""
    start = time.perf_counter()
    inner = fn()
    return time.perf_counter() - start if inner is None else inner


def interleaved(fns, reps):
    """Run each of ``fns`` once per repetition, in turn; all the times."""
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def report(name, work, ours, peer, bar, unit):
    """Print rates (``work`` per median time) and the median ratio."""
    ratio = statistics.median(p / o for o, p in zip(ours, peer))
    verdict = "meets" if ratio >= bar else "MISSES"
    print(f"{name}\n    ours {work / statistics.median(ours):,.0f} {unit}, "
          f"peer {work / statistics.median(peer):,.0f} {unit}: "
          f"ratio {ratio:.2f} (bar {bar:g}, {verdict})")
    return ratio >= bar


class LockBucket:
    """The comparison point: a token bucket behind a threading.Lock."""

    def __init__(self, rate, capacity):
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def try_acquire(self, n=1.0):
        with self.lock:
            now = time.monotonic()
            elapsed = now - self.stamp
            refilled = self.tokens + elapsed * self.rate
            self.tokens = min(self.capacity, refilled)
            self.stamp = now
            if self.tokens >= n:
                self.tokens -= n
                return 0.0
            return (n - self.tokens) / self.rate

    def acquire(self, n=1.0):
        while True:
            wait = self.try_acquire(n)
            if wait <= 0.0:
                return
            time.sleep(wait)


class LockCounter:
    """The comparison point: a load counter behind a threading.Lock."""

    def __init__(self):
        self.load = 0
        self.lock = threading.Lock()

    def add_load(self, n=1):
        with self.lock:
            self.load += n

    def remove_load(self, n=1):
        with self.lock:
            self.load = max(self.load - n, 0)


def bench_try_acquire(reps, calls):
    limiter = RateLimiter(1e7, burst=10**9)
    bucket = LockBucket(1e12, 1e12)

    def ours():
        acquire = limiter.try_acquire
        for _ in range(calls):
            acquire()

    def lock_bucket():
        acquire = bucket.try_acquire
        for _ in range(calls):
            acquire()

    try:
        from aiolimiter import AsyncLimiter
    except ImportError:
        print("aiolimiter is not installed: pip install aiolimiter")
        return False

    async def aio_loop():
        aio = AsyncLimiter(1e12, 1)
        acquire = aio.acquire
        start = time.perf_counter()
        for _ in range(calls):
            await acquire()
        return time.perf_counter() - start

    times = interleaved({"ours": ours, "lock": lock_bucket,
                         "aio": lambda: asyncio.run(aio_loop())}, reps)
    ok = report("RateLimiter.try_acquire vs threading.Lock token bucket",
                calls, times["ours"], times["lock"], 5, "calls/s")
    ok &= report("RateLimiter.try_acquire vs aiolimiter acquire (awaited "
                 "inside a running loop)", calls, times["ours"],
                 times["aio"], 5, "calls/s")
    return ok


def noop():
    return None


def pool_batch(pool, tasks):
    def batch():
        futures = [pool.submit(noop) for _ in range(tasks)]
        for future in futures:
            future.result()

    return batch


def bench_pool(reps, tasks):
    workers = min(os.cpu_count() or 1, 4)
    pools = {
        "tpe": cf.ThreadPoolExecutor(workers),
        "default": WorkerPool(workers),
        "64": WorkerPool(workers, 64),
        "1024": WorkerPool(workers, 1024),
    }
    for pool in pools.values():
        pool.submit(noop).result()
    times = interleaved(
        {name: pool_batch(pool, tasks) for name, pool in pools.items()},
        reps,
    )
    for pool in pools.values():
        pool.shutdown()

    ok = report(
        f"WorkerPool({workers}) default queue ({2 * workers}) vs "
        f"ThreadPoolExecutor({workers}): {tasks:,} no-op submit+result",
        tasks, times["default"], times["tpe"], 1.0, "tasks/s",
    )
    for size in ("64", "1024"):
        report(f"WorkerPool({workers}, max_queue_size={size}) vs "
               f"ThreadPoolExecutor({workers})", tasks, times[size],
               times["tpe"], 1.0, "tasks/s")
    return ok


def bench_backpressure(reps, calls):
    ours = BackpressureController(10**9)
    peer = LockCounter()

    def run(target):
        add = target.add_load
        remove = target.remove_load

        def loop():
            for _ in range(calls):
                add(1)
                remove(1)

        return loop

    times = interleaved({"ours": run(ours), "peer": run(peer)}, reps)
    return report("BackpressureController add_load+remove_load vs "
                  "threading.Lock counter", calls, times["ours"],
                  times["peer"], 5, "pairs/s")


def greedy(acquire, window):
    stamps = []
    start = time.perf_counter()
    while True:
        acquire()
        now = time.perf_counter() - start
        if now >= window:
            return stamps
        stamps.append(now)


def bench_accuracy(reps, window=2.0, rate=1000):
    expected = int(rate * window + 1)
    ours = []
    peer = []
    for _ in range(reps):
        ours.append(len(greedy(RateLimiter(rate, burst=1).wait, window)))
        peer.append(len(greedy(LockBucket(rate, 1).acquire, window)))
    got = statistics.median(ours)
    error = 100.0 * (got - expected) / expected
    peer_got = statistics.median(peer)
    peer_error = 100.0 * (peer_got - expected) / expected
    ok = abs(error) <= 1.0
    print(f"accuracy at {rate}/s, burst 1, greedy for {window:g} s\n"
          f"    ours {got:,.0f} tokens (all reps {ours}), expected "
          f"{expected}: error {error:+.2f} % (bar 1 %, "
          f"{'meets' if ok else 'MISSES'})\n"
          f"    Lock bucket that sleeps for its deficit: "
          f"{peer_got:,.0f} tokens ({peer_error:+.2f} %)")
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="fewer calls and one accuracy run")
    args = parser.parse_args(argv)
    calls = 50_000 if args.quick else 200_000
    tasks = 20_000 if args.quick else 100_000

    print(f"kando_parallel backend: {_backend.BACKEND}; Python "
          f"{sys.version.split()[0]}; {os.cpu_count()} CPUs; median of "
          f"{args.reps}")
    results = [
        bench_try_acquire(args.reps, calls),
        bench_pool(args.reps, tasks),
        bench_backpressure(args.reps, calls),
        bench_accuracy(1 if args.quick else min(args.reps, 3)),
    ]
    print(f"{sum(results)} of {len(results)} bars met")


if __name__ == "__main__":
    main()
