"""A thread pool with a bounded queue: :class:`WorkerPool`.

Design note.  The tasks wait in a ``queue.SimpleQueue``, which the workers
block on; its bound is a second ``SimpleQueue`` holding one token per free
place.  Both are C code that releases the GIL while it blocks, so a submit
that finds a free place, a submit without a context that waits for one,
and a worker that takes a task all stay out of Python-level conditions.
Only a submit with a context waits on a condition of the pool's lock, so
that the context's finish can wake it; a worker notifies that condition
after handing a token back, and only when the count of such submitters
says someone waits.  A submitter counts itself before its last look for a
token and a worker looks at the count after handing one back, so one of
the two always sees the other: no wake-up is lost.

Shutdown and submit meet through the shutdown flag and a count of submits
between their check of the flag and their put (an atomic counter of the
core).  A submit enters the count, then reads the flag; shutdown sets the
flag, then waits for the count to drain, and only then puts one stop
marker per worker behind the tasks, and a closed token among the free
places to wake submitters that wait for one.  So every submit either puts
its task before the markers, and the task runs, or sees the flag and
raises :class:`~kando_parallel.errors.PoolShutdownError`: none is lost or
run by half.  ``cancel_futures`` takes the waiting tasks out first and
cancels them.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._backend import counter
from ._checks import whole_number
from .context import WaitBudget, check_timeout
from .errors import DeadlineExceeded, PoolShutdownError

if TYPE_CHECKING:
    from typing_extensions import TypeAlias

    from .context import Context

    # A queued task: its future, the callable and its arguments.
    _Task: TypeAlias = tuple[
        concurrent.futures.Future[Any],
        Callable[..., Any],
        tuple[Any, ...],
        dict[str, Any],
    ]

__all__ = ["WorkerPool"]

_T = TypeVar("_T")

_live_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_STOP = None
_FREE = True
_CLOSED = False
_ENTERING_POLL = 1e-5


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

    def __init__(
        self, max_workers: int = 0, max_queue_size: int | None = None
    ) -> None:
        max_workers = whole_number(max_workers, "max_workers", -(2**63))
        if max_workers <= 0:
            max_workers = os.cpu_count() or 1
        if max_queue_size is None:
            max_queue_size = 2 * max_workers
        max_queue_size = whole_number(max_queue_size, "max_queue_size", 1)

        self._max_workers = max_workers
        self._max_queue_size = max_queue_size
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._free: queue.SimpleQueue[bool] = queue.SimpleQueue()
        for _ in range(max_queue_size):
            self._free.put(_FREE)
        self._running = counter.LoadCounter(counter.MARK_MAX, 0)
        self._entering = counter.LoadCounter(counter.MARK_MAX, 0)
        self._threads: list[threading.Thread] = []
        self._blocked = 0
        self._shutdown = False
        _live_pools.add(self)

    @property
    def max_workers(self) -> int:
        """The most worker threads the pool runs."""
        return self._max_workers

    @property
    def max_queue_size(self) -> int:
        """The most tasks that wait for a worker."""
        return self._max_queue_size

    @property
    def queue_depth(self) -> int:
        """Tasks accepted and not yet taken by a worker."""
        closed = 1 if self._shutdown else 0
        return max(self._max_queue_size + closed - self._free.qsize(), 0)

    @property
    def running(self) -> int:
        """Tasks a worker has started and not yet finished."""
        return self._running.current_load

    @property
    def worker_count(self) -> int:
        """Worker threads started so far."""
        return len(self._threads)

    # Narrower than Executor.submit on purpose: ``ctx`` and ``timeout``
    # are the pool's own keywords, never passed on to ``fn``.
    def submit(  # type: ignore[override]
        self,
        fn: Callable[..., _T],
        /,
        *args: Any,
        ctx: Context | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> concurrent.futures.Future[_T]:
        """Queue ``fn(*args, **kwargs)``; return its Future.

        Blocks while the queue is full.  Raises
        :class:`~kando_parallel.errors.PoolShutdownError` at once after
        ``shutdown``, and :class:`~kando_parallel.errors.Cancelled` or
        :class:`~kando_parallel.errors.DeadlineExceeded` when ``ctx`` stops
        or ``timeout`` seconds pass before there is room; a task refused in
        any of these ways never runs.
        """
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        item: _Task = (future, fn, args, kwargs)

        if self._shutdown:
            self._refuse_if_shut()
        if timeout is not None:
            timeout = check_timeout(timeout)
        if ctx is None:
            self._take_place(timeout)
        else:
            self._take_place_or_stop(ctx, timeout)

        entering = self._entering
        entering.add_load(1)
        try:
            if self._shutdown:
                self._free.put(_FREE)
                self._refuse_if_shut()
            if len(self._threads) < self._max_workers:
                self._start_worker()
            self._tasks.put(item)
        finally:
            entering.remove_load(1)
        return future

    def _take_place(self, timeout: float | None) -> None:
        # Wait for a free place inside the C queue, without a condition.
        try:
            token = self._free.get_nowait()
        except queue.Empty:
            token = self._wait_for_place(timeout)
        if token is _CLOSED:
            self._free.put(_CLOSED)
            self._refuse_if_shut()

    def _wait_for_place(self, timeout: float | None) -> bool:
        budget = WaitBudget(None, timeout, "WorkerPool.submit")
        while True:
            budget.check()
            try:
                return self._free.get(timeout=budget.wait_time())
            except queue.Empty:
                continue

    def _take_place_or_stop(
        self, ctx: Context, timeout: float | None
    ) -> None:
        # A context can stop the wait: wait on the condition, which the
        # context's finish, shutdown and every freed place notify.
        with WaitBudget(ctx, timeout, "WorkerPool.submit") as budget:
            budget.watch(self._wake_submitters)
            with self._lock:
                while True:
                    budget.check()
                    self._blocked += 1
                    try:
                        token = self._free.get_nowait()
                    except queue.Empty:
                        self._not_full.wait(budget.wait_time())
                        continue
                    finally:
                        self._blocked -= 1
                    if token is _CLOSED:
                        self._free.put(_CLOSED)
                        self._refuse_if_shut()
                    return

    def _refuse_if_shut(self) -> None:
        if self._shutdown:
            raise PoolShutdownError("the worker pool is shut down")

    def _start_worker(self) -> None:
        with self._lock:
            if len(self._threads) < self._max_workers:
                thread = threading.Thread(
                    target=self._work,
                    name=f"kando_parallel-worker-{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _wake_submitters(self) -> None:
        with self._lock:
            self._not_full.notify_all()

    def _work(self) -> None:
        take = self._tasks.get
        give_back = self._free.put
        running = self._running

        while True:
            item = take()
            if item is _STOP:
                return
            give_back(_FREE)
            if self._blocked:
                with self._lock:
                    self._not_full.notify()

            future, fn, args, kwargs = item
            del item
            if not future.set_running_or_notify_cancel():
                continue
            running.add_load(1)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
                del exc
            else:
                future.set_result(result)
            finally:
                running.remove_load(1)
            del future, fn, args, kwargs

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False
    ) -> None:
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
            first = not self._shutdown
            self._shutdown = True
        while self._entering.current_load:
            time.sleep(_ENTERING_POLL)

        with self._lock:
            threads = list(self._threads)
            dropped = self._take_waiting() if cancel_futures else []
            if first:
                for _ in threads:
                    self._tasks.put(_STOP)
                self._free.put(_CLOSED)
            self._not_full.notify_all()
        _live_pools.discard(self)

        for future, *_ in dropped:
            if future.cancel():
                future.set_running_or_notify_cancel()
        if wait and threading.current_thread() not in threads:
            for thread in threads:
                thread.join()

    def _take_waiting(self) -> list[_Task]:
        # Called with the lock held: empty the queue, keep the stop markers.
        waiting: list[_Task] = []
        stops = 0
        while True:
            try:
                item = self._tasks.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stops += 1
            else:
                waiting.append(item)
                self._free.put(_FREE)
        for _ in range(stops):
            self._tasks.put(_STOP)
        return waiting

    def __repr__(self) -> str:
        return (
            f"<WorkerPool workers={self.worker_count}/{self._max_workers} "
            f"queued={self.queue_depth}/{self._max_queue_size} "
            f"running={self.running} shutdown={self._shutdown}>"
        )


@atexit.register
def _finish_live_pools() -> None:
    for pool in list(_live_pools):
        pool.shutdown(wait=True)
