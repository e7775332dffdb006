"""A thread pool with a bounded queue: :class:`WorkerPool`.

Design note.  One lock guards a deque of waiting tasks, the shutdown flag
and the counts of idle workers, blocked submitters and running tasks; two
conditions on that lock park the workers (queue empty) and the submitters
(queue full).  A submit that finds room appends and wakes one idle worker,
or starts a new one while there are fewer than ``max_workers``; a worker
that takes a task wakes one blocked submitter.  Nobody is notified who is
not waiting, so a busy pool pays one lock round trip per submit and one
per task taken.

Shutdown sets the flag under the same lock that a submit holds while it
checks the flag and appends, so every submit either lands in the queue
before the flag, and then runs, or sees the flag and raises
:class:`~kando_parallel.errors.PoolShutdownError`: none is lost or run by
half.  Workers leave only when the flag is set and the queue is empty, so
everything accepted runs unless ``cancel_futures`` cancels it.
"""

import atexit
import collections
import concurrent.futures
import os
import threading
import weakref

from .context import WaitBudget
from .errors import PoolShutdownError

__all__ = ["WorkerPool"]

_live_pools = weakref.WeakSet()


class WorkerPool(concurrent.futures.Executor):
    """Run callables on up to ``max_workers`` threads, queueing a few.

    Parameters
    ----------
    max_workers : int
        The number of worker threads; 0 or less means ``os.cpu_count()``.
        Threads start as work arrives.
    max_queue_size : int, optional
        How many accepted tasks may wait for a worker; default twice the
        number of workers.  ``submit`` blocks while the queue is full.

    Notes
    -----
    A :class:`concurrent.futures.Executor`: ``submit`` returns a Future, and
    ``map`` and ``with`` work as on any executor.  ``submit`` takes two
    keywords of its own, ``ctx`` and ``timeout``, which bound how long it
    may wait for room; pass a task's own arguments of those names through
    :func:`functools.partial`.  A task that submits to its own full pool
    from its only worker waits for ever, as it would on a Go channel.

    Examples
    --------
    >>> with WorkerPool(2) as pool:
    ...     futures = [pool.submit(pow, 2, k) for k in range(5)]
    ...     [f.result() for f in futures]
    [1, 2, 4, 8, 16]
    >>> pool.submit(print)
    Traceback (most recent call last):
    ...
    kando_parallel.errors.PoolShutdownError: the worker pool is shut down
    """

    def __init__(self, max_workers=0, max_queue_size=None):
        if max_workers <= 0:
            max_workers = os.cpu_count() or 1
        if max_queue_size is None:
            max_queue_size = 2 * max_workers
        if max_queue_size < 1:
            raise ValueError(
                f"max_queue_size must be >= 1, got {max_queue_size!r}"
            )

        self._max_workers = max_workers
        self._max_queue_size = max_queue_size
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._queue = collections.deque()
        self._threads = []
        self._idle = 0
        self._blocked = 0
        self._running = 0
        self._shutdown = False
        _live_pools.add(self)

    @property
    def max_workers(self):
        """The most worker threads the pool runs."""
        return self._max_workers

    @property
    def max_queue_size(self):
        """The most tasks that wait for a worker."""
        return self._max_queue_size

    @property
    def queue_depth(self):
        """Tasks accepted and not yet taken by a worker."""
        return len(self._queue)

    @property
    def running(self):
        """Tasks taken by a worker whose worker has not come back yet."""
        return self._running

    @property
    def worker_count(self):
        """Worker threads started so far."""
        return len(self._threads)

    def submit(self, fn, /, *args, ctx=None, timeout=None, **kwargs):
        """Queue ``fn(*args, **kwargs)``; return its Future.

        Blocks while the queue is full.  Raises
        :class:`~kando_parallel.errors.PoolShutdownError` at once after
        ``shutdown``, and :class:`~kando_parallel.errors.Cancelled` or
        :class:`~kando_parallel.errors.DeadlineExceeded` when ``ctx`` stops
        or ``timeout`` seconds pass before there is room; a task refused in
        any of these ways never runs.
        """
        future = concurrent.futures.Future()
        item = (future, fn, args, kwargs)

        if ctx is None:
            with self._lock:
                if not self._shutdown and (
                    len(self._queue) < self._max_queue_size
                ):
                    self._accept(item)
                    return future
        return self._submit_waiting(item, ctx, timeout)

    def _submit_waiting(self, item, ctx, timeout):
        with WaitBudget(ctx, timeout, "WorkerPool.submit") as budget:
            budget.watch(self._wake_submitters)
            with self._lock:
                while True:
                    if self._shutdown:
                        raise PoolShutdownError(
                            "the worker pool is shut down"
                        )
                    budget.check()
                    if len(self._queue) < self._max_queue_size:
                        self._accept(item)
                        return item[0]
                    self._blocked += 1
                    try:
                        self._not_full.wait(budget.remaining())
                    finally:
                        self._blocked -= 1

    def _accept(self, item):
        self._queue.append(item)
        if self._idle:
            self._idle -= 1
            self._not_empty.notify()
        elif len(self._threads) < self._max_workers:
            thread = threading.Thread(
                target=self._work,
                name=f"kando_parallel-worker-{len(self._threads)}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _wake_submitters(self):
        with self._lock:
            self._not_full.notify_all()

    def _work(self):
        lock = self._lock
        queue = self._queue
        ran = 0

        while True:
            with lock:
                self._running -= ran
                while not queue:
                    if self._shutdown:
                        return
                    self._idle += 1
                    self._not_empty.wait()
                future, fn, args, kwargs = queue.popleft()
                if self._blocked:
                    self._not_full.notify()
                self._running += 1
            ran = 1

            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
                del exc
            else:
                future.set_result(result)
            del future, fn, args, kwargs

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Stop accepting tasks; by default wait until all accepted ran.

        Parameters
        ----------
        wait : bool
            Return only when every accepted task has finished (not waited
            for when called from one of the pool's own tasks, which could
            never finish first).
        cancel_futures : bool
            Cancel the tasks still queued instead of running them; their
            futures count as done for ``wait`` and ``as_completed``.

        Submitters blocked on a full queue wake and raise
        :class:`~kando_parallel.errors.PoolShutdownError`.  Safe to call
        again, and from several threads at once.
        """
        with self._lock:
            self._shutdown = True
            dropped = []
            if cancel_futures:
                dropped = list(self._queue)
                self._queue.clear()
            self._idle = 0
            self._not_empty.notify_all()
            self._not_full.notify_all()
            threads = list(self._threads)
        _live_pools.discard(self)

        for future, *_ in dropped:
            if future.cancel():
                future.set_running_or_notify_cancel()
        if wait and threading.current_thread() not in threads:
            for thread in threads:
                thread.join()

    def __repr__(self):
        return (
            f"<WorkerPool workers={self.worker_count}/{self._max_workers} "
            f"queued={self.queue_depth}/{self._max_queue_size} "
            f"running={self._running} shutdown={self._shutdown}>"
        )


@atexit.register
def _finish_live_pools():
    for pool in list(_live_pools):
        pool.shutdown(wait=True)
